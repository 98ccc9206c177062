#include "fuse/session.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>

#include "fuse/request-table.h"

namespace kiseki::fuse {

Op::~Op() { free(data); }

namespace {
std::mutex liveMu;
std::vector<Session *> live;  // mounted sessions, for the exit() handler
}  // namespace

// /proc/self/mountinfo escapes blanks and backslashes in mount points as octal.
static std::string MountinfoEscape(const std::string &path) {
  std::string out;
  for (char c : path) {
    if (c == ' ') out += "\\040";
    else if (c == '\t') out += "\\011";
    else if (c == '\n') out += "\\012";
    else if (c == '\\') out += "\\134";
    else out += c;
  }
  return out;
}

// The connection id (fusectl) and the bdi name (read-ahead) are both the superblock's device number.
// Read from mountinfo, because stat() on our own mount from this thread could deadlock.
void Session::FindDevice() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line, want = MountinfoEscape(cfg_.mountpoint);
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, mnt;
    fields >> id >> parent >> dev >> root >> mnt;
    if (mnt != want || line.find(" - fuse") == std::string::npos) continue;
    unsigned maj = 0, min = 0;
    if (sscanf(dev.c_str(), "%u:%u", &maj, &min) == 2) {
      devMajor_ = maj;
      devMinor_ = min;
    }
  }
}

bool Session::Mount(Napi::Env env, Napi::Function dispatch, Napi::Value onReplied) {
  std::vector<std::string> argvStore{"kiseki-fuse"};
  for (const std::string &o : cfg_.options) {
    argvStore.push_back("-o");
    argvStore.push_back(o);
  }
  struct fuse_args args = FUSE_ARGS_INIT(0, nullptr);
  for (const std::string &s : argvStore) fuse_opt_add_arg(&args, s.c_str());
  // Options are parsed here, before anything is mounted: a rejected option leaves no dead mount behind.
  se_ = fuse_session_new(&args, &LowLevelOps(), sizeof(struct fuse_lowlevel_ops), this);
  fuse_opt_free_args(&args);
  if (se_ == nullptr) {
    Napi::Error::New(env, "libfuse rejected the mount options (see its message on stderr); nothing was mounted")
        .ThrowAsJavaScriptException();
    return false;
  }
  if (fuse_session_mount(se_, cfg_.mountpoint.c_str()) != 0) {
    fuse_session_destroy(se_);
    se_ = nullptr;
    Napi::Error::New(env, "mounting " + cfg_.mountpoint +
                              " failed (is it an existing directory, and is /dev/fuse usable by this user?)")
        .ThrowAsJavaScriptException();
    return false;
  }
  FindDevice();
  env_ = env;
  // A process that exits while mounted would otherwise leave a dead mount ("Transport endpoint is not
  // connected") behind.
  napi_add_env_cleanup_hook(env_, OnEnvCleanup, this);
  {
    std::lock_guard<std::mutex> lock(liveMu);
    static bool registered = false;
    if (!registered) registered = atexit(OnProcessExit) == 0;
    live.push_back(this);
  }
  auto unref = [](Napi::Env, void *, Session *self) { self->Unref(); };
  Ref();
  tsfn_ = Tsfn::New(env, dispatch, "kiseki-fuse", 0 /* unbounded: workers never wait */, 1, this, unref);
  notifier_ = std::thread([this] { NotifierLoop(); });
  if (cfg_.replyThreads > 0 && onReplied.IsFunction()) {
    Ref();
    doneTsfn_ = DoneTsfn::New(env, onReplied.As<Napi::Function>(), "kiseki-fuse-replied", 0, 1, this, unref);
    doneTsfn_.Unref(env);  // only the main TSFN keeps the process alive while mounted
    hasDoneTsfn_ = true;
    for (unsigned i = 0; i < cfg_.replyThreads; i++) replyWorkers_.emplace_back([this] { ReplyLoop(); });
  }
  loop_ = std::thread([this] {
    struct fuse_loop_config lc {};
    lc.clone_fd = cfg_.cloneFd ? 1 : 0;
    lc.max_idle_threads = cfg_.maxIdleThreads;
    fuse_session_loop_mt(se_, &lc);
    std::lock_guard<std::mutex> lock(loopMu_);
    loopDone_ = true;
    loopCv_.notify_all();
  });
  return true;
}

void Session::Submit(fuse_req_t req, Op *op) {
  if (state_.load() != State::kRunning) {
    if (req != nullptr) fuse_reply_err(req, op->type == OP_RELEASE || op->type == OP_RELEASEDIR ? 0 : EIO);
    delete op;
    return;
  }
  if (req != nullptr) {
    RequestTable &table = RequestTable::Get();
    op->id = table.Insert(req, this);
    // Registered before JS can see the id, so the reply cannot race the registration.
    fuse_req_interrupt_func(
        req,
        [](fuse_req_t, void *data) {
          double id = static_cast<double>(reinterpret_cast<uintptr_t>(data));
          Session *owner = RequestTable::Get().MarkInterrupted(id);
          if (owner == nullptr || owner->state_.load() != State::kRunning) return;
          Op *note = new Op();
          note->type = OP_INTERRUPT;
          note->id = id;
          if (owner->tsfn_.NonBlockingCall(note) != napi_ok) delete note;
        },
        reinterpret_cast<void *>(static_cast<uintptr_t>(op->id)));
  }
  if (tsfn_.NonBlockingCall(op) != napi_ok) {
    // The TSFN is closing (process exit); answer rather than leave the caller hanging.
    if (req != nullptr && RequestTable::Get().Take(op->id) != nullptr) fuse_reply_err(req, EIO);
    delete op;
  }
}

void Session::OnInit(struct fuse_conn_info *conn) {
  uint32_t want = FUSE_CAP_ASYNC_READ | FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_PARALLEL_DIROPS | FUSE_CAP_ASYNC_DIO |
                  FUSE_CAP_AUTO_INVAL_DATA;
  if (cfg_.readdirplus) want |= FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO;
  if (cfg_.exportSupport) want |= FUSE_CAP_EXPORT_SUPPORT;
  if (cfg_.writebackCache) want |= FUSE_CAP_WRITEBACK_CACHE;
  // Replies come straight from JS memory with fuse_reply_buf; splice would only add a pipe hop, and
  // splice-read would hand writes to us as pipe fds instead of memory.
  conn->want &= ~(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE | FUSE_CAP_WRITEBACK_CACHE |
                  FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
  conn->want |= want & conn->capable;
  conn->max_write = cfg_.maxWrite;
  conn->max_readahead = cfg_.maxReadahead;
  conn->max_background = cfg_.maxBackground;
  conn->congestion_threshold = cfg_.congestionThreshold;
  negotiated_.protoMajor = conn->proto_major;
  negotiated_.protoMinor = conn->proto_minor;
  negotiated_.capable = conn->capable;
  negotiated_.want = conn->want;
  negotiated_.maxWrite = conn->max_write;
  negotiated_.maxRead = conn->max_read;
  negotiated_.maxReadahead = conn->max_readahead;
  negotiated_.maxBackground = conn->max_background;
  negotiated_.congestionThreshold = conn->congestion_threshold;
  negotiated_.done = true;
  Op *note = new Op();
  note->type = OP_INIT;
  Submit(nullptr, note);
}

void Session::NotifyInvalInode(uint64_t ino, int64_t off, int64_t len) {
  std::lock_guard<std::mutex> lock(noticeMu_);
  notices_.push_back(Notice{false, ino, off, len, {}});
  noticeCv_.notify_one();
}

void Session::NotifyInvalEntry(uint64_t parent, std::string name) {
  std::lock_guard<std::mutex> lock(noticeMu_);
  notices_.push_back(Notice{true, parent, 0, 0, std::move(name)});
  noticeCv_.notify_one();
}

// A notification can block in the kernel until an operation holding the inode lock completes, and that
// operation may be waiting for a JS reply: so notifications never run on the JS thread.
void Session::NotifierLoop() {
  std::unique_lock<std::mutex> lock(noticeMu_);
  for (;;) {
    noticeCv_.wait(lock, [this] { return noticeStop_ || !notices_.empty(); });
    if (noticeStop_) return;
    Notice n = std::move(notices_.front());
    notices_.pop_front();
    lock.unlock();
    // ENOENT (not cached) is the normal outcome and not worth reporting.
    if (n.entry) fuse_lowlevel_notify_inval_entry(se_, n.ino, n.name.c_str(), n.name.size());
    else fuse_lowlevel_notify_inval_inode(se_, n.ino, n.off, n.len);
    lock.lock();
  }
}

void Session::QueueReply(AsyncReply *r) {
  std::lock_guard<std::mutex> lock(replyMu_);
  replies_.push_back(r);
  replyCv_.notify_one();
}

// The kernel's copy of a large reply (most of a read's CPU) runs here, in parallel, instead of on the
// JS thread. The JS buffer stays referenced until ReplyDoneJs releases it on the JS thread.
void Session::ReplyLoop() {
  std::unique_lock<std::mutex> lock(replyMu_);
  for (;;) {
    replyCv_.wait(lock, [this] { return replyStop_ || !replies_.empty(); });
    if (replies_.empty()) return;  // stopping, and everything queued has been sent
    AsyncReply *r = replies_.front();
    replies_.pop_front();
    lock.unlock();
    fuse_reply_buf(r->req, r->data, r->len);
    if (doneTsfn_.NonBlockingCall(r) != napi_ok) delete r;  // env is going away: the ref dies with it
    lock.lock();
  }
}

void Session::StopReplyThreads() {
  {
    std::lock_guard<std::mutex> lock(replyMu_);
    replyStop_ = true;
    replyCv_.notify_all();
  }
  for (std::thread &t : replyWorkers_) t.join();
  replyWorkers_.clear();
}

void ReplyDoneJs(Napi::Env env, Napi::Function fn, Session *, AsyncReply *r) {
  if (env != nullptr) {
    napi_delete_reference(env, r->ref);
    napi_value token, undefined, result;
    napi_create_double(env, r->token, &token);
    napi_get_undefined(env, &undefined);
    napi_call_function(env, undefined, fn, 1, &token, &result);
  }
  delete r;
}

size_t Session::AnswerAllEio() {
  std::vector<fuse_req_t> open = RequestTable::Get().TakeAll(this);
  for (fuse_req_t req : open) fuse_reply_err(req, EIO);
  return open.size();
}

// Last resort when the loop does not notice the unmount (a lazily detached mount that some process still
// holds open keeps the connection alive): abort the connection through fusectl, as `fusermount -u` cannot.
bool Session::AbortConnection() {
  unsigned dev = (devMajor_ << 20) | devMinor_;
  std::string path = "/sys/fs/fuse/connections/" + std::to_string(dev) + "/abort";
  auto write1 = [](const std::string &p) {
    int fd = open(p.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = write(fd, "1", 1) == 1;
    close(fd);
    return ok;
  };
  if (write1(path)) return true;
  char dir[] = "/tmp/kiseki-fusectl-XXXXXX";
  if (mkdtemp(dir) == nullptr) return false;
  bool ok = false;
  if (mount("fusectl", dir, "fusectl", 0, nullptr) == 0) {
    ok = write1(std::string(dir) + "/" + std::to_string(dev) + "/abort");
    umount2(dir, MNT_DETACH);
  }
  rmdir(dir);
  return ok;
}

void Session::DetachMount() {
  if (geteuid() == 0) {
    if (umount2(cfg_.mountpoint.c_str(), MNT_DETACH) == 0 || errno == EINVAL) return;
  }
  pid_t pid;
  const char *argv[] = {"fusermount3", "-u", "-z", "-q", cfg_.mountpoint.c_str(), nullptr};
  if (posix_spawnp(&pid, "fusermount3", nullptr, nullptr, const_cast<char *const *>(argv), environ) == 0) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

void Session::OnEnvCleanup(void *arg) {
  Session *s = static_cast<Session *>(arg);
  s->inCleanupHook_ = true;
  s->cfg_.unmountAbortMs = 500;
  s->Unmount();
}

void Session::OnProcessExit() {
  std::vector<Session *> sessions;
  {
    std::lock_guard<std::mutex> lock(liveMu);
    sessions = live;
  }
  for (Session *s : sessions) {
    s->exiting_ = true;
    s->cfg_.unmountAbortMs = 500;
    s->Unmount();
  }
}

size_t Session::Unmount() {
  State expected = State::kRunning;
  if (!state_.compare_exchange_strong(expected, State::kClosing)) return 0;
  if (!inCleanupHook_ && !exiting_) napi_remove_env_cleanup_hook(env_, OnEnvCleanup, this);
  {
    std::lock_guard<std::mutex> lock(liveMu);
    live.erase(std::remove(live.begin(), live.end(), this), live.end());
  }
  size_t answered = AnswerAllEio();
  // Detach the mount but keep /dev/fuse open (fuse_session_unmount would close it under the workers and
  // drop whatever they read next). Workers keep answering EIO, so processes still holding files on the
  // detached mount get answers and let go; the loop ends by itself (ENODEV) when the superblock goes.
  DetachMount();
  {
    std::unique_lock<std::mutex> lock(loopMu_);
    auto done = [this] { return loopDone_; };
    if (!loopCv_.wait_for(lock, std::chrono::milliseconds(cfg_.unmountAbortMs), done)) {
      lock.unlock();
      fuse_session_exit(se_);
      AbortConnection();
      lock.lock();
      loopCv_.wait(lock, done);
    }
  }
  loop_.join();
  // Requests that slipped in between the first sweep and the loop's end.
  answered += AnswerAllEio();
  StopReplyThreads();  // sends what is queued: those requests were taken before the unmount
  fuse_session_unmount(se_);  // the connection is gone by now: this only closes the fd and frees state
  {
    std::lock_guard<std::mutex> lock(noticeMu_);
    noticeStop_ = true;
    noticeCv_.notify_one();
  }
  notifier_.join();
  fuse_session_destroy(se_);
  se_ = nullptr;
  state_.store(State::kClosed);
  // At exit() the environment is going away under us; the process ends anyway.
  if (!exiting_) {
    tsfn_.Release();
    if (hasDoneTsfn_) doneTsfn_.Release();
  }
  return answered;
}

}  // namespace kiseki::fuse

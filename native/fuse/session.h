#pragma once
// One mounted filesystem: the libfuse session, its multithreaded loop thread, the per-session TSFN that
// carries requests to JS, and the notifier thread for cache invalidations.
//
//   running ──Unmount()──▶ closing ──loop joined, session destroyed──▶ closed
//
// Workers never block on JS (I-FB2): in `running` they park the request in the RequestTable and
// NonBlockingCall the TSFN; in `closing`/`closed` they answer at once (EIO, or none for forget).
#include <fuse_lowlevel.h>
#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fuse/entry-cache.h"
#include "fuse/op.h"
#include "fuse/read-cache.h"

namespace kiseki::fuse {

void CallJs(Napi::Env env, Napi::Function fn, Session *session, Op *op);
using Tsfn = Napi::TypedThreadSafeFunction<Session, Op, CallJs>;

/** A large read reply handed to the reply threads; `ref` keeps the JS buffer alive until it is sent. */
struct AsyncReply {
  fuse_req_t req;
  const char *data;
  size_t len;
  napi_ref ref;
  double token;
};
void ReplyDoneJs(Napi::Env env, Napi::Function fn, Session *session, AsyncReply *r);
using DoneTsfn = Napi::TypedThreadSafeFunction<Session, AsyncReply, ReplyDoneJs>;

struct SessionConfig {
  std::string mountpoint;
  std::vector<std::string> options;  // "-o" values, already validated by src/fuse/mount-options.ts
  bool cloneFd = false;
  unsigned maxIdleThreads = 10;
  unsigned maxBackground = 64;
  unsigned congestionThreshold = 48;
  unsigned maxWrite = 1 << 20;
  unsigned maxReadahead = 1 << 20;
  bool writebackCache = false;
  bool readdirplus = true;
  bool exportSupport = true;
  unsigned unmountAbortMs = 2000;
  unsigned replyThreads = 0;  // threads that send large read replies off the JS thread (0: none)
};

/** What the kernel and libfuse agreed on in INIT (read by JS after OP_INIT). */
struct Negotiated {
  bool done = false;
  unsigned protoMajor = 0, protoMinor = 0;
  uint32_t capable = 0, want = 0;
  unsigned maxWrite = 0, maxRead = 0, maxReadahead = 0, maxBackground = 0, congestionThreshold = 0;
};

class Session {
 public:
  enum class State { kRunning, kClosing, kClosed };

  explicit Session(SessionConfig cfg) : cfg_(std::move(cfg)) {}

  /**
   * The session is freed when its last owner lets go: the JS handle and each TSFN (whose queued calls
   * still name the session after unmount until the TSFN has drained and finalized).
   */
  void Ref() { refs_.fetch_add(1); }
  void Unref() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }

  /** JS thread. Throws a JS error (and leaves nothing mounted) on failure. */
  bool Mount(Napi::Env env, Napi::Function dispatch, Napi::Value onReplied);
  /** JS thread: queue a read reply for the reply threads (the request was already taken). */
  void QueueReply(AsyncReply *r);
  bool HasReplyThreads() const { return !replyWorkers_.empty(); }
  /** JS thread. Idempotent; returns the number of requests answered EIO because they were still open. */
  size_t Unmount();
  /** Environment teardown (worker thread ending) with the session still mounted. */
  static void OnEnvCleanup(void *arg);
  /** exit() (process.exit, fatal exception) with sessions still mounted: unmount them, no JS involved. */
  static void OnProcessExit();

  /** Worker thread: hand a request to JS, or answer it now when closing. `req` may be null (notifications). */
  void Submit(fuse_req_t req, Op *op);
  void OnInit(struct fuse_conn_info *conn);

  /** JS thread: queue a kernel cache invalidation; the notifier thread performs it (it may block). */
  void NotifyInvalInode(uint64_t ino, int64_t off, int64_t len);
  void NotifyInvalEntry(uint64_t parent, std::string name);

  State state() const { return state_.load(); }
  const Negotiated &negotiated() const { return negotiated_; }
  unsigned devMajor() const { return devMajor_; }
  unsigned devMinor() const { return devMinor_; }
  const SessionConfig &config() const { return cfg_; }
  /** Lookups and getattrs answered on the worker thread (entry-cache.h). */
  EntryCache &entries() { return entries_; }
  /** Reads answered on the worker thread from published L1 chunks (read-cache.h). */
  ReadCache &reads() { return reads_; }

 private:
  struct Notice {
    bool entry;
    uint64_t ino;
    int64_t off, len;
    std::string name;
  };
  void FindDevice();
  bool AbortConnection();
  void DetachMount();
  void NotifierLoop();
  void ReplyLoop();
  void StopReplyThreads();
  size_t AnswerAllEio();

  ~Session() = default;

  SessionConfig cfg_;
  std::atomic<int> refs_{1};  // the JS handle
  napi_env env_ = nullptr;
  bool inCleanupHook_ = false;
  bool exiting_ = false;
  fuse_session *se_ = nullptr;
  std::thread loop_;
  Tsfn tsfn_;
  std::atomic<State> state_{State::kRunning};
  Negotiated negotiated_;
  unsigned devMajor_ = 0, devMinor_ = 0;

  std::mutex loopMu_;
  std::condition_variable loopCv_;
  bool loopDone_ = false;

  std::mutex noticeMu_;
  std::condition_variable noticeCv_;
  std::deque<Notice> notices_;
  bool noticeStop_ = false;
  std::thread notifier_;

  DoneTsfn doneTsfn_;
  bool hasDoneTsfn_ = false;
  std::mutex replyMu_;
  std::condition_variable replyCv_;
  std::deque<AsyncReply *> replies_;
  bool replyStop_ = false;
  std::vector<std::thread> replyWorkers_;

  EntryCache entries_;
  ReadCache reads_;
};

const struct fuse_lowlevel_ops &LowLevelOps();

}  // namespace kiseki::fuse

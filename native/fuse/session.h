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

#include "fuse/op.h"

namespace kiseki::fuse {

void CallJs(Napi::Env env, Napi::Function fn, Session *session, Op *op);
using Tsfn = Napi::TypedThreadSafeFunction<Session, Op, CallJs>;

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
  bool exportSupport = true;
  unsigned unmountAbortMs = 2000;
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
  ~Session();

  /** JS thread. Throws a JS error (and leaves nothing mounted) on failure. */
  bool Mount(Napi::Env env, Napi::Function dispatch);
  /** JS thread. Idempotent; returns the number of requests answered EIO because they were still open. */
  size_t Unmount();

  /** Worker thread: hand a request to JS, or answer it now when closing. `req` may be null (notifications). */
  void Submit(fuse_req_t req, Op *op);
  void OnInit(struct fuse_conn_info *conn);
  void OnDestroy();

  /** JS thread: queue a kernel cache invalidation; the notifier thread performs it (it may block). */
  void NotifyInvalInode(uint64_t ino, int64_t off, int64_t len);
  void NotifyInvalEntry(uint64_t parent, std::string name);

  State state() const { return state_.load(); }
  const Negotiated &negotiated() const { return negotiated_; }
  unsigned devMajor() const { return devMajor_; }
  unsigned devMinor() const { return devMinor_; }
  const SessionConfig &config() const { return cfg_; }

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
  size_t AnswerAllEio();

  SessionConfig cfg_;
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
};

const struct fuse_lowlevel_ops &LowLevelOps();

}  // namespace kiseki::fuse

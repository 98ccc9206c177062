#pragma once
// The chunk crypto's own worker threads (ADR 0015): one per CPU, fed through a queue, instead of the
// libuv thread pool. With libuv's 4 threads on 2 cores a job queued while both cores are busy wakes a
// thread that the scheduler often places on the busy core, where it waits up to a whole chunk; with
// one thread per core the only sleeping thread is the one whose job just finished, on the core that
// just freed up (BENCHMARKS.md §"Two cores, session 3").
#include <napi.h>

#include <string>

namespace kiseki::crypto {

// A job of the pool: Execute() on a pool thread (no JS), then the promise is settled on the JS thread
// inside a callback scope (so promise continuations run) with Result(), or rejected with the message
// given to SetError. Settling uses raw N-API calls that report failure instead of throwing: while a
// worker_thread is torn down its loop still delivers completions, and JS can no longer run.
class PoolJob {
 public:
  explicit PoolJob(Napi::Env env) : env_(env) { napi_create_promise(env, &deferred_, &promise_); }
  virtual ~PoolJob() = default;
  PoolJob(const PoolJob&) = delete;
  PoolJob& operator=(const PoolJob&) = delete;

  // Valid only in the scope of the call that created the job.
  Napi::Value Promise() const { return Napi::Value(env_, promise_); }
  Napi::Env Env() const { return env_; }
  // Hands the job to this env's pool, which deletes it once the promise is settled.
  void Queue();

  virtual void Execute() = 0;
  // The resolution value (JS thread); nullptr when it cannot be created.
  virtual napi_value Result(napi_env env) {
    napi_value v = nullptr;
    napi_get_undefined(env, &v);
    return v;
  }
  // JS thread, inside a handle and callback scope: settles the promise; false if N-API refused.
  bool Settle(napi_env env);

 protected:
  void SetError(const std::string& msg) {
    error_ = msg;
    failed_ = true;
  }
  Napi::Env env_;

 private:
  napi_deferred deferred_ = nullptr;
  napi_value promise_ = nullptr;
  std::string error_;
  bool failed_ = false;
};

// Threads of the pool of `env` (created on first use); for tests and the bench.
unsigned PoolThreads(Napi::Env env);

}  // namespace kiseki::crypto

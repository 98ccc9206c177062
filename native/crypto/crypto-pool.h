#pragma once
// The chunk crypto's own worker threads (ADR 0015): one per CPU, fed through a queue, instead of the
// libuv thread pool. With libuv's 4 threads on 2 cores a job queued while both cores are busy wakes a
// thread that the scheduler often places on the busy core, where it waits up to a whole chunk; with
// one thread per core the only sleeping thread is the one whose job just finished, on the core that
// just freed up (BENCHMARKS.md §"Two cores, session 3").
#include <napi.h>

#include <string>

namespace kiseki::crypto {

// A job of the pool: Execute() on a pool thread (no JS), then OnOK() (or a rejection with the
// message given to SetError) on the JS thread inside a callback scope, so promise continuations run.
class PoolJob {
 public:
  explicit PoolJob(Napi::Env env) : env_(env), deferred_(Napi::Promise::Deferred::New(env)) {}
  virtual ~PoolJob() = default;
  PoolJob(const PoolJob&) = delete;
  PoolJob& operator=(const PoolJob&) = delete;

  Napi::Promise Promise() const { return deferred_.Promise(); }
  Napi::Env Env() const { return env_; }
  // Hands the job to this env's pool, which deletes it once the promise is settled.
  void Queue();

  virtual void Execute() = 0;
  virtual void OnOK() { deferred_.Resolve(env_.Undefined()); }
  // JS thread: settles the promise.
  void Settle();

 protected:
  void SetError(const std::string& msg) {
    error_ = msg;
    failed_ = true;
  }
  Napi::Env env_;
  Napi::Promise::Deferred deferred_;

 private:
  std::string error_;
  bool failed_ = false;
};

// Threads of the pool of `env` (created on first use); for tests and the bench.
unsigned PoolThreads(Napi::Env env);

}  // namespace kiseki::crypto

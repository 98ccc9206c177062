#include "crypto/crypto-pool.h"

#include <sched.h>

#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace kiseki::crypto {
namespace {

class CryptoPool;
void CompleteJs(Napi::Env env, Napi::Function, CryptoPool* pool, PoolJob* job);
using DoneTsfn = Napi::TypedThreadSafeFunction<CryptoPool, PoolJob, CompleteJs>;

// One thread per CPU this process may run on; KISEKI_CRYPTO_THREADS (1–64) overrides.
unsigned ThreadCount() {
  const char* env = std::getenv("KISEKI_CRYPTO_THREADS");
  long forced = env != nullptr ? std::strtol(env, nullptr, 10) : 0;
  if (forced >= 1 && forced <= 64) return static_cast<unsigned>(forced);
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) return static_cast<unsigned>(CPU_COUNT(&set));
  unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? hw : 2;
}

class CryptoPool {
 public:
  explicit CryptoPool(Napi::Env env) : env_(env), context_(env, "kiseki.crypto") {
    done_ = DoneTsfn::New(env, "kiseki-crypto-done", 0 /* unbounded: threads never wait */, 1, this);
    done_.Unref(env);  // referenced only while jobs are in flight
    unsigned n = ThreadCount();
    for (unsigned i = 0; i < n; i++) threads_.emplace_back([this] { Run(); });
  }

  unsigned threads() const { return static_cast<unsigned>(threads_.size()); }

  // JS thread.
  void Push(PoolJob* job) {
    if (inflight_++ == 0) done_.Ref(env_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(job);
    }
    cv_.notify_one();
  }

  // JS thread: settle inside a callback scope (microtasks run when it closes), then free the job.
  // Raw N-API with status checks: during a worker's teardown these calls fail, and must not throw.
  void Completed(PoolJob* job) {
    napi_handle_scope hs = nullptr;
    if (napi_open_handle_scope(env_, &hs) == napi_ok) {
      napi_value resource = nullptr;
      napi_callback_scope cs = nullptr;
      if (napi_create_object(env_, &resource) == napi_ok &&
          napi_open_callback_scope(env_, resource, context_, &cs) == napi_ok) {
        job->Settle(env_);
        napi_close_callback_scope(env_, cs);
      }
      napi_close_handle_scope(env_, hs);
    }
    delete job;
    if (--inflight_ == 0) done_.Unref(env_);
  }

  // Env teardown: finish the jobs running now, drop the queued ones (their promises die with the env).
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    done_.Release();
  }

 private:
  void Run() {
    for (;;) {
      PoolJob* job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (stop_) return;
        job = queue_.front();
        queue_.pop_front();
      }
      job->Execute();
      done_.NonBlockingCall(job);  // fails only while the env is closing: the job is then dropped
    }
  }

  Napi::Env env_;
  Napi::AsyncContext context_;
  DoneTsfn done_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<PoolJob*> queue_;
  bool stop_ = false;
  size_t inflight_ = 0;  // JS thread only
};

void CompleteJs(Napi::Env env, Napi::Function, CryptoPool* pool, PoolJob* job) {
  if (env == nullptr) return;  // the TSFN is being finalized with the env: nothing can be settled
  pool->Completed(job);
}

std::mutex registryMu;
std::unordered_map<napi_env, CryptoPool*> registry;  // one pool per env (main thread, each worker_thread)

void StopPool(void* arg) {
  auto* pool = static_cast<CryptoPool*>(arg);
  {
    std::lock_guard<std::mutex> lock(registryMu);
    for (auto it = registry.begin(); it != registry.end(); ++it) {
      if (it->second == pool) {
        registry.erase(it);
        break;
      }
    }
  }
  pool->Stop();
  // The pool object itself is left to the process: the TSFN may still call CompleteJs with a null env.
}

CryptoPool* PoolFor(Napi::Env env) {
  std::lock_guard<std::mutex> lock(registryMu);
  auto it = registry.find(env);
  if (it != registry.end()) return it->second;
  auto* pool = new CryptoPool(env);
  registry.emplace(env, pool);
  napi_add_env_cleanup_hook(env, StopPool, pool);
  return pool;
}

}  // namespace

void PoolJob::Queue() { PoolFor(env_)->Push(this); }

bool PoolJob::Settle(napi_env env) {
  if (!failed_) {
    napi_value v = Result(env);
    return v != nullptr && napi_resolve_deferred(env, deferred_, v) == napi_ok;
  }
  napi_value msg = nullptr;
  napi_value err = nullptr;
  return napi_create_string_utf8(env, error_.data(), error_.size(), &msg) == napi_ok &&
         napi_create_error(env, nullptr, msg, &err) == napi_ok && napi_reject_deferred(env, deferred_, err) == napi_ok;
}

unsigned PoolThreads(Napi::Env env) { return PoolFor(env)->threads(); }

}  // namespace kiseki::crypto

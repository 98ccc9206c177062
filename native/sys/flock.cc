// flock(2) for cache pool locks. The fd is owned by JavaScript (a FileHandle kept open for the pool's
// lifetime); this file only locks and unlocks it. flock locks belong to the open file description, so
// closing the FileHandle also releases the lock, and a kill -9 releases it in the kernel.
//
//   tryLockExclusive(fd) -> boolean       LOCK_EX|LOCK_NB; false when another description holds it
//   lockExclusive(fd)    -> Promise<void> blocking LOCK_EX on the libuv thread pool (never blocks JS)
//   unlock(fd)           -> void          LOCK_UN
// Every other failure becomes an Error with .code (e.g. 'EBADF') and .errno.
#include "sys/flock.h"

#include "sys/errno-error.h"

#include <sys/file.h>

#include <cerrno>
#include <cstring>

namespace kiseki::sys {
namespace {

bool FdArg(const Napi::CallbackInfo& info, int* fd) {
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(info.Env(), "fd must be a number").ThrowAsJavaScriptException();
    return false;
  }
  *fd = info[0].As<Napi::Number>().Int32Value();
  if (*fd < 0) {
    Napi::RangeError::New(info.Env(), "fd must be >= 0").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

int FlockRetrying(int fd, int op) {
  int rc;
  do rc = ::flock(fd, op); while (rc != 0 && errno == EINTR);
  return rc == 0 ? 0 : errno;
}

Napi::Value TryLockExclusive(const Napi::CallbackInfo& info) {
  int fd;
  if (!FdArg(info, &fd)) return info.Env().Undefined();
  int err = FlockRetrying(fd, LOCK_EX | LOCK_NB);
  if (err == 0) return Napi::Boolean::New(info.Env(), true);
  if (err == EWOULDBLOCK) return Napi::Boolean::New(info.Env(), false);
  ErrnoError(info.Env(), err, "flock(LOCK_EX|LOCK_NB)").ThrowAsJavaScriptException();
  return info.Env().Undefined();
}

// Blocking LOCK_EX off the JS thread. Execute touches no JS state.
class LockWorker : public Napi::AsyncWorker {
 public:
  LockWorker(Napi::Env env, int fd) : Napi::AsyncWorker(env), fd_(fd), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override { err_ = FlockRetrying(fd_, LOCK_EX); }
  void OnOK() override {
    if (err_ == 0) deferred_.Resolve(Env().Undefined());
    else deferred_.Reject(ErrnoError(Env(), err_, "flock(LOCK_EX)").Value());
  }

 private:
  int fd_;
  int err_ = 0;
  Napi::Promise::Deferred deferred_;
};

Napi::Value LockExclusive(const Napi::CallbackInfo& info) {
  int fd;
  if (!FdArg(info, &fd)) return info.Env().Undefined();
  auto* worker = new LockWorker(info.Env(), fd);
  Napi::Promise p = worker->Promise();
  worker->Queue();
  return p;
}

Napi::Value Unlock(const Napi::CallbackInfo& info) {
  int fd;
  if (!FdArg(info, &fd)) return info.Env().Undefined();
  int err = FlockRetrying(fd, LOCK_UN);
  if (err != 0) ErrnoError(info.Env(), err, "flock(LOCK_UN)").ThrowAsJavaScriptException();
  return info.Env().Undefined();
}

}  // namespace

void InitFlock(Napi::Env env, Napi::Object exports) {
  exports.Set("tryLockExclusive", Napi::Function::New(env, TryLockExclusive, "tryLockExclusive"));
  exports.Set("lockExclusive", Napi::Function::New(env, LockExclusive, "lockExclusive"));
  exports.Set("unlock", Napi::Function::New(env, Unlock, "unlock"));
}

}  // namespace kiseki::sys

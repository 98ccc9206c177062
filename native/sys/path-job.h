#pragma once
// A libuv thread-pool job on one file that settles a promise (readChecked, writeEntry). It keeps the
// caller's buffer alive until it settles. Execute() records a failed system call with Fail(op), which
// takes errno; OnOK then rejects with ErrnoError("<op> <path>"), or resolves with Result().
#include <napi.h>

#include <cerrno>
#include <string>

#include "sys/errno-error.h"

namespace kiseki::sys {

class PathJob : public Napi::AsyncWorker {
 public:
  // Queues the job; the promise settles when it has run.
  static Napi::Value Start(PathJob* job) {
    Napi::Promise p = job->deferred_.Promise();
    job->Queue();
    return p;
  }

 protected:
  PathJob(Napi::Env env, std::string path, Napi::Buffer<uint8_t> buf)
      : Napi::AsyncWorker(env), path_(std::move(path)), data_(buf.Data()), len_(buf.Length()),
        deferred_(Napi::Promise::Deferred::New(env)), keep_(Napi::Persistent(buf)) {}

  void Fail(const char* op) {
    err_ = errno == 0 ? EIO : errno;
    op_ = op;
  }
  bool Failed() const { return err_ != 0; }
  // The promise's value on success.
  virtual Napi::Value Result(Napi::Env env) = 0;

  const std::string path_;
  uint8_t* const data_;
  const size_t len_;

 private:
  void OnOK() override {
    Napi::Env env = Env();
    if (Failed()) deferred_.Reject(ErrnoError(env, err_, std::string(op_) + " " + path_).Value());
    else deferred_.Resolve(Result(env));
  }

  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::Buffer<uint8_t>> keep_;
  int err_ = 0;
  const char* op_ = "";
};

}  // namespace kiseki::sys

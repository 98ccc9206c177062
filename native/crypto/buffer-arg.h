#pragma once
// Buffer arguments of the async crypto calls. A BufferArg pins its Buffer with a reference for the
// lifetime of the worker, so the thread-pool thread may read or write the bytes in place (no copies).
#include <napi.h>

#include <cstdint>
#include <string>

namespace kiseki::crypto {

class BufferArg {
 public:
  BufferArg() = default;
  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool present() const { return present_; }

  // Reads info[i] as a Buffer (or null when optional). expectLen < 0: any length. On a bad argument
  // throws a TypeError into JS and returns false.
  bool Bind(const Napi::CallbackInfo& info, size_t i, const char* name, long expectLen, bool optional = false) {
    return BindValue(info.Env(), info[i], name, expectLen, optional);
  }
  // The same for any value, e.g. an element of an array argument.
  bool BindValue(Napi::Env env, Napi::Value v, const std::string& name, long expectLen, bool optional = false) {
    if (optional && (v.IsNull() || v.IsUndefined())) return true;
    if (!v.IsBuffer()) return Fail(env, name + " must be a Buffer");
    auto buf = v.As<Napi::Buffer<uint8_t>>();
    if (expectLen >= 0 && buf.Length() != static_cast<size_t>(expectLen))
      return Fail(env, name + " must be " + std::to_string(expectLen) + " bytes, got " + std::to_string(buf.Length()));
    ref_ = Napi::Persistent(buf);
    data_ = buf.Data();
    size_ = buf.Length();
    present_ = true;
    return true;
  }

 private:
  static bool Fail(Napi::Env env, const std::string& msg) {
    Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
    return false;
  }
  Napi::Reference<Napi::Buffer<uint8_t>> ref_;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool present_ = false;
};

// A worker that settles a Promise instead of calling back.
class PromiseWorker : public Napi::AsyncWorker {
 public:
  explicit PromiseWorker(Napi::Env env) : Napi::AsyncWorker(env, "kiseki.crypto"), deferred_(env) {}
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }
  Napi::Promise::Deferred deferred_;
};

}  // namespace kiseki::crypto

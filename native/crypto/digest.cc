// Hashes of the chunk pipeline that are needed on their own: chunk ids computed before a dedup lookup,
// HKDF for the known-answer tests, and the L2 cache's CRC32 trailer (brief §4.4: IEEE, zlib's).
#include "crypto/digest.h"

#include <string>

#include "crypto/buffer-arg.h"
#include "crypto/primitives.h"

namespace kiseki::crypto {
namespace {

class DigestWorker : public PromiseWorker {
 public:
  explicit DigestWorker(Napi::Env env) : PromiseWorker(env) {}
  bool hmac = false;
  BufferArg data, key, out;
  void Execute() override {
    bool ok = hmac ? HmacSha256(key.data(), key.size(), data.data(), data.size(), out.data())
                   : Sha256(data.data(), data.size(), out.data());
    if (!ok) SetError("digest failed in OpenSSL");
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
};

class CrcWorker : public PromiseWorker {
 public:
  explicit CrcWorker(Napi::Env env) : PromiseWorker(env) {}
  BufferArg data;
  uint32_t crc = 0;
  void Execute() override { crc = Crc32(crc, data.data(), data.size()); }
  void OnOK() override { deferred_.Resolve(Napi::Number::New(Env(), crc)); }
};

bool ReadPrev(const Napi::CallbackInfo& info, size_t i, uint32_t* out) {
  if (info[i].IsUndefined()) return true;
  if (!info[i].IsNumber()) {
    Napi::TypeError::New(info.Env(), "prev must be a number (a previous CRC32)").ThrowAsJavaScriptException();
    return false;
  }
  *out = info[i].As<Napi::Number>().Uint32Value();
  return true;
}

}  // namespace

Napi::Value Digest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* w = new DigestWorker(env);
  std::string kind = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  w->hmac = kind == "hmac";
  bool ok = (kind == "sha256" || kind == "hmac") && w->data.Bind(info, 1, "data", -1) &&
            w->key.Bind(info, 2, "key", -1, !w->hmac) && w->out.Bind(info, 3, "out", kIdLen);
  if (ok && w->hmac && !w->key.present()) ok = false;
  if (!ok) {
    if (!env.IsExceptionPending())
      Napi::TypeError::New(env, "digest(kind 'sha256'|'hmac', data, key, out32)").ThrowAsJavaScriptException();
    delete w;
    return env.Undefined();
  }
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

Napi::Value Hkdf(const Napi::CallbackInfo& info) {
  BufferArg ikm, salt, inf, out;
  if (!ikm.Bind(info, 0, "ikm", -1) || !salt.Bind(info, 1, "salt", -1) || !inf.Bind(info, 2, "info", -1) ||
      !out.Bind(info, 3, "out", kKeyLen))
    return info.Env().Undefined();
  if (!Hkdf32(ikm.data(), ikm.size(), salt.data(), salt.size(), inf.data(), inf.size(), out.data()))
    Napi::Error::New(info.Env(), "HKDF failed in OpenSSL (info longer than 255 bytes?)").ThrowAsJavaScriptException();
  return info.Env().Undefined();
}

Napi::Value Gcm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BufferArg key, nonce, aad, input, output, tag;
  if (!info[0].IsBoolean()) {
    Napi::TypeError::New(env, "gcm(decrypt: boolean, ...)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  bool decrypt = info[0].As<Napi::Boolean>().Value();
  if (!key.Bind(info, 1, "key", kKeyLen) || !nonce.Bind(info, 2, "nonce", kNonceLen) || !aad.Bind(info, 3, "aad", -1) ||
      !input.Bind(info, 4, "input", -1) || !output.Bind(info, 5, "output", static_cast<long>(input.size())) ||
      !tag.Bind(info, 6, "tag", kTagLen))
    return env.Undefined();
  if (input.size() > (1 << 20)) {
    Napi::RangeError::New(env, "gcm() is for small records (≤ 1 MiB); use seal/open").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (!decrypt) {
    bool ok = GcmSeal(key.data(), nonce.data(), aad.data(), aad.size(), input.data(), input.size(), output.data(), tag.data());
    if (!ok) Napi::Error::New(env, "AES-256-GCM seal failed in OpenSSL").ThrowAsJavaScriptException();
    return Napi::Boolean::New(env, ok);
  }
  OpenStatus s = GcmOpen(key.data(), nonce.data(), aad.data(), aad.size(), input.data(), input.size(), tag.data(), output.data());
  if (s == OpenStatus::kError) Napi::Error::New(env, "AES-256-GCM open failed in OpenSSL").ThrowAsJavaScriptException();
  return Napi::Boolean::New(env, s == OpenStatus::kOk);
}

Napi::Value Crc32Sync(const Napi::CallbackInfo& info) {
  BufferArg data;
  uint32_t prev = 0;
  if (!data.Bind(info, 0, "data", -1) || !ReadPrev(info, 1, &prev)) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), Crc32(prev, data.data(), data.size()));
}

Napi::Value Crc32Async(const Napi::CallbackInfo& info) {
  auto* w = new CrcWorker(info.Env());
  if (!w->data.Bind(info, 0, "data", -1) || !ReadPrev(info, 1, &w->crc)) {
    delete w;
    return info.Env().Undefined();
  }
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace kiseki::crypto

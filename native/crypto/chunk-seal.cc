// Seal and open of one chunk (or metadata value) on the libuv thread pool: chunk id, HKDF of the DEK,
// AES-256-GCM, and on open the optional re-hash of the plaintext (I-CC1), all in one pass off the main
// thread. Every output Buffer is allocated by the caller; the DEK lives on the worker's stack and is
// cleansed before the worker returns.
#include "crypto/chunk-seal.h"

#include <string>

#include "crypto/buffer-arg.h"
#include "crypto/primitives.h"

namespace kiseki::crypto {
namespace {

// How the chunk id is obtained: hashed from the plaintext, HMAC'd with the tenant index key, or given
// by the caller (metadata values, whose id is their name key).
enum class IdMode { kSha256, kHmac, kGiven, kNone };

bool ParseMode(const Napi::CallbackInfo& info, size_t i, bool forOpen, IdMode* out) {
  std::string s = info[i].IsString() ? info[i].As<Napi::String>().Utf8Value() : "";
  if (s == "sha256") *out = IdMode::kSha256;
  else if (s == "hmac") *out = IdMode::kHmac;
  else if (s == "given" && !forOpen) *out = IdMode::kGiven;
  else if (s == "none" && forOpen) *out = IdMode::kNone;
  else {
    Napi::TypeError::New(info.Env(), "unknown chunk id mode '" + s + "'").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

bool ComputeId(IdMode mode, const BufferArg& key, const uint8_t* data, size_t len, uint8_t* out) {
  return mode == IdMode::kSha256 ? Sha256(data, len, out) : HmacSha256(key.data(), key.size(), data, len, out);
}

struct Common {
  BufferArg input, output, chunkId, idKey, kek, info, nonce, tag;
  IdMode mode = IdMode::kSha256;

  bool Bind(const Napi::CallbackInfo& a, bool forOpen) {
    if (a.Length() != 9) {
      Napi::TypeError::New(a.Env(), "expected 9 arguments").ThrowAsJavaScriptException();
      return false;
    }
    if (!input.Bind(a, 0, forOpen ? "ciphertext" : "plaintext", -1)) return false;
    if (!output.Bind(a, 1, forOpen ? "plaintextOut" : "ciphertextOut", static_cast<long>(input.size()))) return false;
    if (!chunkId.Bind(a, 2, "chunkId", kIdLen)) return false;
    if (!ParseMode(a, 3, forOpen, &mode)) return false;
    if (!idKey.Bind(a, 4, "idKey", kKeyLen, true)) return false;
    if (mode == IdMode::kHmac && !idKey.present()) {
      Napi::TypeError::New(a.Env(), "idKey is required for hmac chunk ids").ThrowAsJavaScriptException();
      return false;
    }
    if (!kek.Bind(a, 5, "kek", kKeyLen)) return false;
    if (!info.Bind(a, 6, "info", -1)) return false;
    if (!nonce.Bind(a, 7, "nonce", kNonceLen)) return false;
    return tag.Bind(a, 8, "tag", kTagLen);
  }
};

class SealWorker : public PromiseWorker {
 public:
  explicit SealWorker(Napi::Env env) : PromiseWorker(env) {}
  Common c;

  void Execute() override {
    if (c.mode != IdMode::kGiven &&
        !ComputeId(c.mode, c.idKey, c.input.data(), c.input.size(), c.chunkId.data())) {
      return SetError("chunk id computation failed in OpenSSL");
    }
    uint8_t dek[kKeyLen];
    bool ok = Hkdf32(c.kek.data(), c.kek.size(), c.chunkId.data(), kIdLen, c.info.data(), c.info.size(), dek) &&
              GcmSeal(dek, c.nonce.data(), c.chunkId.data(), kIdLen, c.input.data(), c.input.size(),
                      c.output.data(), c.tag.data());
    Cleanse(dek, sizeof(dek));
    if (!ok) SetError("AES-256-GCM seal failed in OpenSSL");
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
};

class OpenWorker : public PromiseWorker {
 public:
  explicit OpenWorker(Napi::Env env) : PromiseWorker(env) {}
  Common c;

  void Execute() override {
    uint8_t dek[kKeyLen];
    if (!Hkdf32(c.kek.data(), c.kek.size(), c.chunkId.data(), kIdLen, c.info.data(), c.info.size(), dek)) {
      Cleanse(dek, sizeof(dek));
      return SetError("HKDF failed in OpenSSL");
    }
    OpenStatus s = GcmOpen(dek, c.nonce.data(), c.chunkId.data(), kIdLen, c.input.data(), c.input.size(),
                           c.tag.data(), c.output.data());
    Cleanse(dek, sizeof(dek));
    if (s == OpenStatus::kError) return SetError("AES-256-GCM open failed in OpenSSL");
    if (s == OpenStatus::kAuthFailed) {
      result_ = "auth-failed";
      return;
    }
    if (c.mode != IdMode::kNone) {
      // I-CC1: the plaintext must hash back to the id it was fetched under.
      uint8_t actual[kIdLen];
      if (!ComputeId(c.mode, c.idKey, c.output.data(), c.output.size(), actual)) {
        Cleanse(c.output.data(), c.output.size());
        return SetError("chunk id computation failed in OpenSSL");
      }
      if (!Equal32(actual, c.chunkId.data())) {
        Cleanse(c.output.data(), c.output.size());
        result_ = "id-mismatch";
        return;
      }
    }
    result_ = "ok";
  }
  void OnOK() override { deferred_.Resolve(Napi::String::New(Env(), result_)); }

 private:
  const char* result_ = "auth-failed";
};

template <typename Worker>
Napi::Value Queue(const Napi::CallbackInfo& info, bool forOpen) {
  auto* w = new Worker(info.Env());
  if (!w->c.Bind(info, forOpen)) {
    delete w;
    return info.Env().Undefined();
  }
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace

Napi::Value Seal(const Napi::CallbackInfo& info) { return Queue<SealWorker>(info, false); }
Napi::Value Open(const Napi::CallbackInfo& info) { return Queue<OpenWorker>(info, true); }

}  // namespace kiseki::crypto

// Seal and open of one chunk (or metadata value) on the crypto pool (crypto-pool.h): chunk id, HKDF of the DEK,
// AES-256-GCM, and on open the optional re-hash of the plaintext (I-CC1), all in one pass off the main
// thread (chunk-core.h). Every output Buffer is allocated by the caller.
#include "crypto/chunk-seal.h"

#include <string>

#include "crypto/buffer-arg.h"
#include "crypto/chunk-core.h"
#include "crypto/crypto-pool.h"
#include "crypto/primitives.h"

namespace kiseki::crypto {
namespace {

bool BindIdMode(const Napi::CallbackInfo& info, size_t i, bool forOpen, IdMode* out) {
  std::string s = info[i].IsString() ? info[i].As<Napi::String>().Utf8Value() : "";
  if (ParseIdMode(s, forOpen, out)) return true;
  Napi::TypeError::New(info.Env(), "unknown chunk id mode '" + s + "'").ThrowAsJavaScriptException();
  return false;
}

}  // namespace

bool BindChunkKeys(const Napi::CallbackInfo& a, size_t modeAt, bool forOpen, BufferArg* idKey, BufferArg* kek,
                   BufferArg* info, ChunkKeys* k) {
  if (!BindIdMode(a, modeAt, forOpen, &k->mode)) return false;
  if (!idKey->Bind(a, modeAt + 1, "idKey", kKeyLen, true)) return false;
  if (k->mode == IdMode::kHmac && !idKey->present()) {
    Napi::TypeError::New(a.Env(), "idKey is required for hmac chunk ids").ThrowAsJavaScriptException();
    return false;
  }
  if (kek != nullptr && !kek->Bind(a, modeAt + 2, "kek", kKeyLen)) return false;
  if (!info->Bind(a, modeAt + 3, "info", -1)) return false;
  k->idKey = {idKey->data(), idKey->size()};
  if (kek != nullptr) k->kek = {kek->data(), kek->size()};
  k->info = {info->data(), info->size()};
  return true;
}

namespace {

struct Common {
  BufferArg input, output, chunkId, idKey, kek, info, nonce, tag;
  ChunkKeys keys;

  bool Bind(const Napi::CallbackInfo& a, bool forOpen) {
    if (a.Length() != 9) {
      Napi::TypeError::New(a.Env(), "expected 9 arguments").ThrowAsJavaScriptException();
      return false;
    }
    if (!input.Bind(a, 0, forOpen ? "ciphertext" : "plaintext", -1)) return false;
    if (!output.Bind(a, 1, forOpen ? "plaintextOut" : "ciphertextOut", static_cast<long>(input.size()))) return false;
    if (!chunkId.Bind(a, 2, "chunkId", kIdLen)) return false;
    if (!BindChunkKeys(a, 3, forOpen, &idKey, &kek, &info, &keys)) return false;
    if (!nonce.Bind(a, 7, "nonce", kNonceLen)) return false;
    return tag.Bind(a, 8, "tag", kTagLen);
  }
};

class SealWorker : public PoolJob {
 public:
  explicit SealWorker(Napi::Env env) : PoolJob(env) {}
  Common c;

  void Execute() override {
    if (!SealOneChunk(c.keys, c.nonce.data(), c.input.data(), c.input.size(), c.output.data(), c.chunkId.data(),
                      c.tag.data()))
      SetError("AES-256-GCM seal failed in OpenSSL");
  }
};

class OpenWorker : public PoolJob {
 public:
  explicit OpenWorker(Napi::Env env) : PoolJob(env) {}
  Common c;

  void Execute() override {
    status_ = OpenOneChunk(c.keys, c.nonce.data(), c.input.data(), c.input.size(), c.chunkId.data(), c.tag.data(),
                           c.output.data());
    if (status_ == ChunkStatus::kError) SetError("AES-256-GCM open failed in OpenSSL");
  }
  napi_value Result(napi_env env) override {
    const char* s = status_ == ChunkStatus::kOk ? "ok" : status_ == ChunkStatus::kIdMismatch ? "id-mismatch" : "auth-failed";
    napi_value v = nullptr;
    return napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v) == napi_ok ? v : nullptr;
  }

 private:
  ChunkStatus status_ = ChunkStatus::kAuthFailed;
};

template <typename Worker>
Napi::Value Queue(const Napi::CallbackInfo& info, bool forOpen) {
  auto* w = new Worker(info.Env());
  if (!w->c.Bind(info, forOpen)) {
    delete w;
    return info.Env().Undefined();
  }
  Napi::Value p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace

Napi::Value Seal(const Napi::CallbackInfo& info) { return Queue<SealWorker>(info, false); }
Napi::Value Open(const Napi::CallbackInfo& info) { return Queue<OpenWorker>(info, true); }

}  // namespace kiseki::crypto

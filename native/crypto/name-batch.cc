// Opening a whole ReadDirPlus page of sealed dirent names in one thread-pool job: per name one HKDF of
// the DEK (salt = its name key), one AES-256-GCM open (AAD = the name key), and the check that the
// name hashes back to that key (HMAC-SHA256(index key, parent u64 LE || name)), so a node cannot show
// one entry's name under another's key. One hop for the page instead of one per name.
#include "crypto/name-batch.h"

#include <string.h>

#include <vector>

#include "crypto/buffer-arg.h"
#include "crypto/prepared-hmac.h"
#include "crypto/primitives.h"

namespace kiseki::crypto {
namespace {

enum NameStatus : uint8_t { kNameOk = 0, kNameAuthFailed = 1, kNameKeyMismatch = 2, kNameError = 3 };
constexpr size_t kMaxName = 255;

class NameBatchWorker : public PromiseWorker {
 public:
  explicit NameBatchWorker(Napi::Env env) : PromiseWorker(env) {}
  BufferArg indexKey, kek, info, ids, nonces, tags, ciphertexts, offsets, out, status;
  uint64_t parent = 0;
  size_t n = 0;

  void Execute() override {
    const uint32_t* off = reinterpret_cast<const uint32_t*>(offsets.data());
    PreparedHmac index;
    bool indexReady = index.Init(indexKey.data(), indexKey.size());
    for (size_t i = 0; i < n; i++) {
      const uint8_t* id = ids.data() + i * kIdLen;
      size_t len = off[i + 1] - off[i];
      uint8_t* plain = out.data() + off[i];
      uint8_t dek[kKeyLen];
      if (len > kMaxName || !indexReady || !Hkdf32(kek.data(), kek.size(), id, kIdLen, info.data(), info.size(), dek)) {
        Cleanse(dek, sizeof dek);
        status.data()[i] = len > kMaxName && indexReady ? kNameKeyMismatch : kNameError;
        continue;
      }
      OpenStatus s = GcmOpen(dek, nonces.data() + i * kNonceLen, id, kIdLen, ciphertexts.data() + off[i], len,
                             tags.data() + i * kTagLen, plain);
      Cleanse(dek, sizeof dek);
      if (s != OpenStatus::kOk) {
        status.data()[i] = s == OpenStatus::kAuthFailed ? kNameAuthFailed : kNameError;
        continue;
      }
      uint8_t key[kIdLen];
      bool same = NameKey(index, parent, plain, len, key) && Equal32(key, id);
      if (!same) Cleanse(plain, len);
      status.data()[i] = same ? kNameOk : kNameKeyMismatch;
    }
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
};

}  // namespace

// openNames(parent, indexKey, kek, info, ids, nonces, tags, ciphertexts, offsets: Uint32Array as Buffer,
//           out, status) → Promise<void>; status[i]: 0 ok, 1 authentication failed, 2 name/key mismatch, 3 error.
Napi::Value OpenNames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 11 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "openNames expects 11 arguments").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* w = new NameBatchWorker(env);
  w->parent = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  bool ok = w->indexKey.Bind(info, 1, "indexKey", kKeyLen) && w->kek.Bind(info, 2, "kek", kKeyLen) &&
            w->info.Bind(info, 3, "info", -1) && w->ids.Bind(info, 4, "ids", -1) &&
            w->status.Bind(info, 10, "status", -1);
  size_t n = ok ? w->status.size() : 0;
  ok = ok && w->ids.size() == n * kIdLen && w->nonces.Bind(info, 5, "nonces", static_cast<long>(n * kNonceLen)) &&
       w->tags.Bind(info, 6, "tags", static_cast<long>(n * kTagLen)) && w->ciphertexts.Bind(info, 7, "ciphertexts", -1) &&
       w->offsets.Bind(info, 8, "offsets", static_cast<long>((n + 1) * 4)) &&
       w->out.Bind(info, 9, "out", static_cast<long>(w->ciphertexts.size()));
  if (ok) {
    const uint32_t* off = reinterpret_cast<const uint32_t*>(w->offsets.data());
    for (size_t i = 0; ok && i < n; i++) ok = off[i] <= off[i + 1];
    ok = ok && off[0] == 0 && off[n] == w->ciphertexts.size();
    if (!ok) Napi::RangeError::New(env, "openNames: offsets do not describe the ciphertexts").ThrowAsJavaScriptException();
  } else if (!env.IsExceptionPending()) {
    Napi::TypeError::New(env, "openNames: ids, nonces, tags and status disagree on the count").ThrowAsJavaScriptException();
  }
  if (!ok) {
    delete w;
    return env.Undefined();
  }
  w->n = n;
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace kiseki::crypto

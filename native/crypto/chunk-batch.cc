// Several chunks per job of the crypto pool (ADR 0014, 0015): the same per-chunk work as chunk-seal.cc
// (chunk-core.h), n chunks in a row on one pool thread and one Promise for all of them, so the main
// thread is off the critical path between chunks: one hop and one completion per batch, not per chunk.
#include "crypto/chunk-batch.h"

#include <string>
#include <vector>

#include "crypto/buffer-arg.h"
#include "crypto/chunk-core.h"
#include "crypto/crypto-pool.h"
#include "crypto/chunk-seal.h"
#include "crypto/primitives.h"

namespace kiseki::crypto {
namespace {

bool Fail(Napi::Env env, const std::string& msg) {
  Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  return false;
}

// Binds every element of an array of Buffers; sizes[i] >= 0 demands that length.
bool BindArray(Napi::Env env, Napi::Value v, const char* name, size_t n, const std::vector<long>& sizes,
               std::vector<BufferArg>* out) {
  if (!v.IsArray()) return Fail(env, std::string(name) + " must be an array of Buffers");
  auto a = v.As<Napi::Array>();
  if (a.Length() != n) return Fail(env, std::string(name) + " must have " + std::to_string(n) + " elements");
  out->resize(n);
  for (uint32_t i = 0; i < n; i++) {
    std::string el = std::string(name) + "[" + std::to_string(i) + "]";
    if (!(*out)[i].BindValue(env, a.Get(i), el, sizes.empty() ? -1 : sizes[i])) return false;
  }
  return true;
}

bool Overlap(const BufferArg& a, const BufferArg& b) {
  return a.size() > 0 && b.size() > 0 && a.data() < b.data() + b.size() && b.data() < a.data() + a.size();
}

// Chunk i may be transformed in place (outputs[i] == inputs[i]); any other overlap would let chunk i's
// output overwrite a later chunk's input or output before it is processed: wrong bytes, so refused.
bool CheckDisjoint(Napi::Env env, const std::vector<BufferArg>& in, const std::vector<BufferArg>& out) {
  for (size_t i = 0; i < out.size(); i++) {
    for (size_t j = 0; j < in.size(); j++) {
      bool inPlace = i == j && out[i].data() == in[j].data();
      if (!inPlace && Overlap(out[i], in[j]))
        return Fail(env, "output " + std::to_string(i) + " overlaps input " + std::to_string(j));
      if (j != i && j < out.size() && Overlap(out[i], out[j]))
        return Fail(env, "outputs " + std::to_string(i) + " and " + std::to_string(j) + " overlap");
    }
  }
  return true;
}

struct Batch {
  std::vector<BufferArg> inputs, outputs;
  BufferArg chunkIds, idKey, kek, info, nonces, tags;
  ChunkKeys keys;
  size_t n = 0;

  // Arguments 0–8 as documented in chunk-batch.h; kek is index 5 (a Buffer for seal, an array for open).
  bool Bind(const Napi::CallbackInfo& a, bool forOpen) {
    Napi::Env env = a.Env();
    if (a.Length() != (forOpen ? 10u : 9u)) return Fail(env, std::string("expected ") + (forOpen ? "10" : "9") + " arguments");
    if (!a[0].IsArray()) return Fail(env, forOpen ? "ciphertexts must be an array of Buffers" : "plaintexts must be an array of Buffers");
    n = a[0].As<Napi::Array>().Length();
    if (!BindArray(env, a[0], forOpen ? "ciphertexts" : "plaintexts", n, {}, &inputs)) return false;
    std::vector<long> sizes(n);
    for (size_t i = 0; i < n; i++) sizes[i] = static_cast<long>(inputs[i].size());
    if (!BindArray(env, a[1], forOpen ? "plaintextOuts" : "ciphertextOuts", n, sizes, &outputs)) return false;
    if (!CheckDisjoint(env, inputs, outputs)) return false;
    if (!chunkIds.Bind(a, 2, "chunkIds", static_cast<long>(n * kIdLen))) return false;
    if (!BindChunkKeys(a, 3, forOpen, &idKey, forOpen ? nullptr : &kek, &info, &keys)) return false;
    if (!nonces.Bind(a, 7, "nonces", static_cast<long>(n * kNonceLen))) return false;
    return tags.Bind(a, 8, forOpen ? "tags" : "tagsOut", static_cast<long>(n * kTagLen));
  }
};

class SealManyWorker : public PoolJob {
 public:
  explicit SealManyWorker(Napi::Env env) : PoolJob(env) {}
  Batch b;

  void Execute() override {
    for (size_t i = 0; i < b.n; i++) {
      if (!SealOneChunk(b.keys, b.nonces.data() + i * kNonceLen, b.inputs[i].data(), b.inputs[i].size(),
                        b.outputs[i].data(), b.chunkIds.data() + i * kIdLen, b.tags.data() + i * kTagLen))
        return SetError("AES-256-GCM seal of chunk " + std::to_string(i) + " of the batch failed in OpenSSL");
    }
  }
};

class OpenManyWorker : public PoolJob {
 public:
  explicit OpenManyWorker(Napi::Env env) : PoolJob(env) {}
  Batch b;
  std::vector<BufferArg> keks;
  BufferArg status;

  void Execute() override {
    for (size_t i = 0; i < b.n; i++) {
      ChunkKeys k = b.keys;
      k.kek = {keks[i].data(), keks[i].size()};
      ChunkStatus s = OpenOneChunk(k, b.nonces.data() + i * kNonceLen, b.inputs[i].data(), b.inputs[i].size(),
                                   b.chunkIds.data() + i * kIdLen, b.tags.data() + i * kTagLen, b.outputs[i].data());
      status.data()[i] = static_cast<uint8_t>(s);
    }
  }
};

template <typename Worker>
Napi::Value Start(Worker* w, bool ok) {
  Napi::Env env = w->Env();
  if (!ok) {
    delete w;
    return env.Undefined();
  }
  Napi::Value p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace

Napi::Value SealMany(const Napi::CallbackInfo& info) {
  auto* w = new SealManyWorker(info.Env());
  return Start(w, w->b.Bind(info, false));
}

Napi::Value OpenMany(const Napi::CallbackInfo& info) {
  auto* w = new OpenManyWorker(info.Env());
  bool ok = w->b.Bind(info, true);
  if (ok) {
    std::vector<long> sizes(w->b.n, static_cast<long>(kKeyLen));
    ok = BindArray(info.Env(), info[5], "keks", w->b.n, sizes, &w->keks) &&
         w->status.Bind(info, 9, "statusOut", static_cast<long>(w->b.n));
  }
  return Start(w, ok);
}

}  // namespace kiseki::crypto

#include "crypto/crypto.h"

#include "crypto/chunk-batch.h"
#include "crypto/chunk-seal.h"
#include "crypto/crypto-pool.h"
#include "crypto/digest.h"
#include "crypto/key-memory.h"
#include "crypto/name-batch.h"

namespace kiseki::crypto {
Napi::Object Init(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("seal", Napi::Function::New(env, Seal, "seal"));
  o.Set("open", Napi::Function::New(env, Open, "open"));
  o.Set("poolThreads", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    return Napi::Number::New(info.Env(), PoolThreads(info.Env()));
  }, "poolThreads"));
  o.Set("sealMany", Napi::Function::New(env, SealMany, "sealMany"));
  o.Set("openMany", Napi::Function::New(env, OpenMany, "openMany"));
  o.Set("digest", Napi::Function::New(env, Digest, "digest"));
  o.Set("hkdf", Napi::Function::New(env, Hkdf, "hkdf"));
  o.Set("gcm", Napi::Function::New(env, Gcm, "gcm"));
  o.Set("crc32", Napi::Function::New(env, Crc32Sync, "crc32"));
  o.Set("crc32Async", Napi::Function::New(env, Crc32Async, "crc32Async"));
  o.Set("allocSecure", Napi::Function::New(env, AllocSecure, "allocSecure"));
  o.Set("zero", Napi::Function::New(env, Zero, "zero"));
  o.Set("openNames", Napi::Function::New(env, OpenNames, "openNames"));
  return o;
}
}  // namespace kiseki::crypto

// Entry point of kiseki_native.node. Each native concept registers its exports under its own key,
// so the TypeScript wrappers (src/*/…-binding.ts) import exactly one namespace each.
#include <napi.h>

#include "crypto/crypto.h"
#include "fuse/fuse.h"
#include "sys/sys.h"
#include "transport/transport.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("crypto", kiseki::crypto::Init(env));
  exports.Set("fuse", kiseki::fuse::Init(env));
  exports.Set("sys", kiseki::sys::Init(env));
  exports.Set("transport", kiseki::transport::Init(env));
  return exports;
}

NODE_API_MODULE(kiseki_native, Init)

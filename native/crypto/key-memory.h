#pragma once
#include <napi.h>

namespace kiseki::crypto {
// allocSecure(len) → { buffer, locked }: a Buffer on its own pages, mlock'ed (best effort) and excluded
// from core dumps; cleansed and unmapped when the Buffer is collected.
Napi::Value AllocSecure(const Napi::CallbackInfo& info);
// zero(buffer): OPENSSL_cleanse over the whole Buffer.
Napi::Value Zero(const Napi::CallbackInfo& info);
}  // namespace kiseki::crypto

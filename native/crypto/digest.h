#pragma once
#include <napi.h>

namespace kiseki::crypto {
// digest(kind: 'sha256' | 'hmac', data, key | null, out32) → Promise<undefined>, on the thread pool.
Napi::Value Digest(const Napi::CallbackInfo& info);
// hkdf(ikm, salt, info, out32): HKDF-SHA256, synchronous (microseconds).
Napi::Value Hkdf(const Napi::CallbackInfo& info);
// crc32(data, prev) → number, synchronous.
Napi::Value Crc32Sync(const Napi::CallbackInfo& info);
// crc32Async(data, prev) → Promise<number>, on the thread pool.
Napi::Value Crc32Async(const Napi::CallbackInfo& info);
}  // namespace kiseki::crypto

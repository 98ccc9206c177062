#pragma once
#include <napi.h>

namespace kiseki::crypto {
// digest(kind: 'sha256' | 'hmac', data, key | null, out32) → Promise<undefined>, on the thread pool.
Napi::Value Digest(const Napi::CallbackInfo& info);
// hkdf(ikm, salt, info, out32): HKDF-SHA256, synchronous (microseconds).
Napi::Value Hkdf(const Napi::CallbackInfo& info);
// gcm(decrypt: boolean, key32, nonce12, aad, input, output, tag16) → boolean, synchronous: raw
// AES-256-GCM for small records (Kiseki's 40-byte tenant wrap). Seal fills tag; open returns false on
// an authentication failure and cleanses output.
Napi::Value Gcm(const Napi::CallbackInfo& info);
// crc32(data, prev) → number, synchronous.
Napi::Value Crc32Sync(const Napi::CallbackInfo& info);
// crc32Async(data, prev) → Promise<number>, on the thread pool.
Napi::Value Crc32Async(const Napi::CallbackInfo& info);
}  // namespace kiseki::crypto

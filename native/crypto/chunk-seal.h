#pragma once
#include <napi.h>

namespace kiseki::crypto {
// seal(plaintext, ciphertextOut, chunkId, idMode, idKey, kek, info, nonce, tagOut) → Promise<undefined>
Napi::Value Seal(const Napi::CallbackInfo& info);
// open(ciphertext, plaintextOut, chunkId, verifyMode, idKey, kek, info, nonce, tag)
//   → Promise<'ok' | 'auth-failed' | 'id-mismatch'>
Napi::Value Open(const Napi::CallbackInfo& info);
}  // namespace kiseki::crypto

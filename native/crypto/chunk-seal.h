#pragma once
#include <napi.h>

#include "crypto/buffer-arg.h"
#include "crypto/chunk-core.h"

namespace kiseki::crypto {
// seal(plaintext, ciphertextOut, chunkId, idMode, idKey, kek, info, nonce, tagOut) → Promise<undefined>
Napi::Value Seal(const Napi::CallbackInfo& info);
// open(ciphertext, plaintextOut, chunkId, verifyMode, idKey, kek, info, nonce, tag)
//   → Promise<'ok' | 'auth-failed' | 'id-mismatch'>
Napi::Value Open(const Napi::CallbackInfo& info);

// Binds info[modeAt] (id mode), [modeAt+1] (idKey or null), [modeAt+2] (kek; skipped when kek is null)
// and [modeAt+3] (HKDF info) into k; on a bad argument throws a TypeError into JS and returns false.
bool BindChunkKeys(const Napi::CallbackInfo& a, size_t modeAt, bool forOpen, BufferArg* idKey, BufferArg* kek,
                   BufferArg* info, ChunkKeys* k);
}  // namespace kiseki::crypto

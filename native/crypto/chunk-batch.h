#pragma once
#include <napi.h>

namespace kiseki::crypto {
// sealMany(plaintexts: Buffer[], ciphertextOuts: Buffer[], chunkIds: Buffer (32·n), idMode, idKey | null,
//          kek, info, nonces: Buffer (12·n), tagsOut: Buffer (16·n)) → Promise<undefined>.
// All n chunks in ONE job of the crypto pool, in order; any failure rejects the whole batch.
Napi::Value SealMany(const Napi::CallbackInfo& info);
// openMany(ciphertexts: Buffer[], plaintextOuts: Buffer[], chunkIds (32·n), verifyMode, idKey | null,
//          keks: Buffer[], info, nonces (12·n), tags (16·n), statusOut: Buffer (n)) → Promise<undefined>.
// statusOut[i]: 0 ok, 1 authentication failed, 2 id mismatch (I-CC1), 3 error; the output of every
// chunk whose status is not 0 is cleansed, so a failed chunk never hands back plaintext.
Napi::Value OpenMany(const Napi::CallbackInfo& info);
}  // namespace kiseki::crypto

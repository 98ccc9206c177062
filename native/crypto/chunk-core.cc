#include "crypto/chunk-core.h"

#include "crypto/primitives.h"

namespace kiseki::crypto {
namespace {

bool ComputeId(const ChunkKeys& k, const uint8_t* data, size_t len, uint8_t* out) {
  return k.mode == IdMode::kSha256 ? Sha256(data, len, out) : HmacSha256(k.idKey.data, k.idKey.size, data, len, out);
}

}  // namespace

bool ParseIdMode(const std::string& s, bool forOpen, IdMode* out) {
  if (s == "sha256") *out = IdMode::kSha256;
  else if (s == "hmac") *out = IdMode::kHmac;
  else if (s == "given" && !forOpen) *out = IdMode::kGiven;
  else if (s == "none" && forOpen) *out = IdMode::kNone;
  else return false;
  return true;
}

bool SealOneChunk(const ChunkKeys& k, const uint8_t* nonce, const uint8_t* in, size_t len, uint8_t* out,
                  uint8_t* chunkId, uint8_t* tag) {
  if (k.mode != IdMode::kGiven && !ComputeId(k, in, len, chunkId)) return false;
  uint8_t dek[kKeyLen];
  bool ok = Hkdf32(k.kek.data, k.kek.size, chunkId, kIdLen, k.info.data, k.info.size, dek) &&
            GcmSeal(dek, nonce, chunkId, kIdLen, in, len, out, tag);
  Cleanse(dek, sizeof(dek));
  return ok;
}

ChunkStatus OpenOneChunk(const ChunkKeys& k, const uint8_t* nonce, const uint8_t* in, size_t len,
                         const uint8_t* chunkId, const uint8_t* tag, uint8_t* out) {
  uint8_t dek[kKeyLen];
  if (!Hkdf32(k.kek.data, k.kek.size, chunkId, kIdLen, k.info.data, k.info.size, dek)) {
    Cleanse(dek, sizeof(dek));
    Cleanse(out, len);
    return ChunkStatus::kError;
  }
  OpenStatus s = GcmOpen(dek, nonce, chunkId, kIdLen, in, len, tag, out);
  Cleanse(dek, sizeof(dek));
  if (s == OpenStatus::kError) return ChunkStatus::kError;  // GcmOpen cleansed out
  if (s == OpenStatus::kAuthFailed) return ChunkStatus::kAuthFailed;
  if (k.mode == IdMode::kNone) return ChunkStatus::kOk;
  // I-CC1: the plaintext must hash back to the id it was fetched under.
  uint8_t actual[kIdLen];
  if (!ComputeId(k, out, len, actual)) {
    Cleanse(out, len);
    return ChunkStatus::kError;
  }
  if (!Equal32(actual, chunkId)) {
    Cleanse(out, len);
    return ChunkStatus::kIdMismatch;
  }
  return ChunkStatus::kOk;
}

}  // namespace kiseki::crypto

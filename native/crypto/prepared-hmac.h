#pragma once
// HMAC-SHA256 under one key with the key's inner and outer pads absorbed once (RFC 2104): a MAC then
// costs the SHA-256 blocks of its data plus one, with no OpenSSL lookup or key set-up per call. The
// name keys of dirents (HMAC(index key, parent u64 LE || name)) are made this way on the FUSE worker
// threads, one per LOOKUP, and primitives.h's HmacSha256 is built on it.
#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>

namespace kiseki::crypto {

class PreparedHmac {
 public:
  PreparedHmac() = default;
  ~PreparedHmac() { Reset(); }
  PreparedHmac(const PreparedHmac &) = delete;
  PreparedHmac &operator=(const PreparedHmac &) = delete;

  /** Absorbs the key's pads (the key itself is not kept). False if OpenSSL fails; then not ready. */
  bool Init(const uint8_t *key, size_t keyLen);
  /** Forgets the key: the pads' digest states are cleansed and freed. */
  void Reset();
  bool ready() const { return inner_ != nullptr; }

  /** out[32] = HMAC(key, a || b). Thread-safe on a ready instance: the prepared states are only copied. */
  bool Mac(const uint8_t *a, size_t aLen, const uint8_t *b, size_t bLen, uint8_t *out) const;

 private:
  EVP_MD_CTX *inner_ = nullptr;
  EVP_MD_CTX *outer_ = nullptr;
};

/** A dirent's name key: HMAC-SHA256(index key, parent as u64 LE || name) (src/crypto/metadata-seal.ts). */
bool NameKey(const PreparedHmac &index, uint64_t parent, const uint8_t *name, size_t len, uint8_t *out);

}  // namespace kiseki::crypto

#include "crypto/prepared-hmac.h"

#include <openssl/crypto.h>

#include <memory>

namespace kiseki::crypto {
namespace {

constexpr size_t kBlock = 64;  // SHA-256's block: the pad length of RFC 2104
constexpr size_t kDigest = 32;

// Fetched once: an implicit fetch (EVP_sha256()) per digest init is a provider lookup under a lock.
const EVP_MD *Sha256Md() {
  static EVP_MD *md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

struct MdCtxFree {
  void operator()(EVP_MD_CTX *c) const { EVP_MD_CTX_free(c); }  // the provider cleanses its state
};

// One scratch context per thread: copying a prepared state into it needs no allocation.
EVP_MD_CTX *Scratch() {
  thread_local std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  return ctx.get();
}

EVP_MD_CTX *PadState(const uint8_t *key, uint8_t pad) {
  uint8_t block[kBlock];
  for (size_t i = 0; i < kBlock; i++) block[i] = key[i] ^ pad;
  EVP_MD_CTX *c = EVP_MD_CTX_new();
  bool ok = c != nullptr && EVP_DigestInit_ex2(c, Sha256Md(), nullptr) == 1 && EVP_DigestUpdate(c, block, kBlock) == 1;
  OPENSSL_cleanse(block, sizeof block);
  if (!ok) EVP_MD_CTX_free(c);
  return ok ? c : nullptr;
}

}  // namespace

bool PreparedHmac::Init(const uint8_t *key, size_t keyLen) {
  Reset();
  uint8_t k[kBlock] = {0};
  unsigned int n = 0;
  bool ok = Sha256Md() != nullptr;
  if (ok && keyLen > kBlock) ok = EVP_Digest(key, keyLen, k, &n, Sha256Md(), nullptr) == 1;
  else if (ok) for (size_t i = 0; i < keyLen; i++) k[i] = key[i];
  if (ok) {
    inner_ = PadState(k, 0x36);
    outer_ = PadState(k, 0x5c);
  }
  OPENSSL_cleanse(k, sizeof k);
  if (inner_ == nullptr || outer_ == nullptr) Reset();
  return ready();
}

void PreparedHmac::Reset() {
  EVP_MD_CTX_free(inner_);
  EVP_MD_CTX_free(outer_);
  inner_ = outer_ = nullptr;
}

bool PreparedHmac::Mac(const uint8_t *a, size_t aLen, const uint8_t *b, size_t bLen, uint8_t *out) const {
  EVP_MD_CTX *c = Scratch();
  if (!ready() || c == nullptr) return false;
  uint8_t inner[kDigest];
  unsigned int n = 0;
  bool ok = EVP_MD_CTX_copy_ex(c, inner_) == 1 && EVP_DigestUpdate(c, a, aLen) == 1 &&
            (bLen == 0 || EVP_DigestUpdate(c, b, bLen) == 1) && EVP_DigestFinal_ex(c, inner, &n) == 1 &&
            EVP_MD_CTX_copy_ex(c, outer_) == 1 && EVP_DigestUpdate(c, inner, sizeof inner) == 1 &&
            EVP_DigestFinal_ex(c, out, &n) == 1 && n == kDigest;
  OPENSSL_cleanse(inner, sizeof inner);
  EVP_MD_CTX_reset(c);  // leaves no state of this MAC in the thread's scratch
  return ok;
}

bool NameKey(const PreparedHmac &index, uint64_t parent, const uint8_t *name, size_t len, uint8_t *out) {
  uint8_t le[8];
  for (int i = 0; i < 8; i++) le[i] = static_cast<uint8_t>(parent >> (8 * i));
  return index.Mac(le, sizeof le, name, len, out);
}

}  // namespace kiseki::crypto

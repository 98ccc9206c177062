#include "crypto/primitives.h"

#include "crypto/crc32-fold.h"
#include "crypto/prepared-hmac.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <climits>
#include <memory>

// zlib's crc32_z is exported by the node binary (deps/zlib, built without its SIMD CRC); declaring it here
// avoids pulling in zconf.h's prefix macros.
extern "C" unsigned long crc32_z(unsigned long crc, const unsigned char* buf, size_t len);

namespace kiseki::crypto {
namespace {

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }  // cleanses the key schedule
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

// Fetched once, as in prepared-hmac.cc: EVP_aes_256_gcm() is a provider lookup at every init.
const EVP_CIPHER* Aes256Gcm() {
  static EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return c;
}

// EVP_*Update takes an int length: feed large buffers in 1 GiB steps.
constexpr size_t kStep = size_t{1} << 30;

}  // namespace

bool Sha256(const uint8_t* data, size_t len, uint8_t* out) {
  unsigned int outLen = 0;
  return EVP_Digest(data, len, out, &outLen, EVP_sha256(), nullptr) == 1 && outLen == kIdLen;
}

bool HmacSha256(const uint8_t* key, size_t keyLen, const uint8_t* data, size_t len, uint8_t* out) {
  PreparedHmac h;
  return h.Init(key, keyLen) && h.Mac(data, len, nullptr, 0, out);
}

bool Hkdf32(const uint8_t* ikm, size_t ikmLen, const uint8_t* salt, size_t saltLen, const uint8_t* info,
            size_t infoLen, uint8_t* out) {
  // Extract: PRK = HMAC(salt, IKM). Expand, one block: OKM = HMAC(PRK, info || 0x01).
  uint8_t prk[kKeyLen];
  uint8_t block[256];
  if (infoLen + 1 > sizeof(block)) return false;
  bool ok = HmacSha256(salt, saltLen, ikm, ikmLen, prk);
  if (ok) {
    for (size_t i = 0; i < infoLen; i++) block[i] = info[i];
    block[infoLen] = 0x01;
    ok = HmacSha256(prk, sizeof(prk), block, infoLen + 1, out);
  }
  OPENSSL_cleanse(prk, sizeof(prk));
  return ok;
}

bool GcmSeal(const uint8_t* key, const uint8_t* nonce, const uint8_t* aad, size_t aadLen, const uint8_t* in,
             size_t len, uint8_t* out, uint8_t* tag) {
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int n = 0;
  if (!ctx || aadLen > INT_MAX) return false;
  if (EVP_EncryptInit_ex2(ctx.get(), Aes256Gcm(), key, nonce, nullptr) != 1) return false;
  if (EVP_EncryptUpdate(ctx.get(), nullptr, &n, aad, static_cast<int>(aadLen)) != 1) return false;
  for (size_t off = 0; off < len; off += kStep) {
    size_t step = len - off < kStep ? len - off : kStep;
    if (EVP_EncryptUpdate(ctx.get(), out + off, &n, in + off, static_cast<int>(step)) != 1) return false;
  }
  if (EVP_EncryptFinal_ex(ctx.get(), out + len, &n) != 1) return false;
  return EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagLen, tag) == 1;
}

OpenStatus GcmOpen(const uint8_t* key, const uint8_t* nonce, const uint8_t* aad, size_t aadLen, const uint8_t* in,
                   size_t len, const uint8_t* tag, uint8_t* out) {
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int n = 0;
  auto fail = [&](OpenStatus s) {
    OPENSSL_cleanse(out, len);
    return s;
  };
  if (!ctx || aadLen > INT_MAX) return fail(OpenStatus::kError);
  if (EVP_DecryptInit_ex2(ctx.get(), Aes256Gcm(), key, nonce, nullptr) != 1) return fail(OpenStatus::kError);
  if (EVP_DecryptUpdate(ctx.get(), nullptr, &n, aad, static_cast<int>(aadLen)) != 1) return fail(OpenStatus::kError);
  for (size_t off = 0; off < len; off += kStep) {
    size_t step = len - off < kStep ? len - off : kStep;
    if (EVP_DecryptUpdate(ctx.get(), out + off, &n, in + off, static_cast<int>(step)) != 1)
      return fail(OpenStatus::kError);
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagLen, const_cast<uint8_t*>(tag)) != 1)
    return fail(OpenStatus::kError);
  if (EVP_DecryptFinal_ex(ctx.get(), out + len, &n) != 1) return fail(OpenStatus::kAuthFailed);
  return OpenStatus::kOk;
}

uint32_t Crc32(uint32_t prev, const uint8_t* data, size_t len) {
  if (len >= 64 && Crc32FoldAvailable()) return Crc32Fold(prev, data, len, crc32_z);
  return static_cast<uint32_t>(crc32_z(prev, data, len));
}

bool Equal32(const uint8_t* a, const uint8_t* b) { return CRYPTO_memcmp(a, b, kIdLen) == 0; }

void Cleanse(void* p, size_t len) { OPENSSL_cleanse(p, len); }

}  // namespace kiseki::crypto

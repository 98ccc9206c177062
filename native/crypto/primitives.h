#pragma once
// The crypto primitives of the chunk pipeline as plain C++ over Node's bundled OpenSSL (no N-API here):
// workers on the libuv thread pool call these, so each is thread-safe and touches no JS value.
#include <cstddef>
#include <cstdint>

namespace kiseki::crypto {

constexpr size_t kKeyLen = 32;
constexpr size_t kIdLen = 32;
constexpr size_t kNonceLen = 12;
constexpr size_t kTagLen = 16;

// SHA-256(data) → out[32]. False only if OpenSSL fails.
bool Sha256(const uint8_t* data, size_t len, uint8_t* out);
// HMAC-SHA256(key[32], data) → out[32].
bool HmacSha256(const uint8_t* key, size_t keyLen, const uint8_t* data, size_t len, uint8_t* out);
// HKDF-SHA256 (RFC 5869) with a 32-byte output: one extract and one expand block. PRK is cleansed.
bool Hkdf32(const uint8_t* ikm, size_t ikmLen, const uint8_t* salt, size_t saltLen, const uint8_t* info,
            size_t infoLen, uint8_t* out);

// AES-256-GCM with AAD, 12-byte nonce, 16-byte detached tag. in and out may alias.
bool GcmSeal(const uint8_t* key, const uint8_t* nonce, const uint8_t* aad, size_t aadLen, const uint8_t* in,
             size_t len, uint8_t* out, uint8_t* tag);
enum class OpenStatus { kOk, kAuthFailed, kError };
// On anything but kOk the output is cleansed: never partial plaintext.
OpenStatus GcmOpen(const uint8_t* key, const uint8_t* nonce, const uint8_t* aad, size_t aadLen, const uint8_t* in,
                   size_t len, const uint8_t* tag, uint8_t* out);

// IEEE CRC-32 (zlib's), continuing from prev: PCLMULQDQ folding where the CPU has it (crc32-fold.h),
// else zlib's crc32_z exported by the node binary.
uint32_t Crc32(uint32_t prev, const uint8_t* data, size_t len);

// Constant-time equality of two 32-byte ids.
bool Equal32(const uint8_t* a, const uint8_t* b);

// OPENSSL_cleanse: zeroing the compiler may not elide.
void Cleanse(void* p, size_t len);

}  // namespace kiseki::crypto

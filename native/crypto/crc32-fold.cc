// IEEE CRC-32 by folding 64 bytes at a time with carry-less multiplication (Gopal et al., "Fast CRC
// Computation for Generic Polynomials Using PCLMULQDQ Instruction", Intel 2009), then a Barrett
// reduction; the constants are the bit-reflected ones for 0xEDB88320 (as in Chromium's zlib
// crc32_simd.c). The node binary's zlib was built without its SIMD CRC, and every L2 cache hit checks
// a whole chunk (I-CC13): this runs at about 2× zlib's speed per CPU-second on this machine. Where the
// CPU has VPCLMULQDQ with AVX-512 (this machine's EPYC does), the bulk of a buffer is folded 256 bytes
// per step in four 512-bit registers first (as zlib-ng's crc32_fold_vpclmulqdq does), about 2.5× the
// 128-bit loop; the 128-bit loop and the reduction then finish the same state.
#include "crypto/crc32-fold.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace kiseki::crypto {

#if defined(__x86_64__)
namespace {

alignas(16) const uint64_t kK1K2[] = {0x0154442bd4, 0x01c6e41596};
alignas(16) const uint64_t kK3K4[] = {0x01751997d0, 0x00ccaa009e};
alignas(16) const uint64_t kK5K0[] = {0x0163cd6124, 0x0000000000};
alignas(16) const uint64_t kPoly[] = {0x01db710641, 0x01f7011641};
// Fold by 256 bytes: bit-reflected x^(2048+32) and x^(2048-32) mod P, shifted left by one, as K1/K2
// are for 512 bits (x^544, x^480).
// Both pairs repeated for each 128-bit lane of a 512-bit register.
alignas(64) const uint64_t kK256x4[] = {0x011542778a, 0x01322d1430, 0x011542778a, 0x01322d1430,
                                        0x011542778a, 0x01322d1430, 0x011542778a, 0x01322d1430};
alignas(64) const uint64_t kK1K2x4[] = {0x0154442bd4, 0x01c6e41596, 0x0154442bd4, 0x01c6e41596,
                                        0x0154442bd4, 0x01c6e41596, 0x0154442bd4, 0x01c6e41596};

bool WideAvailable() {
  static const bool available = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("vpclmulqdq");
  return available;
}

// Every 128-bit lane of acc carried 2048 (or, with K1/K2, 512) bits forward onto next.
__attribute__((target("avx512f,vpclmulqdq"))) inline __m512i FoldWide(__m512i acc, __m512i k, __m512i next) {
  return _mm512_ternarylogic_epi32(_mm512_clmulepi64_epi128(acc, k, 0x00), _mm512_clmulepi64_epi128(acc, k, 0x11), next, 0x96);
}

// len >= 256. Consumes the largest multiple of 256 bytes and leaves in lanes[0..3] the state the
// 64-byte loop continues from (the folded value of the last 64 bytes consumed). Returns bytes consumed.
__attribute__((target("avx512f,vpclmulqdq"))) size_t FoldBy256(const uint8_t* buf, size_t len, uint32_t crc, __m128i lanes[4]) {
  const __m512i k256 = _mm512_load_si512(kK256x4);
  const __m512i k64 = _mm512_load_si512(kK1K2x4);
  const uint8_t* start = buf;
  __m512i z0 = _mm512_xor_si512(_mm512_loadu_si512(buf), _mm512_zextsi128_si512(_mm_cvtsi32_si128(static_cast<int>(crc))));
  __m512i z1 = _mm512_loadu_si512(buf + 64);
  __m512i z2 = _mm512_loadu_si512(buf + 128);
  __m512i z3 = _mm512_loadu_si512(buf + 192);
  for (buf += 256, len -= 256; len >= 256; buf += 256, len -= 256) {
    z0 = FoldWide(z0, k256, _mm512_loadu_si512(buf));
    z1 = FoldWide(z1, k256, _mm512_loadu_si512(buf + 64));
    z2 = FoldWide(z2, k256, _mm512_loadu_si512(buf + 128));
    z3 = FoldWide(z3, k256, _mm512_loadu_si512(buf + 192));
  }
  z3 = FoldWide(FoldWide(FoldWide(z0, k64, z1), k64, z2), k64, z3);
  _mm512_storeu_si512(lanes, z3);
  return static_cast<size_t>(buf - start);
}

// len >= 64 and a multiple of 16; crc is the running value in zlib's inverted form.
__attribute__((target("sse4.1,pclmul"))) uint32_t Fold(const uint8_t* buf, size_t len, uint32_t crc) {
  __m128i x1, x2, x3, x4;
  if (len >= 512 && WideAvailable()) {
    __m128i lanes[4];
    size_t n = FoldBy256(buf, len, crc, lanes);
    buf += n;
    len -= n;
    x1 = lanes[0];
    x2 = lanes[1];
    x3 = lanes[2];
    x4 = lanes[3];
  } else {
    x1 = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(buf + 0x00)), _mm_cvtsi32_si128(static_cast<int>(crc)));
    x2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(buf + 0x10));
    x3 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(buf + 0x20));
    x4 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(buf + 0x30));
    buf += 64;
    len -= 64;
  }
  __m128i k = _mm_load_si128(reinterpret_cast<const __m128i*>(kK1K2));
  // Four independent 128-bit lanes, each folded 64 bytes forward per step.
  while (len >= 64) {
    __m128i x5 = _mm_clmulepi64_si128(x1, k, 0x00);
    __m128i x6 = _mm_clmulepi64_si128(x2, k, 0x00);
    __m128i x7 = _mm_clmulepi64_si128(x3, k, 0x00);
    __m128i x8 = _mm_clmulepi64_si128(x4, k, 0x00);
    x1 = _mm_clmulepi64_si128(x1, k, 0x11);
    x2 = _mm_clmulepi64_si128(x2, k, 0x11);
    x3 = _mm_clmulepi64_si128(x3, k, 0x11);
    x4 = _mm_clmulepi64_si128(x4, k, 0x11);
    x1 = _mm_xor_si128(_mm_xor_si128(x1, x5), _mm_loadu_si128(reinterpret_cast<const __m128i*>(buf + 0x00)));
    x2 = _mm_xor_si128(_mm_xor_si128(x2, x6), _mm_loadu_si128(reinterpret_cast<const __m128i*>(buf + 0x10)));
    x3 = _mm_xor_si128(_mm_xor_si128(x3, x7), _mm_loadu_si128(reinterpret_cast<const __m128i*>(buf + 0x20)));
    x4 = _mm_xor_si128(_mm_xor_si128(x4, x8), _mm_loadu_si128(reinterpret_cast<const __m128i*>(buf + 0x30)));
    buf += 64;
    len -= 64;
  }
  // Fold the four lanes into one, then the remaining 16-byte blocks.
  k = _mm_load_si128(reinterpret_cast<const __m128i*>(kK3K4));
  auto fold16 = [&](__m128i acc, __m128i next) __attribute__((target("sse4.1,pclmul"))) {
    __m128i lo = _mm_clmulepi64_si128(acc, k, 0x00);
    __m128i hi = _mm_clmulepi64_si128(acc, k, 0x11);
    return _mm_xor_si128(_mm_xor_si128(hi, next), lo);
  };
  x1 = fold16(x1, x2);
  x1 = fold16(x1, x3);
  x1 = fold16(x1, x4);
  while (len >= 16) {
    x1 = fold16(x1, _mm_loadu_si128(reinterpret_cast<const __m128i*>(buf)));
    buf += 16;
    len -= 16;
  }
  // 128 → 64 bits.
  __m128i mask32 = _mm_setr_epi32(~0, 0, ~0, 0);
  x2 = _mm_clmulepi64_si128(x1, k, 0x10);
  x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), x2);
  k = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(kK5K0));
  x2 = _mm_srli_si128(x1, 4);
  x1 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, mask32), k, 0x00), x2);
  // Barrett reduction to 32 bits.
  k = _mm_load_si128(reinterpret_cast<const __m128i*>(kPoly));
  x2 = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), k, 0x10);
  x2 = _mm_clmulepi64_si128(_mm_and_si128(x2, mask32), k, 0x00);
  x1 = _mm_xor_si128(x1, x2);
  return static_cast<uint32_t>(_mm_extract_epi32(x1, 1));
}

}  // namespace

bool Crc32FoldAvailable() {
  static const bool available = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
  return available;
}

uint32_t Crc32Fold(uint32_t prev, const uint8_t* data, size_t len,
                   unsigned long (*tail)(unsigned long, const unsigned char*, size_t)) {
  if (len >= 64) {
    size_t n = len & ~static_cast<size_t>(15);
    prev = ~Fold(data, n, ~prev);
    data += n;
    len -= n;
  }
  return len == 0 ? prev : static_cast<uint32_t>(tail(prev, data, len));
}
#else
bool Crc32FoldAvailable() { return false; }
uint32_t Crc32Fold(uint32_t prev, const uint8_t* data, size_t len,
                   unsigned long (*tail)(unsigned long, const unsigned char*, size_t)) {
  return static_cast<uint32_t>(tail(prev, data, len));
}
#endif

}  // namespace kiseki::crypto

#pragma once
// IEEE CRC-32 by carry-less multiplication folding (PCLMULQDQ), for x86-64 CPUs that have it.
#include <cstddef>
#include <cstdint>

namespace kiseki::crypto {

// True when this CPU has PCLMULQDQ and SSE4.1 (checked once).
bool Crc32FoldAvailable();
// The CRC-32 of data continuing from prev, exactly zlib's crc32(prev, data, len). Only call when
// Crc32FoldAvailable(); tails shorter than 16 bytes go through `tail` (zlib's crc32_z).
uint32_t Crc32Fold(uint32_t prev, const uint8_t* data, size_t len,
                   unsigned long (*tail)(unsigned long, const unsigned char*, size_t));

}  // namespace kiseki::crypto

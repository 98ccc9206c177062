#pragma once
// The per-chunk work of seal and open as plain C++ (no N-API): chunk id, HKDF of the DEK, AES-256-GCM,
// and on open the optional re-hash (I-CC1). One chunk per call; chunk-seal.cc runs one per thread-pool
// job, chunk-batch.cc several, so both paths run exactly this code.
#include <cstddef>
#include <cstdint>
#include <string>

namespace kiseki::crypto {

// How the chunk id is obtained: hashed from the plaintext, HMAC'd with the tenant index key, given by
// the caller (seal of metadata values, whose id is their name key), or not checked (open without I-CC1).
enum class IdMode { kSha256, kHmac, kGiven, kNone };

// "sha256" | "hmac" | "given" (seal only) | "none" (open only); false for anything else.
bool ParseIdMode(const std::string& s, bool forOpen, IdMode* out);

struct Bytes {
  const uint8_t* data = nullptr;
  size_t size = 0;
};

// What every chunk of a seal or open shares: the id mode and key, the KEK and the HKDF info.
struct ChunkKeys {
  IdMode mode = IdMode::kSha256;
  Bytes idKey, kek, info;
};

// Seals in[0, len) into out (may alias in); fills chunkId (unless kGiven: read from it), tag. The DEK
// lives on this stack frame and is cleansed before returning.
bool SealOneChunk(const ChunkKeys& k, const uint8_t* nonce, const uint8_t* in, size_t len, uint8_t* out,
                  uint8_t* chunkId, uint8_t* tag);

enum class ChunkStatus : uint8_t { kOk = 0, kAuthFailed = 1, kIdMismatch = 2, kError = 3 };
// Opens in[0, len) into out under chunkId; on anything but kOk, out is cleansed (never partial plaintext).
ChunkStatus OpenOneChunk(const ChunkKeys& k, const uint8_t* nonce, const uint8_t* in, size_t len,
                         const uint8_t* chunkId, const uint8_t* tag, uint8_t* out);

}  // namespace kiseki::crypto

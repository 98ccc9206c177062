#pragma once
// The request table: every open fuse_req_t lives in a slot and JS only ever sees an id
// (generation * 2^24 + slot index), never the pointer. Taking a request out of the table is the only way to
// reply, so a second or late reply finds a stale id and is refused instead of touching freed memory.
// I-FB1: each kernel request is replied to exactly once; a stale id is refused (returns nullptr).
#include <fuse_lowlevel.h>

#include <cstdint>
#include <mutex>
#include <vector>

namespace kiseki::fuse {

class Session;

class RequestTable {
 public:
  static RequestTable &Get();

  /** Worker thread: park a request; returns its id (> 0). */
  double Insert(fuse_req_t req, Session *owner);
  /** JS thread: remove and return the request so the caller can reply; nullptr if the id is stale. */
  fuse_req_t Take(double id);
  /** Any thread: mark as interrupted; returns the owning session, or nullptr if the id is no longer live. */
  Session *MarkInterrupted(double id);
  bool Interrupted(double id);
  /** Remove every request of `owner` (unmount); the caller replies to each. */
  std::vector<fuse_req_t> TakeAll(Session *owner);
  size_t InFlight(Session *owner);

 private:
  struct Slot {
    fuse_req_t req = nullptr;
    Session *owner = nullptr;
    uint32_t gen = 1;
    bool interrupted = false;
  };
  static constexpr double kIndexSpan = 16777216.0;  // 2^24 slots; gen < 2^29 keeps ids exact in a double
  bool Locate(double id, uint32_t *index) const;
  void Free(uint32_t index);

  std::mutex mu_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
};

}  // namespace kiseki::fuse

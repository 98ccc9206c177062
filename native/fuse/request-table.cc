#include "fuse/request-table.h"

#include <cmath>

namespace kiseki::fuse {

RequestTable &RequestTable::Get() {
  // Never destroyed: at exit() the libfuse workers and Session::OnProcessExit (an atexit handler that
  // may run after a function-local static's destructor) still use it.
  static RequestTable *table = new RequestTable();
  return *table;
}

double RequestTable::Insert(fuse_req_t req, Session *owner) {
  std::lock_guard<std::mutex> lock(mu_);
  uint32_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    index = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot &s = slots_[index];
  s.req = req;
  s.owner = owner;
  s.interrupted = false;
  return static_cast<double>(s.gen) * kIndexSpan + index;
}

bool RequestTable::Locate(double id, uint32_t *index) const {
  if (!(id > 0) || id != std::floor(id)) return false;
  double gen = std::floor(id / kIndexSpan);
  double idx = id - gen * kIndexSpan;
  if (idx >= slots_.size()) return false;
  const Slot &s = slots_[static_cast<size_t>(idx)];
  if (s.req == nullptr || s.gen != static_cast<uint32_t>(gen)) return false;
  *index = static_cast<uint32_t>(idx);
  return true;
}

fuse_req_t RequestTable::Take(double id) {
  std::lock_guard<std::mutex> lock(mu_);
  uint32_t index;
  if (!Locate(id, &index)) return nullptr;
  fuse_req_t req = slots_[index].req;
  Free(index);
  return req;
}

// A freed slot's generation moves on, so every id that named it becomes stale (I-FB1).
void RequestTable::Free(uint32_t index) {
  Slot &s = slots_[index];
  s.req = nullptr;
  s.owner = nullptr;
  s.gen = (s.gen + 1) & 0x1fffffff;
  if (s.gen == 0) s.gen = 1;
  free_.push_back(index);
}

Session *RequestTable::MarkInterrupted(double id) {
  std::lock_guard<std::mutex> lock(mu_);
  uint32_t index;
  if (!Locate(id, &index)) return nullptr;
  slots_[index].interrupted = true;
  return slots_[index].owner;
}

bool RequestTable::Interrupted(double id) {
  std::lock_guard<std::mutex> lock(mu_);
  uint32_t index;
  return Locate(id, &index) && slots_[index].interrupted;
}

std::vector<fuse_req_t> RequestTable::TakeAll(Session *owner) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<fuse_req_t> out;
  for (uint32_t i = 0; i < slots_.size(); i++) {
    Slot &s = slots_[i];
    if (s.req == nullptr || s.owner != owner) continue;
    out.push_back(s.req);
    Free(i);
  }
  return out;
}

size_t RequestTable::InFlight(Session *owner) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const Slot &s : slots_)
    if (s.req != nullptr && s.owner == owner) n++;
  return n;
}

}  // namespace kiseki::fuse

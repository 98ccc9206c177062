#include "fuse/entry-cache.h"

#include <string.h>
#include <time.h>

namespace kiseki::fuse {

EntryCache::NameId EntryCache::Id(uint64_t parent, const uint8_t *nameKey) {
  NameId id{parent, {}};
  memcpy(id.key, nameKey, kKeyLen);
  return id;
}

int64_t EntryCache::Now() {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

int64_t EntryCache::DeadlineIn(double seconds) { return Now() + static_cast<int64_t>(seconds * 1e9); }

const EntryCache::AttrSlot *EntryCache::LiveAttr(uint64_t ino, int64_t now) const {
  auto a = attrs_.find(ino);
  return a == attrs_.end() || a->second.deadline <= now ? nullptr : &a->second;
}

bool EntryCache::Lookup(uint64_t parent, const char *name, size_t nameLen, struct fuse_entry_param *out) {
  NameId id{parent, {}};
  bool hashed;
  {
    std::shared_lock<std::shared_mutex> k(keyMu_);
    hashed = index_.ready() && crypto::NameKey(index_, parent, reinterpret_cast<const uint8_t *>(name), nameLen, id.key);
  }
  int64_t now = Now();
  std::lock_guard<std::mutex> lock(mu_);
  auto n = hashed ? names_.find(id) : names_.end();
  if (n == names_.end() || n->second.deadline <= now) {
    misses_++;
    return false;
  }
  const AttrSlot *a = LiveAttr(n->second.ino, now);
  if (a == nullptr) {
    misses_++;
    return false;
  }
  memset(out, 0, sizeof *out);
  out->ino = n->second.ino;
  out->generation = n->second.generation;
  out->attr = a->st;
  // I-CC5: both timeouts are what remains of the older of the two values.
  int64_t left = n->second.deadline < a->deadline ? n->second.deadline : a->deadline;
  out->attr_timeout = out->entry_timeout = static_cast<double>(left - now) / 1e9;
  hits_++;
  nameHits_++;
  return true;
}

bool EntryCache::Attr(uint64_t ino, struct stat *out, double *validSeconds) {
  int64_t now = Now();
  std::lock_guard<std::mutex> lock(mu_);
  const AttrSlot *a = LiveAttr(ino, now);
  if (a == nullptr) {
    misses_++;
    return false;
  }
  *out = a->st;
  *validSeconds = static_cast<double>(a->deadline - now) / 1e9;
  hits_++;
  return true;
}

void EntryCache::MakeRoom() {
  if (names_.size() < kMaxEntries && attrs_.size() < kMaxEntries) return;
  names_.clear();
  attrs_.clear();
}

bool EntryCache::SetIndexKey(const uint8_t *key, size_t len) {
  std::unique_lock<std::shared_mutex> k(keyMu_);
  return index_.Init(key, len);
}

void EntryCache::Put(uint64_t parent, const uint8_t *nameKey, const struct fuse_entry_param &e) {
  if (e.entry_timeout <= 0 || e.attr_timeout <= 0 || e.ino == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (pinned_.count(e.ino) != 0) return;
  MakeRoom();
  names_[Id(parent, nameKey)] = Name{e.ino, e.generation, DeadlineIn(e.entry_timeout)};
  attrs_[e.ino] = AttrSlot{e.attr, DeadlineIn(e.attr_timeout)};
}

void EntryCache::PutAttr(const struct stat &st, double validSeconds) {
  if (validSeconds <= 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (pinned_.count(st.st_ino) != 0) return;
  MakeRoom();
  attrs_[st.st_ino] = AttrSlot{st, DeadlineIn(validSeconds)};
}

void EntryCache::DropName(uint64_t parent, const uint8_t *nameKey) {
  std::lock_guard<std::mutex> lock(mu_);
  auto n = names_.find(Id(parent, nameKey));
  attrs_.erase(parent);
  if (n == names_.end()) {
    attrs_.clear();
    return;
  }
  attrs_.erase(n->second.ino);
  names_.erase(n);
}

void EntryCache::DropAttr(uint64_t ino) {
  std::lock_guard<std::mutex> lock(mu_);
  attrs_.erase(ino);
}

void EntryCache::Pin(uint64_t ino, bool on) {
  std::lock_guard<std::mutex> lock(mu_);
  if (on) {
    pinned_.insert(ino);
    attrs_.erase(ino);
  } else {
    pinned_.erase(ino);
  }
}

void EntryCache::Clear() {
  {
    std::unique_lock<std::shared_mutex> k(keyMu_);
    index_.Reset();
  }
  std::lock_guard<std::mutex> lock(mu_);
  names_.clear();
  attrs_.clear();
}

EntryCache::Stats EntryCache::stats() {
  std::lock_guard<std::mutex> lock(mu_);
  return Stats{hits_, misses_, names_.size(), attrs_.size(), nameHits_};
}

}  // namespace kiseki::fuse

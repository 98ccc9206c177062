#include "fuse/entry-cache.h"

#include <string.h>
#include <time.h>

namespace kiseki::fuse {

std::string EntryCache::Key(uint64_t parent, const char *name, size_t len) {
  std::string k(sizeof parent + len, '\0');
  memcpy(&k[0], &parent, sizeof parent);
  memcpy(&k[sizeof parent], name, len);
  return k;
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
  std::string key = Key(parent, name, nameLen);
  int64_t now = Now();
  std::lock_guard<std::mutex> lock(mu_);
  auto n = names_.find(key);
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

void EntryCache::Put(uint64_t parent, const std::string &name, const struct fuse_entry_param &e) {
  if (e.entry_timeout <= 0 || e.attr_timeout <= 0 || e.ino == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (pinned_.count(e.ino) != 0) return;
  MakeRoom();
  names_[Key(parent, name.data(), name.size())] = Name{e.ino, e.generation, DeadlineIn(e.entry_timeout)};
  attrs_[e.ino] = AttrSlot{e.attr, DeadlineIn(e.attr_timeout)};
}

void EntryCache::PutAttr(const struct stat &st, double validSeconds) {
  if (validSeconds <= 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (pinned_.count(st.st_ino) != 0) return;
  MakeRoom();
  attrs_[st.st_ino] = AttrSlot{st, DeadlineIn(validSeconds)};
}

void EntryCache::DropName(uint64_t parent, const std::string &name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto n = names_.find(Key(parent, name.data(), name.size()));
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
  std::lock_guard<std::mutex> lock(mu_);
  names_.clear();
  attrs_.clear();
}

EntryCache::Stats EntryCache::stats() {
  std::lock_guard<std::mutex> lock(mu_);
  return Stats{hits_, misses_, names_.size(), attrs_.size()};
}

}  // namespace kiseki::fuse

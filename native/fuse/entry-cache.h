#pragma once
// Answers LOOKUP and GETATTR on the libfuse worker thread, without a trip to JS, from what the client's
// dentry cache (src/client/dentry-cache.ts) mirrored here. Each value carries a deadline set by JS
// from the start of its fetch (I-CC5), so a reply's timeouts are only what remains of meta_ttl_ms and
// nothing past its deadline is ever served (I-CC3). JS drops values before the own change that made
// them wrong returns, and pins the inodes of files it has open (never answered here).
#include <fuse_lowlevel.h>
#include <sys/stat.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace kiseki::fuse {

class EntryCache {
 public:
  /** Names and attributes kept at most; a put past this empties the cache first (no eviction order needed). */
  static constexpr size_t kMaxEntries = 1 << 18;  // ~80 MB at most; the JS dentry cache keeps 100,000

  /** Worker thread: true and a complete entry (timeouts = what remains) when both name and attributes are live. */
  bool Lookup(uint64_t parent, const char *name, size_t nameLen, struct fuse_entry_param *out);
  /** Worker thread: true with the attributes and the seconds they remain valid. */
  bool Attr(uint64_t ino, struct stat *out, double *validSeconds);

  /** JS thread: (parent, name) → e.ino valid for entryValid s, its attributes for attrValid s. */
  void Put(uint64_t parent, const std::string &name, const struct fuse_entry_param &e);
  /** JS thread: attributes alone, valid for `validSeconds`. */
  void PutAttr(const struct stat &st, double validSeconds);
  /**
   * JS thread: an own change removed or replaced (parent, name): the name, the parent's attributes and
   * the named inode's attributes go (all attributes when the inode is not known: a hard link's nlink).
   */
  void DropName(uint64_t parent, const std::string &name);
  void DropAttr(uint64_t ino);
  /** JS thread: a pinned inode's attributes are never stored or served (files the client has open). */
  void Pin(uint64_t ino, bool on);
  void Clear();

  struct Stats {
    uint64_t hits, misses, names, attrs;
  };
  Stats stats();

 private:
  struct Name {
    uint64_t ino;
    uint64_t generation;
    int64_t deadline;  // CLOCK_MONOTONIC ns
  };
  struct AttrSlot {
    struct stat st;
    int64_t deadline;
  };
  static std::string Key(uint64_t parent, const char *name, size_t len);
  // The attributes of `ino` while still valid at `now`, else null. Caller holds mu_.
  const AttrSlot *LiveAttr(uint64_t ino, int64_t now) const;
  static int64_t Now();
  static int64_t DeadlineIn(double seconds);
  void MakeRoom();

  std::mutex mu_;
  std::unordered_map<std::string, Name> names_;
  std::unordered_map<uint64_t, AttrSlot> attrs_;
  std::unordered_set<uint64_t> pinned_;
  uint64_t hits_ = 0, misses_ = 0;
};

}  // namespace kiseki::fuse

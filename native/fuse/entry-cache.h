#pragma once
// Answers LOOKUP and GETATTR on the libfuse worker thread, without a trip to JS, from what the client's
// dentry cache (src/client/dentry-cache.ts) mirrored here. Each value carries a deadline set by JS
// from the start of its fetch (I-CC5), so a reply's timeouts are only what remains of meta_ttl_ms and
// nothing past its deadline is ever served (I-CC3). JS drops values before the own change that made
// them wrong returns, and pins the inodes of files it has open (never answered here).
//
// Names are kept by name key, the HMAC of (parent, name) under the tenant's index key that the node
// files dirents under (ADR 0086): a LOOKUP hashes the kernel's name here, so a listing is mirrored as
// soon as it is decoded, with no name opened, and no plaintext name is held in this cache. A LOOKUP
// RPC finds a dirent by the same key, so an answer from here is the one the node would give.
#include <fuse_lowlevel.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <unordered_set>

#include "crypto/prepared-hmac.h"

namespace kiseki::fuse {

class EntryCache {
 public:
  /** Names and attributes kept at most; a put past this empties the cache first (no eviction order needed). */
  static constexpr size_t kMaxEntries = 1 << 18;  // ~80 MB at most; the JS dentry cache keeps 100,000

  static constexpr size_t kKeyLen = 32;

  /** Worker thread: true and a complete entry (timeouts = what remains) when both name and attributes are live. */
  bool Lookup(uint64_t parent, const char *name, size_t nameLen, struct fuse_entry_param *out);
  /** Worker thread: true with the attributes and the seconds they remain valid. */
  bool Attr(uint64_t ino, struct stat *out, double *validSeconds);

  /** JS thread: the index key names are hashed with; until it is given, no LOOKUP is answered here. */
  bool SetIndexKey(const uint8_t *key, size_t len);
  /** JS thread: (parent, name key) → e.ino valid for entryValid s, its attributes for attrValid s. */
  void Put(uint64_t parent, const uint8_t *nameKey, const struct fuse_entry_param &e);
  /** JS thread: attributes alone, valid for `validSeconds`. */
  void PutAttr(const struct stat &st, double validSeconds);
  /**
   * JS thread: an own change removed or replaced (parent, name): the name, the parent's attributes and
   * the named inode's attributes go (all attributes when the inode is not known: a hard link's nlink).
   */
  void DropName(uint64_t parent, const uint8_t *nameKey);
  void DropAttr(uint64_t ino);
  /** JS thread: a pinned inode's attributes are never stored or served (files the client has open). */
  void Pin(uint64_t ino, bool on);
  /** JS thread: everything goes, the index key too (a wipe: crypto-shred, disconnect, manual). */
  void Clear();

  struct Stats {
    uint64_t hits, misses, names, attrs;
    uint64_t nameHits;  // of hits, the LOOKUPs (a name hashed and found)
  };
  Stats stats();

 private:
  struct NameId {
    uint64_t parent;
    uint8_t key[kKeyLen];
    bool operator==(const NameId &o) const { return parent == o.parent && memcmp(key, o.key, kKeyLen) == 0; }
  };
  struct NameIdHash {
    // The key is an HMAC output: any 8 of its bytes are already uniform.
    size_t operator()(const NameId &n) const {
      uint64_t h;
      memcpy(&h, n.key, sizeof h);
      return static_cast<size_t>(h ^ (n.parent * 0x9e3779b97f4a7c15ULL));
    }
  };
  struct Name {
    uint64_t ino;
    uint64_t generation;
    int64_t deadline;  // CLOCK_MONOTONIC ns
  };
  struct AttrSlot {
    struct stat st;
    int64_t deadline;
  };
  static NameId Id(uint64_t parent, const uint8_t *nameKey);
  // The attributes of `ino` while still valid at `now`, else null. Caller holds mu_.
  const AttrSlot *LiveAttr(uint64_t ino, int64_t now) const;
  static int64_t Now();
  static int64_t DeadlineIn(double seconds);
  void MakeRoom();

  std::shared_mutex keyMu_;  // shared: workers hashing names; exclusive: the key set or cleared
  crypto::PreparedHmac index_;
  std::mutex mu_;
  std::unordered_map<NameId, Name, NameIdHash> names_;
  std::unordered_map<uint64_t, AttrSlot> attrs_;
  std::unordered_set<uint64_t> pinned_;
  uint64_t hits_ = 0, misses_ = 0, nameHits_ = 0;
};

}  // namespace kiseki::fuse

#pragma once
// Answers READ on the libfuse worker thread, without a trip to JS, from plaintext chunks the client's
// L1 cache holds (src/fuse/read-mirror.ts publishes them). This is what the C ceiling does: look the
// bytes up and fuse_reply_buf them from the worker thread.
//
// The memory is the JS L1 page itself: JS holds a lease on the page for as long as the entry is here,
// and lets go only after a Drop returned, which waits for every reply still copying from a dropped
// entry. So a page is never zeroed (I-CC2) or reused under a reply. JS drops an inode's entries before
// any change to its content becomes visible (write, truncate, a new layout) and a chunk's entries when
// L1 lets the chunk go (eviction, wipe); what is here is always what the JS read path would answer.
#include <fuse_lowlevel.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace kiseki::fuse {

class ReadCache {
 public:
  /** Worker thread: true when the read was answered here (every byte of it lies in one published chunk, or at EOF). */
  bool Serve(fuse_req_t req, uint64_t ino, size_t size, uint64_t off);

  /**
   * JS thread: bytes [0, len) of chunk `index` of `ino` are `data` (valid until dropped); the file has
   * `fileSize` bytes in chunks of `chunkSize`. A later Put for the same inode and another size or
   * chunk size drops the inode's other entries (they described another version of the file).
   */
  void Put(uint64_t ino, uint64_t index, uint64_t chunkSize, uint64_t fileSize, const char *data, size_t len);
  /** JS thread: these return once no reply still reads from what they dropped. */
  void DropInode(uint64_t ino);
  void DropEntry(uint64_t ino, uint64_t index);

  /** JS thread: (ino, index, hits) of every entry answered since the last call, and their counts reset. */
  std::vector<uint64_t> TakeHits();

  struct Stats {
    uint64_t hits, misses, entries;
  };
  Stats stats();

 private:
  struct Entry {
    const char *data;
    size_t len;
    uint64_t hits = 0;
    unsigned busy = 0;  // replies copying from data right now
  };
  struct Inode {
    uint64_t chunkSize, fileSize;
    std::unordered_map<uint64_t, std::shared_ptr<Entry>> chunks;
  };
  // Waits (mu_ held by `lock`) until no reply reads from any of `gone`.
  void AwaitIdle(std::unique_lock<std::mutex> &lock, const std::vector<std::shared_ptr<Entry>> &gone);
  static void Collect(Inode &inode, std::vector<std::shared_ptr<Entry>> *gone);

  std::mutex mu_;
  std::condition_variable idle_;
  std::unordered_map<uint64_t, Inode> inodes_;
  uint64_t hits_ = 0, misses_ = 0, entries_ = 0;
};

}  // namespace kiseki::fuse

#include "fuse/read-cache.h"

namespace kiseki::fuse {

bool ReadCache::Serve(fuse_req_t req, uint64_t ino, size_t size, uint64_t off) {
  std::shared_ptr<Entry> e;
  size_t from = 0, n = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto i = inodes_.find(ino);
    if (i == inodes_.end()) {
      misses_++;
      return false;
    }
    const Inode &inode = i->second;
    if (off >= inode.fileSize) {
      hits_++;
      fuse_reply_buf(req, nullptr, 0);  // at or past the end of the file: nothing to read
      return true;
    }
    uint64_t end = off + size < inode.fileSize ? off + size : inode.fileSize;
    uint64_t index = off / inode.chunkSize;
    auto c = inode.chunks.find(index);
    from = static_cast<size_t>(off - index * inode.chunkSize);
    n = static_cast<size_t>(end - off);
    // Spanning two chunks, or past what this chunk holds (a short chunk followed by a hole): JS answers.
    if (c == inode.chunks.end() || (end - 1) / inode.chunkSize != index || from + n > c->second->len) {
      misses_++;
      return false;
    }
    e = c->second;
    e->busy++;
    e->hits++;
    hits_++;
  }
  fuse_reply_buf(req, e->data + from, n);
  std::lock_guard<std::mutex> lock(mu_);
  if (--e->busy == 0) idle_.notify_all();
  return true;
}

void ReadCache::Put(uint64_t ino, uint64_t index, uint64_t chunkSize, uint64_t fileSize, const char *data, size_t len) {
  if (chunkSize == 0 || len == 0) return;
  std::unique_lock<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<Entry>> gone;
  Inode &inode = inodes_[ino];
  if (inode.chunkSize != chunkSize || inode.fileSize != fileSize) {
    Collect(inode, &gone);
    inode.chunkSize = chunkSize;
    inode.fileSize = fileSize;
  }
  auto e = std::make_shared<Entry>();
  e->data = data;
  e->len = len;
  auto &slot = inode.chunks[index];
  if (slot) gone.push_back(slot);
  slot = std::move(e);
  entries_ = entries_ + 1 - gone.size();
  AwaitIdle(lock, gone);
}

void ReadCache::Collect(Inode &inode, std::vector<std::shared_ptr<Entry>> *gone) {
  for (auto &c : inode.chunks) gone->push_back(std::move(c.second));
  inode.chunks.clear();
}

void ReadCache::AwaitIdle(std::unique_lock<std::mutex> &lock, const std::vector<std::shared_ptr<Entry>> &gone) {
  idle_.wait(lock, [&gone] {
    for (const auto &e : gone) {
      if (e->busy != 0) return false;
    }
    return true;
  });
}

void ReadCache::DropInode(uint64_t ino) {
  std::unique_lock<std::mutex> lock(mu_);
  auto i = inodes_.find(ino);
  if (i == inodes_.end()) return;
  std::vector<std::shared_ptr<Entry>> gone;
  Collect(i->second, &gone);
  entries_ -= gone.size();
  inodes_.erase(i);
  AwaitIdle(lock, gone);
}

void ReadCache::DropEntry(uint64_t ino, uint64_t index) {
  std::unique_lock<std::mutex> lock(mu_);
  auto i = inodes_.find(ino);
  if (i == inodes_.end()) return;
  auto c = i->second.chunks.find(index);
  if (c == i->second.chunks.end()) return;
  std::vector<std::shared_ptr<Entry>> gone{std::move(c->second)};
  i->second.chunks.erase(c);
  entries_--;
  if (i->second.chunks.empty()) inodes_.erase(i);
  AwaitIdle(lock, gone);
}

std::vector<uint64_t> ReadCache::TakeHits() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<uint64_t> out;
  for (auto &i : inodes_) {
    for (auto &c : i.second.chunks) {
      if (c.second->hits == 0) continue;
      out.push_back(i.first);
      out.push_back(c.first);
      out.push_back(c.second->hits);
      c.second->hits = 0;
    }
  }
  return out;
}

ReadCache::Stats ReadCache::stats() {
  std::lock_guard<std::mutex> lock(mu_);
  return Stats{hits_, misses_, entries_};
}

}  // namespace kiseki::fuse

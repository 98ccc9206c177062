#pragma once
// Float64Array layouts shared with src/fuse/fuse-binding.ts (AttrSlot, STATFS_*): one scratch array per
// reply instead of a JS object, so a reply reads numbers without property lookups.
namespace kiseki::fuse::layout {

enum AttrSlot : unsigned {
  INO = 0, MODE, NLINK, UID, GID, RDEV, SIZE, BLOCKS, BLKSIZE,
  ATIME_SEC, ATIME_NSEC, MTIME_SEC, MTIME_NSEC, CTIME_SEC, CTIME_NSEC,
  GENERATION, ATTR_TIMEOUT, ENTRY_TIMEOUT,
  DIR_OFF,  // readdir entries only: the cookie of the entry that follows this one
  STRIDE,
};

enum StatfsSlot : unsigned { BSIZE = 0, FRSIZE, BLOCKS_, BFREE, BAVAIL, FILES, FFREE, FAVAIL, NAMEMAX, STATFS_LEN };

// Open-reply flag bits (replyOpen / replyCreate).
enum OpenBits : unsigned { DIRECT_IO = 1, KEEP_CACHE = 2, NONSEEKABLE = 4, CACHE_READDIR = 8, NOFLUSH = 16 };

}  // namespace kiseki::fuse::layout

#pragma once
// One kernel request as it travels from a libfuse worker thread to the JS thread. Workers fill an Op with
// plain values (names and payloads copied out of libfuse's receive buffer, which is reused as soon as the
// callback returns) and hand it over with a non-blocking TSFN call; they never wait for JS.
#include <fuse_lowlevel.h>
#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kiseki::fuse {

class Session;

// Numbering is shared with src/fuse/fuse-binding.ts (OpCode); append only.
enum OpType : int {
  OP_INIT = 0,
  OP_DESTROY = 1,  // reserved: JS learns of the end when unmount() resolves (ops.destroy is called then)
  OP_LOOKUP = 2,
  OP_FORGET = 3,  // forget and forget_multi, already answered with fuse_reply_none on the worker
  OP_GETATTR = 4,
  OP_SETATTR = 5,
  OP_READLINK = 6,
  OP_MKNOD = 7,
  OP_MKDIR = 8,
  OP_UNLINK = 9,
  OP_RMDIR = 10,
  OP_SYMLINK = 11,
  OP_RENAME = 12,
  OP_LINK = 13,
  OP_OPEN = 14,
  OP_READ = 15,
  OP_WRITE = 16,
  OP_FLUSH = 17,
  OP_RELEASE = 18,
  OP_FSYNC = 19,
  OP_OPENDIR = 20,
  OP_READDIR = 21,
  OP_READDIRPLUS = 22,
  OP_RELEASEDIR = 23,
  OP_FSYNCDIR = 24,
  OP_STATFS = 25,
  OP_SETXATTR = 26,
  OP_GETXATTR = 27,
  OP_LISTXATTR = 28,
  OP_REMOVEXATTR = 29,
  OP_ACCESS = 30,
  OP_CREATE = 31,
  OP_FALLOCATE = 32,
  OP_INTERRUPT = 33,  // not a request: the kernel interrupted request `id`
};

struct Op {
  OpType type;
  double id = 0;  // request-table id; 0 for notifications (forget, interrupt, init, destroy)
  uint64_t ino = 0;
  uint32_t uid = 0, gid = 0, pid = 0, umask = 0;
  uint64_t fh = 0;
  int32_t flags = 0;   // open flags, rename flags, setxattr flags, access mask, fsync datasync, fallocate mode
  uint64_t a = 0;      // size / mode / newparent / newino
  int64_t b = 0;       // offset / rdev / length
  int32_t toSet = 0;   // setattr
  bool hasFh = false;
  struct stat attr {};  // setattr values
  std::string name, name2;  // entry name; symlink target, rename new name, xattr name
  char *data = nullptr;     // write payload / xattr value, malloc'd; ownership moves to a JS Buffer
  size_t len = 0;
  std::vector<std::pair<uint64_t, uint64_t>> forgets;  // (ino, nlookup)
  ~Op();
};

}  // namespace kiseki::fuse

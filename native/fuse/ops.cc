// libfuse low-level callbacks. They run on libfuse worker threads: copy what the request carries into an
// Op (libfuse reuses its receive buffer once we return) and submit it. Nothing here waits for JS.
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuse/session.h"

namespace kiseki::fuse {
namespace {

Session *SessionOf(fuse_req_t req) { return static_cast<Session *>(fuse_req_userdata(req)); }

Op *NewOp(OpType type, fuse_req_t req, fuse_ino_t ino) {
  Op *op = new Op();
  op->type = type;
  op->ino = ino;
  const struct fuse_ctx *ctx = fuse_req_ctx(req);
  op->uid = ctx->uid;
  op->gid = ctx->gid;
  op->pid = static_cast<uint32_t>(ctx->pid);
  op->umask = ctx->umask;
  return op;
}

void Submit(fuse_req_t req, Op *op) { SessionOf(req)->Submit(req, op); }

void WithFh(Op *op, struct fuse_file_info *fi) {
  if (fi == nullptr) return;
  op->fh = fi->fh;
  op->hasFh = true;
  op->flags = fi->flags;
}

// One copy, from libfuse's buffer into memory that a JS Buffer will own (I-FB3: at most one copy per write).
void CopyPayload(Op *op, const char *buf, size_t size) {
  op->len = size;
  op->data = static_cast<char *>(malloc(size > 0 ? size : 1));
  if (size > 0) memcpy(op->data, buf, size);
}

void ll_init(void *userdata, struct fuse_conn_info *conn) { static_cast<Session *>(userdata)->OnInit(conn); }

// A name the client's dentry cache mirrored is answered here, without waking the JS thread.
void ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
  Session *s = SessionOf(req);
  struct fuse_entry_param e;
  if (s->state() == Session::State::kRunning && s->entries().Lookup(parent, name, strlen(name), &e)) {
    fuse_reply_entry(req, &e);
    return;
  }
  Op *op = NewOp(OP_LOOKUP, req, parent);
  op->name = name;
  Submit(req, op);
}

// Forgets need no answer from JS: reply at once so the kernel never waits on the JS thread for them.
void ll_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  Session *s = SessionOf(req);
  Op *op = new Op();
  op->type = OP_FORGET;
  op->forgets.emplace_back(ino, nlookup);
  fuse_reply_none(req);
  s->Submit(nullptr, op);
}

void ll_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets) {
  Session *s = SessionOf(req);
  Op *op = new Op();
  op->type = OP_FORGET;
  op->forgets.reserve(count);
  for (size_t i = 0; i < count; i++) op->forgets.emplace_back(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
  s->Submit(nullptr, op);
}

void ll_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  Session *s = SessionOf(req);
  struct stat st;
  double valid;
  if (fi == nullptr && s->state() == Session::State::kRunning && s->entries().Attr(ino, &st, &valid)) {
    fuse_reply_attr(req, &st, valid);
    return;
  }
  Op *op = NewOp(OP_GETATTR, req, ino);
  WithFh(op, fi);
  Submit(req, op);
}

void ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi) {
  Op *op = NewOp(OP_SETATTR, req, ino);
  WithFh(op, fi);
  op->attr = *attr;
  op->toSet = to_set;
  Submit(req, op);
}

void ll_readlink(fuse_req_t req, fuse_ino_t ino) { Submit(req, NewOp(OP_READLINK, req, ino)); }

void ll_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev) {
  Op *op = NewOp(OP_MKNOD, req, parent);
  op->name = name;
  op->a = mode;
  op->b = static_cast<int64_t>(rdev);
  Submit(req, op);
}

void ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode) {
  Op *op = NewOp(OP_MKDIR, req, parent);
  op->name = name;
  op->a = mode;
  Submit(req, op);
}

void ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name) {
  Op *op = NewOp(OP_UNLINK, req, parent);
  op->name = name;
  Submit(req, op);
}

void ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name) {
  Op *op = NewOp(OP_RMDIR, req, parent);
  op->name = name;
  Submit(req, op);
}

void ll_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name) {
  Op *op = NewOp(OP_SYMLINK, req, parent);
  op->name = name;
  op->name2 = link;
  Submit(req, op);
}

void ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent, const char *newname,
               unsigned int flags) {
  Op *op = NewOp(OP_RENAME, req, parent);
  op->name = name;
  op->a = newparent;
  op->name2 = newname;
  op->flags = static_cast<int32_t>(flags);
  Submit(req, op);
}

void ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname) {
  Op *op = NewOp(OP_LINK, req, ino);
  op->a = newparent;
  op->name = newname;
  Submit(req, op);
}

void ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  Op *op = NewOp(OP_OPEN, req, ino);
  op->flags = fi->flags;
  Submit(req, op);
}

void ll_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  Op *op = NewOp(OP_WRITE, req, ino);
  WithFh(op, fi);
  op->b = off;
  op->a = fi->writepage;
  CopyPayload(op, buf, size);
  Submit(req, op);
}

void ll_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  Op *op = NewOp(OP_FLUSH, req, ino);
  WithFh(op, fi);
  Submit(req, op);
}

void ll_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  Op *op = NewOp(OP_RELEASE, req, ino);
  WithFh(op, fi);
  Submit(req, op);
}

void ll_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
  Op *op = NewOp(OP_FSYNC, req, ino);
  WithFh(op, fi);
  op->a = datasync ? 1 : 0;
  Submit(req, op);
}

void ll_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  Op *op = NewOp(OP_OPENDIR, req, ino);
  op->flags = fi->flags;
  Submit(req, op);
}

// read, readdir and readdirplus carry the same arguments.
template <OpType kType>
void ll_sized(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  Op *op = NewOp(kType, req, ino);
  WithFh(op, fi);
  op->a = size;
  op->b = off;
  Submit(req, op);
}

// A read that lies in an L1 chunk the client published is answered here, without waking the JS thread.
void ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  Session *s = SessionOf(req);
  if (s->state() == Session::State::kRunning && off >= 0 && s->reads().Serve(req, ino, size, static_cast<uint64_t>(off))) return;
  ll_sized<OP_READ>(req, ino, size, off, fi);
}

void ll_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  Op *op = NewOp(OP_RELEASEDIR, req, ino);
  WithFh(op, fi);
  Submit(req, op);
}

void ll_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
  Op *op = NewOp(OP_FSYNCDIR, req, ino);
  WithFh(op, fi);
  op->a = datasync ? 1 : 0;
  Submit(req, op);
}

void ll_statfs(fuse_req_t req, fuse_ino_t ino) { Submit(req, NewOp(OP_STATFS, req, ino)); }

void ll_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags) {
  Op *op = NewOp(OP_SETXATTR, req, ino);
  op->name = name;
  op->flags = flags;
  CopyPayload(op, value, size);
  Submit(req, op);
}

void ll_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size) {
  Op *op = NewOp(OP_GETXATTR, req, ino);
  op->name = name;
  op->a = size;
  Submit(req, op);
}

void ll_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  Op *op = NewOp(OP_LISTXATTR, req, ino);
  op->a = size;
  Submit(req, op);
}

void ll_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name) {
  Op *op = NewOp(OP_REMOVEXATTR, req, ino);
  op->name = name;
  Submit(req, op);
}

void ll_access(fuse_req_t req, fuse_ino_t ino, int mask) {
  Op *op = NewOp(OP_ACCESS, req, ino);
  op->flags = mask;
  Submit(req, op);
}

void ll_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi) {
  Op *op = NewOp(OP_CREATE, req, parent);
  op->name = name;
  op->a = mode;
  op->flags = fi->flags;
  Submit(req, op);
}

void ll_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length, struct fuse_file_info *fi) {
  Op *op = NewOp(OP_FALLOCATE, req, ino);
  WithFh(op, fi);
  op->flags = mode;
  op->a = static_cast<uint64_t>(length);
  op->b = offset;
  Submit(req, op);
}

struct fuse_lowlevel_ops MakeOps() {
  struct fuse_lowlevel_ops o;
  memset(&o, 0, sizeof o);
  o.init = ll_init;
  o.lookup = ll_lookup;
  o.forget = ll_forget;
  o.forget_multi = ll_forget_multi;
  o.getattr = ll_getattr;
  o.setattr = ll_setattr;
  o.readlink = ll_readlink;
  o.mknod = ll_mknod;
  o.mkdir = ll_mkdir;
  o.unlink = ll_unlink;
  o.rmdir = ll_rmdir;
  o.symlink = ll_symlink;
  o.rename = ll_rename;
  o.link = ll_link;
  o.open = ll_open;
  o.read = ll_read;
  o.write = ll_write;
  o.flush = ll_flush;
  o.release = ll_release;
  o.fsync = ll_fsync;
  o.opendir = ll_opendir;
  o.readdir = ll_sized<OP_READDIR>;
  o.readdirplus = ll_sized<OP_READDIRPLUS>;
  o.releasedir = ll_releasedir;
  o.fsyncdir = ll_fsyncdir;
  o.statfs = ll_statfs;
  o.setxattr = ll_setxattr;
  o.getxattr = ll_getxattr;
  o.listxattr = ll_listxattr;
  o.removexattr = ll_removexattr;
  o.access = ll_access;
  o.create = ll_create;
  o.fallocate = ll_fallocate;
  return o;
}

}  // namespace

const struct fuse_lowlevel_ops &LowLevelOps() {
  static const struct fuse_lowlevel_ops ops = MakeOps();
  return ops;
}

}  // namespace kiseki::fuse

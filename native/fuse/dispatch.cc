// JS-thread side of the TSFN: turn an Op into the positional arguments of the dispatch function
//   dispatch(type, id, ino, uid, gid, pid, interrupted, ...opArgs)
// whose per-op layout is mirrored in src/fuse/fuse-binding.ts (dispatch switch).
#include <stdlib.h>

#include "fuse/request-table.h"
#include "fuse/session.h"

namespace kiseki::fuse {
namespace {

class Args {
 public:
  explicit Args(napi_env env) : env_(env) {}
  void Num(double v) {
    napi_value x;
    napi_create_double(env_, v, &x);
    v_[n_++] = x;
  }
  void Int(int32_t v) {
    napi_value x;
    napi_create_int32(env_, v, &x);
    v_[n_++] = x;
  }
  void Bool(bool v) {
    napi_value x;
    napi_get_boolean(env_, v, &x);
    v_[n_++] = x;
  }
  void Str(const std::string &s) {
    napi_value x;
    napi_create_string_utf8(env_, s.data(), s.size(), &x);
    v_[n_++] = x;
  }
  // Entry names and symlink targets are bytes, not text: a name that is not valid UTF-8 must reach JS
  // unchanged, or it could never be found again.
  void Bytes(const std::string &s) {
    napi_value x;
    void *copy;
    napi_create_buffer_copy(env_, s.size(), s.data(), &copy, &x);
    v_[n_++] = x;
  }
  void Undef() {
    napi_value x;
    napi_get_undefined(env_, &x);
    v_[n_++] = x;
  }
  void Fh(const Op *op) {
    if (op->hasFh) Num(static_cast<double>(op->fh));
    else Undef();
  }
  // The payload becomes a Buffer over the Op's own allocation: no second copy (I-FB3).
  void Payload(Op *op) {
    napi_value x;
    char *data = op->data;
    op->data = nullptr;
    napi_create_external_buffer(
        env_, op->len, data, [](napi_env, void *d, void *) { free(d); }, nullptr, &x);
    v_[n_++] = x;
  }
  void Raw(napi_value x) { v_[n_++] = x; }
  size_t size() const { return n_; }
  napi_value *data() { return v_; }

 private:
  napi_env env_;
  napi_value v_[24];
  size_t n_ = 0;
};

void Timespec(Args &a, const struct timespec &t) {
  a.Num(static_cast<double>(t.tv_sec));
  a.Num(static_cast<double>(t.tv_nsec));
}

}  // namespace

void CallJs(Napi::Env env, Napi::Function fn, Session *session, Op *op) {
  if (env == nullptr || session->state() != Session::State::kRunning) {
    // Unmount already answered every open request of this session (or the process is exiting).
    delete op;
    return;
  }
  napi_env e = env;
  Args a(e);
  a.Int(op->type);
  a.Num(op->id);
  a.Num(static_cast<double>(op->ino));
  a.Num(op->uid);
  a.Num(op->gid);
  a.Num(op->pid);
  a.Bool(op->id != 0 && RequestTable::Get().Interrupted(op->id));
  switch (op->type) {
    case OP_INIT:
    case OP_DESTROY:
    case OP_INTERRUPT:
    case OP_READLINK:
    case OP_STATFS:
      break;
    case OP_FORGET: {
      napi_value ab, arr;
      void *raw;
      size_t n = op->forgets.size() * 2;
      napi_create_arraybuffer(e, n * sizeof(double), &raw, &ab);
      double *d = static_cast<double *>(raw);
      for (size_t i = 0; i < op->forgets.size(); i++) {
        d[2 * i] = static_cast<double>(op->forgets[i].first);
        d[2 * i + 1] = static_cast<double>(op->forgets[i].second);
      }
      napi_create_typedarray(e, napi_float64_array, n, ab, 0, &arr);
      a.Raw(arr);
      break;
    }
    case OP_LOOKUP:
    case OP_UNLINK:
    case OP_RMDIR:
      a.Bytes(op->name);
      break;
    case OP_REMOVEXATTR:
      a.Str(op->name);
      break;
    case OP_GETATTR:
      a.Fh(op);
      break;
    case OP_SETATTR:
      a.Int(op->toSet);
      a.Num(op->attr.st_mode);
      a.Num(op->attr.st_uid);
      a.Num(op->attr.st_gid);
      a.Num(static_cast<double>(op->attr.st_size));
      Timespec(a, op->attr.st_atim);
      Timespec(a, op->attr.st_mtim);
      Timespec(a, op->attr.st_ctim);
      a.Fh(op);
      break;
    case OP_MKNOD:
      a.Bytes(op->name);
      a.Num(static_cast<double>(op->a));
      a.Num(static_cast<double>(op->b));
      a.Num(op->umask);
      break;
    case OP_MKDIR:
      a.Bytes(op->name);
      a.Num(static_cast<double>(op->a));
      a.Num(op->umask);
      break;
    case OP_SYMLINK:
      a.Bytes(op->name);
      a.Bytes(op->name2);
      break;
    case OP_RENAME:
      a.Bytes(op->name);
      a.Num(static_cast<double>(op->a));
      a.Bytes(op->name2);
      a.Int(op->flags);
      break;
    case OP_LINK:
      a.Num(static_cast<double>(op->a));
      a.Bytes(op->name);
      break;
    case OP_OPEN:
    case OP_OPENDIR:
      a.Int(op->flags);
      break;
    case OP_READ:
    case OP_READDIR:
    case OP_READDIRPLUS:
      a.Fh(op);
      a.Num(static_cast<double>(op->a));
      a.Num(static_cast<double>(op->b));
      break;
    case OP_WRITE:
      a.Fh(op);
      a.Payload(op);
      a.Num(static_cast<double>(op->b));
      a.Int(op->flags);
      break;
    case OP_FLUSH:
      a.Fh(op);
      break;
    case OP_RELEASE:
    case OP_RELEASEDIR:
      a.Fh(op);
      a.Int(op->flags);
      break;
    case OP_FSYNC:
    case OP_FSYNCDIR:
      a.Fh(op);
      a.Bool(op->a != 0);
      break;
    case OP_SETXATTR:
      a.Str(op->name);
      a.Payload(op);
      a.Int(op->flags);
      break;
    case OP_GETXATTR:
      a.Str(op->name);
      a.Num(static_cast<double>(op->a));
      break;
    case OP_LISTXATTR:
      a.Num(static_cast<double>(op->a));
      break;
    case OP_ACCESS:
      a.Int(op->flags);
      break;
    case OP_CREATE:
      a.Bytes(op->name);
      a.Num(static_cast<double>(op->a));
      a.Int(op->flags);
      a.Num(op->umask);
      break;
    case OP_FALLOCATE:
      a.Fh(op);
      a.Int(op->flags);
      a.Num(static_cast<double>(op->b));
      a.Num(static_cast<double>(op->a));
      break;
  }
  delete op;
  napi_value undefined, result;
  napi_get_undefined(e, &undefined);
  // The TS dispatcher catches everything itself; an exception escaping here is a bug in it, and
  // node-addon-api reports it as an uncaught exception rather than losing it.
  napi_call_function(e, undefined, fn, a.size(), a.data(), &result);
}

}  // namespace kiseki::fuse

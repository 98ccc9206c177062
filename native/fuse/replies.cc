// fuse_reply_* on the JS thread. Each reply first takes its request out of the RequestTable: a stale id
// (already answered, or answered EIO by unmount) makes the reply return false and touch nothing (I-FB1).
// libfuse replies are a single writev on /dev/fuse and safe from any thread.
#include "fuse/replies.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "fuse/attr-layout.h"
#include "fuse/request-table.h"

namespace kiseki::fuse {
namespace {

using namespace layout;

// A name or path as the kernel takes it: a Buffer's bytes as they are, or a string as UTF-8.
bool BytesOf(Napi::Value v, std::string *out) {
  if (v.IsBuffer()) {
    auto b = v.As<Napi::Buffer<char>>();
    out->assign(b.Data(), b.Length());
    return true;
  }
  if (v.IsString()) {
    *out = v.As<Napi::String>().Utf8Value();
    return true;
  }
  return false;
}

Napi::Value Refused(Napi::Env env) { return Napi::Boolean::New(env, false); }
Napi::Value Done(Napi::Env env) { return Napi::Boolean::New(env, true); }

bool Float64At(const Napi::CallbackInfo &info, size_t i, size_t minLen, const double **out, size_t *len) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    Napi::TypeError::New(info.Env(), "expected a Float64Array").ThrowAsJavaScriptException();
    return false;
  }
  auto arr = info[i].As<Napi::Float64Array>();
  if (arr.ElementLength() < minLen) {
    Napi::RangeError::New(info.Env(), "Float64Array too short").ThrowAsJavaScriptException();
    return false;
  }
  *out = arr.Data();
  if (len != nullptr) *len = arr.ElementLength();
  return true;
}


void FillOpen(const Napi::CallbackInfo &info, size_t fhArg, size_t bitsArg, struct fuse_file_info *fi) {
  memset(fi, 0, sizeof *fi);
  fi->fh = static_cast<uint64_t>(info[fhArg].As<Napi::Number>().DoubleValue());
  unsigned bits = info[bitsArg].As<Napi::Number>().Uint32Value();
  fi->direct_io = (bits & DIRECT_IO) != 0;
  fi->keep_cache = (bits & KEEP_CACHE) != 0;
  fi->nonseekable = (bits & NONSEEKABLE) != 0;
  fi->cache_readdir = (bits & CACHE_READDIR) != 0;
  fi->noflush = (bits & NOFLUSH) != 0;
}

fuse_req_t TakeReq(const Napi::CallbackInfo &info) {
  return RequestTable::Get().Take(info[0].As<Napi::Number>().DoubleValue());
}

// replyErr(id, errno)
Napi::Value ReplyErr(const Napi::CallbackInfo &info) {
  int err = info[1].As<Napi::Number>().Int32Value();
  fuse_req_t req = TakeReq(info);
  if (req == nullptr) return Refused(info.Env());
  fuse_reply_err(req, err);
  return Done(info.Env());
}

// replyEntry(id, attr: Float64Array[STRIDE])
Napi::Value ReplyEntry(const Napi::CallbackInfo &info) {
  const double *a;
  if (!Float64At(info, 1, ENTRY_TIMEOUT + 1, &a, nullptr)) return info.Env().Undefined();
  struct fuse_entry_param e;
  FillEntry(a, &e);
  fuse_req_t req = TakeReq(info);
  if (req == nullptr) return Refused(info.Env());
  fuse_reply_entry(req, &e);
  return Done(info.Env());
}

// replyCreate(id, attr, fh, openBits)
Napi::Value ReplyCreate(const Napi::CallbackInfo &info) {
  const double *a;
  if (!Float64At(info, 1, ENTRY_TIMEOUT + 1, &a, nullptr)) return info.Env().Undefined();
  struct fuse_entry_param e;
  FillEntry(a, &e);
  struct fuse_file_info fi;
  FillOpen(info, 2, 3, &fi);
  fuse_req_t req = TakeReq(info);
  if (req == nullptr) return Refused(info.Env());
  fuse_reply_create(req, &e, &fi);
  return Done(info.Env());
}

// replyAttr(id, attr)
Napi::Value ReplyAttr(const Napi::CallbackInfo &info) {
  const double *a;
  if (!Float64At(info, 1, ENTRY_TIMEOUT + 1, &a, nullptr)) return info.Env().Undefined();
  struct stat st;
  FillStat(a, &st);
  fuse_req_t req = TakeReq(info);
  if (req == nullptr) return Refused(info.Env());
  fuse_reply_attr(req, &st, a[ATTR_TIMEOUT]);
  return Done(info.Env());
}

// replyOpen(id, fh, openBits)
Napi::Value ReplyOpen(const Napi::CallbackInfo &info) {
  struct fuse_file_info fi;
  FillOpen(info, 1, 2, &fi);
  fuse_req_t req = TakeReq(info);
  if (req == nullptr) return Refused(info.Env());
  fuse_reply_open(req, &fi);
  return Done(info.Env());
}

// replyBuf(id, data?: Uint8Array) — straight from the JS memory, no copy in userspace.
Napi::Value ReplyBuf(const Napi::CallbackInfo &info) {
  const char *p = nullptr;
  size_t n = 0;
  if (info[1].IsTypedArray()) {
    auto b = info[1].As<Napi::Uint8Array>();
    p = reinterpret_cast<const char *>(b.Data());
    n = b.ByteLength();
  } else if (!info[1].IsUndefined()) {
    Napi::TypeError::New(info.Env(), "replyBuf expects a Uint8Array or undefined").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  fuse_req_t req = TakeReq(info);
  if (req == nullptr) return Refused(info.Env());
  fuse_reply_buf(req, p, n);
  return Done(info.Env());
}

// replyWrite(id, count)
Napi::Value ReplyWrite(const Napi::CallbackInfo &info) {
  size_t count = static_cast<size_t>(info[1].As<Napi::Number>().DoubleValue());
  fuse_req_t req = TakeReq(info);
  if (req == nullptr) return Refused(info.Env());
  fuse_reply_write(req, count);
  return Done(info.Env());
}

// replyStatfs(id, Float64Array[STATFS_LEN])
Napi::Value ReplyStatfs(const Napi::CallbackInfo &info) {
  const double *a;
  if (!Float64At(info, 1, STATFS_LEN, &a, nullptr)) return info.Env().Undefined();
  struct statvfs sv;
  memset(&sv, 0, sizeof sv);
  sv.f_bsize = static_cast<unsigned long>(a[BSIZE]);
  sv.f_frsize = static_cast<unsigned long>(a[FRSIZE]);
  sv.f_blocks = static_cast<fsblkcnt_t>(a[BLOCKS_]);
  sv.f_bfree = static_cast<fsblkcnt_t>(a[BFREE]);
  sv.f_bavail = static_cast<fsblkcnt_t>(a[BAVAIL]);
  sv.f_files = static_cast<fsfilcnt_t>(a[FILES]);
  sv.f_ffree = static_cast<fsfilcnt_t>(a[FFREE]);
  sv.f_favail = static_cast<fsfilcnt_t>(a[FAVAIL]);
  sv.f_namemax = static_cast<unsigned long>(a[NAMEMAX]);
  fuse_req_t req = TakeReq(info);
  if (req == nullptr) return Refused(info.Env());
  fuse_reply_statfs(req, &sv);
  return Done(info.Env());
}

// replyXattr(id, size): the answer to a size probe (getxattr/listxattr with size 0).
Napi::Value ReplyXattr(const Napi::CallbackInfo &info) {
  size_t count = static_cast<size_t>(info[1].As<Napi::Number>().DoubleValue());
  fuse_req_t req = TakeReq(info);
  if (req == nullptr) return Refused(info.Env());
  fuse_reply_xattr(req, count);
  return Done(info.Env());
}

// replyReadlink(id, target)
Napi::Value ReplyReadlink(const Napi::CallbackInfo &info) {
  std::string target;
  if (!BytesOf(info[1], &target) || target.find('\0') != std::string::npos) {
    Napi::TypeError::New(info.Env(), "replyReadlink expects a Buffer or string without NUL").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  fuse_req_t req = TakeReq(info);
  if (req == nullptr) return Refused(info.Env());
  fuse_reply_readlink(req, target.c_str());
  return Done(info.Env());
}

// replyDir(id, size, plus, names: (Buffer | string)[], entries: Float64Array[n * STRIDE]) → number of entries packed
// (-1 if the id was stale). Packs entries in order until the next one does not fit in `size` bytes; for
// readdirplus every packed entry with ino != 0 other than "." and ".." counts as a lookup in the kernel.
Napi::Value ReplyDir(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  size_t size = static_cast<size_t>(info[1].As<Napi::Number>().DoubleValue());
  bool plus = info[2].ToBoolean().Value();
  if (!info[3].IsArray()) {
    Napi::TypeError::New(env, "replyDir expects an array of names").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto names = info[3].As<Napi::Array>();
  uint32_t n = names.Length();
  const double *a;
  if (!Float64At(info, 4, static_cast<size_t>(n) * STRIDE, &a, nullptr)) return env.Undefined();
  std::vector<char> buf(size);
  size_t pos = 0;
  uint32_t packed = 0;
  std::string name;
  for (uint32_t i = 0; i < n; i++) {
    if (!BytesOf(names.Get(i), &name) || name.empty() || name.find('\0') != std::string::npos) {
      Napi::TypeError::New(env, "replyDir: each name must be a non-empty Buffer or string without NUL").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    const double *ent = a + static_cast<size_t>(i) * STRIDE;
    off_t next = static_cast<off_t>(ent[DIR_OFF]);
    size_t need;
    // fuse_add_direntry* never writes past `size - pos`; it returns the size it would have needed.
    if (plus) {
      struct fuse_entry_param e;
      FillEntry(ent, &e);
      need = fuse_add_direntry_plus(nullptr, buf.data() + pos, size - pos, name.c_str(), &e, next);
    } else {
      struct stat st;
      memset(&st, 0, sizeof st);
      st.st_ino = static_cast<ino_t>(ent[INO]);
      st.st_mode = static_cast<mode_t>(ent[MODE]);
      need = fuse_add_direntry(nullptr, buf.data() + pos, size - pos, name.c_str(), &st, next);
    }
    if (need > size - pos) break;
    pos += need;
    packed++;
  }
  fuse_req_t req = TakeReq(info);
  if (req == nullptr) return Napi::Number::New(env, -1);
  fuse_reply_buf(req, buf.data(), pos);
  return Napi::Number::New(env, packed);
}

}  // namespace

void FillStat(const double *a, struct stat *st) {
  memset(st, 0, sizeof *st);
  st->st_ino = static_cast<ino_t>(a[INO]);
  st->st_mode = static_cast<mode_t>(a[MODE]);
  st->st_nlink = static_cast<nlink_t>(a[NLINK]);
  st->st_uid = static_cast<uid_t>(a[UID]);
  st->st_gid = static_cast<gid_t>(a[GID]);
  st->st_rdev = static_cast<dev_t>(a[RDEV]);
  st->st_size = static_cast<off_t>(a[SIZE]);
  st->st_blocks = static_cast<blkcnt_t>(a[BLOCKS]);
  st->st_blksize = static_cast<blksize_t>(a[BLKSIZE]);
  st->st_atim.tv_sec = static_cast<time_t>(a[ATIME_SEC]);
  st->st_atim.tv_nsec = static_cast<long>(a[ATIME_NSEC]);
  st->st_mtim.tv_sec = static_cast<time_t>(a[MTIME_SEC]);
  st->st_mtim.tv_nsec = static_cast<long>(a[MTIME_NSEC]);
  st->st_ctim.tv_sec = static_cast<time_t>(a[CTIME_SEC]);
  st->st_ctim.tv_nsec = static_cast<long>(a[CTIME_NSEC]);
}

void FillEntry(const double *a, struct fuse_entry_param *e) {
  memset(e, 0, sizeof *e);
  e->ino = static_cast<fuse_ino_t>(a[INO]);
  e->generation = static_cast<uint64_t>(a[GENERATION]);
  e->attr_timeout = a[ATTR_TIMEOUT];
  e->entry_timeout = a[ENTRY_TIMEOUT];
  FillStat(a, &e->attr);
}

void RegisterReplies(Napi::Env env, Napi::Object exports) {
  exports.Set("replyErr", Napi::Function::New(env, ReplyErr));
  exports.Set("replyEntry", Napi::Function::New(env, ReplyEntry));
  exports.Set("replyCreate", Napi::Function::New(env, ReplyCreate));
  exports.Set("replyAttr", Napi::Function::New(env, ReplyAttr));
  exports.Set("replyOpen", Napi::Function::New(env, ReplyOpen));
  exports.Set("replyBuf", Napi::Function::New(env, ReplyBuf));
  exports.Set("replyWrite", Napi::Function::New(env, ReplyWrite));
  exports.Set("replyStatfs", Napi::Function::New(env, ReplyStatfs));
  exports.Set("replyXattr", Napi::Function::New(env, ReplyXattr));
  exports.Set("replyReadlink", Napi::Function::New(env, ReplyReadlink));
  exports.Set("replyDir", Napi::Function::New(env, ReplyDir));
}

}  // namespace kiseki::fuse

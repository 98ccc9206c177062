// The `fuse` namespace of kiseki_native.node: session lifecycle (mount, unmount, negotiated, inFlight,
// notifyInvalInode, notifyInvalEntry) plus the replies. Argument shapes are checked by
// src/fuse/fuse-binding.ts; the checks here only keep a wrong call from crashing the process.
#include "fuse/fuse.h"

#include "fuse/attr-layout.h"
#include "fuse/replies.h"
#include "fuse/request-table.h"
#include "fuse/session.h"

#include <initializer_list>
#include <utility>

namespace kiseki::fuse {
namespace {

using Handle = Napi::External<Session>;

Session *SessionArg(const Napi::CallbackInfo &info) {
  if (!info[0].IsExternal()) {
    Napi::TypeError::New(info.Env(), "expected a session handle").ThrowAsJavaScriptException();
    return nullptr;
  }
  return info[0].As<Handle>().Data();
}

unsigned UintOpt(Napi::Object o, const char *key, unsigned dflt) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Uint32Value() : dflt;
}

bool BoolOpt(Napi::Object o, const char *key, bool dflt) {
  Napi::Value v = o.Get(key);
  return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : dflt;
}

// mount(mountpoint, options: string[], config: object, dispatch: Function) → handle
Napi::Value Mount(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString() || !info[1].IsArray() || !info[2].IsObject() || !info[3].IsFunction()) {
    Napi::TypeError::New(env, "mount(mountpoint, options[], config, dispatch)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  SessionConfig cfg;
  cfg.mountpoint = info[0].As<Napi::String>().Utf8Value();
  auto opts = info[1].As<Napi::Array>();
  for (uint32_t i = 0; i < opts.Length(); i++) cfg.options.push_back(opts.Get(i).ToString().Utf8Value());
  auto c = info[2].As<Napi::Object>();
  cfg.cloneFd = BoolOpt(c, "cloneFd", cfg.cloneFd);
  cfg.maxIdleThreads = UintOpt(c, "maxIdleThreads", cfg.maxIdleThreads);
  cfg.maxBackground = UintOpt(c, "maxBackground", cfg.maxBackground);
  cfg.congestionThreshold = UintOpt(c, "congestionThreshold", cfg.congestionThreshold);
  cfg.maxWrite = UintOpt(c, "maxWrite", cfg.maxWrite);
  cfg.maxReadahead = UintOpt(c, "maxReadahead", cfg.maxReadahead);
  cfg.writebackCache = BoolOpt(c, "writebackCache", cfg.writebackCache);
  cfg.readdirplus = BoolOpt(c, "readdirplus", cfg.readdirplus);
  cfg.exportSupport = BoolOpt(c, "exportSupport", cfg.exportSupport);
  cfg.unmountAbortMs = UintOpt(c, "unmountAbortMs", cfg.unmountAbortMs);
  cfg.replyThreads = UintOpt(c, "replyThreads", cfg.replyThreads);
  Session *s = new Session(std::move(cfg));
  if (!s->Mount(env, info[3].As<Napi::Function>(), c.Get("onReplied"))) {
    s->Unref();
    return env.Undefined();
  }
  return Handle::New(env, s, [](Napi::Env, Session *p) { p->Unref(); });
}

// unmount(handle) → number of requests that were still open and got EIO
Napi::Value Unmount(const Napi::CallbackInfo &info) {
  Session *s = SessionArg(info);
  if (s == nullptr) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), static_cast<double>(s->Unmount()));
}

// negotiated(handle) → what INIT agreed on, or null before INIT
Napi::Value GetNegotiated(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Session *s = SessionArg(info);
  if (s == nullptr) return env.Undefined();
  const Negotiated &n = s->negotiated();
  if (!n.done) return env.Null();
  auto o = Napi::Object::New(env);
  o.Set("protoMajor", n.protoMajor);
  o.Set("protoMinor", n.protoMinor);
  o.Set("capable", Napi::Number::New(env, n.capable));
  o.Set("want", Napi::Number::New(env, n.want));
  o.Set("maxWrite", n.maxWrite);
  o.Set("maxRead", n.maxRead);
  o.Set("maxReadahead", n.maxReadahead);
  o.Set("maxBackground", n.maxBackground);
  o.Set("congestionThreshold", n.congestionThreshold);
  o.Set("devMajor", s->devMajor());
  o.Set("devMinor", s->devMinor());
  return o;
}

// inFlight(handle) → requests handed to JS and not yet answered
Napi::Value InFlight(const Napi::CallbackInfo &info) {
  Session *s = SessionArg(info);
  if (s == nullptr) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), static_cast<double>(RequestTable::Get().InFlight(s)));
}

// replyBufAsync(handle, id, data: Uint8Array, token) → false if the id is stale (I-FB1). Otherwise a reply thread sends `data` and then config.onReplied(token) runs on the JS
// thread; `data` must not change until then.
Napi::Value ReplyBufAsync(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Session *s = SessionArg(info);
  if (s == nullptr) return env.Undefined();
  if (!info[2].IsTypedArray()) {
    Napi::TypeError::New(env, "replyBufAsync expects a Uint8Array").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (s->state() != Session::State::kRunning || !s->HasReplyThreads()) {
    Napi::Error::New(env, "replyBufAsync: the session has no reply threads").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  fuse_req_t req = RequestTable::Get().Take(info[1].As<Napi::Number>().DoubleValue());
  if (req == nullptr) return Napi::Boolean::New(env, false);
  auto b = info[2].As<Napi::Uint8Array>();
  AsyncReply *r = new AsyncReply{req, reinterpret_cast<const char *>(b.Data()), b.ByteLength(), nullptr,
                                 info[3].As<Napi::Number>().DoubleValue()};
  napi_create_reference(env, b, 1, &r->ref);
  s->QueueReply(r);
  return Napi::Boolean::New(env, true);
}

double NumArg(const Napi::CallbackInfo &info, size_t i) { return info[i].As<Napi::Number>().DoubleValue(); }

// notifyInvalInode(handle, ino, off, len)
Napi::Value NotifyInvalInode(const Napi::CallbackInfo &info) {
  Session *s = SessionArg(info);
  if (s == nullptr || s->state() != Session::State::kRunning) return info.Env().Undefined();
  s->NotifyInvalInode(static_cast<uint64_t>(NumArg(info, 1)),
                      info[2].As<Napi::Number>().Int64Value(), info[3].As<Napi::Number>().Int64Value());
  return info.Env().Undefined();
}

std::string NameArg(Napi::Value v) {
  if (v.IsBuffer()) return std::string(v.As<Napi::Buffer<char>>().Data(), v.As<Napi::Buffer<char>>().Length());
  return v.As<Napi::String>().Utf8Value();
}

// A 32-byte name key (or index key) given as a Buffer; null (with a TypeError thrown) otherwise.
const uint8_t *KeyArg(Napi::Env env, Napi::Value v, const char *what) {
  if (v.IsBuffer() && v.As<Napi::Buffer<uint8_t>>().Length() == EntryCache::kKeyLen) return v.As<Napi::Buffer<uint8_t>>().Data();
  Napi::TypeError::New(env, std::string(what) + ": a name key is a 32-byte Buffer").ThrowAsJavaScriptException();
  return nullptr;
}

// notifyInvalEntry(handle, parent, name)
Napi::Value NotifyInvalEntry(const Napi::CallbackInfo &info) {
  Session *s = SessionArg(info);
  if (s == nullptr || s->state() != Session::State::kRunning) return info.Env().Undefined();
  s->NotifyInvalEntry(static_cast<uint64_t>(NumArg(info, 1)), NameArg(info[2]));
  return info.Env().Undefined();
}

// { name: count, … } for the stats calls.
Napi::Object Counts(Napi::Env env, std::initializer_list<std::pair<const char *, uint64_t>> counts) {
  auto o = Napi::Object::New(env);
  for (const auto &[name, n] : counts) o.Set(name, Napi::Number::New(env, static_cast<double>(n)));
  return o;
}

// cachePut(handle, parent, nameKeys: (Buffer | null)[], packed: Float64Array of entries, timeouts = seconds
// left) → entries with a name key are (parent, name key) → entry; null keys store the attributes alone.
Napi::Value CachePut(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Session *s = SessionArg(info);
  if (s == nullptr) return env.Undefined();
  if (!info[1].IsNumber() || !info[2].IsArray() || !info[3].IsTypedArray() ||
      info[3].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    Napi::TypeError::New(env, "cachePut(handle, parent, nameKeys[], Float64Array)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uint64_t parent = static_cast<uint64_t>(NumArg(info, 1));
  auto names = info[2].As<Napi::Array>();
  auto packed = info[3].As<Napi::Float64Array>();
  if (packed.ElementLength() < static_cast<size_t>(names.Length()) * layout::STRIDE) {
    Napi::RangeError::New(env, "cachePut: packed entries too short").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  EntryCache &c = s->entries();
  for (uint32_t i = 0; i < names.Length(); i++) {
    const double *a = packed.Data() + static_cast<size_t>(i) * layout::STRIDE;
    struct fuse_entry_param e;
    FillEntry(a, &e);
    Napi::Value n = names.Get(i);
    if (n.IsNull() || n.IsUndefined()) {
      c.PutAttr(e.attr, e.attr_timeout);
      continue;
    }
    const uint8_t *key = KeyArg(env, n, "cachePut");
    if (key == nullptr) return env.Undefined();
    c.Put(parent, key, e);
  }
  return env.Undefined();
}

// cacheDrop(handle, kind, ino, nameKey?): kind 0 = the name (parent = ino) was removed or replaced,
// 1 = the inode's attributes changed, 2 = pin the inode, 3 = unpin it, 4 = forget everything (the
// index key too).
Napi::Value CacheDrop(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Session *s = SessionArg(info);
  if (s == nullptr) return env.Undefined();
  if (!info[1].IsNumber() || !info[2].IsNumber()) {
    Napi::TypeError::New(env, "cacheDrop(handle, kind, ino, name?)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int kind = info[1].As<Napi::Number>().Int32Value();
  uint64_t ino = static_cast<uint64_t>(NumArg(info, 2));
  EntryCache &c = s->entries();
  switch (kind) {
    case 0: {
      const uint8_t *key = KeyArg(env, info[3], "cacheDrop");
      if (key != nullptr) c.DropName(ino, key);
      break;
    }
    case 1: c.DropAttr(ino); break;
    case 2: c.Pin(ino, true); break;
    case 3: c.Pin(ino, false); break;
    default: c.Clear(); break;
  }
  return env.Undefined();
}

// cacheIndexKey(handle, key: Buffer) → whether the worker threads can now hash the names they are asked for.
Napi::Value CacheIndexKey(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Session *s = SessionArg(info);
  if (s == nullptr) return env.Undefined();
  const uint8_t *key = KeyArg(env, info[1], "cacheIndexKey");
  if (key == nullptr) return env.Undefined();
  return Napi::Boolean::New(env, s->entries().SetIndexKey(key, EntryCache::kKeyLen));
}

// cacheStats(handle) → { hits, misses, names, attrs, nameHits } of the worker-thread answers
Napi::Value CacheStats(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Session *s = SessionArg(info);
  if (s == nullptr) return env.Undefined();
  EntryCache::Stats st = s->entries().stats();
  return Counts(env, {{"hits", st.hits}, {"misses", st.misses}, {"names", st.names}, {"attrs", st.attrs}, {"nameHits", st.nameHits}});
}

// readPut(handle, ino, index, chunkSize, fileSize, chunk: Uint8Array) → the chunk's bytes answer reads of
// that range on the worker threads until dropped; the caller keeps `chunk` alive and unchanged until then.
Napi::Value ReadPut(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Session *s = SessionArg(info);
  if (s == nullptr) return env.Undefined();
  if (!info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsNumber() || !info[4].IsNumber() || !info[5].IsTypedArray()) {
    Napi::TypeError::New(env, "readPut(handle, ino, index, chunkSize, fileSize, Uint8Array)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto chunk = info[5].As<Napi::Uint8Array>();
  s->reads().Put(static_cast<uint64_t>(NumArg(info, 1)), static_cast<uint64_t>(NumArg(info, 2)),
                 static_cast<uint64_t>(NumArg(info, 3)), static_cast<uint64_t>(NumArg(info, 4)),
                 reinterpret_cast<const char *>(chunk.Data()), chunk.ByteLength());
  return env.Undefined();
}

// readDrop(handle, kind, ino, index): kind 0 = every chunk of the inode, 1 = that one chunk.
// Returns once no reply reads from what was dropped.
Napi::Value ReadDrop(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Session *s = SessionArg(info);
  if (s == nullptr) return env.Undefined();
  if (!info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsNumber()) {
    Napi::TypeError::New(env, "readDrop(handle, kind, ino, index)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uint64_t ino = static_cast<uint64_t>(NumArg(info, 2));
  if (info[1].As<Napi::Number>().Int32Value() == 0) s->reads().DropInode(ino);
  else s->reads().DropEntry(ino, static_cast<uint64_t>(NumArg(info, 3)));
  return env.Undefined();
}

// readHits(handle) → Float64Array of (ino, index, hits) for entries answered since the last call.
Napi::Value ReadHits(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Session *s = SessionArg(info);
  if (s == nullptr) return env.Undefined();
  std::vector<uint64_t> hits = s->reads().TakeHits();
  auto out = Napi::Float64Array::New(env, hits.size());
  for (size_t i = 0; i < hits.size(); i++) out[i] = static_cast<double>(hits[i]);
  return out;
}

// readStats(handle) → { hits, misses, entries } of the worker-thread read answers
Napi::Value ReadStats(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Session *s = SessionArg(info);
  if (s == nullptr) return env.Undefined();
  ReadCache::Stats st = s->reads().stats();
  return Counts(env, {{"hits", st.hits}, {"misses", st.misses}, {"entries", st.entries}});
}

}  // namespace

Napi::Object Init(Napi::Env env) {
  Napi::Object exports = Napi::Object::New(env);
  exports.Set("mount", Napi::Function::New(env, Mount));
  exports.Set("unmount", Napi::Function::New(env, Unmount));
  exports.Set("negotiated", Napi::Function::New(env, GetNegotiated));
  exports.Set("inFlight", Napi::Function::New(env, InFlight));
  exports.Set("replyBufAsync", Napi::Function::New(env, ReplyBufAsync));
  exports.Set("notifyInvalInode", Napi::Function::New(env, NotifyInvalInode));
  exports.Set("notifyInvalEntry", Napi::Function::New(env, NotifyInvalEntry));
  exports.Set("cachePut", Napi::Function::New(env, CachePut));
  exports.Set("cacheDrop", Napi::Function::New(env, CacheDrop));
  exports.Set("cacheIndexKey", Napi::Function::New(env, CacheIndexKey));
  exports.Set("cacheStats", Napi::Function::New(env, CacheStats));
  exports.Set("readPut", Napi::Function::New(env, ReadPut));
  exports.Set("readDrop", Napi::Function::New(env, ReadDrop));
  exports.Set("readHits", Napi::Function::New(env, ReadHits));
  exports.Set("readStats", Napi::Function::New(env, ReadStats));
  RegisterReplies(env, exports);
  return exports;
}

}  // namespace kiseki::fuse

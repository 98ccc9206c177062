// Memory for key material (tenant KEKs, index key): whole pages of their own, so that mlock keeps
// exactly the keys out of swap and MADV_DONTDUMP keeps them out of core dumps, and nothing else on
// those pages outlives a wipe.
#include "crypto/key-memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include "crypto/buffer-arg.h"
#include "crypto/primitives.h"

namespace kiseki::crypto {
namespace {

struct Region {
  void* base;
  size_t mapped;
  bool locked;
};

size_t RoundToPages(size_t len) {
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return ((len == 0 ? 1 : len) + page - 1) / page * page;
}

void Release(Napi::Env, uint8_t*, Region* r) {
  Cleanse(r->base, r->mapped);
  if (r->locked) munlock(r->base, r->mapped);
  munmap(r->base, r->mapped);
  delete r;
}

}  // namespace

Napi::Value AllocSecure(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || info[0].As<Napi::Number>().Int64Value() < 0 ||
      info[0].As<Napi::Number>().Int64Value() > (64 << 20)) {
    Napi::TypeError::New(env, "allocSecure(len): len must be 0..64 MiB").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  size_t len = static_cast<size_t>(info[0].As<Napi::Number>().Int64Value());
  size_t mapped = RoundToPages(len);
  void* base = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) {
    Napi::Error::New(env, "mmap of key memory failed").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  madvise(base, mapped, MADV_DONTDUMP);
  auto* region = new Region{base, mapped, mlock(base, mapped) == 0};
  auto buf = Napi::Buffer<uint8_t>::New(env, static_cast<uint8_t*>(base), len, Release, region);
  Napi::Object result = Napi::Object::New(env);
  result.Set("buffer", buf);
  result.Set("locked", Napi::Boolean::New(env, region->locked));
  return result;
}

Napi::Value Zero(const Napi::CallbackInfo& info) {
  BufferArg b;
  if (b.Bind(info, 0, "buffer", -1)) Cleanse(b.data(), b.size());
  return info.Env().Undefined();
}

}  // namespace kiseki::crypto

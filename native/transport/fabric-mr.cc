// Memory registration on an Endpoint. Registrations hold a reference to the JS buffer so its memory
// cannot be collected (or reused for other bytes) while the provider may still read or write it.
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>

#include "transport/dl.h"
#include "transport/fabric-endpoint.h"

namespace kiseki::transport {

// register(buf: Buffer, access: number): { id, key: bigint, addr: bigint }
// addr is what a peer passes to fi_read: the virtual address under FI_MR_VIRT_ADDR, else 0 (offset).
Napi::Value Endpoint::Register(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (closed_) {
    Napi::Error::New(env, "fabric endpoint is closed").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (info.Length() < 2 || !info[0].IsBuffer() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "register(buf: Buffer, access: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto buf = info[0].As<Napi::Buffer<uint8_t>>();
  uint64_t access = static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());
  fid_mr *mr = nullptr;
  int rc = fi_mr_reg(domain_, buf.Data(), buf.Length(), access, 0, nextKey_++, 0, &mr, nullptr);
  if (rc == 0 && (mrMode_ & FI_MR_ENDPOINT) != 0) {
    rc = fi_mr_bind(mr, &ep_->fid, 0);
    if (rc == 0) rc = fi_mr_enable(mr);
  }
  if (rc != 0) {
    if (mr != nullptr) fi_close(&mr->fid);
    Napi::Error e = Napi::Error::New(env, "fi_mr_reg: " + dl::fiError(rc));
    e.Set("fiErrno", Napi::Number::New(env, -rc));
    e.ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uint32_t id = nextMrId_++;
  bool remote = (access & (FI_REMOTE_READ | FI_REMOTE_WRITE)) != 0;
  mrs_.emplace(id, Mr{mr, remote, Napi::Reference<Napi::Value>::New(info[0], 1)});
  if (remote && remoteWindows_++ == 0) paceTimer();
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", id);
  o.Set("key", Napi::BigInt::New(env, static_cast<uint64_t>(fi_mr_key(mr))));
  uint64_t addr = (mrMode_ & FI_MR_VIRT_ADDR) != 0 ? reinterpret_cast<uintptr_t>(buf.Data()) : 0;
  o.Set("addr", Napi::BigInt::New(env, addr));
  return o;
}

Napi::Value Endpoint::Deregister(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return env.Undefined();
  auto it = mrs_.find(info[0].As<Napi::Number>().Uint32Value());
  if (it != mrs_.end()) {
    fi_close(&it->second.mr->fid);
    bool remote = it->second.remote;
    mrs_.erase(it);
    if (remote && --remoteWindows_ == 0) paceTimer();
  }
  return env.Undefined();
}

}  // namespace kiseki::transport

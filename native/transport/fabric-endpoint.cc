#include "transport/fabric-endpoint.h"

#include <rdma/fi_cm.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_rma.h>

#include <string>

#include "transport/dl.h"
#include "transport/fabric-hints.h"

namespace kiseki::transport {

Napi::Function Endpoint::Define(Napi::Env env) {
  return DefineClass(env, "FabricEndpoint",
                     {
                         InstanceMethod<&Endpoint::Name>("name"),
                         InstanceMethod<&Endpoint::Info>("info"),
                         InstanceMethod<&Endpoint::InsertPeer>("insertPeer"),
                         InstanceMethod<&Endpoint::RemovePeer>("removePeer"),
                         InstanceMethod<&Endpoint::Register>("register"),
                         InstanceMethod<&Endpoint::Deregister>("deregister"),
                         InstanceMethod<&Endpoint::Recv>("recv"),
                         InstanceMethod<&Endpoint::Send>("send"),
                         InstanceMethod<&Endpoint::Read>("read"),
                         InstanceMethod<&Endpoint::SetKeepAlive>("setKeepAlive"),
                         InstanceMethod<&Endpoint::Close>("close"),
                     });
}

namespace {
bool fail(Napi::Env env, const std::string &what, int rc) {
  Napi::Error e = Napi::Error::New(env, what + ": " + dl::fiError(rc) + " (" + std::to_string(rc) + ")");
  e.Set("fiErrno", Napi::Number::New(env, -rc));
  e.ThrowAsJavaScriptException();
  return false;
}
std::string optString(const Napi::Object &o, const char *key) {
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
}
}  // namespace

// new FabricEndpoint({ provider, node?, service?, rma, cqSize?, onEvents(events: number[]) })
Endpoint::Endpoint(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Endpoint>(info) {
  Napi::Env env = info.Env();
  env_ = env;
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, "FabricEndpoint(options)").ThrowAsJavaScriptException();
    return;
  }
  Napi::Object opts = info[0].As<Napi::Object>();
  if (!opts.Get("onEvents").IsFunction()) {
    Napi::TypeError::New(env, "options.onEvents must be a function").ThrowAsJavaScriptException();
    return;
  }
  onEvents_ = Napi::Persistent(opts.Get("onEvents").As<Napi::Function>());
  if (!open(env, opts)) {
    closeAll();
    return;
  }
  closed_ = false;
  startProgress(env);
}

Endpoint::~Endpoint() { closeAll(); }

bool Endpoint::open(Napi::Env env, const Napi::Object &opts) {
  const dl::Fabric &f = dl::fabric();
  if (!f.loaded) {
    Napi::Error::New(env, "libfabric is not available: " + f.error).ThrowAsJavaScriptException();
    return false;
  }
  std::string provider = optString(opts, "provider");
  std::string node = optString(opts, "node");
  std::string service = optString(opts, "service");
  bool rma = opts.Get("rma").ToBoolean();
  int cqSize = opts.Get("cqSize").IsNumber() ? opts.Get("cqSize").As<Napi::Number>().Int32Value() : 1024;
  fi_info *hints = makeHints(provider.c_str(), rma);
  int rc = f.getinfo(dl::kApiVersion, node.empty() ? nullptr : node.c_str(),
                     service.empty() ? nullptr : service.c_str(), node.empty() ? 0 : FI_SOURCE, hints, &info_);
  f.freeinfo(hints);
  if (rc != 0) return fail(env, "fi_getinfo(" + provider + ")", rc);
  mrMode_ = info_->domain_attr->mr_mode;
  if ((rc = f.fabric(info_->fabric_attr, &fabric_, nullptr)) != 0) return fail(env, "fi_fabric", rc);
  if ((rc = fi_domain(fabric_, info_, &domain_, nullptr)) != 0) return fail(env, "fi_domain", rc);
  fi_cq_attr cqa{};
  cqa.format = FI_CQ_FORMAT_MSG;
  cqa.size = cqSize;
  cqa.wait_obj = FI_WAIT_FD;
  if ((rc = fi_cq_open(domain_, &cqa, &cq_, nullptr)) != 0) return fail(env, "fi_cq_open", rc);
  if ((rc = fi_control(&cq_->fid, FI_GETWAIT, &waitFd_)) != 0) return fail(env, "fi_control(FI_GETWAIT)", rc);
  fi_av_attr ava{};
  ava.type = FI_AV_TABLE;
  if ((rc = fi_av_open(domain_, &ava, &av_, nullptr)) != 0) return fail(env, "fi_av_open", rc);
  if ((rc = fi_endpoint(domain_, info_, &ep_, nullptr)) != 0) return fail(env, "fi_endpoint", rc);
  if ((rc = fi_ep_bind(ep_, &cq_->fid, FI_TRANSMIT | FI_RECV)) != 0) return fail(env, "fi_ep_bind(cq)", rc);
  if ((rc = fi_ep_bind(ep_, &av_->fid, 0)) != 0) return fail(env, "fi_ep_bind(av)", rc);
  if ((rc = fi_enable(ep_)) != 0) return fail(env, "fi_enable", rc);
  return true;
}

void Endpoint::closeAll() {
  stopProgress();
  // Closing the endpoint first guarantees no completion will name an Op or MR freed below.
  if (ep_ != nullptr) fi_close(&ep_->fid), ep_ = nullptr;
  for (auto &kv : mrs_) fi_close(&kv.second.mr->fid);
  mrs_.clear();
  for (Op *op : ops_) delete op;
  ops_.clear();
  activeOps_ = 0;
  remoteWindows_ = 0;
  if (av_ != nullptr) fi_close(&av_->fid), av_ = nullptr;
  if (cq_ != nullptr) fi_close(&cq_->fid), cq_ = nullptr;
  if (domain_ != nullptr) fi_close(&domain_->fid), domain_ = nullptr;
  if (fabric_ != nullptr) fi_close(&fabric_->fid), fabric_ = nullptr;
  if (info_ != nullptr) dl::fabric().freeinfo(info_), info_ = nullptr;
  closed_ = true;
}

Napi::Value Endpoint::Close(const Napi::CallbackInfo &info) {
  closeAll();
  pending_.clear();
  return info.Env().Undefined();
}

Napi::Value Endpoint::SetKeepAlive(const Napi::CallbackInfo &info) {
  keepAlive_ = info.Length() > 0 && info[0].ToBoolean();
  if (handles_ != nullptr) {
    if (keepAlive_ || activeOps_ > 0) uv_ref(reinterpret_cast<uv_handle_t *>(&handles_->poll));
    else uv_unref(reinterpret_cast<uv_handle_t *>(&handles_->poll));
  }
  return info.Env().Undefined();
}

#define REQUIRE_OPEN(env)                                                          \
  if (closed_) {                                                                   \
    Napi::Error::New(env, "fabric endpoint is closed").ThrowAsJavaScriptException(); \
    return env.Undefined();                                                        \
  }

Napi::Value Endpoint::Name(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_OPEN(env);
  char name[256];
  size_t len = sizeof name;
  int rc = fi_getname(&ep_->fid, name, &len);
  if (rc != 0) {
    fail(env, "fi_getname", rc);
    return env.Undefined();
  }
  return Napi::Buffer<char>::Copy(env, name, len);
}

Napi::Value Endpoint::Info(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_OPEN(env);
  Napi::Object o = Napi::Object::New(env);
  o.Set("provider", info_->fabric_attr->prov_name);
  o.Set("fabric", info_->fabric_attr->name != nullptr ? info_->fabric_attr->name : "");
  o.Set("domain", info_->domain_attr->name != nullptr ? info_->domain_attr->name : "");
  o.Set("rma", (info_->caps & FI_RMA) != 0);
  o.Set("mrLocal", (mrMode_ & FI_MR_LOCAL) != 0);
  o.Set("mrVirtAddr", (mrMode_ & FI_MR_VIRT_ADDR) != 0);
  o.Set("mrEndpoint", (mrMode_ & FI_MR_ENDPOINT) != 0);
  o.Set("mrProvKey", (mrMode_ & FI_MR_PROV_KEY) != 0);
  o.Set("manualProgress", info_->domain_attr->data_progress == FI_PROGRESS_MANUAL);
  o.Set("maxMsgSize", static_cast<double>(info_->ep_attr->max_msg_size));
  o.Set("injectSize", static_cast<double>(info_->tx_attr->inject_size));
  return o;
}

// insertPeer(address: Buffer): number (fi_addr_t of an FI_AV_TABLE: a small index)
Napi::Value Endpoint::InsertPeer(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_OPEN(env);
  if (info.Length() < 1 || !info[0].IsBuffer()) {
    Napi::TypeError::New(env, "insertPeer(address: Buffer)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto addr = info[0].As<Napi::Buffer<uint8_t>>();
  fi_addr_t out = FI_ADDR_NOTAVAIL;
  int n = fi_av_insert(av_, addr.Data(), 1, &out, 0, nullptr);
  if (n != 1) {
    fail(env, "fi_av_insert", n < 0 ? n : -FI_EINVAL);
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(out));
}

Napi::Value Endpoint::RemovePeer(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_OPEN(env);
  fi_addr_t a = static_cast<fi_addr_t>(info[0].As<Napi::Number>().Int64Value());
  int rc = fi_av_remove(av_, &a, 1, 0);
  return Napi::Number::New(env, rc);
}

void *Endpoint::descOf(const Napi::Value &mrId) {
  if (!mrId.IsNumber()) return nullptr;
  auto it = mrs_.find(mrId.As<Napi::Number>().Uint32Value());
  return it == mrs_.end() ? nullptr : fi_mr_desc(it->second.mr);
}

Endpoint::Op *Endpoint::newOp(const Napi::CallbackInfo &info, size_t bufArg, size_t idArg, bool active) {
  Op *op = new Op{};
  op->id = info[idArg].As<Napi::Number>().Uint32Value();
  op->active = active;
  op->buffer = Napi::Reference<Napi::Value>::New(info[bufArg], 1);
  return op;
}

// 0 when posted; -FI_EAGAIN (JS retries after the next completion); throws on any other error.
Napi::Value Endpoint::finishPost(Napi::Env env, Op *op, ssize_t rc) {
  if (rc != 0) {
    delete op;
    if (rc != -FI_EAGAIN) {
      fail(env, "post", static_cast<int>(rc));
      return env.Undefined();
    }
  } else {
    ops_.insert(op);
    if (op->active && activeOps_++ == 0 && handles_ != nullptr) {
      uv_ref(reinterpret_cast<uv_handle_t *>(&handles_->poll));
      paceTimer();
    }
  }
  if (!pending_.empty() && handles_ != nullptr) uv_async_send(&handles_->async);
  return Napi::Number::New(env, static_cast<double>(rc));
}

static bool checkArgs(const Napi::CallbackInfo &info, size_t n, size_t bufArg) {
  if (info.Length() < n || !info[bufArg].IsBuffer()) {
    Napi::TypeError::New(info.Env(), "bad arguments").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

// recv(buf: Buffer, mrId: number | null, opId: number)
Napi::Value Endpoint::Recv(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_OPEN(env);
  if (!checkArgs(info, 3, 0)) return env.Undefined();
  auto buf = info[0].As<Napi::Buffer<uint8_t>>();
  void *desc = descOf(info[1]);
  Op *op = newOp(info, 0, 2, false);
  ssize_t rc = postWithProgress([&] { return fi_recv(ep_, buf.Data(), buf.Length(), desc, FI_ADDR_UNSPEC, &op->ctx); });
  return finishPost(env, op, rc);
}

// send(peer: number, buf: Buffer, mrId: number | null, opId: number)
Napi::Value Endpoint::Send(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_OPEN(env);
  if (!checkArgs(info, 4, 1)) return env.Undefined();
  fi_addr_t peer = static_cast<fi_addr_t>(info[0].As<Napi::Number>().Int64Value());
  auto buf = info[1].As<Napi::Buffer<uint8_t>>();
  void *desc = descOf(info[2]);
  Op *op = newOp(info, 1, 3, true);
  ssize_t rc = postWithProgress([&] { return fi_send(ep_, buf.Data(), buf.Length(), desc, peer, &op->ctx); });
  return finishPost(env, op, rc);
}

// read(peer: number, buf: Buffer, mrId: number | null, remoteAddr: bigint, key: bigint, opId: number)
// One-sided: fills buf from the peer's registered window; the peer's CPU is not involved beyond
// provider progress.
Napi::Value Endpoint::Read(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  REQUIRE_OPEN(env);
  if (!checkArgs(info, 6, 1) || !info[3].IsBigInt() || !info[4].IsBigInt()) {
    if (!env.IsExceptionPending()) Napi::TypeError::New(env, "read: addr and key are bigints").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  fi_addr_t peer = static_cast<fi_addr_t>(info[0].As<Napi::Number>().Int64Value());
  auto buf = info[1].As<Napi::Buffer<uint8_t>>();
  void *desc = descOf(info[2]);
  bool lossless;
  uint64_t raddr = info[3].As<Napi::BigInt>().Uint64Value(&lossless);
  uint64_t key = info[4].As<Napi::BigInt>().Uint64Value(&lossless);
  Op *op = newOp(info, 1, 5, true);
  ssize_t rc = postWithProgress([&] { return fi_read(ep_, buf.Data(), buf.Length(), desc, peer, raddr, key, &op->ctx); });
  return finishPost(env, op, rc);
}

}  // namespace kiseki::transport

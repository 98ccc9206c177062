// One libfabric FI_EP_RDM endpoint owned by JS (src/transport/fabric-binding.ts): fabric, domain,
// address vector, completion queue and endpoint, plus the memory registrations made on it.
// Everything runs on the JS thread (FI_THREAD_DOMAIN). Completions reach JS in batches through the
// onEvents callback, driven by libuv (fabric-cq.cc): a uv_poll_t on the CQ's FI_WAIT_FD, fi_trywait
// before sleeping, and a short timer because a wake-up may be lost in the trywait race and because
// tcp;ofi_rxm / cxi need manual progress at the RMA target (research/fabric.md §3, §7a).
#pragma once
#include <napi.h>
#include <rdma/fabric.h>
#include <rdma/fi_domain.h>
#include <uv.h>

#include <cstdint>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace kiseki::transport {

class Endpoint : public Napi::ObjectWrap<Endpoint> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Endpoint(const Napi::CallbackInfo &info);
  ~Endpoint() override;

  // One posted operation; the fi_context2 must stay first (the provider hands it back as op_context).
  struct Op {
    fi_context2 ctx;
    uint32_t id;
    bool active;  // send/read/write (keeps the loop alive); recvs do not
    Napi::Reference<Napi::Value> buffer;  // keeps the JS memory alive until the completion
  };
  struct Event {
    uint32_t id;
    int status;  // 0 or a negative FI_E* code
    size_t len;
  };
  // libuv handles outlive the Endpoint when it is garbage-collected mid-close.
  struct Handles {
    uv_poll_t poll;
    uv_timer_t timer;
    uv_async_t async;
    Endpoint *owner;
    int open;
  };

 private:
  // fabric-endpoint.cc: set-up, addressing, posting
  Napi::Value Name(const Napi::CallbackInfo &info);
  Napi::Value Info(const Napi::CallbackInfo &info);
  Napi::Value InsertPeer(const Napi::CallbackInfo &info);
  Napi::Value RemovePeer(const Napi::CallbackInfo &info);
  Napi::Value Recv(const Napi::CallbackInfo &info);
  Napi::Value Send(const Napi::CallbackInfo &info);
  Napi::Value Read(const Napi::CallbackInfo &info);
  Napi::Value Close(const Napi::CallbackInfo &info);
  Napi::Value SetKeepAlive(const Napi::CallbackInfo &info);
  bool open(Napi::Env env, const Napi::Object &opts);
  void closeAll();
  Op *newOp(const Napi::CallbackInfo &info, size_t bufArg, size_t idArg, bool active);
  Napi::Value finishPost(Napi::Env env, Op *op, ssize_t rc);
  void *descOf(const Napi::Value &mrId);

  // fabric-mr.cc: memory registration
  Napi::Value Register(const Napi::CallbackInfo &info);
  Napi::Value Deregister(const Napi::CallbackInfo &info);

  // fabric-cq.cc: progress
  void startProgress(Napi::Env env);
  void stopProgress();
  void drain();
  void deliver();
  void retire(Op *op);
  template <class F>
  ssize_t postWithProgress(F &&post);
  void paceTimer();
  static void onPoll(uv_poll_t *h, int status, int events);
  static void onTimer(uv_timer_t *h);
  static void onAsync(uv_async_t *h);

  napi_env env_ = nullptr;
  bool closed_ = true;
  bool keepAlive_ = false;
  bool delivering_ = false;
  fi_info *info_ = nullptr;
  fid_fabric *fabric_ = nullptr;
  fid_domain *domain_ = nullptr;
  fid_av *av_ = nullptr;
  fid_cq *cq_ = nullptr;
  fid_ep *ep_ = nullptr;
  int waitFd_ = -1;
  uint64_t mrMode_ = 0;
  uint64_t nextKey_ = 1;
  uint32_t nextMrId_ = 1;
  size_t activeOps_ = 0;
  size_t remoteWindows_ = 0;  // registrations a peer may read/write: this side must keep progressing
  uint64_t timerPeriod_ = 0;
  struct Mr {
    fid_mr *mr;
    bool remote;
    Napi::Reference<Napi::Value> buffer;
  };
  std::unordered_map<uint32_t, Mr> mrs_;
  std::unordered_set<Op *> ops_;
  std::vector<Event> pending_;
  Handles *handles_ = nullptr;
  Napi::FunctionReference onEvents_;
};

template <class F>
ssize_t Endpoint::postWithProgress(F &&post) {
  // RDM endpoints connect lazily: the first post and full queues answer -FI_EAGAIN. Drive progress
  // and retry a bounded number of times; JS re-posts later if it still does not fit.
  for (int i = 0; i < 256; i++) {
    ssize_t rc = post();
    if (rc != -FI_EAGAIN) return rc;
    drain();
  }
  return -FI_EAGAIN;
}

}  // namespace kiseki::transport

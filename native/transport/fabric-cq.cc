// Progress for an Endpoint, integrated with libuv (no busy polling): the CQ is opened with
// FI_WAIT_FD; a uv_poll_t wakes us when the fd is readable; after draining we call fi_trywait and only
// sleep if it says nothing is pending. A timer covers lost wake-ups and the manual data progress of
// tcp;ofi_rxm/cxi at an RMA target (research/fabric.md §3: "the side being read must keep reading its
// CQ"): every 5 ms while operations are in flight or a peer may read our windows, every 100 ms when
// idle. Completions are handed to JS in one batch per wake-up.
#include <rdma/fi_domain.h>
#include <rdma/fi_eq.h>
#include <rdma/fi_errno.h>

#include <cstdlib>

#include "transport/fabric-endpoint.h"

namespace kiseki::transport {

namespace {
uint64_t busyTimerMs() {
  const char *v = getenv("KISEKI_FABRIC_PROGRESS_MS");
  return v != nullptr && atoi(v) > 0 ? static_cast<uint64_t>(atoi(v)) : 5;
}
constexpr uint64_t kIdleTimerMs = 100;
void closed(uv_handle_t *h) {
  auto *hs = static_cast<Endpoint::Handles *>(h->data);
  if (--hs->open == 0) delete hs;
}
}  // namespace

void Endpoint::startProgress(Napi::Env env) {
  uv_loop_t *loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  handles_ = new Handles{};
  handles_->owner = this;
  handles_->poll.data = handles_->timer.data = handles_->async.data = handles_;
  uv_poll_init(loop, &handles_->poll, waitFd_);
  uv_timer_init(loop, &handles_->timer);
  uv_async_init(loop, &handles_->async, &Endpoint::onAsync);
  handles_->open = 3;
  uv_poll_start(&handles_->poll, UV_READABLE, &Endpoint::onPoll);
  paceTimer();
  // Only in-flight sends/reads (or setKeepAlive) keep the process alive.
  uv_unref(reinterpret_cast<uv_handle_t *>(&handles_->poll));
  uv_unref(reinterpret_cast<uv_handle_t *>(&handles_->timer));
  uv_unref(reinterpret_cast<uv_handle_t *>(&handles_->async));
}

void Endpoint::paceTimer() {
  if (handles_ == nullptr) return;
  uint64_t period = (activeOps_ > 0 || remoteWindows_ > 0) ? busyTimerMs() : kIdleTimerMs;
  if (period == timerPeriod_) return;
  timerPeriod_ = period;
  uv_timer_start(&handles_->timer, &Endpoint::onTimer, period, period);
}

void Endpoint::stopProgress() {
  if (handles_ == nullptr) return;
  handles_->owner = nullptr;
  uv_poll_stop(&handles_->poll);
  uv_timer_stop(&handles_->timer);
  uv_close(reinterpret_cast<uv_handle_t *>(&handles_->poll), closed);
  uv_close(reinterpret_cast<uv_handle_t *>(&handles_->timer), closed);
  uv_close(reinterpret_cast<uv_handle_t *>(&handles_->async), closed);
  handles_ = nullptr;
}

// Reads every available completion into pending_ (no JS is called here: posts use it too).
void Endpoint::drain() {
  if (cq_ == nullptr) return;
  fi_cq_msg_entry e[64];
  for (;;) {
    ssize_t n = fi_cq_read(cq_, e, 64);
    if (n > 0) {
      for (ssize_t i = 0; i < n; i++) {
        Op *op = static_cast<Op *>(e[i].op_context);
        if (op == nullptr) continue;
        pending_.push_back({op->id, 0, e[i].len});
        retire(op);
      }
      continue;
    }
    if (n == -FI_EAVAIL) {
      fi_cq_err_entry err{};
      if (fi_cq_readerr(cq_, &err, 0) > 0 && err.op_context != nullptr) {
        Op *op = static_cast<Op *>(err.op_context);
        pending_.push_back({op->id, -(err.err != 0 ? err.err : FI_EIO), 0});
        retire(op);
      }
      continue;
    }
    return;  // -FI_EAGAIN: empty; anything else is reported by the next operation
  }
}

void Endpoint::retire(Op *op) {
  if (ops_.erase(op) == 0) return;
  if (op->active && --activeOps_ == 0) {
    if (!keepAlive_ && handles_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t *>(&handles_->poll));
    paceTimer();
  }
  delete op;  // drops the buffer reference (we are on the JS thread)
}

// Hands pending_ to onEvents([id, status, len, id, status, len, ...]). JS may post or close from
// inside the callback; completions read meanwhile are delivered by the next loop turn.
void Endpoint::deliver() {
  if (delivering_ || pending_.empty() || closed_) return;
  delivering_ = true;
  Napi::Env env(env_);
  Napi::HandleScope scope(env);
  std::vector<Event> batch;
  batch.swap(pending_);
  Napi::Array arr = Napi::Array::New(env, batch.size() * 3);
  uint32_t k = 0;
  for (const Event &ev : batch) {
    arr.Set(k++, Napi::Number::New(env, ev.id));
    arr.Set(k++, Napi::Number::New(env, ev.status));
    arr.Set(k++, Napi::Number::New(env, static_cast<double>(ev.len)));
  }
  // MakeCallback runs the microtask queue afterwards, so promise continuations run right away.
  onEvents_.MakeCallback(Value(), {arr});
  delivering_ = false;
  if (!pending_.empty() && handles_ != nullptr) uv_async_send(&handles_->async);
}

static void progressOf(Endpoint::Handles *hs, void (*step)(Endpoint *)) {
  if (hs->owner != nullptr) step(hs->owner);
}

void Endpoint::onPoll(uv_poll_t *h, int status, int events) {
  progressOf(static_cast<Handles *>(h->data), [](Endpoint *ep) {
    // Drain, deliver, and only go back to sleep once fi_trywait agrees nothing is pending.
    for (int i = 0; i < 16 && !ep->closed_; i++) {
      ep->drain();
      ep->deliver();
      if (ep->closed_) return;
      fid *f = &ep->cq_->fid;
      if (fi_trywait(ep->fabric_, &f, 1) == FI_SUCCESS) return;
    }
  });
}

void Endpoint::onTimer(uv_timer_t *h) {
  progressOf(static_cast<Handles *>(h->data), [](Endpoint *ep) {
    ep->drain();
    ep->deliver();
  });
}

void Endpoint::onAsync(uv_async_t *h) {
  progressOf(static_cast<Handles *>(h->data), [](Endpoint *ep) {
    ep->drain();
    ep->deliver();
  });
}

}  // namespace kiseki::transport

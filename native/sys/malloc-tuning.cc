// glibc malloc settings for the two daemons. Both churn through buffers of 128 KiB to 4 MiB (FUSE
// write payloads malloc'd on a worker thread and freed by the GC on the JS thread, chunk bodies,
// bulk-stream frames). With glibc's defaults each such buffer is an mmap of its own until the dynamic
// threshold catches up, and freed heap is trimmed back to the kernel, so the next buffer is new memory:
// a page fault per 4 KiB, and on a VM whose freed memory goes back to the host, a host fault too.
#include "sys/malloc-tuning.h"

#include <malloc.h>

namespace kiseki::sys {
namespace {

// keepFreedMemory(mmapThreshold, trimThreshold) → whether glibc took both settings.
Napi::Value KeepFreedMemory(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "keepFreedMemory(mmapThreshold, trimThreshold)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int mmapThreshold = info[0].As<Napi::Number>().Int32Value();
  int trimThreshold = info[1].As<Napi::Number>().Int32Value();
  bool ok = mallopt(M_MMAP_THRESHOLD, mmapThreshold) == 1 && mallopt(M_TRIM_THRESHOLD, trimThreshold) == 1;
  return Napi::Boolean::New(env, ok);
}

}  // namespace

void InitMallocTuning(Napi::Env env, Napi::Object exports) {
  exports.Set("keepFreedMemory", Napi::Function::New(env, KeepFreedMemory, "keepFreedMemory"));
}

}  // namespace kiseki::sys

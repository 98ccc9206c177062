#include "sys/sys.h"

#include "sys/flock.h"
#include "sys/malloc-tuning.h"
#include "sys/read-checked.h"
#include "sys/write-entry.h"

namespace kiseki::sys {
Napi::Object Init(Napi::Env env) {
  Napi::Object exports = Napi::Object::New(env);
  InitFlock(env, exports);
  InitMallocTuning(env, exports);
  InitReadChecked(env, exports);
  InitWriteEntry(env, exports);
  return exports;
}
}

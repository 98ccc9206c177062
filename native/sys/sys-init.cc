#include "sys/sys.h"

#include "sys/flock.h"
#include "sys/read-checked.h"

namespace kiseki::sys {
Napi::Object Init(Napi::Env env) {
  Napi::Object exports = Napi::Object::New(env);
  InitFlock(env, exports);
  InitReadChecked(env, exports);
  return exports;
}
}

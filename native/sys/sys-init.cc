#include "sys/sys.h"

#include "sys/flock.h"

namespace kiseki::sys {
Napi::Object Init(Napi::Env env) {
  Napi::Object exports = Napi::Object::New(env);
  InitFlock(env, exports);
  return exports;
}
}

#include "sys/sys.h"

namespace kiseki::sys {
Napi::Object Init(Napi::Env env) { return Napi::Object::New(env); }
}

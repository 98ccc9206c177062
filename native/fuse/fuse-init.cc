#include "fuse/fuse.h"

namespace kiseki::fuse {
Napi::Object Init(Napi::Env env) { return Napi::Object::New(env); }
}

#include "transport/transport.h"

namespace kiseki::transport {
Napi::Object Init(Napi::Env env) { return Napi::Object::New(env); }
}

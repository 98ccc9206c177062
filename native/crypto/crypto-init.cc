#include "crypto/crypto.h"

namespace kiseki::crypto {
Napi::Object Init(Napi::Env env) { return Napi::Object::New(env); }
}

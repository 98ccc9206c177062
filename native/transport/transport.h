#pragma once
#include <napi.h>

namespace kiseki::transport {
// Returns the object exported as require('kiseki_native').transport.
Napi::Object Init(Napi::Env env);
}

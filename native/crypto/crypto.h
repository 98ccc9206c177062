#pragma once
#include <napi.h>

namespace kiseki::crypto {
// Returns the object exported as require('kiseki_native').crypto.
Napi::Object Init(Napi::Env env);
}

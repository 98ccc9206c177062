#pragma once
#include <napi.h>

namespace kiseki::sys {
// Returns the object exported as require('kiseki_native').sys.
Napi::Object Init(Napi::Env env);
}

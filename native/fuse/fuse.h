#pragma once
#include <napi.h>

namespace kiseki::fuse {
// Returns the object exported as require('kiseki_native').fuse.
Napi::Object Init(Napi::Env env);
}

#pragma once
#include <napi.h>

namespace kiseki::crypto {
// openNames: a page of sealed dirent names opened and checked against their name keys in one job.
Napi::Value OpenNames(const Napi::CallbackInfo& info);
}

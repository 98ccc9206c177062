#pragma once
#include <napi.h>

namespace kiseki::sys {
// Adds readChecked to the sys namespace (L2 cache hits).
void InitReadChecked(Napi::Env env, Napi::Object exports);
}

#pragma once
#include <napi.h>

namespace kiseki::sys {
// Adds writeEntry to the sys namespace (L2 cache inserts).
void InitWriteEntry(Napi::Env env, Napi::Object exports);
}

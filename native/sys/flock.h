#pragma once
#include <napi.h>

namespace kiseki::sys {
// Adds tryLockExclusive, lockExclusive, unlock to the sys namespace (pool.lock of cache pools).
void InitFlock(Napi::Env env, Napi::Object exports);
}

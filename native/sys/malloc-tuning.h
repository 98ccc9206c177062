#pragma once
#include <napi.h>

namespace kiseki::sys {
// Adds keepFreedMemory to the sys namespace (the daemons' glibc malloc settings, src/util/daemon-memory.ts).
void InitMallocTuning(Napi::Env env, Napi::Object exports);
}

#pragma once
// The JS Error every sys call rejects or throws with for a failed system call: "<what>: <strerror>",
// .errno, and .code the errno's name ('ENOENT', …; 'EIO' for one without a name), as node's fs does.
#include <napi.h>

#include <string>

namespace kiseki::sys {
Napi::Error ErrnoError(Napi::Env env, int err, const std::string& what);
}

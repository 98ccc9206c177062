#include "sys/errno-error.h"

#include <cstring>

namespace kiseki::sys {
Napi::Error ErrnoError(Napi::Env env, int err, const std::string& what) {
  Napi::Error e = Napi::Error::New(env, what + ": " + std::strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  const char* name = strerrorname_np(err);
  e.Set("code", Napi::String::New(env, name != nullptr ? name : "EIO"));
  return e;
}
}  // namespace kiseki::sys

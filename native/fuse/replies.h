#pragma once
#include <napi.h>

namespace kiseki::fuse {
// Adds replyErr, replyEntry, replyCreate, replyAttr, replyOpen, replyBuf, replyWrite, replyStatfs, replyXattr,
// replyReadlink and replyDir to `exports`.
void RegisterReplies(Napi::Env env, Napi::Object exports);
}

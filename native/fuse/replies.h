#pragma once
#include <fuse_lowlevel.h>
#include <napi.h>
#include <sys/stat.h>

namespace kiseki::fuse {
// Adds replyErr, replyEntry, replyCreate, replyAttr, replyOpen, replyBuf, replyWrite, replyStatfs, replyXattr,
// replyReadlink and replyDir to `exports`.
void RegisterReplies(Napi::Env env, Napi::Object exports);
// A packed attribute / entry (attr-layout.h) as libfuse takes it.
void FillStat(const double *a, struct stat *st);
void FillEntry(const double *a, struct fuse_entry_param *e);
}

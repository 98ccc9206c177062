// An L2 cache hit in one libuv thread-pool job: open the entry, read it whole into the caller's buffer,
// close it, and compute the CRC-32 of all but its 4-byte trailer (I-CC13). Through fs/promises that is
// three thread-pool hops (open, read, close) plus the CRC on the JS thread.
//
//   readChecked(path, buf) -> Promise<{ bytes, crc }>  bytes read (≤ buf.length; fewer = the file is
//                                                      short), crc of buf[0, bytes - 4) (0 below 4 bytes)
// The caller keeps `buf` untouched until the promise settles. Failures reject with an Error with .code
// (e.g. 'ENOENT', 'EIO') and .errno.
#include "sys/read-checked.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "crypto/primitives.h"
#include "sys/path-job.h"

namespace kiseki::sys {
namespace {

class ReadCheckedWorker : public PathJob {
 public:
  ReadCheckedWorker(Napi::Env env, std::string path, Napi::Buffer<uint8_t> buf) : PathJob(env, std::move(path), buf) {}

 protected:
  void Execute() override {
    int fd;
    do fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC); while (fd < 0 && errno == EINTR);
    if (fd < 0) return Fail("open");
    while (n_ < len_) {
      ssize_t r = ::pread(fd, data_ + n_, len_ - n_, static_cast<off_t>(n_));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        Fail("read");
        break;
      }
      if (r == 0) break;
      n_ += static_cast<size_t>(r);
    }
    ::close(fd);
    if (!Failed() && n_ >= 4) crc_ = kiseki::crypto::Crc32(0, data_, n_ - 4);
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object r = Napi::Object::New(env);
    r.Set("bytes", Napi::Number::New(env, static_cast<double>(n_)));
    r.Set("crc", Napi::Number::New(env, crc_));
    return r;
  }

 private:
  size_t n_ = 0;
  uint32_t crc_ = 0;
};

Napi::Value ReadChecked(const Napi::CallbackInfo& info) {
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsBuffer()) {
    Napi::TypeError::New(info.Env(), "readChecked(path: string, buf: Buffer)").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  return PathJob::Start(new ReadCheckedWorker(info.Env(), info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::Buffer<uint8_t>>()));
}

}  // namespace

void InitReadChecked(Napi::Env env, Napi::Object exports) {
  exports.Set("readChecked", Napi::Function::New(env, ReadChecked, "readChecked"));
}

}  // namespace kiseki::sys

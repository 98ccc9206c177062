// An L2 cache insert in one libuv thread-pool job: create the entry file (O_EXCL, 0600), write the
// plaintext and its CRC-32 trailer (I-CC13, computed here, off the JS thread), optionally fdatasync.
//
//   writeEntry(path, data, sync) -> Promise<void>   the file holds exactly data ‖ CRC32(data) LE
//
// Through the page cache on purpose (ADR 0047): entries written with O_DIRECT cost the cold read less
// here, but the page cache a later L2 hit then reads them from is built by readahead in small folios,
// and reading it back ran at 4.7 instead of 12.6 GiB/s: L2 hits with 128 KiB reads fell from ~0.8× to
// ~0.6× bindfs. Failures reject with an Error with .code and .errno; the caller removes the file.
#include "sys/write-entry.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "crypto/primitives.h"
#include "sys/path-job.h"

namespace kiseki::sys {
namespace {

bool WriteAll(int fd, const uint8_t* p, size_t n, size_t at) {
  size_t off = 0;
  while (off < n) {
    ssize_t w = ::pwrite(fd, p + off, n - off, static_cast<off_t>(at + off));
    if (w < 0 && errno == EINTR) continue;
    if (w == 0) errno = EIO;
    if (w <= 0) return false;
    off += static_cast<size_t>(w);
  }
  return true;
}

class WriteEntryWorker : public PathJob {
 public:
  WriteEntryWorker(Napi::Env env, std::string path, Napi::Buffer<uint8_t> data, bool sync)
      : PathJob(env, std::move(path), data), sync_(sync) {}

 protected:
  void Execute() override {
    uint8_t trailer[4];
    uint32_t crc = kiseki::crypto::Crc32(0, data_, len_);
    for (int i = 0; i < 4; i++) trailer[i] = static_cast<uint8_t>(crc >> (8 * i));
    int fd;
    do fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600); while (fd < 0 && errno == EINTR);
    if (fd < 0) return Fail("open");
    bool ok = WriteAll(fd, data_, len_, 0) && WriteAll(fd, trailer, 4, len_);
    if (ok && sync_) ok = ::fdatasync(fd) == 0;
    if (!ok) {
      Fail("write");
      ::close(fd);
      return;
    }
    if (::close(fd) != 0) Fail("close");
  }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

 private:
  const bool sync_;
};

Napi::Value WriteEntry(const Napi::CallbackInfo& info) {
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsBuffer() || !info[2].IsBoolean()) {
    Napi::TypeError::New(info.Env(), "writeEntry(path: string, data: Buffer, sync: boolean)").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  return PathJob::Start(new WriteEntryWorker(info.Env(), info[0].As<Napi::String>().Utf8Value(),
                                             info[1].As<Napi::Buffer<uint8_t>>(), info[2].As<Napi::Boolean>().Value()));
}

}  // namespace

void InitWriteEntry(Napi::Env env, Napi::Object exports) {
  exports.Set("writeEntry", Napi::Function::New(env, WriteEntry, "writeEntry"));
}

}  // namespace kiseki::sys

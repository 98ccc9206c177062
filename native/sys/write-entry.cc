// An L2 cache insert in one libuv thread-pool job: create the entry file (O_EXCL, 0600), write the
// plaintext and its CRC-32 trailer (I-CC13) with O_DIRECT, and optionally fdatasync it.
//
//   writeEntry(path, data, sync) -> Promise<void>   the file holds exactly data ‖ CRC32(data) LE
//
// Why O_DIRECT: the page cache would keep a second copy of every chunk that L1 already holds in
// memory, and on a VM whose freed memory goes back to its host every new page-cache page is a host
// fault: writing entries through the page cache was 40% of the mount's CPU on a cold read (ADR 0047).
// O_DIRECT needs block-aligned memory and lengths, so the job copies the entry into an aligned buffer
// of its thread (zero-padded to 4 KiB, wiped after the write: it held plaintext), writes whole blocks
// and truncates the file to its exact length. Filesystems without O_DIRECT (tmpfs) get an ordinary
// write. Failures reject with an Error with .code and .errno; the caller removes the file.
#include "sys/write-entry.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "crypto/primitives.h"
#include "sys/errno-error.h"

namespace kiseki::sys {
namespace {

constexpr size_t kAlign = 4096;

// One aligned buffer per thread-pool thread, grown to the largest entry written on it.
struct Bounce {
  uint8_t* data = nullptr;
  size_t cap = 0;
  ~Bounce() { free(data); }
  uint8_t* Reserve(size_t n) {
    if (n <= cap) return data;
    free(data);
    data = nullptr;
    cap = 0;
    void* p = nullptr;
    if (posix_memalign(&p, kAlign, n) != 0) return nullptr;
    data = static_cast<uint8_t*>(p);
    cap = n;
    return data;
  }
};

thread_local Bounce bounce;

bool WriteAll(int fd, const uint8_t* p, size_t n) {
  size_t off = 0;
  while (off < n) {
    ssize_t w = ::pwrite(fd, p + off, n - off, static_cast<off_t>(off));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    off += static_cast<size_t>(w);
  }
  return true;
}

class WriteEntryWorker : public Napi::AsyncWorker {
 public:
  WriteEntryWorker(Napi::Env env, std::string path, Napi::Buffer<uint8_t> data, bool sync)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), path_(std::move(path)),
        keep_(Napi::Persistent(data)), data_(data.Data()), len_(data.Length()), sync_(sync) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    uint8_t trailer[4];
    uint32_t crc = kiseki::crypto::Crc32(0, data_, len_);
    for (int i = 0; i < 4; i++) trailer[i] = static_cast<uint8_t>(crc >> (8 * i));
    const size_t total = len_ + 4;
    const int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
    int fd;
    do fd = ::open(path_.c_str(), flags | O_DIRECT, 0600); while (fd < 0 && errno == EINTR);
    const bool direct = fd >= 0;
    if (!direct && errno == EINVAL) {
      do fd = ::open(path_.c_str(), flags, 0600); while (fd < 0 && errno == EINTR);
    }
    if (fd < 0) return Fail("open");
    bool ok;
    if (direct) {
      const size_t padded = (total + kAlign - 1) / kAlign * kAlign;
      uint8_t* b = bounce.Reserve(padded);
      if (b == nullptr) {
        ::close(fd);
        errno = ENOMEM;
        return Fail("write");
      }
      memcpy(b, data_, len_);
      memcpy(b + len_, trailer, 4);
      memset(b + total, 0, padded - total);
      ok = WriteAll(fd, b, padded) && ::ftruncate(fd, static_cast<off_t>(total)) == 0;
      kiseki::crypto::Cleanse(b, total);
    } else {
      ok = WriteAll(fd, data_, len_);
      if (ok) {
        ssize_t w;
        do w = ::pwrite(fd, trailer, 4, static_cast<off_t>(len_)); while (w < 0 && errno == EINTR);
        ok = w == 4;
      }
    }
    if (ok && sync_) ok = ::fdatasync(fd) == 0;
    if (!ok) {
      int e = errno == 0 ? EIO : errno;
      ::close(fd);
      errno = e;
      return Fail("write");
    }
    if (::close(fd) != 0) return Fail("close");
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (err_ != 0) {
      deferred_.Reject(ErrnoError(env, err_, std::string(op_) + " " + path_).Value());
      return;
    }
    deferred_.Resolve(env.Undefined());
  }

 private:
  void Fail(const char* op) {
    err_ = errno == 0 ? EIO : errno;
    op_ = op;
  }

  Napi::Promise::Deferred deferred_;
  std::string path_;
  Napi::Reference<Napi::Buffer<uint8_t>> keep_;
  const uint8_t* data_;
  size_t len_;
  bool sync_;
  int err_ = 0;
  const char* op_ = "";
};

Napi::Value WriteEntry(const Napi::CallbackInfo& info) {
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsBuffer() || !info[2].IsBoolean()) {
    Napi::TypeError::New(info.Env(), "writeEntry(path: string, data: Buffer, sync: boolean)").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  auto* worker = new WriteEntryWorker(info.Env(), info[0].As<Napi::String>().Utf8Value(),
                                      info[1].As<Napi::Buffer<uint8_t>>(), info[2].As<Napi::Boolean>().Value());
  Napi::Promise p = worker->Promise();
  worker->Queue();
  return p;
}

}  // namespace

void InitWriteEntry(Napi::Env env, Napi::Object exports) {
  exports.Set("writeEntry", Napi::Function::New(env, WriteEntry, "writeEntry"));
}

}  // namespace kiseki::sys

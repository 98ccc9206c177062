// Run-time binding of libfabric and libibverbs (DESIGN D5): neither library is linked, so
// kiseki_native.node loads where they are absent and the probe reports why. Symbols are bound with
// dlvsym to the versions a binary linked against our 1.17 headers would record (research/fabric.md §4c);
// the rest of the fi_* API is static inline over the provider's ops tables.
#pragma once
#include <rdma/fabric.h>
#include <infiniband/verbs.h>

#include <string>

namespace kiseki::transport::dl {

struct Fabric {
  bool loaded = false;
  std::string path;   // what was passed to dlopen (KISEKI_FABRIC_LIB or libfabric.so.1)
  std::string error;  // dlerror() or the missing symbol
  double dlopenMs = 0;
  int (*getinfo)(uint32_t, const char *, const char *, uint64_t, const fi_info *, fi_info **) = nullptr;
  void (*freeinfo)(fi_info *) = nullptr;
  fi_info *(*dupinfo)(const fi_info *) = nullptr;
  int (*fabric)(fi_fabric_attr *, fid_fabric **, void *) = nullptr;
  const char *(*strerror)(int) = nullptr;
  uint32_t (*version)(void) = nullptr;
};

struct Verbs {
  bool loaded = false;
  std::string path;
  std::string error;
  double dlopenMs = 0;
  ibv_device **(*getDeviceList)(int *) = nullptr;
  void (*freeDeviceList)(ibv_device **) = nullptr;
  ibv_context *(*openDevice)(ibv_device *) = nullptr;
  int (*closeDevice)(ibv_context *) = nullptr;
  int (*queryDevice)(ibv_context *, ibv_device_attr *) = nullptr;
  int (*queryPortCompat)(ibv_context *, uint8_t, _compat_ibv_port_attr *) = nullptr;
  const char *(*deviceName)(ibv_device *) = nullptr;
};

// Loaded once per process (thread-safe; the first call may take ~300 ms on Debian because of the
// psm/psm2 constructors, so call it off the JS thread). Never dlclosed: providers keep threads.
const Fabric &fabric();
const Verbs &verbs();

// fi_strerror when libfabric is loaded, else a plain description.
std::string fiError(int negativeRc);

// The FI_VERSION every fi_getinfo call asks for (the headers we build against).
constexpr uint32_t kApiVersion = FI_VERSION(1, 17);

double nowMs();

}  // namespace kiseki::transport::dl

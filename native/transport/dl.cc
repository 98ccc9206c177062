#include "transport/dl.h"

#include <dlfcn.h>
#include <time.h>

#include <cstdlib>
#include <mutex>

namespace kiseki::transport::dl {

double nowMs() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

namespace {

template <class T>
bool bind(void *handle, T &fp, const char *name, const char *version, std::string &error) {
  void *p = dlvsym(handle, name, version);
  if (p == nullptr) p = dlsym(handle, name);
  fp = reinterpret_cast<T>(p);
  if (p == nullptr && error.empty()) error = std::string("symbol ") + name + "@" + version + " not found";
  return p != nullptr;
}

// Tests hide the libraries with these variables (KISEKI_FABRIC_LIB=/nonexistent/libfabric.so.1).
std::string libPath(const char *var, const char *fallback) {
  const char *v = std::getenv(var);
  return (v != nullptr && *v != '\0') ? v : fallback;
}

void *open(const std::string &path, double &ms, std::string &error) {
  double t0 = nowMs();
  void *h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  ms = nowMs() - t0;
  if (h == nullptr) {
    const char *e = dlerror();
    error = e != nullptr ? e : "dlopen failed";
  }
  return h;
}

Fabric loadFabric() {
  Fabric f;
  f.path = libPath("KISEKI_FABRIC_LIB", "libfabric.so.1");
  void *h = open(f.path, f.dlopenMs, f.error);
  if (h == nullptr) return f;
  bool ok = bind(h, f.getinfo, "fi_getinfo", "FABRIC_1.3", f.error) &
            bind(h, f.freeinfo, "fi_freeinfo", "FABRIC_1.3", f.error) &
            bind(h, f.dupinfo, "fi_dupinfo", "FABRIC_1.3", f.error) &
            bind(h, f.fabric, "fi_fabric", "FABRIC_1.1", f.error) &
            bind(h, f.strerror, "fi_strerror", "FABRIC_1.0", f.error) &
            bind(h, f.version, "fi_version", "FABRIC_1.0", f.error);
  if (ok && FI_VERSION_LT(f.version(), kApiVersion)) {
    ok = false;
    f.error = "libfabric " + std::to_string(FI_MAJOR(f.version())) + "." + std::to_string(FI_MINOR(f.version())) +
              " is older than the 1.17 API this addon was built for";
  }
  f.loaded = ok;
  return f;  // a failed bind leaves the handle open: closing a half-initialised libfabric is riskier
}

Verbs loadVerbs() {
  Verbs v;
  v.path = libPath("KISEKI_VERBS_LIB", "libibverbs.so.1");
  void *h = open(v.path, v.dlopenMs, v.error);
  if (h == nullptr) return v;
  v.loaded = bind(h, v.getDeviceList, "ibv_get_device_list", "IBVERBS_1.1", v.error) &
             bind(h, v.freeDeviceList, "ibv_free_device_list", "IBVERBS_1.1", v.error) &
             bind(h, v.openDevice, "ibv_open_device", "IBVERBS_1.1", v.error) &
             bind(h, v.closeDevice, "ibv_close_device", "IBVERBS_1.1", v.error) &
             bind(h, v.queryDevice, "ibv_query_device", "IBVERBS_1.1", v.error) &
             bind(h, v.queryPortCompat, "ibv_query_port", "IBVERBS_1.1", v.error) &
             bind(h, v.deviceName, "ibv_get_device_name", "IBVERBS_1.1", v.error);
  return v;
}

}  // namespace

const Fabric &fabric() {
  static std::once_flag once;
  static Fabric f;
  std::call_once(once, [] { f = loadFabric(); });
  return f;
}

const Verbs &verbs() {
  static std::once_flag once;
  static Verbs v;
  std::call_once(once, [] { v = loadVerbs(); });
  return v;
}

std::string fiError(int negativeRc) {
  const Fabric &f = fabric();
  if (f.loaded) return f.strerror(-negativeRc);
  return "libfabric error " + std::to_string(negativeRc);
}

}  // namespace kiseki::transport::dl

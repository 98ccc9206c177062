// Transport probe (DESIGN D5, research/fabric.md §4a/§7a), run on the libuv thread pool because the
// first dlopen + fi_getinfo costs ~300 ms on Debian. It only gathers facts (rc, reasons, timings);
// the decision and its reasons are made in src/transport/transport-probe.ts so they are testable.
#include <glob.h>
#include <napi.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "transport/dl.h"
#include "transport/fabric-hints.h"
#include "transport/transport.h"

namespace kiseki::transport {
namespace {

struct GetinfoResult {
  bool attempted = false;
  int rc = 0;
  std::string error;
  double ms = 0;
  int entries = 0;
  std::string provider;  // first entry's prov_name
  std::string domain;    // first entry's domain name
};

struct PortResult {
  std::string device;
  int port;
  int state;
  bool active;
  bool ethernet;
};

struct ProbeFacts {
  // libfabric
  bool fabricLoaded = false;
  std::string fabricPath, fabricError, fabricVersion;
  double fabricDlopenMs = 0, providersMs = 0;
  std::vector<std::string> providers;
  // cxi
  int cxiDevices = 0;
  GetinfoResult cxi;
  // verbs
  bool verbsLoaded = false;
  std::string verbsPath, verbsError;
  double verbsDlopenMs = 0, verbsListMs = 0;
  int verbsDevices = 0;
  std::vector<PortResult> ports;
  GetinfoResult fverbs;
  // libfabric over the configured sockets provider (fabric-tcp)
  std::string tcpProviderAsked;
  GetinfoResult tcp;
  double totalMs = 0;
};

int globCount(const char *pattern) {
  glob_t g;
  if (glob(pattern, 0, nullptr, &g) != 0) return 0;
  int n = static_cast<int>(g.gl_pathc);
  globfree(&g);
  return n;
}

GetinfoResult getinfo(const char *provider) {
  const dl::Fabric &f = dl::fabric();
  GetinfoResult r;
  r.attempted = true;
  fi_info *hints = makeHints(provider, true), *info = nullptr;
  double t0 = dl::nowMs();
  r.rc = f.getinfo(dl::kApiVersion, nullptr, nullptr, 0, hints, &info);
  r.ms = dl::nowMs() - t0;
  if (r.rc != 0) r.error = f.strerror(-r.rc);
  // Accept only entries of exactly this provider (or a utility layered over it, "verbs;ofi_rxm").
  for (fi_info *i = info; i != nullptr; i = i->next) {
    std::string name = i->fabric_attr->prov_name;
    if (name == provider || name.rfind(std::string(provider) + ";", 0) == 0) {
      if (r.entries++ == 0) {
        r.provider = name;
        r.domain = i->domain_attr->name != nullptr ? i->domain_attr->name : "";
      }
    }
  }
  if (r.rc == 0 && r.entries == 0) r.error = "no entry of provider " + std::string(provider);
  if (info != nullptr) f.freeinfo(info);
  if (hints != nullptr) f.freeinfo(hints);
  return r;
}

void probeVerbs(ProbeFacts &p) {
  const dl::Verbs &v = dl::verbs();
  p.verbsLoaded = v.loaded;
  p.verbsPath = v.path;
  p.verbsError = v.error;
  p.verbsDlopenMs = v.dlopenMs;
  if (!v.loaded) return;
  int n = 0;
  errno = 0;
  double t0 = dl::nowMs();
  ibv_device **list = v.getDeviceList(&n);
  int e = errno;
  p.verbsListMs = dl::nowMs() - t0;
  if (list == nullptr) {  // the host kernel without uverbs says ENOSYS (fabric.md §1)
    p.verbsError = std::string("ibv_get_device_list: ") + strerror(e);
    return;
  }
  p.verbsDevices = n;
  for (int d = 0; d < n; d++) {
    ibv_context *ctx = v.openDevice(list[d]);
    if (ctx == nullptr) continue;
    ibv_device_attr da{};
    if (v.queryDevice(ctx, &da) == 0) {
      for (int port = 1; port <= da.phys_port_cnt; port++) {
        // ibv_query_port is a macro over an inline that prefers the context op; replicate it.
        ibv_port_attr pa{};
        verbs_context *vctx = verbs_get_ctx_op(ctx, query_port);
        int rc = vctx != nullptr ? vctx->query_port(ctx, port, &pa, sizeof pa)
                                 : v.queryPortCompat(ctx, port, reinterpret_cast<_compat_ibv_port_attr *>(&pa));
        if (rc != 0) continue;
        p.ports.push_back({v.deviceName(list[d]), port, pa.state, pa.state == IBV_PORT_ACTIVE,
                           pa.link_layer == IBV_LINK_LAYER_ETHERNET});
      }
    }
    v.closeDevice(ctx);
  }
  v.freeDeviceList(list);
}

class ProbeWorker : public Napi::AsyncWorker {
 public:
  ProbeWorker(Napi::Env env, std::string tcpProvider)
      : Napi::AsyncWorker(env, "kiseki.transport.probe"), deferred_(Napi::Promise::Deferred::New(env)) {
    facts_.tcpProviderAsked = std::move(tcpProvider);
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    ProbeFacts &p = facts_;
    double t0 = dl::nowMs();
    p.cxiDevices = globCount("/sys/class/cxi_user/cxi*") + globCount("/dev/cxi*");
    const dl::Fabric &f = dl::fabric();
    p.fabricLoaded = f.loaded;
    p.fabricPath = f.path;
    p.fabricError = f.error;
    p.fabricDlopenMs = f.dlopenMs;
    if (f.loaded) {
      uint32_t v = f.version();
      p.fabricVersion = std::to_string(FI_MAJOR(v)) + "." + std::to_string(FI_MINOR(v));
      fi_info *list = nullptr;
      double t1 = dl::nowMs();
      if (f.getinfo(dl::kApiVersion, nullptr, nullptr, FI_PROV_ATTR_ONLY, nullptr, &list) == 0) {
        for (fi_info *i = list; i != nullptr; i = i->next) p.providers.push_back(i->fabric_attr->prov_name);
      }
      p.providersMs = dl::nowMs() - t1;
      if (list != nullptr) f.freeinfo(list);
      p.cxi = getinfo("cxi");
    }
    probeVerbs(p);
    bool anyActive = false;
    for (const PortResult &port : p.ports) anyActive = anyActive || port.active;
    if (f.loaded && anyActive) p.fverbs = getinfo("verbs");
    if (f.loaded && !p.tcpProviderAsked.empty()) p.tcp = getinfo(p.tcpProviderAsked.c_str());
    p.totalMs = dl::nowMs() - t0;
  }

  void OnOK() override {
    Napi::Env env = Env();
    const ProbeFacts &p = facts_;
    auto gi = [&](const GetinfoResult &r) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("attempted", r.attempted);
      o.Set("rc", r.rc);
      o.Set("error", r.error);
      o.Set("ms", r.ms);
      o.Set("entries", r.entries);
      o.Set("provider", r.provider);
      o.Set("domain", r.domain);
      return o;
    };
    Napi::Object out = Napi::Object::New(env);
    Napi::Object lf = Napi::Object::New(env);
    lf.Set("loaded", p.fabricLoaded);
    lf.Set("path", p.fabricPath);
    lf.Set("error", p.fabricError);
    lf.Set("version", p.fabricVersion);
    lf.Set("dlopenMs", p.fabricDlopenMs);
    lf.Set("providersMs", p.providersMs);
    Napi::Array provs = Napi::Array::New(env, p.providers.size());
    for (size_t i = 0; i < p.providers.size(); i++) provs.Set(static_cast<uint32_t>(i), p.providers[i]);
    lf.Set("providers", provs);
    out.Set("libfabric", lf);
    Napi::Object cxi = Napi::Object::New(env);
    cxi.Set("devices", p.cxiDevices);
    cxi.Set("getinfo", gi(p.cxi));
    out.Set("cxi", cxi);
    Napi::Object vb = Napi::Object::New(env);
    vb.Set("loaded", p.verbsLoaded);
    vb.Set("path", p.verbsPath);
    vb.Set("error", p.verbsError);
    vb.Set("dlopenMs", p.verbsDlopenMs);
    vb.Set("listMs", p.verbsListMs);
    vb.Set("devices", p.verbsDevices);
    Napi::Array ports = Napi::Array::New(env, p.ports.size());
    for (size_t i = 0; i < p.ports.size(); i++) {
      Napi::Object po = Napi::Object::New(env);
      po.Set("device", p.ports[i].device);
      po.Set("port", p.ports[i].port);
      po.Set("state", p.ports[i].state);
      po.Set("active", p.ports[i].active);
      po.Set("linkLayer", p.ports[i].ethernet ? "ethernet" : "infiniband");
      ports.Set(static_cast<uint32_t>(i), po);
    }
    vb.Set("ports", ports);
    vb.Set("getinfo", gi(p.fverbs));
    out.Set("verbs", vb);
    Napi::Object tcp = Napi::Object::New(env);
    tcp.Set("provider", p.tcpProviderAsked);
    tcp.Set("getinfo", gi(p.tcp));
    out.Set("fabricTcp", tcp);
    out.Set("totalMs", p.totalMs);
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error &e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  ProbeFacts facts_;
};

}  // namespace

// probe(fabricTcpProvider: string): Promise<ProbeFacts>
Napi::Value Probe(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "probe(fabricTcpProvider: string)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto *w = new ProbeWorker(env, info[0].As<Napi::String>().Utf8Value());
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace kiseki::transport

#include <rdma/fabric.h>

#include "transport/fabric-endpoint.h"
#include "transport/transport.h"

namespace kiseki::transport {

Napi::Object Init(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("probe", Napi::Function::New(env, Probe, "probe"));
  o.Set("FabricEndpoint", Endpoint::Define(env));
  Napi::Object access = Napi::Object::New(env);
  access.Set("SEND", static_cast<double>(FI_SEND));
  access.Set("RECV", static_cast<double>(FI_RECV));
  access.Set("READ", static_cast<double>(FI_READ));
  access.Set("WRITE", static_cast<double>(FI_WRITE));
  access.Set("REMOTE_READ", static_cast<double>(FI_REMOTE_READ));
  access.Set("REMOTE_WRITE", static_cast<double>(FI_REMOTE_WRITE));
  o.Set("access", access);
  Napi::Object errnos = Napi::Object::New(env);
  errnos.Set("EAGAIN", FI_EAGAIN);
  errnos.Set("ECANCELED", FI_ECANCELED);
  o.Set("errno", errnos);
  return o;
}

}  // namespace kiseki::transport

#pragma once
#include <napi.h>

namespace kiseki::transport {
// Returns the object exported as require('kiseki_native').transport:
//   probe(fabricTcpProvider): Promise<facts>   (probe.cc)
//   FabricEndpoint                               (fabric-endpoint.cc, fabric-mr.cc, fabric-cq.cc)
//   access { SEND, RECV, READ, WRITE, REMOTE_READ, REMOTE_WRITE }, errno { EAGAIN, ECANCELED }
Napi::Object Init(Napi::Env env);
Napi::Value Probe(const Napi::CallbackInfo &info);
}

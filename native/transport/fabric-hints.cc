#include "transport/fabric-hints.h"

#include <cstring>

#include "transport/dl.h"

namespace kiseki::transport {

fi_info *makeHints(const char *provider, bool rma) {
  const dl::Fabric &f = dl::fabric();
  if (!f.loaded) return nullptr;
  fi_info *h = f.dupinfo(nullptr);  // fi_allocinfo is an inline over this exported symbol
  if (h == nullptr) return nullptr;
  h->fabric_attr->prov_name = strdup(provider);
  h->ep_attr->type = FI_EP_RDM;
  h->caps = FI_MSG | (rma ? FI_RMA : 0);
  h->mode = FI_CONTEXT | FI_CONTEXT2;
  h->domain_attr->mr_mode = FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_PROV_KEY | FI_MR_ENDPOINT;
  h->domain_attr->threading = FI_THREAD_DOMAIN;
  h->addr_format = FI_SOCKADDR_IN;
  return h;
}

}  // namespace kiseki::transport

// The fi_info hints every fi_getinfo of ours uses (probe and endpoints alike), so the probe answers
// exactly the question the data path will ask: FI_EP_RDM, FI_MSG (+FI_RMA), every mr_mode bit the
// data path handles (CXI needs FI_MR_ENDPOINT, verbs FI_MR_LOCAL|VIRT_ADDR|ALLOCATED|PROV_KEY).
#pragma once
#include <rdma/fabric.h>

namespace kiseki::transport {

// Caller frees with dl::fabric().freeinfo. Returns nullptr when libfabric is not loaded.
fi_info *makeHints(const char *provider, bool rma);

}  // namespace kiseki::transport

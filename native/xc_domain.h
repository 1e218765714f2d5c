// Domain queries and hypervisor-level memory operations over libxenctrl, 1:1 (docs/backend-contract.md).
#pragma once

#include <napi.h>

#include <cstdint>

#include "xen_error.h"
#include "xen_headers.h"

namespace xenclaim {

// Reads one domain's info: xc_domain_getinfo_single where the headers have it (Xen >= 4.18), else
// xc_domain_getinfolist checking the domid it answers with. Returns false with `failure` filled when the
// hypercall fails; `found` is false (and the call succeeds) when no such domain exists.
bool ReadDomainInfo(xc_interface* xch, uint32_t domid, xc_domaininfo_t& out, bool& found, XenFailure& failure);

// listDomains() → Promise<DomainInfo[]>;  getDomainInfo(domid) → Promise<DomainInfo | null>
// claimPages(domid, pages), setMaxMem(domid, maxKiB) → Promise<undefined>
// createEmptyDomain(type 'pv' | 'pvh', vcpus) → Promise<domid>
// populatePhysmap(domid, pages) → Promise<pages populated>;  decreaseReservation(domid, pages) → Promise<pages freed>
// destroyDomain(domid), pauseDomain(domid), unpauseDomain(domid) → Promise<undefined>
void RegisterDomain(Napi::Env env, Napi::Object exports);

}  // namespace xenclaim

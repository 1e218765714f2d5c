// Domain queries and hypervisor-level memory operations over libxenctrl, 1:1 (docs/backend-contract.md).
#pragma once

#include <napi.h>

namespace xenclaim {

// listDomains() → Promise<DomainInfo[]>;  getDomainInfo(domid) → Promise<DomainInfo | null>
// claimPages(domid, pages), setMaxMem(domid, maxKiB) → Promise<undefined>
// createEmptyDomain(type 'pv' | 'pvh', vcpus) → Promise<domid>
// populatePhysmap(domid, pages) → Promise<pages populated>;  decreaseReservation(domid, pages) → Promise<pages freed>
// destroyDomain(domid), pauseDomain(domid), unpauseDomain(domid) → Promise<undefined>
void RegisterDomain(Napi::Env env, Napi::Object exports);

}  // namespace xenclaim

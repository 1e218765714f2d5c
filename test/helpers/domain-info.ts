import type { DomainInfo } from '../../src/backend.js';

/** A DomainInfo as a backend reports it: a running PV domain with one vCPU and no memory, except for `fields`. */
export function domainInfo(domid: number, fields: Partial<DomainInfo> = {}): DomainInfo {
  return {
    domid,
    totPages: 0,
    maxPages: 0,
    outstandingPages: 0,
    shrPages: 0,
    pagedPages: 0,
    dying: false,
    shutdown: false,
    paused: false,
    hvm: false,
    onlineVcpus: 1,
    cpuTimeNs: 0,
    ...fields,
  };
}

/**
 * The simulated domain list: one record per domain (its heap account plus what getdomaininfo and xenstore show),
 * domid allocation as Xen does it (a rover counting up from the last domid, skipping ids in use), and the
 * DomainInfo view.
 */
import type { DomainInfo } from '../backend.js';
import { MAX_DOMID } from '../validate.js';
import { newDomainAccount, type DomainAccount } from './heap.js';

export type MockDomainType = 'pv' | 'pvh' | 'hvm';

/** What libxl keeps in xenstore for a guest it built (absent for bare createEmptyDomain domains). */
export interface GuestRecord {
  name: string;
  /** memory/target in KiB. */
  targetKiB: number;
  /** memory/static-max in KiB. */
  staticMaxKiB: number;
  /** memory/videoram in KiB (HVM only; 0 otherwise). */
  videoKiB: number;
  /** The stub domain running this HVM guest's device model, destroyed with it (libxl__destroy_device_model). */
  stubdomDomid?: number;
}

export interface MockDomain {
  readonly domid: number;
  readonly type: MockDomainType;
  readonly vcpus: number;
  readonly account: DomainAccount;
  /** Xen's controller pause count: a new domain starts paused once. */
  pauseCount: number;
  shutdown: boolean;
  /** Virtual ms of CPU time accumulated before `runningSince`. */
  cpuMs: number;
  /** Virtual ms when the domain last became unpaused, or undefined while paused. */
  runningSince: number | undefined;
  guest: GuestRecord | undefined;
}

export class DomainTable {
  private readonly byDomid = new Map<number, MockDomain>();
  /** Guests by name (the latest domain given that name): a lookup per build must not scan every domain. */
  private readonly byName = new Map<string, MockDomain>();
  /** all() in domid order, rebuilt only after the list changed. */
  private sorted: MockDomain[] | undefined;
  private rover = 0;

  get size(): number {
    return this.byDomid.size;
  }

  get(domid: number): MockDomain | undefined {
    return this.byDomid.get(domid);
  }

  /** Live and dying domains in no particular order, without sorting them (for sums over every domain). */
  unordered(): IterableIterator<MockDomain> {
    return this.byDomid.values();
  }

  /** Live and dying domains, in domid order (as xc_domain_getinfolist returns them). */
  all(): readonly MockDomain[] {
    this.sorted ??= [...this.byDomid.values()].sort((a, b) => a.domid - b.domid);
    return this.sorted;
  }

  /** The last domid given (persisted with the host, so a restored host goes on from there). */
  get lastDomid(): number {
    return this.rover;
  }

  set lastDomid(domid: number) {
    this.rover = domid;
  }

  /** The domain whose guest has this name (a live one before a dying one of the same name). */
  findByName(name: string): MockDomain | undefined {
    return this.byName.get(name);
  }

  /** Gives a domain its xenstore record (libxl's guest): from now on it is found by its name. */
  setGuest(domain: MockDomain, guest: GuestRecord): void {
    domain.guest = guest;
    const other = this.byName.get(guest.name);
    if (other === undefined || other.account.dying || !this.byDomid.has(other.domid)) this.byName.set(guest.name, domain);
  }

  /** Allocates the next free domid after the last one given; undefined when every domid is taken. */
  nextDomid(): number | undefined {
    for (let i = 0; i < MAX_DOMID; i++) {
      this.rover = this.rover >= MAX_DOMID ? 1 : this.rover + 1;
      if (!this.byDomid.has(this.rover)) return this.rover;
    }
    return undefined;
  }

  add(domid: number, type: MockDomainType, vcpus: number, paused: boolean, now: number): MockDomain {
    const domain: MockDomain = {
      domid,
      type,
      vcpus,
      account: newDomainAccount(),
      pauseCount: paused ? 1 : 0,
      shutdown: false,
      cpuMs: 0,
      runningSince: paused ? undefined : now,
      guest: undefined,
    };
    this.byDomid.set(domid, domain);
    this.sorted = undefined;
    return domain;
  }

  remove(domid: number): void {
    const domain = this.byDomid.get(domid);
    this.byDomid.delete(domid);
    this.sorted = undefined;
    const name = domain?.guest?.name;
    if (name !== undefined && this.byName.get(name) === domain) this.byName.delete(name);
  }
}

export function isPaused(d: MockDomain): boolean {
  return d.pauseCount > 0;
}

/** Pause bookkeeping for cpu time: a domain runs (burns its vCPUs' time) only while unpaused and not dying. */
export function notePauseChange(d: MockDomain, now: number): void {
  const running = d.pauseCount === 0 && !d.account.dying && !d.shutdown;
  if (running && d.runningSince === undefined) d.runningSince = now;
  if (!running && d.runningSince !== undefined) {
    d.cpuMs += (now - d.runningSince) * d.vcpus;
    d.runningSince = undefined;
  }
}

export function domainInfo(d: MockDomain, now: number): DomainInfo {
  const a = d.account;
  const cpuMs = d.cpuMs + (d.runningSince === undefined ? 0 : (now - d.runningSince) * d.vcpus);
  const info: DomainInfo = {
    domid: d.domid,
    totPages: a.totPages,
    maxPages: a.maxPages,
    outstandingPages: a.outstandingPages,
    shrPages: 0,
    pagedPages: 0,
    dying: a.dying,
    shutdown: d.shutdown,
    paused: d.pauseCount > 0,
    // PVH and HVM are both HVM containers (XEN_DOMINF_hvm_guest).
    hvm: d.type !== 'pv',
    onlineVcpus: d.vcpus,
    // A guest idles at ~1% of its vCPUs: enough to see time move without pretending to model load.
    cpuTimeNs: Math.round(cpuMs * 1e4),
  };
  if (d.guest) {
    info.name = d.guest.name;
    info.targetKiB = d.guest.targetKiB;
  }
  return info;
}

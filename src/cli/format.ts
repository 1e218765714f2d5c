/**
 * Text output shaped like xl's, so operators read xenclaim's numbers the way they read xl's
 * (tools/xl/xl_info.c: output_physinfo, list_domains).
 */
import type { DomainInfo, Physinfo, XenVersionInfo } from '../backend.js';
import type { AddonBuildTarget } from '../native/binding.js';

const PAGES_PER_MIB = 256;

function field(name: string, value: string | number): string {
  return `${name.padEnd(23)}: ${value}`;
}

/** Hex as the Xen headers write it: 0x17, 0x041400. */
const hex = (n: number, digits = 2): string => `0x${n.toString(16).padStart(digits, '0')}`;

/**
 * The lines of `xl info` that xenclaim knows, with xl's arithmetic (free_memory already excludes claims), and for the
 * native backend what its addon was built against (the tools must match the hypervisor's Xen minor).
 */
export function formatInfo(physinfo: Physinfo, version: XenVersionInfo, backendKind: string, addon?: AddonBuildTarget): string {
  const mib = (pages: number): number => Math.floor(pages / PAGES_PER_MIB);
  const addonLines = addon === undefined ? [] : [
    field('addon_xenctrl', `${addon.xenctrlVersion} (domctl interface ${hex(addon.domctlInterfaceVersion)}, sysctl interface ${hex(addon.sysctlInterfaceVersion)}, ${addon.domainInfoCall})`),
    field('addon_xenlight', `${addon.xenlightVersion} (LIBXL_API_VERSION ${hex(addon.libxlApiVersion, 6)})`),
  ];
  return [
    field('backend', backendKind),
    field('nr_cpus', physinfo.nrCpus),
    field('nr_nodes', physinfo.nrNodes),
    field('cpu_mhz', (physinfo.cpuKhz / 1000).toFixed(3)),
    field('total_memory', mib(physinfo.totalPages)),
    field('free_memory', mib(physinfo.freePages - physinfo.outstandingPages)),
    field('outstanding_claims', mib(physinfo.outstandingPages)),
    field('xen_major', version.major),
    field('xen_minor', version.minor),
    field('xen_extra', version.extra),
    field('xen_version', `${version.major}.${version.minor}${version.extra}`),
    field('xen_pagesize', 4096),
    ...addonLines,
  ].join('\n');
}

function stateLetters(d: DomainInfo): string {
  // xl prints r/b from the scheduler; the contract does not carry run state, so those stay '-'.
  return `--${d.paused ? 'p' : '-'}${d.shutdown ? 's' : '-'}-${d.dying ? 'd' : '-'}`;
}

function domainName(d: DomainInfo): string {
  return d.name ?? (d.domid === 0 ? 'Domain-0' : `(domid ${d.domid})`);
}

/** `xl list`, or `xl claims` with the Claimed column. Mem counts the remaining claim, as xl does. */
export function formatList(domains: readonly DomainInfo[], withClaims = false): string {
  const header = `Name                                        ID   Mem VCPUs\tState\tTime(s)${withClaims ? '  Claimed' : ''}`;
  const rows = domains.map((d) => {
    const memMiB = Math.floor((d.totPages + d.outstandingPages) / PAGES_PER_MIB);
    const base =
      `${domainName(d).padEnd(40)} ${String(d.domid).padStart(5)} ${String(memMiB).padStart(5)} ` +
      `${String(d.onlineVcpus).padStart(5)}     ${stateLetters(d)}  ${(d.cpuTimeNs / 1e9).toFixed(1).padStart(8)}`;
    return withClaims ? `${base} ${String(Math.floor(d.outstandingPages / PAGES_PER_MIB)).padStart(5)}` : base;
  });
  return [header, ...rows].join('\n');
}

import { describe, expect, it } from 'vitest';
import type { Physinfo } from '../../src/backend.js';
import { formatInfo, formatList } from '../../src/cli/format.js';
import { domainInfo } from '../helpers/domain-info.js';

const physinfo: Physinfo = {
  totalPages: 3071 * 256,
  freePages: 2014 * 256 + 100,
  scrubPages: 0,
  outstandingPages: 64 * 256,
  nrCpus: 2,
  nrNodes: 1,
  cpuKhz: 2_994_377,
};

describe("formatInfo (xl info's memory lines)", () => {
  it('prints free_memory without claims, as xl does, and outstanding_claims in MiB', () => {
    const text = formatInfo(physinfo, { major: 4, minor: 17, extra: '.3' }, 'mock');
    expect(text).toContain('total_memory           : 3071\n');
    expect(text).toContain('free_memory            : 1950\n');
    expect(text).toContain('outstanding_claims     : 64\n');
    expect(text).toContain('xen_version            : 4.17.3');
    expect(text).not.toContain('addon_');
  });

  it("adds the native addon's build target: library versions and interface versions as the headers write them", () => {
    const text = formatInfo(physinfo, { major: 4, minor: 20, extra: '.4' }, 'native', {
      xenctrlVersion: '4.20.0',
      xenlightVersion: '4.20.0',
      domctlInterfaceVersion: 0x17,
      sysctlInterfaceVersion: 0x15,
      libxlApiVersion: 0x041400,
      domainInfoCall: 'xc_domain_getinfo_single',
    });
    expect(text).toContain('xen_version            : 4.20.4\n');
    expect(text).toContain('addon_xenctrl          : 4.20.0 (domctl interface 0x17, sysctl interface 0x15, xc_domain_getinfo_single)\n');
    expect(text.endsWith('addon_xenlight         : 4.20.0 (LIBXL_API_VERSION 0x041400)')).toBe(true);
  });
});

describe('formatList (xl list / xl claims)', () => {
  const domains = [
    domainInfo(0, { name: 'Domain-0', totPages: 1024 * 256, onlineVcpus: 2, cpuTimeNs: 12_345_000_000 }),
    domainInfo(7, { name: 'web1', totPages: 100 * 256, outstandingPages: 28 * 256, paused: true }),
  ];

  it("uses xl's columns, and Mem includes the remaining claim", () => {
    const lines = formatList(domains).split('\n');
    expect(lines[0]).toBe('Name                                        ID   Mem VCPUs\tState\tTime(s)');
    expect(lines[1]).toBe(`${'Domain-0'.padEnd(40)}     0  1024     2     ------      12.3`);
    expect(lines[2]).toBe(`${'web1'.padEnd(40)}     7   128     1     --p---       0.0`);
  });

  it('adds the Claimed column for claims', () => {
    const lines = formatList(domains, true).split('\n');
    expect(lines[0]!.endsWith('  Claimed')).toBe(true);
    expect(lines[2]!.endsWith('    28')).toBe(true);
  });
});

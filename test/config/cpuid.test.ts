/**
 * The `cpuid` key: libxl's own flag names and the featureset names, the multi-bit fields (family, model) and the MSR
 * features, as libxl_cpuid_parse_config writes them. xl's output for these is in the recorded fixtures and the
 * oracle tests; these check the pieces and the feature table against the installed Xen header.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { addCpuidXendItem, CpuidSpecError, emptyCpuidPolicy, parseCpuidString } from '../../src/config/cpuid.js';
import { CPUID_FEATURES } from '../../src/config/cpuid-features.js';

const HEADER = '/usr/include/xen/arch-x86/cpufeatureset.h';
const DOMCTL_HEADER = '/usr/include/xen/domctl.h';

/** The installed headers' XEN_DOMCTL_INTERFACE_VERSION: 0x15 is Xen 4.17's (the table is xl 4.17's), 0x17 is 4.20's. */
function installedDomctlVersion(): number | undefined {
  if (!existsSync(DOMCTL_HEADER)) return undefined;
  const m = /^#define XEN_DOMCTL_INTERFACE_VERSION\s+(0x[0-9a-fA-F]+)/m.exec(readFileSync(DOMCTL_HEADER, 'utf8'));
  return m === null ? undefined : Number(m[1]);
}

describe('cpuid', () => {
  it.skipIf(!existsSync(HEADER))(`the feature table is ${HEADER}'s XEN_CPUFEATURE list, named as gen-cpuid.py names them`, () => {
    const fromHeader = [...readFileSync(HEADER, 'utf8').matchAll(/^XEN_CPUFEATURE\(([A-Z0-9_]+),\s*(\d+)\*32\+\s*(\d+)\)/gm)]
      .map((m) => [m[1]!.toLowerCase().replace(/_/g, '-'), Number(m[2]) * 32 + Number(m[3])] as const)
      .sort((a, b) => (a[0] < b[0] ? -1 : 1));
    if (installedDomctlVersion() === 0x15) {
      // Xen 4.17's headers: the table is exactly their list.
      expect(CPUID_FEATURES).toEqual(fromHeader);
      return;
    }
    // A later Xen (Debian 13's 4.20): every name xl 4.17 knows keeps its bit there; the names it added are not in the
    // table (xl 4.17's), so a config using one is refused by name rather than given a wrong bit.
    const bits = new Map(fromHeader);
    expect(CPUID_FEATURES.filter(([name, bit]) => bits.get(name) !== bit)).toEqual([]);
    const known = new Set(CPUID_FEATURES.map(([name]) => name));
    const added = fromHeader.filter(([name]) => !known.has(name)).map(([name]) => name);
    console.info(`${HEADER} (domctl ${installedDomctlVersion()?.toString(16) ?? '?'}): ${added.length} features beyond xl 4.17's table: ${added.join(', ')}`);
  });

  it('one-bit flags fill a register string of x, bit 31 first', () => {
    const p = parseCpuidString('host,tm=0,aes=1,sse4.1=k');
    expect(p.cpuid).toEqual([{ leaf: 1, edx: 'xx0xxxxxxxxxxxxxxxxxxxxxxxxxxxxx', ecx: 'xxxxxx1xxxxxk' + 'x'.repeat(19) }]);
  });

  it('family above 15 goes to the extended family bits; model splits over two fields', () => {
    expect(parseCpuidString('host,family=6').cpuid[0]!.eax).toBe('xxxx00000000xxxxxxxx0110xxxxxxxx');
    expect(parseCpuidString('host,family=0x17').cpuid[0]!.eax).toBe('xxxx00001000xxxxxxxx1111xxxxxxxx');
    expect(parseCpuidString('host,model=0x3a').cpuid[0]!.eax).toBe('xxxxxxxxxxxx0011xxxxxxxx1010xxxx');
  });

  it('features of the ARCH_CAPS MSR become an MSR policy (s written k)', () => {
    const p = parseCpuidString('host,rdcl-no=1,eibrs=s');
    expect(p.cpuid).toEqual([]);
    expect(p.msr).toEqual([{ index: 0x10a, policy: `${'x'.repeat(62)}k1` }]);
  });

  it('the xend list form takes 32-character registers as written', () => {
    const p = emptyCpuidPolicy();
    addCpuidXendItem(p, `0x7,0:ebx=${'0'.repeat(32)}, ecx=${'1'.repeat(32)}`);
    expect(p.cpuid).toEqual([{ leaf: 7, subleaf: 0, ebx: '0'.repeat(32), ecx: '1'.repeat(32) }]);
  });

  it('refuses what libxl refuses', () => {
    expect(() => parseCpuidString('host,tm')).toThrow(CpuidSpecError);
    expect(() => parseCpuidString('host,tm=y')).toThrow(/must be a number or x, k or s/);
    expect(() => parseCpuidString('host,rdcl-no=10')).toThrow(/MSR feature takes 0, 1, x, k or s/);
    expect(() => addCpuidXendItem(emptyCpuidPolicy(), '1:efx=0')).toThrow(/e\[abcd\]x/);
  });
});

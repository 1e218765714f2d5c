/**
 * xl's `cpuid` key (docs/man/xl.cfg.5.pod.in, "CPUID"), read into a libxl_cpuid_policy_list as Xen 4.17's libxl
 * reads it (libxl_cpuid_parse_config and libxl_cpuid_parse_config_xend in tools/libs/light/libxl_cpuid.c):
 *
 * - `cpuid = "host,FLAG=VALUE,..."`: named flags; VALUE a number (its low bits, written in binary) or one of
 *   x (default), k (keep the host's), s (same as k); 0 and 1 set the bit. Some names cover several bits
 *   (family, model, stepping, ...); the rest name one featureset bit (cpuid-features.ts).
 * - `cpuid = [ "LEAF[,SUBLEAF]:eax=BITS,ebx=BITS,..." ]`: xend's form, 32-character strings per register.
 *
 * Each register is a 32-character string, bit 31 first; MSR policies are 64 characters, bit 63 first.
 * xl prints a complaint for a bad entry and carries on without it; here a bad entry is an error, naming it.
 */
import { CPUID_FEATURES } from './cpuid-features.js';
import type { CpuidLeaf, CpuidPolicy } from './libxl-idl.js';
import { cStrtoulPrefix } from './xl-reader.js';

export class CpuidSpecError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'CpuidSpecError';
  }
}

type Reg = 'eax' | 'ebx' | 'ecx' | 'edx';
const REGS: readonly Reg[] = ['eax', 'ebx', 'ecx', 'edx'];

interface CpuidFlag {
  leaf: number;
  /** undefined: XEN_CPUID_INPUT_UNUSED. */
  subleaf: number | undefined;
  reg: Reg;
  bit: number;
  length: number;
}

const flag = (leaf: number, subleaf: number | undefined, reg: Reg, bit: number, length: number): CpuidFlag => ({ leaf, subleaf, reg, bit, length });

/** libxl's own names (cpuid_flags[] in libxl_cpuid.c), matched before the featureset names. */
const LIBXL_FLAGS: Readonly<Record<string, CpuidFlag>> = {
  maxleaf: flag(0, undefined, 'eax', 0, 32),
  stepping: flag(1, undefined, 'eax', 0, 4),
  model: flag(1, undefined, 'eax', 4, 8),
  family: flag(1, undefined, 'eax', 8, 8),
  brandid: flag(1, undefined, 'ebx', 0, 8),
  clflush: flag(1, undefined, 'ebx', 8, 8),
  proccount: flag(1, undefined, 'ebx', 16, 8),
  localapicid: flag(1, undefined, 'ebx', 24, 8),
  est: flag(1, undefined, 'ecx', 7, 1),
  cntxid: flag(1, undefined, 'ecx', 10, 1),
  cmpxchg16: flag(1, undefined, 'ecx', 13, 1),
  sse4_1: flag(1, undefined, 'ecx', 19, 1),
  'sse4.1': flag(1, undefined, 'ecx', 19, 1),
  sse4_2: flag(1, undefined, 'ecx', 20, 1),
  'sse4.2': flag(1, undefined, 'ecx', 20, 1),
  aes: flag(1, undefined, 'ecx', 25, 1),
  cmpxchg8: flag(1, undefined, 'edx', 8, 1),
  sysenter: flag(1, undefined, 'edx', 11, 1),
  psn: flag(1, undefined, 'edx', 18, 1),
  clfsh: flag(1, undefined, 'edx', 19, 1),
  tm: flag(1, undefined, 'edx', 29, 1),
  ia64: flag(1, undefined, 'edx', 30, 1),
  pbe: flag(1, undefined, 'edx', 31, 1),
  arat: flag(6, undefined, 'eax', 2, 1),
  tsc_adjust: flag(7, 0, 'ebx', 1, 1),
  cmt: flag(7, 0, 'ebx', 12, 1),
  lahfsahf: flag(0x80000001, undefined, 'ecx', 0, 1),
  cmplegacy: flag(0x80000001, undefined, 'ecx', 1, 1),
  altmovcr8: flag(0x80000001, undefined, 'ecx', 4, 1),
  nodeid: flag(0x80000001, undefined, 'ecx', 19, 1),
  perfctr_core: flag(0x80000001, undefined, 'ecx', 23, 1),
  perfctr_nb: flag(0x80000001, undefined, 'ecx', 24, 1),
  procpkg: flag(4, 0, 'eax', 26, 6),
  invtsc: flag(0x80000007, undefined, 'edx', 8, 1),
  ppin: flag(0x80000008, undefined, 'ebx', 23, 1),
  'btc-no': flag(0x80000008, undefined, 'ebx', 29, 1),
  nc: flag(0x80000008, undefined, 'ecx', 0, 8),
  apicidsize: flag(0x80000008, undefined, 'ecx', 12, 4),
  svm_npt: flag(0x8000000a, undefined, 'edx', 0, 1),
  svm_lbrv: flag(0x8000000a, undefined, 'edx', 1, 1),
  svm_nrips: flag(0x8000000a, undefined, 'edx', 3, 1),
  svm_tscrate: flag(0x8000000a, undefined, 'edx', 4, 1),
  svm_vmcbclean: flag(0x8000000a, undefined, 'edx', 5, 1),
  svm_decode: flag(0x8000000a, undefined, 'edx', 7, 1),
  svm_pausefilt: flag(0x8000000a, undefined, 'edx', 10, 1),
  'lfence+': flag(0x80000021, undefined, 'eax', 2, 1),
  maxhvleaf: flag(0x40000000, undefined, 'eax', 0, 8),
};

/** feature_to_policy[]: where each featureset word lives (a CPUID register or half of an MSR). */
const FEATURE_WORDS: ReadonlyArray<{ leaf: number; subleaf: number | undefined; reg: Reg } | { msr: number; high: boolean }> = [
  { leaf: 1, subleaf: undefined, reg: 'edx' },
  { leaf: 1, subleaf: undefined, reg: 'ecx' },
  { leaf: 0x80000001, subleaf: undefined, reg: 'edx' },
  { leaf: 0x80000001, subleaf: undefined, reg: 'ecx' },
  { leaf: 0xd, subleaf: 1, reg: 'eax' },
  { leaf: 7, subleaf: 0, reg: 'ebx' },
  { leaf: 7, subleaf: 0, reg: 'ecx' },
  { leaf: 0x80000007, subleaf: undefined, reg: 'edx' },
  { leaf: 0x80000008, subleaf: undefined, reg: 'ebx' },
  { leaf: 7, subleaf: 0, reg: 'edx' },
  { leaf: 7, subleaf: 1, reg: 'eax' },
  { leaf: 0x80000021, subleaf: undefined, reg: 'eax' },
  { leaf: 7, subleaf: 1, reg: 'ebx' },
  { leaf: 7, subleaf: 2, reg: 'edx' },
  { leaf: 7, subleaf: 1, reg: 'ecx' },
  { leaf: 7, subleaf: 1, reg: 'edx' },
  { msr: 0x10a, high: false },
  { msr: 0x10a, high: true },
  { leaf: 0x80000021, subleaf: undefined, reg: 'ecx' },
];

const FEATURES = new Map(CPUID_FEATURES);

/** A policy being built: leaves and MSRs in the order libxl appends them. */
export function emptyCpuidPolicy(): CpuidPolicy {
  return { cpuid: [], msr: [] };
}

function findLeaf(policy: CpuidPolicy, leaf: number, subleaf: number | undefined): CpuidLeaf {
  let entry = policy.cpuid.find((l) => l.leaf === leaf && l.subleaf === subleaf);
  if (!entry) {
    entry = subleaf === undefined ? { leaf } : { leaf, subleaf };
    policy.cpuid.push(entry);
  }
  return entry;
}

/** Writes `text` into `target` at `at` (memcpy into the 32-character register string). */
const splice = (target: string, at: number, text: string): string => target.slice(0, at) + text + target.slice(at + text.length);

/** cpuid_add: one named flag set to `value`. */
function addFlag(policy: CpuidPolicy, name: string, f: CpuidFlag, value: string): void {
  const parsed = cStrtoulPrefix(value, 0);
  let flags: string[];
  let num = parsed.value;
  if (parsed.read > 0) {
    flags = Array.from({ length: f.length }, (_, i) => ((num >> BigInt(f.length - 1 - i)) & 1n ? '1' : '0'));
  } else if (value[0] === 'x' || value[0] === 'k' || value[0] === 's') {
    flags = new Array<string>(f.length).fill(value[0]);
  } else {
    throw new CpuidSpecError(`${name}=${value}: the value must be a number or x, k or s (0 or 1 for a single bit)`);
  }
  const entry = findLeaf(policy, f.leaf, f.subleaf);
  let reg = entry[f.reg] ?? 'x'.repeat(32);
  if (name === 'family') {
    if (num < 16n) {
      reg = splice(reg, 28 - f.bit, flags.slice(4, 8).join(''));
      reg = splice(reg, 4, '00000000');
    } else {
      num -= 15n;
      reg = splice(reg, 28 - f.bit, '1111');
      for (let i = 0; i < 7; i++) {
        flags[7 - i] = num & 1n ? '1' : '0';
        num >>= 1n;
      }
      reg = splice(reg, 4, flags.join(''));
    }
  } else if (name === 'model') {
    reg = splice(reg, 12, flags.slice(0, 4).join(''));
    reg = splice(reg, 28 - f.bit, flags.slice(4, 8).join(''));
  } else {
    reg = splice(reg, 32 - f.length - f.bit, flags.join(''));
  }
  entry[f.reg] = reg;
}

/** msr_add: only one-character values; 's' is written 'k'. */
function addMsrBit(policy: CpuidPolicy, name: string, index: number, bit: number, value: string): void {
  if (value.length !== 1 || !'01xks'.includes(value)) {
    throw new CpuidSpecError(`${name}=${value}: an MSR feature takes 0, 1, x, k or s`);
  }
  let entry = policy.msr.find((m) => m.index === index);
  if (!entry) {
    entry = { index, policy: 'x'.repeat(64) };
    policy.msr.push(entry);
  }
  entry.policy = splice(entry.policy, 63 - bit, value === 's' ? 'k' : value);
}

/** libxl_cpuid_parse_config: one FLAG=VALUE of the string form. */
export function addCpuidFlag(policy: CpuidPolicy, item: string): void {
  const eq = item.indexOf('=');
  if (eq < 0) throw new CpuidSpecError(`"${item}": missing "=" in FLAG=VALUE`);
  const name = item.slice(0, eq);
  const value = item.slice(eq + 1);
  const own = Object.prototype.hasOwnProperty.call(LIBXL_FLAGS, name) ? LIBXL_FLAGS[name] : undefined;
  if (own) {
    addFlag(policy, name, own, value);
    return;
  }
  const bit = FEATURES.get(name);
  if (bit === undefined) throw new CpuidSpecError(`"${item}": unknown CPUID flag name '${name}'`);
  const word = FEATURE_WORDS[bit >> 5];
  if (word === undefined) throw new CpuidSpecError(`"${item}": feature word ${bit >> 5} has no CPUID leaf`);
  if ('msr' in word) addMsrBit(policy, name, word.msr, (bit & 31) + (word.high ? 32 : 0), value);
  else addFlag(policy, name, { leaf: word.leaf, subleaf: word.subleaf, reg: word.reg, bit: bit & 31, length: 1 }, value);
}

/** `cpuid = "host,FLAG=VALUE,..."`. */
export function parseCpuidString(text: string): CpuidPolicy {
  const policy = emptyCpuidPolicy();
  const items = text.split(',').filter((p) => p !== '');
  if (items.length === 0) return policy;
  if (items[0] !== 'host') throw new CpuidSpecError(`the first word must be "host", got ${JSON.stringify(items[0])}`);
  for (const item of items.slice(1)) addCpuidFlag(policy, item);
  return policy;
}

/** libxl_cpuid_parse_config_xend: one `LEAF[,SUBLEAF]:eXx=BITS,...` item of the list form. */
export function addCpuidXendItem(policy: CpuidPolicy, item: string): void {
  const leafRead = cStrtoulPrefix(item, 0);
  if (leafRead.read === 0) throw new CpuidSpecError(`"${item}": illegal leaf number`);
  const leaf = Number(leafRead.value % 2n ** 32n);
  let pos = leafRead.read;
  let subleaf: number | undefined;
  if (item[pos] === ',') {
    const s = cStrtoulPrefix(item.slice(pos + 1), 0);
    if (s.read === 0) throw new CpuidSpecError(`"${item}": illegal subleaf number`);
    subleaf = Number(s.value % 2n ** 32n);
    pos += 1 + s.read;
  }
  if (item[pos] !== ':') throw new CpuidSpecError(`"${item}": missing colon after the leaf`);
  pos++;
  if (leaf === 0xffff_ffff || subleaf === 0xffff_ffff) throw new CpuidSpecError(`"${item}": leaf and subleaf 0xffffffff mean "unused" to libxl`);
  const entry = findLeaf(policy, leaf, subleaf);
  while (pos < item.length) {
    const reg = item[pos] === 'e' && item[pos + 2] === 'x' ? REGS['abcd'.indexOf(item[pos + 1] ?? '')] : undefined;
    const eq = item.indexOf('=', pos);
    if (reg === undefined || eq < 0) throw new CpuidSpecError(`"${item}": invalid register name (must be e[abcd]x)`);
    const start = eq + 1;
    const comma = item.indexOf(',', start);
    const end = comma < 0 ? item.length : comma;
    if (end - start !== 32) throw new CpuidSpecError(`"${item}": a register policy must be exactly 32 characters long`);
    entry[reg] = item.slice(start, end);
    if (comma < 0) break;
    pos = comma + 1;
    while (item[pos] === ' ' || item[pos] === '\n') pos++;
  }
}

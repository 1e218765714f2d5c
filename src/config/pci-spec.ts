/**
 * xl's PCI_SPEC_STRING (docs/man/xl-pci-configuration.5.pod) and its `rdm` setting, read as libxlu 4.17 reads them
 * (xlu_pci_parse_spec_string and xlu_rdm_parse in tools/libs/util/libxlu_pci.c), into libxl_device_pci fields.
 *
 *   [DDDD:]BB:DD.F[@VSLOT][,key=value...]   keys: bdf, vslot, permissive, msitranslate, seize, power_mgmt,
 *                                           rdm_policy, name (exactly one of a BDF and a name)
 */
import { ENUMS, enumFromString } from './libxl-idl.js';
import { cAtoi } from './xl-reader.js';

/** LIBXL_PCI_FUNC_ALL (~0U): `.*` passes every function of the device. */
export const PCI_FUNC_ALL = 0xffff_ffff;

export class PciSpecError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'PciSpecError';
  }
}

/** libxl_device_pci fields a spec sets (the rest keep what the caller put there). */
export interface PciFields {
  domain?: number;
  bus?: number;
  dev?: number;
  func?: number;
  vfunc_mask?: number;
  vdevfn?: number;
  permissive?: boolean;
  msitranslate?: boolean;
  seize?: boolean;
  power_mgmt?: boolean;
  rdm_policy?: string;
  name?: string;
}

/** sscanf("%x"): optional space and sign, hex digits (an optional 0x); undefined when none. */
function scanHex(text: string, pos: number): { value: number; end: number } | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?)(?:0[xX](?=[0-9a-fA-F]))?([0-9a-fA-F]+)/.exec(text.slice(pos));
  if (!m) return undefined;
  let value = BigInt(`0x${m[2]}`);
  if (value > 0xffff_ffffn) value = 0xffff_ffffn;
  if (m[1] === '-') value = (2n ** 32n - value) % 2n ** 32n;
  return { value: Number(value), end: pos + m[0].length };
}

/** parse_bdf: `BB:DD.F` or `DDDD:BB:DD.F`, F a digit 0-7 or `*`. Returns the fields and where it stopped. */
function parseBdf(text: string): { fields: PciFields; end: number } | undefined {
  let colons = 0;
  for (let i = 0; i < text.length && /[0-9a-fA-F:]/.test(text[i]!); i++) if (text[i] === ':') colons++;
  if (colons !== 1 && colons !== 2) return undefined;
  const numbers: number[] = [];
  let pos = 0;
  for (let i = 0; i < colons + 1; i++) {
    const n = scanHex(text, pos);
    if (!n) return undefined;
    numbers.push(n.value);
    pos = n.end;
    const sep = i < colons ? ':' : '.';
    if (text[pos] !== sep) return undefined;
    pos++;
  }
  const [domain, bus, dev] = colons === 1 ? [0, numbers[0]!, numbers[1]!] : [numbers[0]!, numbers[1]!, numbers[2]!];
  if (domain > 0xffff || bus > 0xff || dev > 0x1f) return undefined;
  let func: number;
  let mask: number;
  if (text[pos] === '*') {
    func = 0;
    mask = PCI_FUNC_ALL;
    pos++;
  } else {
    const f = scanHex(text, pos);
    if (!f || f.value > 7) return undefined;
    func = f.value;
    mask = 1;
    pos = f.end;
  }
  return { fields: { domain, bus, dev, func, vfunc_mask: mask }, end: pos };
}

/** parse_vslot: a hex slot 0-0x1f, stored as devfn (slot << 3). */
function parseVslot(text: string, pos: number): { vdevfn: number; end: number } {
  const n = scanHex(text, pos);
  if (!n || n.value > 0x1f) throw new PciSpecError(`virtual slot must be a hex number from 0 to 1f, got ${JSON.stringify(text.slice(pos))}`);
  return { vdevfn: n.value << 3, end: n.end };
}

function rdmPolicy(text: string): string {
  const policy = enumFromString(ENUMS.rdmPolicy, text);
  if (policy === undefined) throw new PciSpecError(`rdm_policy must be 'strict' or 'relaxed', got ${JSON.stringify(text)}`);
  return policy;
}

/** Parses one PCI_SPEC_STRING. Throws PciSpecError where libxlu fails. */
export function parsePciSpec(spec: string): PciFields {
  const out: PciFields = {};
  let bdfPresent = false;
  let namePresent = false;
  let pos = 0;
  const bdf = parseBdf(spec);
  if (bdf) {
    bdfPresent = true;
    Object.assign(out, bdf.fields);
    pos = bdf.end;
    if (spec[pos] === '@') {
      const slot = parseVslot(spec, pos + 1);
      out.vdevfn = slot.vdevfn;
      pos = slot.end;
    }
    if (spec[pos] === ',') pos++;
    else if (pos < spec.length) throw new PciSpecError(`unexpected ${JSON.stringify(spec.slice(pos))} after the BDF (expected ',key=value' or '@VSLOT')`);
  }
  while (pos < spec.length) {
    const eq = spec.indexOf('=', pos);
    if (eq < 0) throw new PciSpecError(`${JSON.stringify(spec.slice(pos))} is not key=value${bdfPresent ? '' : ' (and the spec does not start with a BDF like 0000:03:00.0)'}`);
    const key = spec.slice(pos, eq);
    const comma = spec.indexOf(',', eq + 1);
    const value = spec.slice(eq + 1, comma < 0 ? spec.length : comma);
    pos = comma < 0 ? spec.length : comma + 1;
    switch (key) {
      case 'bdf': {
        const b = parseBdf(value);
        if (!b) throw new PciSpecError(`bdf must be [DDDD:]BB:DD.F, got ${JSON.stringify(value)}`);
        Object.assign(out, b.fields);
        bdfPresent = true;
        break;
      }
      case 'vslot':
        out.vdevfn = parseVslot(value, 0).vdevfn;
        break;
      case 'permissive':
      case 'msitranslate':
      case 'seize':
      case 'power_mgmt':
        out[key] = cAtoi(value) !== 0;
        break;
      case 'rdm_policy':
        out.rdm_policy = rdmPolicy(value);
        break;
      case 'name':
        namePresent = true;
        out.name = value;
        break;
      default:
        throw new PciSpecError(`unknown option '${key}' (bdf, vslot, permissive, msitranslate, seize, power_mgmt, rdm_policy, name)`);
    }
  }
  if (bdfPresent === namePresent) {
    throw new PciSpecError(bdfPresent ? 'give a BDF or a name=, not both' : 'a device needs a BDF like 0000:03:00.0 (or name=)');
  }
  return out;
}

/**
 * xlu_rdm_parse for the values xl 4.17 reads correctly: `strategy=host` alone. Any `policy=` makes xl 4.17's
 * parser fail (it treats a recognised policy as an error), so xl drops the whole setting without a word; that is
 * refused here instead, since the guest would lack the reservation the operator asked for.
 */
export function parseRdm(text: string): { strategy: 'host' } {
  if (/(^|,)policy=/.test(text)) {
    throw new PciSpecError(`xl 4.17 ignores the whole rdm setting when it has a policy= (a bug in its parser); write rdm = "strategy=host" and set rdm_policy= on each pci device`);
  }
  if (text !== 'strategy=host') throw new PciSpecError(`rdm must be "strategy=host", got ${JSON.stringify(text)}`);
  return { strategy: 'host' };
}

/**
 * xl's vif specification (docs/man/xl-network-configuration.5.pod): `key=value` options separated by commas,
 * read as xl 4.17's parse_nic_config (tools/xl/xl_parse.c) reads them, into libxl_device_nic JSON.
 *
 * xl prints a complaint for a bad value (mac, type, devid, mtu) and carries on with whatever it got; here a bad
 * value is an error instead, since a half-read MAC address is worse than none. Options xl knows but xenclaim does
 * not map (rate, accel, the colo_* family) and options nobody knows become warnings, never silence.
 */

export interface LibxlNicJson {
  backend_domname?: string;
  devid: number;
  mtu?: number;
  model?: string;
  mac?: string;
  ip?: string;
  bridge?: string;
  ifname?: string;
  script?: string;
  nictype?: 'vif' | 'vif_ioemu';
  gatewaydev?: string;
  trusted?: 'True' | 'False';
}

export class NicSpecError extends Error {
  constructor(readonly option: string, reason: string) {
    super(reason);
    this.name = 'NicSpecError';
  }
}

export interface ParsedNic {
  nic: LibxlNicJson;
  /** Options that were ignored, each with why. */
  ignored: string[];
}

/** Options xl reads that xenclaim does not map (prefixes, as xl matches them). */
const UNSUPPORTED_PREFIXES = ['rate=', 'accel=', 'forwarddev=', 'colo_'];

/** xl's parse_ulong, minus its leniency: decimal digits only. */
function parseUnsigned(option: string, text: string, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) > max) {
    throw new NicSpecError(option, `${option} must be an integer from 0 to ${max}, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

/** Six hexadecimal octets separated by ':' (or '-'), printed as libxl prints a MAC. */
function parseMac(text: string): string {
  const m = /^([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})$/i.exec(text);
  if (!m) throw new NicSpecError('mac', `mac must be six hexadecimal octets like 00:16:3e:12:34:56, got ${JSON.stringify(text)}`);
  return m
    .slice(1)
    .map((octet) => octet.toLowerCase().padStart(2, '0'))
    .join(':');
}

const INT_MAX = 2 ** 31 - 1;

/** Parses the vif spec at `index` in the vif list (its default devid). */
export function parseNicSpec(spec: string, index: number): ParsedNic {
  const fields: Omit<LibxlNicJson, 'devid'> = {};
  let devid = index;
  const ignored: string[] = [];

  // strtok(",") skips empty pieces; xl then drops leading spaces (only spaces) from each.
  for (const piece of spec.split(',')) {
    if (piece === '') continue;
    const token = piece.replace(/^ +/, '');
    const eq = token.indexOf('=');
    const key = eq < 0 ? token : token.slice(0, eq);
    const value = eq < 0 ? '' : token.slice(eq + 1);
    if (eq < 0) {
      if (token === 'trusted') fields.trusted = 'True';
      else if (token === 'untrusted') fields.trusted = 'False';
      else ignored.push(`unrecognized vif option '${token}' (xl ignores it too)`);
      continue;
    }
    switch (key) {
      case 'type':
        if (value === 'vif') fields.nictype = 'vif';
        else if (value === 'ioemu') fields.nictype = 'vif_ioemu';
        else throw new NicSpecError('type', `type must be 'vif' or 'ioemu', got ${JSON.stringify(value)}`);
        break;
      case 'mac':
        fields.mac = parseMac(value);
        break;
      case 'bridge':
        fields.bridge = value;
        break;
      case 'netdev':
        ignored.push("vif option 'netdev' is deprecated; read as 'gatewaydev' (as xl does)");
        fields.gatewaydev = value;
        break;
      case 'gatewaydev':
        fields.gatewaydev = value;
        break;
      case 'ip':
        fields.ip = value;
        break;
      case 'script':
        fields.script = value;
        break;
      case 'backend':
        fields.backend_domname = value;
        break;
      case 'vifname':
        fields.ifname = value;
        break;
      case 'model':
        fields.model = value;
        break;
      case 'devid':
        devid = parseUnsigned('devid', value, INT_MAX);
        break;
      case 'mtu':
        fields.mtu = parseUnsigned('mtu', value, INT_MAX);
        break;
      default:
        if (UNSUPPORTED_PREFIXES.some((p) => token.startsWith(p))) {
          ignored.push(`vif option '${key}' is not supported by xenclaim; ignored`);
        } else {
          ignored.push(`unrecognized vif option '${key}' (xl ignores it too)`);
        }
    }
  }
  return { nic: orderNic(devid, fields), ignored };
}

/** libxl_types.idl order; absent fields are libxl's defaults. */
function orderNic(devid: number, f: Omit<LibxlNicJson, 'devid'>): LibxlNicJson {
  const out: Record<string, unknown> = {};
  if (f.backend_domname !== undefined) out['backend_domname'] = f.backend_domname;
  out['devid'] = devid;
  for (const key of ['mtu', 'model', 'mac', 'ip', 'bridge', 'ifname', 'script', 'nictype', 'gatewaydev', 'trusted'] as const) {
    if (f[key] !== undefined && !(key === 'mtu' && f.mtu === 0)) out[key] = f[key];
  }
  return out as unknown as LibxlNicJson;
}

/**
 * xl's vif specification (docs/man/xl-network-configuration.5.pod): `key=value` options separated by commas,
 * read as xl 4.17's parse_nic_config (tools/xl/xl_parse.c) reads them, into libxl_device_nic JSON.
 *
 * xl prints a complaint for a bad value (mac, type, devid, mtu) and carries on with whatever it got; here a bad
 * value is an error instead, since a half-read MAC address is worse than none. `accel` (which xl does not support)
 * and options nobody knows become warnings, never silence.
 */
import { NIC_COLO_FIELDS } from './libxl-idl.js';

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
  rate_bytes_per_interval?: number;
  rate_interval_usecs?: number;
  gatewaydev?: string;
  /** COLO options (forwarddev → coloft_forwarddev, colo_* under their own names). */
  [colo: `colo${string}`]: string | undefined;
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

/** The COLO options xl maps, each to the libxl_device_nic field of the same name. */
const COLO_OPTIONS = new Set<string>(NIC_COLO_FIELDS.filter((f) => f.startsWith('colo_')));

const UINT32_MAX = 2n ** 32n - 1n;

/** C's strtoull(text, &end, 0) over a string of decimal digits: a leading 0 makes it octal. */
function cStrtoullDigits(text: string): { value: bigint; rest: string } {
  const m = /^0[0-7]*|^[1-9][0-9]*/.exec(text);
  if (!m) return { value: 0n, rest: text };
  const digits = m[0];
  const value = digits.length > 1 && digits.startsWith('0') ? BigInt(`0o${digits.slice(1)}`) : BigInt(digits);
  return { value, rest: text.slice(digits.length) };
}

/**
 * libxlu's xlu_vif_parse_rate: `RATE[@INTERVAL]`, RATE like 10Mb/s or 1GB/s (b is bits, B bytes; G, M, K are
 * powers of 1000), INTERVAL like 50ms, 100us or 1s (default 50ms).
 */
export function parseVifRate(rate: string): { bytesPerInterval: number; intervalUsecs: number } {
  const fail = (reason: string): never => {
    throw new NicSpecError('rate', `rate ${JSON.stringify(rate)}: ${reason} (expected e.g. 10Mb/s or 10Mb/s@20ms)`);
  };
  const at = rate.indexOf('@');
  const bytes = at < 0 ? rate : rate.slice(0, at);
  const interval = at < 0 ? undefined : rate.slice(at + 1);
  if (bytes === '') fail('no rate specified');
  if (!/^[0-9]+[GMK]?[Bb]\/s$/.test(bytes)) fail('invalid rate');
  const b = cStrtoullDigits(bytes);
  if (b.value === 0n || b.value > UINT32_MAX) fail('rate overflow');
  let bytesPerSec = b.value;
  const unit = b.rest[0];
  if (unit === 'G') bytesPerSec *= 1_000_000_000n;
  else if (unit === 'M') bytesPerSec *= 1_000_000n;
  else if (unit === 'K') bytesPerSec *= 1_000n;
  if (unit === 'b' || b.rest[1] === 'b') bytesPerSec /= 8n;

  let intervalUsecs = 50_000n;
  if (interval !== undefined) {
    if (!/^[0-9]+[mu]?s?$/.test(interval)) fail('invalid replenishment interval');
    const i = cStrtoullDigits(interval);
    if (i.value === 0n || i.value > UINT32_MAX) fail('replenishment interval overflow');
    intervalUsecs = i.value;
    if (i.rest[0] === 's' || i.rest === '') intervalUsecs *= 1_000_000n;
    else if (i.rest[0] === 'm') intervalUsecs *= 1_000n;
    if (intervalUsecs > UINT32_MAX) fail('replenishment interval overflow');
  }
  const bytesPerInterval = (bytesPerSec * intervalUsecs) / 1_000_000n;
  if (bytesPerInterval > BigInt(Number.MAX_SAFE_INTEGER)) fail('rate overflow');
  return { bytesPerInterval: Number(bytesPerInterval), intervalUsecs: Number(intervalUsecs) };
}

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
      case 'rate': {
        const { bytesPerInterval, intervalUsecs } = parseVifRate(value);
        fields.rate_bytes_per_interval = bytesPerInterval;
        fields.rate_interval_usecs = intervalUsecs;
        break;
      }
      case 'mtu':
        fields.mtu = parseUnsigned('mtu', value, INT_MAX);
        break;
      case 'forwarddev':
        fields.coloft_forwarddev = value;
        break;
      case 'accel':
        ignored.push("vif option 'accel' is not supported by xl; ignored (as xl does)");
        break;
      default:
        if (COLO_OPTIONS.has(key)) fields[key as `colo${string}`] = value;
        else ignored.push(`unrecognized vif option '${key}' (xl ignores it too)`);
    }
  }
  return { nic: orderNic(devid, fields), ignored };
}

/** libxl_types.idl order; absent fields are libxl's defaults. */
function orderNic(devid: number, f: Omit<LibxlNicJson, 'devid'>): LibxlNicJson {
  const out: Record<string, unknown> = {};
  if (f.backend_domname !== undefined) out['backend_domname'] = f.backend_domname;
  out['devid'] = devid;
  for (const key of ['mtu', 'model', 'mac', 'ip', 'bridge', 'ifname', 'script', 'nictype', 'rate_bytes_per_interval', 'rate_interval_usecs', 'gatewaydev', ...NIC_COLO_FIELDS, 'trusted'] as const) {
    // Numbers at 0 are libxl's defaults, which its JSON leaves out.
    if (f[key] !== undefined && f[key] !== 0) out[key] = f[key];
  }
  return out as unknown as LibxlNicJson;
}

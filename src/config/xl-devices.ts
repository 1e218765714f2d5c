/**
 * The device and resource list keys of xl.cfg, read as xl 4.17's parse_config_data reads them
 * (tools/xl/xl_parse.c): pci, dtdev, ioports, irqs, iomem, p9, vtpm, vdispl, pvcalls, vsnd, channel, vfb,
 * usbctrl, usbdev, vkb. Each entry becomes a libxl_device_* (libxl_types.idl); where xl sets devid to the entry's
 * position (ARRAY_EXTEND_INIT), so does this.
 *
 * Where xl silently stops reading an entry (an option without '='), silently ignores an option, or keeps a value
 * from the previous entry, this refuses with a ConfigError naming the entry: the guest would lack what was written.
 */
import { addCpuidXendItem, CpuidSpecError, emptyCpuidPolicy, parseCpuidString } from './cpuid.js';
import { ENUMS, enumFromString, type IdlEnum } from './libxl-idl.js';
import { parsePciSpec, PciSpecError } from './pci-spec.js';
import { deviceList, type Fields, type MapContext, splitOptions, strtok } from './xl-context.js';
import type { XlString, XlValue } from './xl-parser.js';
import { cAtoi, cStrtoulPrefix } from './xl-reader.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const UINT32_MAX = 0xffff_ffffn;

/** strtoul(text, NULL, 0) as C reads it, then stored in a C integer of `bits`. */
function cUlong(text: string, bits: 8 | 32 = 32): number {
  return Number(cStrtoulPrefix(text, 0).value % 2n ** BigInt(bits));
}

/** An entry's error: `KEY[i] "spec": reason`, at the entry. */
function failEntry(ctx: MapContext, key: string, i: number, item: XlString, reason: string): never {
  return ctx.r.fail(item, key, `${key}[${i}] ${JSON.stringify(item.value)}: ${reason}`);
}

/** An option's value named by an enum, as libxl's `_from_string` reads it. */
function enumOption(ctx: MapContext, key: string, i: number, item: XlString, option: string, type: IdlEnum, text: string): string {
  const name = enumFromString(type, text);
  if (name === undefined) failEntry(ctx, key, i, item, `${option} must be one of ${Object.keys(type.values).join(', ')}, got ${JSON.stringify(text)}`);
  return name;
}

/** A list key read entry by entry into `into[field]` (a device list of the domain config, or a b_info list). */
function mapEntries<T>(ctx: MapContext, key: string, into: Fields, field: string, entry: (item: XlString, i: number) => T): void {
  const list = ctx.r.list(key);
  if (list) into[field] = list.items.map(entry);
}

/** Options of an entry that xl reads with strtok(",") and `strchr(p, '=')`, stopping at an option without '='. */
function optionsOrFail(ctx: MapContext, key: string, i: number, item: XlString): Array<{ key: string; value: string }> {
  return splitOptions(item.value).map((o) => {
    if (o.value === undefined) failEntry(ctx, key, i, item, `'${o.token}' is not key=value (xl would stop reading the entry there)`);
    return { key: o.key, value: o.value };
  });
}

/** pci_* globals and the pci list: libxl_device_pci per entry. */
export function mapPci(ctx: MapContext): void {
  const global = (name: string): boolean => {
    const v = ctx.r.number(name, -(2 ** 31), 2 ** 31 - 1, '', '0 or 1 (xl reads any integer; non-zero is true)');
    return v !== undefined && v.value !== 0;
  };
  const defaults = {
    msitranslate: global('pci_msitranslate'),
    power_mgmt: global('pci_power_mgmt'),
    permissive: global('pci_permissive'),
    seize: global('pci_seize'),
  };
  const pci = ctx.r.list('pci');
  if (!pci) return;
  // The per-device policy follows the global rdm policy. xl reads it from b_info.u.hvm whatever the type; for a
  // PV or PVH guest that memory is zero, which is "strict".
  const rdmPolicy = ctx.type === 'hvm' ? ((ctx.u['rdm'] as Fields | undefined)?.['policy'] ?? 'invalid') : 'strict';
  const devices = pci.items.map((item, i) => {
    try {
      return { ...defaults, rdm_policy: rdmPolicy, ...parsePciSpec(item.value) } as Fields;
    } catch (err) {
      if (!(err instanceof PciSpecError)) throw err;
      return failEntry(ctx, 'pci', i, item, err.message);
    }
  });
  ctx.d['pcidevs'] = devices;
  if (devices.length > 0 && ctx.type === 'pv') ctx.u['e820_host'] = true;
}

export function mapDtdev(ctx: MapContext): void {
  const list = ctx.r.list('dtdev');
  if (!list) return;
  ctx.d['dtdevs'] = list.items.map((item) => ({ path: item.value }));
  if (list.items.length > 0) ctx.r.warn(list.line, 'dtdev passes device-tree devices through, which only Arm hosts have');
}

/** ioports: `FIRST[-LAST]` in hex. */
export function mapIoports(ctx: MapContext): void {
  mapEntries(ctx, 'ioports', ctx.b_info, 'ioports', (item, i) => {
    const bad: (why: string) => never = (why) => failEntry(ctx, 'ioports', i, item, `${why}; expected a hex port or range like 3f8 or 3f8-3ff`);
    const first = cStrtoulPrefix(item.value, 16);
    if (first.read === 0) bad('not a number');
    if (first.value >= UINT32_MAX) bad('port too big');
    let last = first.value;
    const rest = item.value.slice(first.read);
    if (rest.startsWith('-')) {
      const second = cStrtoulPrefix(rest.slice(1), 16);
      if (second.read === 0 || second.read !== rest.length - 1) bad('bad range');
      if (second.value >= UINT32_MAX) bad('port too big');
      if (second.value < first.value) bad('the range ends before it starts (xl 4.17 would wrap the count)');
      last = second.value;
    } else if (rest !== '') bad(`unexpected ${JSON.stringify(rest)} (xl would ignore it)`);
    return { first: Number(first.value), number: Number(last - first.value + 1n) };
  });
}

/** irqs: decimal IRQ numbers. */
export function mapIrqs(ctx: MapContext): void {
  mapEntries(ctx, 'irqs', ctx.b_info, 'irqs', (item, i) => {
    const n = cStrtoulPrefix(item.value, 10);
    if (n.read === 0 || n.read !== item.value.length) failEntry(ctx, 'irqs', i, item, 'must be a decimal IRQ number');
    if (n.value >= UINT32_MAX) failEntry(ctx, 'irqs', i, item, 'IRQ number too big');
    return Number(n.value);
  });
}

/** sscanf's %lx at `pos`: space, optional sign and 0x, hex digits. */
function scanHex64(text: string, pos: number): { value: bigint; end: number } | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?)(?:0[xX](?=[0-9a-fA-F]))?([0-9a-fA-F]+)/.exec(text.slice(pos));
  if (!m) return undefined;
  let value = BigInt(`0x${m[2]}`);
  if (m[1] === '-') value = -value;
  return { value, end: pos + m[0].length };
}

/** iomem: `START,NUM[@GFN]` in hex page frames. */
export function mapIomem(ctx: MapContext): void {
  mapEntries(ctx, 'iomem', ctx.b_info, 'iomem', (item, i) => {
    const bad: (why: string) => never = (why) => failEntry(ctx, 'iomem', i, item, `${why}; expected START,NUM[@GFN] in hex page frames`);
    const start = scanHex64(item.value, 0);
    if (!start || item.value[start.end] !== ',') bad('not START,NUM');
    const number = scanHex64(item.value, start.end + 1);
    if (!number) bad('not START,NUM');
    let gfn: bigint | undefined;
    let end = number.end;
    if (item.value[end] === '@') {
      const g = scanHex64(item.value, end + 1);
      if (!g) bad('bad @GFN');
      gfn = g.value;
      end = g.end;
    }
    if (end !== item.value.length) bad(`unexpected ${JSON.stringify(item.value.slice(end))}`);
    const frame = (v: bigint, what: string): number => {
      if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) bad(`${what} must be from 0 to 0x1fffffffffffff`);
      return Number(v);
    };
    const range: Fields = { start: frame(start.value, 'START'), number: frame(number.value, 'NUM') };
    if (gfn !== undefined) range['gfn'] = frame(gfn, 'GFN');
    return range;
  });
}

/** p9: 9pfs shares. xl resets devid to libxl's default (it inits each entry twice). */
export function mapP9(ctx: MapContext): void {
  const list = ctx.r.list('p9');
  if (!list) return;
  let previousBackend: string | undefined;
  ctx.d['p9s'] = list.items.map((item, i) => {
    const fields: Record<string, string> = {};
    for (const o of optionsOrFail(ctx, 'p9', i, item)) {
      if (!['security_model', 'path', 'tag', 'backend'].includes(o.key)) {
        failEntry(ctx, 'p9', i, item, `unknown option '${o.key}' (tag, path, security_model, backend; xl refuses it too)`);
      }
      fields[o.key] = o.value;
    }
    for (const required of ['path', 'security_model', 'tag']) {
      // xl keeps the previous entry's value where one is missing; here every entry must say it.
      if (fields[required] === undefined) failEntry(ctx, 'p9', i, item, `${required}= is required (tag, path and security_model)`);
    }
    if (fields['backend'] === undefined && previousBackend !== undefined) {
      failEntry(ctx, 'p9', i, item, `no backend=: xl 4.17 would give it the previous share's backend (${previousBackend}); write it out`);
    }
    previousBackend = fields['backend'];
    const p9: Fields = { tag: fields['tag'], path: fields['path'], security_model: fields['security_model'] };
    if (fields['backend'] !== undefined) p9['backend_domname'] = fields['backend'];
    return p9;
  });
}

export function mapVtpm(ctx: MapContext): void {
  mapEntries(ctx, 'vtpm', ctx.d, 'vtpms', (item, i) => {
    const vtpm: Fields = { devid: i };
    let backend = false;
    for (const o of optionsOrFail(ctx, 'vtpm', i, item)) {
      if (o.key === 'backend') {
        vtpm['backend_domname'] = o.value;
        backend = true;
      } else if (o.key === 'uuid') {
        if (!UUID.test(o.value)) failEntry(ctx, 'vtpm', i, item, `uuid must be 8-4-4-4-12 hexadecimal digits, got ${JSON.stringify(o.value)}`);
        vtpm['uuid'] = o.value.toLowerCase();
      } else failEntry(ctx, 'vtpm', i, item, `unknown option '${o.key}' (backend, uuid; xl refuses it too)`);
    }
    if (!backend) failEntry(ctx, 'vtpm', i, item, 'backend= is required (the vTPM manager domain)');
    return vtpm;
  });
}

export function mapVdispl(ctx: MapContext): void {
  mapEntries(ctx, 'vdispl', ctx.d, 'vdispls', (item, i) => {
    const vdispl: Fields = { devid: i };
    for (const o of splitOptions(item.value)) {
      if (o.value === undefined) failEntry(ctx, 'vdispl', i, item, `unknown option '${o.token}' (backend=, be-alloc=, connectors=)`);
      if (o.key === 'backend') vdispl['backend_domname'] = o.value;
      else if (o.key === 'be-alloc') vdispl['be_alloc'] = cStrtoulPrefix(o.value, 0).value !== 0n;
      else if (o.key === 'connectors') {
        vdispl['connectors'] = strtok(o.value, ';').map((connector) => {
          const parts = strtok(connector, ':');
          const size = /^(\d+)x(\d+)$/.exec(parts[1] ?? '');
          if (parts.length !== 2 || !size) failEntry(ctx, 'vdispl', i, item, `connector ${JSON.stringify(connector)} must be ID:WIDTHxHEIGHT`);
          return { unique_id: parts[0], width: Number(BigInt(size[1]!) % 2n ** 32n), height: Number(BigInt(size[2]!) % 2n ** 32n) };
        });
      } else failEntry(ctx, 'vdispl', i, item, `unknown option '${o.key}' (backend, be-alloc, connectors; xl refuses it too)`);
    }
    if (!Array.isArray(vdispl['connectors']) || (vdispl['connectors'] as unknown[]).length === 0) {
      failEntry(ctx, 'vdispl', i, item, 'at least one connector is needed (connectors=ID:WIDTHxHEIGHT;...)');
    }
    return vdispl;
  });
}

export function mapPvcalls(ctx: MapContext): void {
  mapEntries(ctx, 'pvcalls', ctx.d, 'pvcallsifs', (item, i) => {
    const dev: Fields = { devid: i };
    for (const o of optionsOrFail(ctx, 'pvcalls', i, item)) {
      if (o.key !== 'backend') failEntry(ctx, 'pvcalls', i, item, `unknown option '${o.key}' (backend; xl refuses it too)`);
      dev['backend_domname'] = o.value;
    }
    return dev;
  });
}

/** parse_vsnd_params: the options a card, a PCM and a stream share; false when `key` is not one of them. */
function vsndParam(ctx: MapContext, i: number, item: XlString, params: Fields, key: string, value: string): boolean {
  if ((key === 'sample-rates' || key === 'sample-formats') && strtok(value, ';').length === 0) {
    failEntry(ctx, 'vsnd', i, item, `${key}= lists nothing (xl 4.17 crashes on it)`);
  }
  switch (key) {
    case 'sample-rates':
      params['sample_rates'] = strtok(value, ';').map((r) => cUlong(r));
      return true;
    case 'sample-formats':
      params['sample_formats'] = strtok(value, ';').map((f) => enumOption(ctx, 'vsnd', i, item, 'sample-formats', ENUMS.vsndPcmFormat, f));
      return true;
    case 'channels-min':
    case 'channels-max':
    case 'buffer-size':
      params[key.replace('-', '_')] = cUlong(value);
      return true;
    default:
      return false;
  }
}

/** vsnd = [ [ 'card, ...', 'pcm, ...', 'stream, ...' ], ... ]: one card per inner list. */
export function mapVsnd(ctx: MapContext): void {
  const s = ctx.r.setting('vsnd');
  if (!s) return;
  if (s.value.kind !== 'list') ctx.r.fail(s.value, 'vsnd', "vsnd must be a list of cards, each a list: vsnd = [ [ 'card, short-name=x', 'pcm, name=p', 'stream, type=p' ] ]");
  ctx.d['vsnds'] = s.value.items.map((card: XlValue, i) => {
    if (card.kind !== 'list') ctx.r.fail(card, 'vsnd', `vsnd[${i}] must be a list of 'card, ...', 'pcm, ...' and 'stream, ...' items`);
    const vsnd: Fields = { devid: i, params: {} };
    const pcms: Fields[] = [];
    for (const element of ctx.r.atoms('vsnd', card)) {
      const tokens = strtok(element.value, ',').map((t) => t.replace(/^ +/, ''));
      const kind = (tokens[0] ?? '').toLowerCase();
      if (kind === 'pcm' || (kind === 'stream' && pcms.length === 0)) pcms.push({ params: {}, streams: [] });
      if (kind === 'stream') (pcms[pcms.length - 1]!['streams'] as Fields[]).push({ params: {} });
      if (kind !== 'card' && kind !== 'pcm' && kind !== 'stream') failEntry(ctx, 'vsnd', i, element, `must start with card, pcm or stream, got ${JSON.stringify(tokens[0] ?? '')}`);
      for (const token of tokens.slice(1)) {
        const eq = token.indexOf('=');
        const key = eq < 0 ? token : token.slice(0, eq);
        const value = eq < 0 ? '' : token.slice(eq + 1);
        const pcm = pcms[pcms.length - 1];
        const stream = pcm ? (pcm['streams'] as Fields[])[(pcm['streams'] as Fields[]).length - 1] : undefined;
        const target = kind === 'card' ? vsnd : kind === 'pcm' ? pcm! : stream!;
        if (eq >= 0 && vsndParam(ctx, i, element, target['params'] as Fields, key, value)) continue;
        if (kind === 'card' && eq >= 0 && key === 'backend') vsnd['backend_domname'] = value;
        else if (kind === 'card' && eq >= 0 && (key === 'short-name' || key === 'long-name')) vsnd[key.replace('-', '_')] = value;
        else if (kind === 'pcm' && eq >= 0 && key === 'name') pcm!['name'] = value;
        else if (kind === 'stream' && eq >= 0 && key === 'unique-id') stream!['unique_id'] = value;
        else if (kind === 'stream' && eq >= 0 && key === 'type') stream!['type'] = enumOption(ctx, 'vsnd', i, element, 'type', ENUMS.vsndStreamType, value);
        else failEntry(ctx, 'vsnd', i, element, `invalid ${kind} parameter ${JSON.stringify(token)} (xl refuses it too)`);
      }
    }
    if (pcms.length > 0) vsnd['pcms'] = pcms;
    return vsnd;
  });
}

/** channel: named PV consoles, `name=NAME,connection=pty|socket[,path=PATH][,backend=DOM]`. */
export function mapChannel(ctx: MapContext): void {
  mapEntries(ctx, 'channel', ctx.d, 'channels', (item, i) => {
    const chn: Fields = { devid: i };
    let path: string | undefined;
    for (const pair of strtok(item.value, ',')) {
      const halves = strtok(pair, '=');
      if (halves.length < 2) failEntry(ctx, 'channel', i, item, `${JSON.stringify(pair)} is not key=value (xl refuses it too)`);
      if (halves.length > 2) failEntry(ctx, 'channel', i, item, `${JSON.stringify(pair)} has more than one '=' (xl would cut the value at the second)`);
      const key = halves[0]!.trim();
      const value = halves[1]!.trim();
      if (key === 'backend') chn['backend_domname'] = value;
      else if (key === 'name') chn['name'] = value;
      else if (key === 'path') path = value;
      else if (key === 'connection') {
        if (value !== 'pty' && value !== 'socket') failEntry(ctx, 'channel', i, item, `connection must be 'pty' or 'socket', got ${JSON.stringify(value)}`);
        chn['connection'] = value;
      } else ctx.r.warn(item.line, `channel[${i}]: unknown channel parameter '${key}'; ignored (as xl does)`);
    }
    if (chn['connection'] === undefined) failEntry(ctx, 'channel', i, item, 'connection=pty or connection=socket is required');
    if (chn['connection'] === 'socket') {
      if (path === undefined) failEntry(ctx, 'channel', i, item, "connection=socket needs path=...");
      chn['u'] = { path };
    }
    return chn;
  });
}

const VFB_OPTIONS = new Set(['vnc', 'vnclisten', 'vncpasswd', 'vncdisplay', 'vncunused', 'keymap', 'sdl', 'opengl', 'display', 'xauthority']);

/** vfb: a PV framebuffer per entry, each with a PV keyboard (xl adds a vkb for each vfb). */
export function mapVfb(ctx: MapContext): void {
  const list = ctx.r.list('vfb');
  if (!list) return;
  const vfbs = deviceList(ctx, 'vfbs');
  const vkbs = deviceList(ctx, 'vkbs');
  list.items.forEach((item, i) => {
    const vnc: Fields = {};
    const sdl: Fields = {};
    const vfb: Fields = { devid: vfbs.length, vnc, sdl };
    for (const o of optionsOrFail(ctx, 'vfb', i, item)) {
      if (!VFB_OPTIONS.has(o.key)) {
        ctx.r.warn(item.line, `vfb[${i}]: unknown option '${o.key}'; ignored (as xl does)`);
        continue;
      }
      if (o.key === 'vnc') vnc['enable'] = cAtoi(o.value) !== 0;
      else if (o.key === 'vnclisten') vnc['listen'] = o.value;
      else if (o.key === 'vncpasswd') vnc['passwd'] = o.value;
      else if (o.key === 'vncdisplay') vnc['display'] = cAtoi(o.value);
      else if (o.key === 'vncunused') vnc['findunused'] = cAtoi(o.value) !== 0;
      else if (o.key === 'keymap') vfb['keymap'] = o.value;
      else if (o.key === 'sdl') sdl['enable'] = cAtoi(o.value) !== 0;
      else if (o.key === 'opengl') sdl['opengl'] = cAtoi(o.value) !== 0;
      else sdl[o.key] = o.value; // display, xauthority
    }
    vfbs.push(vfb);
    vkbs.push({ devid: vkbs.length });
  });
}

export function mapUsbctrl(ctx: MapContext): void {
  mapEntries(ctx, 'usbctrl', ctx.d, 'usbctrls', (item, i) => {
    const ctrl: Fields = { devid: i };
    for (const o of optionsOrFail(ctx, 'usbctrl', i, item)) {
      if (o.key === 'type') ctrl['type'] = enumOption(ctx, 'usbctrl', i, item, 'type', ENUMS.usbctrlType, o.value);
      else if (o.key === 'version' || o.key === 'ports') ctrl[o.key] = cAtoi(o.value);
      else failEntry(ctx, 'usbctrl', i, item, `unknown option '${o.key}' (type, version, ports; xl refuses it too)`);
    }
    return ctrl;
  });
}

export function mapUsbdev(ctx: MapContext): void {
  mapEntries(ctx, 'usbdev', ctx.d, 'usbdevs', (item, i) => {
    const dev: Fields = {};
    const hostdev: Fields = {};
    for (const o of optionsOrFail(ctx, 'usbdev', i, item)) {
      if (o.key === 'type') dev['type'] = enumOption(ctx, 'usbdev', i, item, 'type', ENUMS.usbdevType, o.value);
      else if (o.key === 'hostbus' || o.key === 'hostaddr') hostdev[o.key] = cUlong(o.value, 8);
      else if (o.key === 'controller') dev['ctrl'] = cAtoi(o.value);
      else if (o.key === 'port') dev['port'] = cAtoi(o.value);
      else failEntry(ctx, 'usbdev', i, item, `unknown option '${o.key}' (type, hostbus, hostaddr, controller, port; xl refuses it too)`);
    }
    if (dev['type'] === undefined && Object.keys(hostdev).length > 0) {
      failEntry(ctx, 'usbdev', i, item, "needs type=hostdev: without it libxl's JSON, which xenclaim creates guests from, loses hostbus and hostaddr");
    }
    dev['u'] = hostdev;
    return dev;
  });
}

const VKB_NUMBERS: Readonly<Record<string, string>> = {
  width: 'width',
  height: 'height',
  'multi-touch-width': 'multi_touch_width',
  'multi-touch-height': 'multi_touch_height',
  'multi-touch-num-contacts': 'multi_touch_num_contacts',
};
const VKB_FEATURES: Readonly<Record<string, string>> = {
  'feature-disable-keyboard': 'feature_disable_keyboard',
  'feature-disable-pointer': 'feature_disable_pointer',
  'feature-abs-pointer': 'feature_abs_pointer',
  'feature-raw-pointer': 'feature_raw_pointer',
  'feature-multi-touch': 'feature_multi_touch',
};

/** vkb: PV keyboards/pointers with a backend-type, added after those of vfb and vnc. */
export function mapVkb(ctx: MapContext): void {
  const list = ctx.r.list('vkb');
  if (!list) return;
  const vkbs = deviceList(ctx, 'vkbs');
  list.items.forEach((item, i) => {
    const vkb: Fields = { devid: vkbs.length };
    for (const o of splitOptions(item.value)) {
      const value = o.value ?? '';
      if (o.value === undefined) failEntry(ctx, 'vkb', i, item, `unknown option '${o.token}'`);
      if (o.key === 'backend') vkb['backend_domname'] = value;
      else if (o.key === 'backend-type') vkb['backend_type'] = enumOption(ctx, 'vkb', i, item, 'backend-type', ENUMS.vkbBackend, value);
      else if (o.key === 'unique-id') vkb['unique_id'] = value;
      else if (VKB_FEATURES[o.key]) vkb[VKB_FEATURES[o.key]!] = cStrtoulPrefix(value, 0).value !== 0n;
      else if (VKB_NUMBERS[o.key]) vkb[VKB_NUMBERS[o.key]!] = cUlong(value);
      else failEntry(ctx, 'vkb', i, item, `unknown option '${o.key}' (xl refuses it too)`);
    }
    if (vkb['backend_type'] === undefined || vkb['backend_type'] === 'unknown') {
      failEntry(ctx, 'vkb', i, item, 'backend-type=qemu or backend-type=linux is required');
    }
    const touch = Boolean(vkb['multi_touch_width'] || vkb['multi_touch_height'] || vkb['multi_touch_num_contacts']);
    if (touch) vkb['feature_multi_touch'] = true;
    if (vkb['feature_multi_touch'] === true && !touch) {
      failEntry(ctx, 'vkb', i, item, 'feature-multi-touch needs multi-touch-width, multi-touch-height or multi-touch-num-contacts');
    }
    vkbs.push(vkb);
  });
}

/** cpuid: the string form (`host,FLAG=VALUE,...`) or xend's list form. */
export function mapCpuid(ctx: MapContext): void {
  const value = ctx.r.listOrString('cpuid');
  if (!value) return;
  try {
    if ('string' in value) {
      ctx.b_info['cpuid'] = parseCpuidString(value.string.value);
      return;
    }
    const policy = emptyCpuidPolicy();
    for (const item of value.list) {
      try {
        addCpuidXendItem(policy, item.value);
      } catch (err) {
        if (err instanceof CpuidSpecError) ctx.r.fail(item, 'cpuid', `cpuid: ${err.message}`);
        throw err;
      }
    }
    ctx.b_info['cpuid'] = policy;
  } catch (err) {
    if (!(err instanceof CpuidSpecError)) throw err;
    ctx.r.fail((value as { string: XlString }).string, 'cpuid', `cpuid: ${err.message}`);
  }
}


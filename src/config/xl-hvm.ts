/**
 * The keys xl 4.17 reads for HVM guests only (parse_config_data's HVM branch and its `vga`…`vendor_device` block,
 * tools/xl/xl_parse.c): firmware, ACPI/APIC/PAE/HPET and the other platform switches, Viridian, the MMIO hole, the
 * emulated display (vga, spice), serial ports, boot order, emulated USB. For a PV or PVH guest xl ignores them,
 * and so does this, with a warning.
 */
import { randomBytes } from 'node:crypto';
import { ENUMS, enumFromString, type IdlEnum } from './libxl-idl.js';
import { type Fields, type MapContext, member, warnIgnoredForType } from './xl-context.js';
import type { XlString } from './xl-parser.js';
import type { XlReader } from './xl-reader.js';

/** Xen 4.17's HVM MMIO hole limits (xen/include/public/hvm/e820.h): 256 MiB to 3840 MiB. */
const MMIO_HOLE_MIN_MIB = 256;
const MMIO_HOLE_MAX_MIB = 3840;

/** The u.hvm defbool keys, named as in xl.cfg and in libxl_domain_build_info.u.hvm. */
const HVM_DEFBOOLS = ['pae', 'acpi_s3', 'acpi_s4', 'acpi_laptop_slate', 'nx', 'hpet', 'vpt_align'] as const;

/** Every key read only for HVM guests. */
export const HVM_ONLY_KEYS: readonly string[] = [
  'firmware_override', 'bios_path_override', 'bios', ...HVM_DEFBOOLS, 'apic', 'viridian', 'mmio_hole', 'altp2mhvm',
  'smbios_firmware', 'acpi_firmware', 'ms_vm_genid', 'rdm_mem_boundary', 'mca_caps', 'vga', 'stdvga', 'hdtype',
  'spice', 'spiceport', 'spicetls_port', 'spicehost', 'spicedisable_ticketing', 'spicepasswd', 'spiceagent_mouse',
  'spicevdagent', 'spice_clipboard_sharing', 'spiceusbredirection', 'spice_image_compression',
  'spice_streaming_video', 'nographic', 'gfx_passthru', 'serial', 'boot', 'usb', 'usbversion', 'usbdevice',
  'vkb_device', 'soundhw', 'xen_platform_pci', 'vendor_device',
];

/** A string key naming an enum value, read with libxl's case-insensitive `_from_string`. */
export function enumKey(r: XlReader, key: string, type: IdlEnum, value: XlString): string {
  const name = enumFromString(type, value.value);
  if (name === undefined) {
    r.fail(value, key, `${key} must be one of ${Object.keys(type.values).map((n) => `'${n}'`).join(', ')}, got ${JSON.stringify(value.value)} (xl refuses it too)`);
  }
  return name;
}

/** A key that is a number or, failing that, a name (xl tries xlu_cfg_get_long quietly first). */
export function numberOrName(r: XlReader, key: string): { number: number; place: XlString } | { name: XlString } | undefined {
  if (!r.has(key)) return undefined;
  if (r.isLong(key)) {
    const n = r.long(key)!;
    return { number: n.value > 2n ** 31n || n.value < -(2n ** 31n) ? Number.NaN : Number(n.value), place: n.place };
  }
  return { name: r.string(key)! };
}

/** A key xl reads as a list of strings or, failing that, a single string (serial, usbdevice). */
function listOrStringInto(ctx: MapContext, key: string, single: string, list: string): void {
  const v = ctx.r.listOrString(key);
  if (!v) return;
  if ('list' in v) ctx.u[list] = v.list.map((s) => s.value);
  else ctx.u[single] = v.string.value;
}

function viridian(ctx: MapContext): void {
  const v = ctx.r.listOrString('viridian');
  if (!v) return;
  if ('string' in v) {
    ctx.u['viridian'] = ctx.r.defbool('viridian');
    return;
  }
  if (v.list.length === 0) return;
  const enable = new Set<number>();
  const disable = new Set<number>();
  for (const item of v.list) {
    if (item.value === 'all') {
      for (let bit = 0; bit < 64; bit++) enable.add(bit);
    } else if (item.value === 'defaults') {
      ctx.u['viridian'] = true;
    } else {
      const negate = item.value.startsWith('!');
      const name = enumFromString(ENUMS.viridianEnlightenment, negate ? item.value.slice(1) : item.value);
      if (name === undefined) {
        ctx.r.fail(item, 'viridian', `unknown viridian enlightenment ${JSON.stringify(item.value)} (all, defaults, ${Object.keys(ENUMS.viridianEnlightenment.values).join(', ')}; '!' disables one)`);
      }
      const bit = ENUMS.viridianEnlightenment.values[name]!;
      (negate ? disable : enable).add(bit);
      (negate ? enable : disable).delete(bit);
    }
  }
  ctx.u['viridian_enable'] = [...enable].sort((a, b) => a - b);
  ctx.u['viridian_disable'] = [...disable].sort((a, b) => a - b);
}

/** The `firmware` key of an HVM guest: a bios name, uefi, bios, or a path to custom firmware. */
function hvmFirmware(ctx: MapContext): void {
  const fw = ctx.r.string('firmware');
  if (!fw) return;
  const bios = enumFromString(ENUMS.biosType, fw.value);
  if (bios !== undefined) ctx.u['bios'] = bios;
  else if ('uefi'.startsWith(fw.value)) ctx.u['bios'] = 'ovmf';
  else if (!'bios'.startsWith(fw.value)) ctx.u['firmware'] = fw.value;
  // "bios" (or a prefix of it): libxl picks the BIOS for the device model.
}

/** parse_config_data's HVM branch of the type switch. */
export function mapHvmPlatform(ctx: MapContext): void {
  const { r, u, b_info } = ctx;
  const kernel = b_info['kernel'];
  if (typeof kernel === 'string' && (kernel.split('/').pop() ?? '') === 'hvmloader') {
    r.warnKey('kernel', 'kernel = ".../hvmloader" is ignored for an HVM guest (xl ignores it too); use firmware_override for a non-default firmware');
    delete b_info['kernel'];
  }
  const firmwareOverride = r.string('firmware_override');
  if (firmwareOverride) u['firmware'] = firmwareOverride.value;
  const biosPath = r.string('bios_path_override');
  if (biosPath) u['system_firmware'] = biosPath.value;
  const bios = r.string('bios');
  if (bios) u['bios'] = enumKey(r, 'bios', ENUMS.biosType, bios);
  else if (biosPath) r.warnKey('bios_path_override', 'bios_path_override given without specific bios name (xl warns too)');
  for (const key of HVM_DEFBOOLS) {
    const v = r.defbool(key);
    if (v !== undefined) u[key] = v;
  }
  const apic = r.defbool('apic');
  if (apic !== undefined) b_info['apic'] = apic;
  viridian(ctx);
  const hole = r.number('mmio_hole', MMIO_HOLE_MIN_MIB, MMIO_HOLE_MAX_MIB, 'MiB');
  if (hole) u['mmio_hole_memkb'] = hole.value * 1024;
  const altp2mhvm = r.defbool('altp2mhvm');
  if (altp2mhvm !== undefined) {
    u['altp2m'] = altp2mhvm;
    r.warnKey('altp2mhvm', 'altp2mhvm is deprecated; use altp2m (xl warns too)');
  }
  const smbios = r.string('smbios_firmware');
  if (smbios) u['smbios_firmware'] = smbios.value;
  const acpiFirmware = r.string('acpi_firmware');
  if (acpiFirmware) u['acpi_firmware'] = acpiFirmware.value;
  const genid = r.string('ms_vm_genid');
  if (genid) {
    if (genid.value === 'generate') u['ms_vm_genid'] = ctx.options.generateVmGenid?.() ?? [...randomBytes(16)];
    else if (genid.value !== 'none') r.fail(genid, 'ms_vm_genid', `ms_vm_genid must be "generate" or "none", got ${JSON.stringify(genid.value)}`);
  }
  const boundary = r.number('rdm_mem_boundary', 0, 2 ** 32 - 1, 'MiB');
  if (boundary) u['rdm_mem_boundary_memkb'] = boundary.value * 1024;
  const mca = r.list('mca_caps');
  if (mca) {
    for (const item of mca.items) {
      if (item.value !== 'lmce') r.fail(item, 'mca_caps', `unrecognized MCA capability ${JSON.stringify(item.value)} (only 'lmce'; xl refuses it too)`);
      u['mca_caps'] = 1; // XEN_HVM_MCA_CAP_LMCE
    }
  }
  hvmFirmware(ctx);
}

/** The HVM display, disk controller, serial, boot and USB keys (after the device model keys, as in xl). */
export function mapHvmDevices(ctx: MapContext): void {
  const { r, u } = ctx;
  const vga = r.string('vga');
  if (vga) {
    const kinds: Readonly<Record<string, string>> = { stdvga: 'std', cirrus: 'cirrus', none: 'none', qxl: 'qxl' };
    const kind = kinds[vga.value];
    if (kind === undefined) r.fail(vga, 'vga', `vga must be one of 'stdvga', 'cirrus', 'none', 'qxl', got ${JSON.stringify(vga.value)}`);
    member(u, 'vga')['kind'] = kind;
    if (r.has('stdvga')) r.warnKey('stdvga', 'stdvga is ignored: vga is set, and xl then ignores stdvga');
  } else {
    const std = r.defbool('stdvga');
    if (std !== undefined) member(u, 'vga')['kind'] = std ? 'std' : 'cirrus';
  }
  const hdtype = r.string('hdtype');
  if (hdtype) u['hdtype'] = enumKey(r, 'hdtype', ENUMS.hdtype, hdtype);
  const keymap = r.string('keymap');
  if (keymap) u['keymap'] = keymap.value;
  spice(ctx);
  const nographic = r.defbool('nographic');
  if (nographic !== undefined) u['nographic'] = nographic;
  const gfx = numberOrName(r, 'gfx_passthru');
  if (gfx && 'number' in gfx) u['gfx_passthru'] = gfx.number !== 0;
  else if (gfx) {
    u['gfx_passthru_kind'] = enumKey(r, 'gfx_passthru', ENUMS.gfxPassthruKind, gfx.name);
    u['gfx_passthru'] = true;
  }
  listOrStringInto(ctx, 'serial', 'serial', 'serial_list');
  const boot = r.string('boot');
  if (boot) u['boot'] = boot.value;
  const usb = r.defbool('usb');
  if (usb !== undefined) u['usb'] = usb;
  const usbversion = r.number('usbversion', -(2 ** 31), 2 ** 31 - 1);
  if (usbversion) u['usbversion'] = usbversion.value;
  listOrStringInto(ctx, 'usbdevice', 'usbdevice', 'usbdevice_list');
  const vkbDevice = r.defbool('vkb_device');
  if (vkbDevice !== undefined) u['vkb_device'] = vkbDevice;
  const soundhw = r.string('soundhw');
  if (soundhw) u['soundhw'] = soundhw.value;
  const platformPci = r.defbool('xen_platform_pci');
  if (platformPci !== undefined) u['xen_platform_pci'] = platformPci;
  const vnc = u['vnc'] as Fields | undefined;
  if (vnc && typeof vnc['listen'] === 'string' && vnc['display'] && vnc['listen'].includes(':')) {
    r.failKey('vncdisplay', 'the display is given both in vnclisten (HOST:DISPLAY) and in vncdisplay (xl refuses it too)');
  }
  const vendor = r.string('vendor_device');
  if (vendor) u['vendor_device'] = enumKey(r, 'vendor_device', ENUMS.vendorDevice, vendor);
}

const SPICE_DEFBOOLS: ReadonlyArray<readonly [string, string]> = [
  ['spice', 'enable'], ['spicedisable_ticketing', 'disable_ticketing'], ['spiceagent_mouse', 'agent_mouse'],
  ['spicevdagent', 'vdagent'], ['spice_clipboard_sharing', 'clipboard_sharing'],
];
const SPICE_INTS: ReadonlyArray<readonly [string, string]> = [['spiceport', 'port'], ['spicetls_port', 'tls_port'], ['spiceusbredirection', 'usbredirection']];
const SPICE_STRINGS: ReadonlyArray<readonly [string, string]> = [
  ['spicehost', 'host'], ['spicepasswd', 'passwd'], ['spice_image_compression', 'image_compression'],
  ['spice_streaming_video', 'streaming_video'],
];

function spice(ctx: MapContext): void {
  const s = member(ctx.u, 'spice');
  for (const [key, field] of SPICE_DEFBOOLS) {
    const v = ctx.r.defbool(key);
    if (v !== undefined) s[field] = v;
  }
  for (const [key, field] of SPICE_INTS) {
    const v = ctx.r.number(key, -(2 ** 31), 2 ** 31 - 1);
    if (v) s[field] = v.value;
  }
  for (const [key, field] of SPICE_STRINGS) {
    const v = ctx.r.string(key);
    if (v) s[field] = v.value;
  }
}

/** For a PV or PVH guest: the HVM-only keys are ignored, as xl ignores them. */
export function warnHvmOnlyKeys(ctx: MapContext): void {
  warnIgnoredForType(ctx, HVM_ONLY_KEYS, `it applies to HVM guests, and this is a ${ctx.type} guest`);
}

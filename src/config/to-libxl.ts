/**
 * Maps a parsed xl.cfg to libxl's JSON domain config: the JSON `xl -N create` prints for Xen 4.17. The steps follow
 * parse_config_data in tools/xl/xl_parse.c key by key; the result is a libxl_domain_config value tree printed by
 * libxl-idl.ts as libxl's generator prints it (IDL order, fields at their default left out).
 *
 * xl's global defaults (no /etc/xen/xl.conf) are applied as xl applies them: run_hotplug_scripts and claim_mode
 * are "True". Every top-level key xl 4.17 reads is mapped (docs/xl-config.md lists them); a key xl ignores for the
 * domain type is ignored with a warning, as is an unknown key; a value xl would misread is refused.
 */
import { randomUUID } from 'node:crypto';
import type { LibxlDomainConfig } from '../backend.js';
import { DOMAIN_NAME_RULE, isDomainName, MAX_VCPUS, quote } from '../validate.js';
import { DiskSpecError, parseDiskSpec } from './disk-spec.js';
import { ENUMS, libxlJson } from './libxl-idl.js';
import { xlFieldLocator, type FieldLocator } from './libxl-refusals.js';
import { NicSpecError, parseNicSpec } from './nic-spec.js';
import { parseRdm, PciSpecError } from './pci-spec.js';
import { mapAffinity, mapVnuma } from './xl-cpus.js';
import { deviceList, type DomainType, type Fields, type MapContext, type MapOptions, member, warnIgnoredForType } from './xl-context.js';
import {
  mapChannel, mapCpuid, mapDtdev, mapIomem, mapIoports, mapIrqs, mapP9, mapPci, mapPvcalls, mapUsbctrl, mapUsbdev,
  mapVdispl, mapVfb, mapVkb, mapVsnd, mapVtpm,
} from './xl-devices.js';
import { enumKey, mapHvmDevices, mapHvmPlatform, numberOrName, warnHvmOnlyKeys } from './xl-hvm.js';
import { XL_KNOWN_KEYS } from './xl-keys.js';
import type { XlConfig, XlString } from './xl-parser.js';
import { XlReader } from './xl-reader.js';

/** x86 Xen 4.17 without CONFIG_BIGMEM addresses at most 16 TiB, so no guest can be larger. */
export const MAX_GUEST_MEMORY_MIB = 16 * 1024 * 1024;

/** Where Debian's Xen 4.17 keeps its firmware (XENFIRMWAREDIR): pvgrub32.bin, pvgrub64.bin, hvmloader. */
export const XEN_FIRMWARE_DIR = '/usr/lib/xen-4.17/boot';

const INT_MAX = 2 ** 31 - 1;
const INT_MIN = -(2 ** 31);

/** A config read: the libxl JSON, the warnings, and where each libxl field came from in the file. */
export interface GuestConfigResult {
  config: LibxlDomainConfig;
  /** `FILE:LINE: warning: …` lines: keys ignored, values read in a surprising way. */
  warnings: string[];
  /** Where a libxl JSON field (`b_info.target_memkb`) was set in the file: its xl key or JSON path, and line. */
  locate: FieldLocator;
}

/** How a config is read: for which host (XlHost), and how to make what xl makes at random (UUIDs, VM generation ids). */
export type GuestConfigOptions = MapOptions;

/** libxl_action_on_shutdown: xl's names → libxl's JSON names. */
const SHUTDOWN_ACTIONS: Readonly<Record<string, string>> = {
  destroy: 'destroy',
  restart: 'restart',
  'rename-restart': 'restart_rename',
  preserve: 'preserve',
  'coredump-destroy': 'coredump_destroy',
  'coredump-restart': 'coredump_restart',
  'soft-reset': 'soft_reset',
};

const ACTION_KEYS = [
  ['on_poweroff', 'destroy'],
  ['on_reboot', 'restart'],
  ['on_watchdog', 'destroy'],
  ['on_crash', 'destroy'],
  ['on_soft_reset', 'soft-reset'],
] as const;

/** Scheduler keys → libxl_domain_sched_params fields (C ints). */
const SCHED_KEYS = [
  ['cpu_weight', 'weight'],
  ['cap', 'cap'],
  ['period', 'period'],
  ['slice', 'slice'],
  ['latency', 'latency'],
  ['extratime', 'extratime'],
] as const;

/** Keys xl reads and then only warns about: the guest does not change. */
const WARN_ONLY: Readonly<Record<string, string>> = {
  vncviewer: 'vncviewer is ignored; xl create -V starts a viewer (xl ignores the key too)',
  vif2: 'vif2 (netchannel2) is deprecated and not supported by xl; ignored',
  device_model: 'device_model is ignored; use device_model_override for a non-default device model (xl ignores it too)',
};

/** Keys read for Arm guests only; libxl on x86 carries them without effect. */
const ARM_ONLY = ['vuart', 'gic_version', 'tee', 'device_tree'];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

class Mapper {
  private readonly r: XlReader;

  constructor(
    cfg: XlConfig,
    private readonly options: MapOptions,
  ) {
    this.r = new XlReader(cfg);
  }

  warnings(): string[] {
    return this.r.warnings();
  }

  /** xl matches a type by prefix (strncmp(value, "hvm", strlen(value))): `h` is hvm, `p` is pv. */
  private domainType(): DomainType {
    let type: DomainType | undefined;
    const typeValue = this.r.string('type');
    if (typeValue) type = this.matchPrefix('type', typeValue, ['hvm', 'pv', 'pvh'] as const);
    const builder = this.r.string('builder');
    if (builder) {
      const b = this.matchPrefix('builder', builder, ['hvm', 'generic'] as const);
      const builderType: DomainType = b === 'hvm' ? 'hvm' : 'pv';
      if (type !== undefined && type !== builderType) {
        this.r.fail(builder, 'builder', `builder = "${builder.value}" contradicts type = "${typeValue!.value}"`);
      }
      this.r.warn(builder.line, `builder is deprecated since Xen 4.10; use type = "${builderType}"`);
      type = builderType;
    }
    return type ?? 'pv';
  }

  private matchPrefix<T extends string>(key: string, value: XlString, names: readonly T[]): T {
    const found = value.value === '' ? undefined : names.find((n) => n.startsWith(value.value));
    if (found === undefined) {
      this.r.fail(value, key, `${key} must be one of ${names.map((n) => `'${n}'`).join(', ')}, got ${JSON.stringify(value.value)}`);
    }
    if (found !== value.value) this.r.warn(value.line, `${key} = "${value.value}" is read as "${found}" (xl accepts abbreviations)`);
    return found;
  }

  private uuid(): string {
    const u = this.r.string('uuid');
    if (!u) return (this.options.generateUuid ?? randomUUID)();
    if (!UUID.test(u.value)) {
      this.r.fail(u, 'uuid', `uuid must be 32 hexadecimal digits as 8-4-4-4-12 (e.g. 6e8e9a49-7a4c-4c3a-9f7c-0f1d2e3a4b5c), got ${JSON.stringify(u.value)}`);
    }
    return u.value.toLowerCase();
  }

  /** xl's parse_cmdline: cmdline wins; otherwise "root=ROOT EXTRA". */
  private cmdline(): string | undefined {
    const cmdline = this.r.string('cmdline');
    const root = this.r.string('root');
    const extra = this.r.string('extra');
    if (cmdline) {
      if (root || extra) this.r.warn(cmdline.line, 'ignoring root= and extra= in favour of cmdline= (as xl does)');
      return cmdline.value;
    }
    if (root && extra) return `root=${root.value} ${extra.value}`;
    if (root) return `root=${root.value}`;
    return extra?.value;
  }

  private bootloaderArgs(): string[] | undefined {
    const v = this.r.listOrString('bootloader_args');
    if (!v) return undefined;
    if ('list' in v) return v.list.map((i) => i.value);
    const args = v.string.value.split(/[ \t\n]+/).filter((a) => a !== '');
    if (args.length === 0) this.r.fail(v.string, 'bootloader_args', 'bootloader_args = "" has no arguments (xl 4.17 crashes on it); leave the key out');
    this.r.warn(v.line, 'bootloader_args as a string is deprecated; use a list of arguments (split on spaces, as xl does)');
    return args;
  }

  private string(key: string, into: Fields, field = key): void {
    const s = this.r.string(key);
    if (s) into[field] = s.value;
  }

  private defbool(key: string, into: Fields, field = key): void {
    const v = this.r.defbool(key);
    if (v !== undefined) into[field] = v;
  }

  private action(key: string, fallback: string): string {
    const s = this.r.string(key);
    const name = s?.value ?? fallback;
    const action = SHUTDOWN_ACTIONS[name];
    if (action === undefined) {
      this.r.fail(s!, key, `${key} must be one of ${Object.keys(SHUTDOWN_ACTIONS).map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(name)}`);
    }
    return action;
  }

  map(): LibxlDomainConfig {
    const r: XlReader = this.r;
    const c_info: Fields = {};
    const type = this.domainType();
    const u: Fields = {};
    const b_info: Fields = { type, u };
    const d: Fields = { c_info, b_info };
    const ctx: MapContext = { r, type, options: this.options, d, c_info, b_info, u };

    // XSM labels: init_seclabel is the label at creation; seclabel the one to run with (or both).
    this.string('init_seclabel', c_info, 'ssid_label');
    const seclabel = r.string('seclabel');
    if (seclabel && c_info['ssid_label'] !== undefined) b_info['exec_ssid_label'] = seclabel.value;
    else if (seclabel) c_info['ssid_label'] = seclabel.value;
    c_info['run_hotplug_scripts'] = true;
    c_info['type'] = type;
    this.defbool('hap', c_info);

    const nameSetting = r.string('name');
    if (!nameSetting || nameSetting.value === '') {
      if (nameSetting) r.fail(nameSetting, 'name', 'name must not be empty');
      r.fail({ line: 1, column: 1 }, 'name', 'name is required (the domain name), e.g. name = "guest1"');
    }
    if (!isDomainName(nameSetting.value)) r.fail(nameSetting, 'name', `name must be ${DOMAIN_NAME_RULE}, got ${quote(nameSetting.value)}`);
    c_info['name'] = nameSetting.value;
    c_info['uuid'] = this.uuid();
    this.defbool('oos', c_info);
    this.string('pool', c_info, 'pool_name');

    if (type === 'pvh') {
      this.defbool('pvshim', u);
      for (const key of ['pvshim_path', 'pvshim_cmdline', 'pvshim_extra']) this.string(key, u);
    } else {
      warnIgnoredForType(ctx, ['pvshim', 'pvshim_path', 'pvshim_cmdline', 'pvshim_extra'], `it applies to PVH guests, and this is a ${type} guest`);
    }

    const sched: Fields = {};
    b_info['sched_params'] = sched;
    for (const [key, field] of SCHED_KEYS) {
      const v = r.number(key, INT_MIN, INT_MAX);
      if (v) sched[field] = v.value;
    }

    const memory = r.number('memory', 1, MAX_GUEST_MEMORY_MIB, 'MiB');
    const maxmem = r.number('maxmem', 1, MAX_GUEST_MEMORY_MIB, 'MiB');
    if (memory && maxmem && maxmem.value < memory.value) {
      r.fail(maxmem.place, 'maxmem', `maxmem must be an integer from ${memory.value} (memory) to ${MAX_GUEST_MEMORY_MIB} (MiB), got ${maxmem.value}`);
    }
    if (memory) b_info['target_memkb'] = memory.value * 1024;
    if (maxmem) b_info['max_memkb'] = maxmem.value * 1024;
    const vcpus = r.number('vcpus', 1, MAX_VCPUS);
    const maxvcpus = r.number('maxvcpus', 1, MAX_VCPUS);
    if (vcpus && maxvcpus && maxvcpus.value < vcpus.value) {
      r.fail(maxvcpus.place, 'maxvcpus', `maxvcpus must be an integer from ${vcpus.value} (vcpus) to ${MAX_VCPUS}, got ${maxvcpus.value}`);
    }
    if (vcpus) b_info['avail_vcpus'] = Array.from({ length: vcpus.value }, (_, i) => i);
    if (maxvcpus) b_info['max_vcpus'] = maxvcpus.value;
    const vuart = r.string('vuart');
    if (vuart) member(b_info, 'arch_arm')['vuart'] = enumKey(r, 'vuart', ENUMS.vuartType, vuart);

    mapVnuma(ctx);
    if (b_info['max_memkb'] === undefined && b_info['target_memkb'] !== undefined) b_info['max_memkb'] = b_info['target_memkb'];
    if (b_info['max_vcpus'] === undefined && vcpus) b_info['max_vcpus'] = vcpus.value;
    const maxVcpus = (b_info['max_vcpus'] as number | undefined) ?? 0;
    if (vcpus && maxVcpus < vcpus.value) r.fail(vcpus.place, 'vcpus', `vcpus (${vcpus.value}) is more than vnuma's ${maxVcpus} vCPUs (xl refuses it too)`);

    mapAffinity(ctx, 'cpus', maxVcpus);
    mapAffinity(ctx, 'cpus_soft', maxVcpus);

    for (const key of ['max_grant_frames', 'max_maptrack_frames', 'max_grant_version']) {
      const v = r.number(key, 0, INT_MAX);
      if (v) b_info[key] = v.value;
    }
    b_info['claim_mode'] = true;

    for (const [key, fallback] of ACTION_KEYS) d[key] = this.action(key, fallback);

    if (type === 'pv') this.defbool('e820_host', u);
    else warnIgnoredForType(ctx, ['e820_host'], `it applies to PV guests, and this is a ${type} guest`);

    const rdm = r.string('rdm');
    if (rdm) {
      if (type !== 'hvm') {
        // xl stores it over the PV/PVH settings and hands its uninitialised policy to the PCI devices.
        const pci = r.cfg.get('pci')?.value;
        if (pci?.kind === 'list' && pci.items.length > 0) r.fail(rdm, 'rdm', `rdm applies to HVM guests; for a ${type} guest with pci devices xl 4.17 gives them an uninitialised rdm policy; leave rdm out`);
        r.warn(rdm.line, `rdm is ignored: it applies to HVM guests, and this is a ${type} guest`);
      } else {
        try {
          (u['rdm'] = {} as Fields)['strategy'] = parseRdm(rdm.value).strategy;
          r.warn(rdm.line, "rdm's policy is left to libxl's default (relaxed); xl 4.17 leaves it uninitialised and prints null");
        } catch (err) {
          if (!(err instanceof PciSpecError)) throw err;
          r.fail(rdm, 'rdm', `rdm ${JSON.stringify(rdm.value)}: ${err.message}`);
        }
      }
    }
    mapPci(ctx);
    mapDtdev(ctx);
    const passthrough = r.string('passthrough');
    if (passthrough) c_info['passthrough'] = enumKey(r, 'passthrough', ENUMS.passthrough, passthrough);

    const shadow = r.number('shadow_memory', 0, MAX_GUEST_MEMORY_MIB, 'MiB');
    if (shadow) b_info['shadow_memkb'] = shadow.value * 1024;
    this.defbool('nomigrate', b_info, 'disable_migrate');
    this.tscMode(b_info);
    const rtc = r.number('rtc_timeoffset', INT_MIN, 2 ** 32 - 1, 'seconds');
    if (rtc) b_info['rtc_timeoffset'] = rtc.value < 0 ? rtc.value + 2 ** 32 : rtc.value;
    this.defbool('localtime', b_info);
    const videoram = r.number('videoram', 0, MAX_GUEST_MEMORY_MIB, 'MiB');
    if (videoram) b_info['video_memkb'] = videoram.value * 1024;
    const channels = r.number('max_event_channels', 0, 2 ** 32 - 1);
    if (channels) b_info['event_channels'] = channels.value;

    this.string('kernel', b_info);
    this.string('ramdisk', b_info);
    this.string('device_tree', b_info);
    const cmdline = this.cmdline();
    if (cmdline !== undefined) b_info['cmdline'] = cmdline;
    this.defbool('driver_domain', c_info);
    this.defbool('acpi', b_info);
    this.string('bootloader', b_info);
    const bootloaderArgs = this.bootloaderArgs();
    if (bootloaderArgs) b_info['bootloader_args'] = bootloaderArgs;
    this.timerMode(ctx);
    this.defbool('nestedhvm', b_info, 'nested_hvm');

    if (type === 'hvm') {
      mapHvmPlatform(ctx);
    } else {
      warnHvmOnlyKeys(ctx);
      this.pvFirmware(ctx);
    }

    const altp2m = numberOrName(r, 'altp2m');
    if (altp2m && 'number' in altp2m) {
      if (!(altp2m.number >= 0 && altp2m.number <= 3)) r.fail(altp2m.place, 'altp2m', `altp2m must be 0 to 3 or one of 'disabled', 'mixed', 'external', 'limited', got ${altp2m.place.value}`);
      b_info['altp2m'] = Object.keys(ENUMS.altp2mMode.values)[altp2m.number];
    } else if (altp2m) b_info['altp2m'] = enumKey(r, 'altp2m', ENUMS.altp2mMode, altp2m.name);
    const vmtrace = r.number('vmtrace_buf_kb', 0, INT_MAX, 'KiB');
    if (vmtrace && vmtrace.value !== 0) b_info['vmtrace_buf_kb'] = vmtrace.value;

    mapIoports(ctx);
    mapIrqs(ctx);
    mapIomem(ctx);
    this.disks(d);
    mapP9(ctx);
    mapVtpm(ctx);
    mapVdispl(ctx);
    mapPvcalls(ctx);
    mapVsnd(ctx);
    mapChannel(ctx);
    this.nics(d);
    mapVfb(ctx);
    mapUsbctrl(ctx);
    mapUsbdev(ctx);
    mapCpuid(ctx);
    this.deviceModel(ctx);
    this.display(ctx);
    this.defbool('dm_restrict', b_info);
    if (type === 'hvm') mapHvmDevices(ctx);
    const gic = r.string('gic_version');
    if (gic) member(b_info, 'arch_arm')['gic_version'] = enumKey(r, 'gic_version', ENUMS.gicVersion, gic);
    const tee = r.string('tee');
    if (tee) b_info['tee'] = enumKey(r, 'tee', ENUMS.teeType, tee);
    mapVkb(ctx);
    this.defbool('xend_suspend_evtchn_compat', c_info);
    const msrRelaxed = r.defbool('msr_relaxed');
    if (msrRelaxed !== undefined) {
      member(b_info, 'arch_x86')['msr_relaxed'] = msrRelaxed;
      r.warnKey('msr_relaxed', 'msr_relaxed will be removed in future versions of Xen (xl warns too)');
    }
    this.defbool('vpmu', b_info);

    if (type !== 'hvm' && b_info['kernel'] === undefined && b_info['bootloader'] === undefined) {
      const where = r.cfg.get('type') ?? r.cfg.get('name')!;
      r.fail(where.value, 'kernel', `a ${type} guest needs kernel = "..." or bootloader = "..." (neither is set)`);
    }
    for (const key of ARM_ONLY) if (r.has(key)) r.warnKey(key, `${key} applies to Arm guests; libxl on x86 does not use it`);
    this.warnUnknownKeys();
    return libxlJson(d) as LibxlDomainConfig;
  }

  /** tsc_mode: a name, or (deprecated) its number. */
  private tscMode(b_info: Fields): void {
    const v = numberOrName(this.r, 'tsc_mode');
    if (!v) return;
    if ('number' in v) {
      const names = Object.keys(ENUMS.tscMode.values);
      if (!(v.number >= 0 && v.number < names.length)) this.r.fail(v.place, 'tsc_mode', `tsc_mode must be one of ${names.map((n) => `'${n}'`).join(', ')} (or 0 to 3), got ${v.place.value}`);
      this.r.warn(v.place.line, `tsc_mode as an integer is deprecated; write tsc_mode = "${names[v.number]}" (xl warns too)`);
      b_info['tsc_mode'] = names[v.number];
    } else b_info['tsc_mode'] = enumKey(this.r, 'tsc_mode', ENUMS.tscMode, v.name);
  }

  /** timer_mode: a name, or (deprecated) its number; refused for PV guests, as xl refuses it. */
  private timerMode(ctx: MapContext): void {
    const v = numberOrName(ctx.r, 'timer_mode');
    if (!v) return;
    const place = 'number' in v ? v.place : v.name;
    if (ctx.type === 'pv') ctx.r.fail(place, 'timer_mode', 'timer_mode is not supported for PV guests (xl refuses it too)');
    const names = Object.keys(ENUMS.timerMode.values).filter((n) => n !== 'unknown');
    if ('number' in v) {
      if (!(v.number >= 0 && v.number <= 3)) ctx.r.fail(place, 'timer_mode', `timer_mode must be one of ${names.map((n) => `'${n}'`).join(', ')} (or 0 to 3), got ${v.place.value}`);
      ctx.r.warn(place.line, `timer_mode as an integer is deprecated; write timer_mode = "${names[v.number]}" (xl warns too)`);
      ctx.b_info['timer_mode'] = names[v.number];
    } else ctx.b_info['timer_mode'] = enumKey(ctx.r, 'timer_mode', ENUMS.timerMode, v.name);
  }

  /** `firmware` for PV and PVH guests: pvgrub32 or pvgrub64 from Xen's firmware directory, as the kernel. */
  private pvFirmware(ctx: MapContext): void {
    const fw = this.r.string('firmware');
    if (!fw) return;
    if (ctx.b_info['kernel'] !== undefined) this.r.fail(fw, 'firmware', 'both kernel and firmware are set (xl refuses it too)');
    if (fw.value !== 'pvgrub32' && fw.value !== 'pvgrub64') {
      this.r.fail(fw, 'firmware', `firmware for a ${ctx.type} guest must be 'pvgrub32' or 'pvgrub64', got ${JSON.stringify(fw.value)}`);
    }
    ctx.b_info['kernel'] = `${XEN_FIRMWARE_DIR}/${fw.value}.bin`;
  }

  private deviceModel(ctx: MapContext): void {
    const { r, b_info } = ctx;
    this.string('device_model_override', b_info, 'device_model');
    const version = r.string('device_model_version');
    if (version) {
      const versions: Readonly<Record<string, string>> = { 'qemu-xen-traditional': 'qemu_xen_traditional', 'qemu-xen': 'qemu_xen' };
      const v = versions[version.value];
      if (v === undefined) r.fail(version, 'device_model_version', `device_model_version must be 'qemu-xen' or 'qemu-xen-traditional', got ${JSON.stringify(version.value)}`);
      b_info['device_model_version'] = v;
    } else if (b_info['device_model'] !== undefined) {
      r.warnKey('device_model_override', 'device model override given without specific DM version (xl warns too)');
    }
    this.defbool('device_model_stubdomain_override', b_info, 'device_model_stubdomain');
    this.string('device_model_stubdomain_seclabel', b_info, 'device_model_ssid_label');
    this.string('device_model_user', b_info);
    for (const key of ['stubdomain_kernel', 'stubdomain_cmdline', 'stubdomain_ramdisk']) this.string(key, b_info);
    const stubMemory = r.number('stubdomain_memory', 0, MAX_GUEST_MEMORY_MIB, 'MiB');
    if (stubMemory) b_info['stubdomain_memkb'] = stubMemory.value * 1024;
    for (const [key, field] of [['device_model_args', 'extra'], ['device_model_args_pv', 'extra_pv'], ['device_model_args_hvm', 'extra_hvm']] as const) {
      const list = r.list(key);
      if (list) b_info[field] = list.items.map((i) => i.value);
    }
  }

  /**
   * The top-level vnc and sdl keys (parse_top_level_vnc_options, parse_top_level_sdl_options). A PV guest without
   * a vfb list gets a vfb and a vkb from them when vnc is enabled; an HVM guest's emulated display takes them. For
   * a PVH guest (or a PV guest with vfb) xl writes them where nothing reads them: ignored, with a warning.
   */
  private display(ctx: MapContext): void {
    const { r, type } = ctx;
    const keys = ['vnc', 'vnclisten', 'vncpasswd', 'vncdisplay', 'vncunused', 'sdl', 'opengl', 'display', 'xauthority'];
    const hasVfbs = Array.isArray(ctx.d['vfbs']) && (ctx.d['vfbs'] as unknown[]).length > 0;
    if (type === 'pv' && !hasVfbs) {
      const enabled = r.defbool('vnc');
      if (!enabled) {
        warnIgnoredForType(ctx, [...keys.filter((k) => k !== 'vnc'), 'keymap'], 'vnc is not enabled, so xl adds no vfb');
        if (enabled === false && r.has('vnc')) r.warnKey('vnc', 'vnc is ignored: vnc is not enabled, so xl adds no vfb');
        return;
      }
      const vfbs = deviceList(ctx, 'vfbs');
      const vkbs = deviceList(ctx, 'vkbs');
      const vfb: Fields = { devid: vfbs.length, vnc: this.vnc(), sdl: this.sdl() };
      this.string('keymap', vfb);
      vfbs.push(vfb);
      vkbs.push({ devid: vkbs.length });
      return;
    }
    if (type !== 'hvm') {
      const why = type === 'pvh' ? 'a pvh guest has no emulated display' : 'vfb is set, and xl then ignores them';
      warnIgnoredForType(ctx, [...keys, 'keymap'], why);
      return;
    }
    ctx.u['vnc'] = this.vnc();
    ctx.u['sdl'] = this.sdl();
  }

  private vnc(): Fields {
    const vnc: Fields = {};
    this.defbool('vnc', vnc, 'enable');
    this.string('vnclisten', vnc, 'listen');
    this.string('vncpasswd', vnc, 'passwd');
    const display = this.r.number('vncdisplay', INT_MIN, INT_MAX);
    if (display) vnc['display'] = display.value;
    this.defbool('vncunused', vnc, 'findunused');
    return vnc;
  }

  private sdl(): Fields {
    const sdl: Fields = {};
    this.defbool('sdl', sdl, 'enable');
    this.defbool('opengl', sdl, 'opengl');
    this.string('display', sdl);
    this.string('xauthority', sdl);
    return sdl;
  }

  private disks(d: Fields): void {
    const disk = this.r.list('disk');
    if (!disk) return;
    d['disks'] = disk.items.map((item, i) => {
      try {
        return parseDiskSpec(item.value);
      } catch (err) {
        if (!(err instanceof DiskSpecError)) throw err;
        this.r.fail(item, 'disk', `disk[${i}] ${JSON.stringify(item.value)}: ${err.message}`);
      }
    });
  }

  private nics(d: Fields): void {
    const vif = this.r.list('vif');
    if (!vif) return;
    d['nics'] = vif.items.map((item, i) => {
      try {
        const { nic, ignored } = parseNicSpec(item.value, i);
        for (const why of ignored) this.r.warn(item.line, `vif[${i}]: ${why}`);
        return nic;
      } catch (err) {
        if (!(err instanceof NicSpecError)) throw err;
        this.r.fail(item, 'vif', `vif[${i}] ${JSON.stringify(item.value)}: ${err.message}`);
      }
    });
  }

  private warnUnknownKeys(): void {
    for (const { key, line } of this.r.unread()) {
      if (WARN_ONLY[key] !== undefined) this.r.warn(line, WARN_ONLY[key]!);
      else if (XL_KNOWN_KEYS.has(key)) this.r.warn(line, `'${key}' is an xl key this guest type does not use; ignored`);
      else this.r.warn(line, `unknown key '${key}' (not an xl.cfg key in Xen 4.17); ignored`);
    }
    for (const key of this.r.cfg.keys()) {
      const all = this.r.cfg.settings.filter((s) => s.name === key && s.op === '=');
      if (all.length > 1) {
        this.r.warn(all[all.length - 1]!.line, `'${key}' is set ${all.length} times; the last (this line) wins, as in xl`);
      }
    }
  }
}

/** Maps a parsed xl.cfg to libxl's JSON domain config. Throws ConfigError for a value xl (or libxl) would refuse. */
export function xlToLibxl(cfg: XlConfig, options: GuestConfigOptions = {}): GuestConfigResult {
  const mapper = new Mapper(cfg, options);
  const config = mapper.map();
  return { config, warnings: mapper.warnings(), locate: xlFieldLocator(cfg) };
}

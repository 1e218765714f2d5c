/**
 * libxl_domain_config as Xen 4.17's IDL describes it (tools/libs/light/libxl_types.idl), and its JSON as libxl's
 * generated `*_gen_json` functions print it (tools/libs/light/gentypes.py, libxl_json.c, libxl_cpuid.c).
 *
 * The mapper fills a sparse value tree (a field left out holds libxl's init value); `libxlJson` walks the IDL in
 * order and, like gentypes, prints a field only when it differs from its default:
 * - a struct or keyed union is always printed (an empty one as `{}`);
 * - an array when it has elements; a number when it is not its init value (0 unless the IDL gives one);
 * - a MemKB (or other sentinel-initialised number) when it is set; a string when it is set (an empty string is set); a bool when true; a defbool when not `<default>`;
 * - an enum when it is not its init value (the value numbered 0 unless the IDL gives one), printed as its
 *   lower-case name;
 * - a keyed union as `KEYVAR.member` (`"type.hvm": {...}`), the key variable itself not printed;
 * - builtins (bitmap, uuid, mac, string_list, cpuid policy, ms_vm_genid) when not empty or zero.
 */

/** A libxl enum: names (lower case, as libxl prints them) to values. */
export interface IdlEnum {
  kind: 'enum';
  values: Readonly<Record<string, number>>;
  /** The init value's name; otherwise the name whose value is 0. */
  init?: string;
}

export type IdlType =
  | { kind: 'number'; init?: number }
  /** A number whose init value no config reaches (LIBXL_MEMKB_DEFAULT, LIBXL_INVALID_GFN): printed when set. */
  | { kind: 'sentinel' }
  | { kind: 'bool' }
  | { kind: 'string' }
  | { kind: 'defbool' }
  | IdlEnum
  | IdlStruct
  | { kind: 'union'; keyvar: string; members: Readonly<Record<string, IdlStruct | null>> }
  | { kind: 'array'; elem: IdlType }
  | { kind: 'bitmap' | 'uuid' | 'mac' | 'string_list' | 'cpuid' | 'ms_vm_genid' };

export interface IdlStruct {
  kind: 'struct';
  fields: ReadonlyArray<readonly [string, IdlType]>;
}

/**
 * A value of an IDL type as the mapper builds it. Numbers are JS numbers (libxl's C integers, already converted
 * as C converts them); an enum is its name; a defbool is a boolean (or libxl's JSON spelling 'True'/'False'); a
 * bitmap is its set bits; a keyed union is the object of its member, the key variable being a field of the parent.
 */
export type IdlValue = unknown;

/** One CPUID leaf of a libxl_cpuid_policy_list: 32-character policy strings per register. */
export interface CpuidLeaf {
  leaf: number;
  subleaf?: number;
  eax?: string;
  ebx?: string;
  ecx?: string;
  edx?: string;
}

/** libxl_cpuid_policy_list: xend-style CPUID leaves and MSR policies (64-character strings). */
export interface CpuidPolicy {
  cpuid: CpuidLeaf[];
  msr: Array<{ index: number; policy: string }>;
}

const num = (init?: number): IdlType => (init === undefined ? { kind: 'number' } : { kind: 'number', init });
const memkb: IdlType = { kind: 'sentinel' };
const bool: IdlType = { kind: 'bool' };
const str: IdlType = { kind: 'string' };
const defbool: IdlType = { kind: 'defbool' };
const bitmap: IdlType = { kind: 'bitmap' };
const stringList: IdlType = { kind: 'string_list' };
const array = (elem: IdlType): IdlType => ({ kind: 'array', elem });
const struct = (fields: ReadonlyArray<readonly [string, IdlType]>): IdlStruct => ({ kind: 'struct', fields });
const enumOf = (names: readonly string[] | Readonly<Record<string, number>>, init?: string): IdlEnum => {
  const values = Array.isArray(names) ? Object.fromEntries(names.map((n, i) => [n, i])) : (names as Record<string, number>);
  return init === undefined ? { kind: 'enum', values } : { kind: 'enum', values, init };
};

/** libxl_devid: init -1. */
const devid = num(-1);
/** LIBXL_DOMAIN_SCHED_PARAM_*_DEFAULT and friends. */
const minusOne = num(-1);
/** LIBXL_MAX_GRANT_DEFAULT (~(uint32_t)0) in a uint32 field. */
export const MAX_GRANT_DEFAULT_U32 = 0xffff_ffff;

export const ENUMS = {
  domainType: enumOf({ invalid: -1, hvm: 1, pv: 2, pvh: 3 }, 'invalid'),
  rdmStrategy: enumOf(['ignore', 'host']),
  rdmPolicy: enumOf({ invalid: -1, strict: 0, relaxed: 1 }, 'invalid'),
  channelConnection: enumOf(['unknown', 'pty', 'socket']),
  deviceModelVersion: enumOf(['unknown', 'qemu_xen_traditional', 'qemu_xen']),
  diskFormat: enumOf(['unknown', 'qcow', 'qcow2', 'vhd', 'raw', 'empty', 'qed']),
  diskBackend: enumOf(['unknown', 'phy', 'tap', 'qdisk', 'standalone']),
  diskSpecification: enumOf(['unknown', 'xen', 'virtio']),
  diskTransport: enumOf(['unknown', 'mmio']),
  nicType: enumOf(['unknown', 'vif_ioemu', 'vif']),
  actionOnShutdown: enumOf(
    { destroy: 1, restart: 2, restart_rename: 3, preserve: 4, coredump_destroy: 5, coredump_restart: 6, soft_reset: 7 },
    'destroy',
  ),
  tscMode: enumOf(['default', 'always_emulate', 'native', 'native_paravirt']),
  gfxPassthruKind: enumOf(['default', 'igd']),
  timerMode: enumOf(
    { unknown: -1, delay_for_missed_ticks: 0, no_delay_for_missed_ticks: 1, no_missed_ticks_pending: 2, one_missed_tick_pending: 3 },
    'unknown',
  ),
  biosType: enumOf(['unknown', 'rombios', 'seabios', 'ovmf']),
  vgaInterfaceType: enumOf(['unknown', 'cirrus', 'std', 'none', 'qxl'], 'unknown'),
  vendorDevice: enumOf(['none', 'xenserver']),
  viridianEnlightenment: enumOf([
    'base', 'freq', 'time_ref_count', 'reference_tsc', 'hcall_remote_tlb_flush', 'apic_assist', 'crash_ctl', 'synic',
    'stimer', 'hcall_ipi', 'ex_processor_masks', 'no_vp_limit', 'cpu_hotplug',
  ]),
  hdtype: enumOf({ ide: 1, ahci: 2 }, 'ide'),
  vuartType: enumOf(['unknown', 'sbsa_uart']),
  vkbBackend: enumOf(['unknown', 'qemu', 'linux']),
  passthrough: enumOf(['default', 'disabled', 'enabled', 'sync_pt', 'share_pt']),
  gicVersion: enumOf({ default: 0, v2: 0x20, v3: 0x30 }, 'default'),
  teeType: enumOf(['none', 'optee'], 'none'),
  altp2mMode: enumOf(['disabled', 'mixed', 'external', 'limited'], 'disabled'),
  usbctrlType: enumOf(['auto', 'pv', 'devicemodel', 'qusb']),
  usbdevType: enumOf({ hostdev: 1 }),
  vsndPcmFormat: enumOf({
    s8: 1, u8: 2, s16_le: 3, s16_be: 4, u16_le: 5, u16_be: 6, s24_le: 7, s24_be: 8, u24_le: 9, u24_be: 10, s32_le: 11,
    s32_be: 12, u32_le: 13, u32_be: 14, f32_le: 15, f32_be: 16, f64_le: 17, f64_be: 18, iec958_subframe_le: 19,
    iec958_subframe_be: 20, mu_law: 21, a_law: 22, ima_adpcm: 23, mpeg: 24, gsm: 25,
  }),
  vsndStreamType: enumOf({ p: 1, c: 2 }),
} as const;

/** libxl's enum `_from_string`: case-insensitive (libxl__enum_from_string uses strcasecmp). */
export function enumFromString(type: IdlEnum, text: string): string | undefined {
  const lower = text.toLowerCase();
  return Object.prototype.hasOwnProperty.call(type.values, lower) ? lower : undefined;
}

const vncInfo = struct([['enable', defbool], ['listen', str], ['passwd', str], ['display', num()], ['findunused', defbool]]);
const sdlInfo = struct([['enable', defbool], ['opengl', defbool], ['display', str], ['xauthority', str]]);
const spiceInfo = struct([
  ['enable', defbool], ['port', num()], ['tls_port', num()], ['host', str], ['disable_ticketing', defbool], ['passwd', str],
  ['agent_mouse', defbool], ['vdagent', defbool], ['clipboard_sharing', defbool], ['usbredirection', num()],
  ['image_compression', str], ['streaming_video', str],
]);

const createInfo = struct([
  ['type', ENUMS.domainType], ['hap', defbool], ['oos', defbool], ['ssidref', num()], ['ssid_label', str], ['name', str],
  ['domid', num()], ['uuid', { kind: 'uuid' }], ['xsdata', { kind: 'string_list' }], ['platformdata', { kind: 'string_list' }],
  ['poolid', num()], ['pool_name', str], ['run_hotplug_scripts', defbool], ['driver_domain', defbool],
  ['passthrough', ENUMS.passthrough], ['xend_suspend_evtchn_compat', defbool],
]);

const schedParams = struct([
  ['sched', enumOf({ unknown: 0, sedf: 4, credit: 5, credit2: 6, arinc653: 7, rtds: 8, null: 9 })],
  ['weight', minusOne], ['cap', minusOne], ['period', minusOne], ['budget', minusOne], ['extratime', minusOne],
  ['slice', minusOne], ['latency', minusOne],
]);

const vnodeInfo = struct([['memkb', memkb], ['distances', array(num())], ['pnode', num()], ['vcpus', bitmap]]);

const hvmInfo = struct([
  ['firmware', str], ['bios', ENUMS.biosType], ['pae', defbool], ['apic', defbool], ['acpi', defbool], ['acpi_s3', defbool],
  ['acpi_s4', defbool], ['acpi_laptop_slate', defbool], ['nx', defbool], ['viridian', defbool], ['viridian_enable', bitmap],
  ['viridian_disable', bitmap], ['timeoffset', str], ['hpet', defbool], ['vpt_align', defbool], ['mmio_hole_memkb', memkb],
  ['timer_mode', ENUMS.timerMode], ['nested_hvm', defbool], ['altp2m', defbool], ['system_firmware', str],
  ['smbios_firmware', str], ['acpi_firmware', str], ['hdtype', ENUMS.hdtype], ['nographic', defbool],
  ['vga', struct([['kind', ENUMS.vgaInterfaceType]])], ['vnc', vncInfo], ['keymap', str], ['sdl', sdlInfo],
  ['spice', spiceInfo], ['gfx_passthru', defbool], ['gfx_passthru_kind', ENUMS.gfxPassthruKind], ['serial', str],
  ['boot', str], ['usb', defbool], ['usbversion', num()], ['usbdevice', str], ['vkb_device', defbool], ['soundhw', str],
  ['xen_platform_pci', defbool], ['usbdevice_list', stringList], ['vendor_device', ENUMS.vendorDevice],
  ['ms_vm_genid', { kind: 'ms_vm_genid' }], ['serial_list', stringList],
  ['rdm', struct([['strategy', ENUMS.rdmStrategy], ['policy', ENUMS.rdmPolicy]])], ['rdm_mem_boundary_memkb', memkb],
  ['mca_caps', num()],
]);

const pvInfo = struct([
  ['kernel', str], ['slack_memkb', memkb], ['bootloader', str], ['bootloader_args', stringList], ['cmdline', str],
  ['ramdisk', str], ['e820_host', defbool],
]);

const pvhInfo = struct([['pvshim', defbool], ['pvshim_path', str], ['pvshim_cmdline', str], ['pvshim_extra', str]]);

const buildInfo = struct([
  ['max_vcpus', num()], ['avail_vcpus', bitmap], ['cpumap', bitmap], ['nodemap', bitmap],
  ['vcpu_hard_affinity', array(bitmap)], ['vcpu_soft_affinity', array(bitmap)], ['numa_placement', defbool],
  ['tsc_mode', ENUMS.tscMode], ['max_memkb', memkb], ['target_memkb', memkb], ['video_memkb', memkb],
  ['shadow_memkb', memkb], ['iommu_memkb', memkb], ['rtc_timeoffset', num()], ['exec_ssidref', num()],
  ['exec_ssid_label', str], ['localtime', defbool], ['disable_migrate', defbool], ['cpuid', { kind: 'cpuid' }],
  ['blkdev_start', str], ['vnuma_nodes', array(vnodeInfo)], ['max_grant_frames', num(MAX_GRANT_DEFAULT_U32)],
  ['max_maptrack_frames', num(MAX_GRANT_DEFAULT_U32)], ['max_grant_version', minusOne],
  ['device_model_version', ENUMS.deviceModelVersion], ['device_model_stubdomain', defbool], ['stubdomain_memkb', memkb],
  ['stubdomain_kernel', str], ['stubdomain_cmdline', str], ['stubdomain_ramdisk', str], ['device_model', str],
  ['device_model_ssidref', num()], ['device_model_ssid_label', str], ['device_model_user', str], ['extra', stringList],
  ['extra_pv', stringList], ['extra_hvm', stringList], ['sched_params', schedParams],
  ['ioports', array(struct([['first', num()], ['number', num()]]))], ['irqs', array(num())],
  ['iomem', array(struct([['start', num()], ['number', num()], ['gfn', memkb]]))],
  ['claim_mode', defbool], ['event_channels', num()], ['kernel', str], ['cmdline', str], ['ramdisk', str],
  ['device_tree', str], ['acpi', defbool], ['bootloader', str], ['bootloader_args', stringList],
  ['timer_mode', ENUMS.timerMode], ['nested_hvm', defbool], ['apic', defbool], ['dm_restrict', defbool],
  ['tee', ENUMS.teeType],
  ['u', { kind: 'union', keyvar: 'type', members: { hvm: hvmInfo, pv: pvInfo, pvh: pvhInfo, invalid: null } }],
  ['arch_arm', struct([['gic_version', ENUMS.gicVersion], ['vuart', ENUMS.vuartType]])],
  ['arch_x86', struct([['msr_relaxed', defbool]])], ['altp2m', ENUMS.altp2mMode], ['vmtrace_buf_kb', num()],
  ['vpmu', defbool],
]);

const deviceVfb = struct([
  ['backend_domid', num()], ['backend_domname', str], ['devid', devid], ['vnc', vncInfo], ['sdl', sdlInfo], ['keymap', str],
]);

const deviceVkb = struct([
  ['backend_domid', num()], ['backend_domname', str], ['devid', devid], ['backend_type', ENUMS.vkbBackend],
  ['unique_id', str], ['feature_disable_keyboard', bool], ['feature_disable_pointer', bool],
  ['feature_abs_pointer', bool], ['feature_raw_pointer', bool], ['feature_multi_touch', bool], ['width', num()],
  ['height', num()], ['multi_touch_width', num()], ['multi_touch_height', num()], ['multi_touch_num_contacts', num()],
]);

const deviceDisk = struct([
  ['backend_domid', num()], ['backend_domname', str], ['pdev_path', str], ['vdev', str], ['backend', ENUMS.diskBackend],
  ['format', ENUMS.diskFormat], ['script', str], ['removable', num()], ['readwrite', num()], ['is_cdrom', num()],
  ['direct_io_safe', bool], ['discard_enable', defbool], ['specification', ENUMS.diskSpecification],
  ['transport', ENUMS.diskTransport], ['irq', num()], ['base', num()], ['colo_enable', defbool],
  ['colo_restore_enable', defbool], ['colo_host', str], ['colo_port', num()], ['colo_export', str], ['active_disk', str],
  ['hidden_disk', str], ['trusted', defbool],
]);

/** The COLO string options of libxl_device_nic, in IDL order (xl's vif options of the same names). */
export const NIC_COLO_FIELDS = [
  'coloft_forwarddev', 'colo_sock_mirror_id', 'colo_sock_mirror_ip', 'colo_sock_mirror_port',
  'colo_sock_compare_pri_in_id', 'colo_sock_compare_pri_in_ip', 'colo_sock_compare_pri_in_port',
  'colo_sock_compare_sec_in_id', 'colo_sock_compare_sec_in_ip', 'colo_sock_compare_sec_in_port',
  'colo_sock_compare_notify_id', 'colo_sock_compare_notify_ip', 'colo_sock_compare_notify_port',
  'colo_sock_redirector0_id', 'colo_sock_redirector0_ip', 'colo_sock_redirector0_port', 'colo_sock_redirector1_id',
  'colo_sock_redirector1_ip', 'colo_sock_redirector1_port', 'colo_sock_redirector2_id', 'colo_sock_redirector2_ip',
  'colo_sock_redirector2_port', 'colo_filter_mirror_queue', 'colo_filter_mirror_outdev',
  'colo_filter_redirector0_queue', 'colo_filter_redirector0_indev', 'colo_filter_redirector0_outdev',
  'colo_filter_redirector1_queue', 'colo_filter_redirector1_indev', 'colo_filter_redirector1_outdev',
  'colo_compare_pri_in', 'colo_compare_sec_in', 'colo_compare_out', 'colo_compare_notify_dev',
  'colo_sock_sec_redirector0_id', 'colo_sock_sec_redirector0_ip', 'colo_sock_sec_redirector0_port',
  'colo_sock_sec_redirector1_id', 'colo_sock_sec_redirector1_ip', 'colo_sock_sec_redirector1_port',
  'colo_filter_sec_redirector0_queue', 'colo_filter_sec_redirector0_indev', 'colo_filter_sec_redirector0_outdev',
  'colo_filter_sec_redirector1_queue', 'colo_filter_sec_redirector1_indev', 'colo_filter_sec_redirector1_outdev',
  'colo_filter_sec_rewriter0_queue', 'colo_checkpoint_host', 'colo_checkpoint_port',
] as const;

const deviceNic = struct([
  ['backend_domid', num()], ['backend_domname', str], ['devid', devid], ['mtu', num()], ['model', str],
  ['mac', { kind: 'mac' }], ['ip', str], ['bridge', str], ['ifname', str], ['script', str], ['nictype', ENUMS.nicType],
  ['rate_bytes_per_interval', num()], ['rate_interval_usecs', num()], ['gatewaydev', str],
  ...NIC_COLO_FIELDS.map((f) => [f, str] as const), ['trusted', defbool],
]);

const devicePci = struct([
  ['func', num()], ['dev', num()], ['bus', num()], ['domain', num()], ['vdevfn', num()], ['vfunc_mask', num()],
  ['msitranslate', bool], ['power_mgmt', bool], ['permissive', bool], ['seize', bool], ['rdm_policy', ENUMS.rdmPolicy],
  ['name', str],
]);

const vsndParams = struct([
  ['sample_rates', array(num())], ['sample_formats', array(ENUMS.vsndPcmFormat)], ['channels_min', num()],
  ['channels_max', num()], ['buffer_size', num()],
]);
const vsndStream = struct([['unique_id', str], ['type', ENUMS.vsndStreamType], ['params', vsndParams]]);
const vsndPcm = struct([['name', str], ['params', vsndParams], ['streams', array(vsndStream)]]);

const backendDevid = [['backend_domid', num()], ['backend_domname', str], ['devid', devid]] as const;

export const DOMAIN_CONFIG: IdlStruct = struct([
  ['c_info', createInfo],
  ['b_info', buildInfo],
  ['disks', array(deviceDisk)],
  ['nics', array(deviceNic)],
  ['pcidevs', array(devicePci)],
  ['rdms', array(struct([['start', num()], ['size', num()], ['policy', ENUMS.rdmPolicy]]))],
  ['dtdevs', array(struct([['path', str]]))],
  ['vfbs', array(deviceVfb)],
  ['vkbs', array(deviceVkb)],
  ['vtpms', array(struct([...backendDevid, ['uuid', { kind: 'uuid' }]]))],
  ['p9s', array(struct([['backend_domid', num()], ['backend_domname', str], ['tag', str], ['path', str], ['security_model', str], ['devid', devid]]))],
  ['pvcallsifs', array(struct(backendDevid))],
  ['vdispls', array(struct([...backendDevid, ['be_alloc', bool], ['connectors', array(struct([['unique_id', str], ['width', num()], ['height', num()]]))]]))],
  ['vsnds', array(struct([...backendDevid, ['short_name', str], ['long_name', str], ['params', vsndParams], ['pcms', array(vsndPcm)]]))],
  ['channels', array(struct([
    ...backendDevid, ['name', str],
    ['u', { kind: 'union', keyvar: 'connection', members: { unknown: null, pty: null, socket: struct([['path', str]]) } }],
  ]))],
  ['usbctrls', array(struct([['type', ENUMS.usbctrlType], ['devid', devid], ['version', num()], ['ports', num()], ['backend_domid', num()], ['backend_domname', str]]))],
  ['usbdevs', array(struct([
    ['ctrl', devid], ['port', num()],
    ['u', { kind: 'union', keyvar: 'type', members: { hostdev: struct([['hostbus', num()], ['hostaddr', num()]]) } }],
  ]))],
  ['on_poweroff', ENUMS.actionOnShutdown],
  ['on_reboot', ENUMS.actionOnShutdown],
  ['on_watchdog', ENUMS.actionOnShutdown],
  ['on_crash', ENUMS.actionOnShutdown],
  ['on_soft_reset', ENUMS.actionOnShutdown],
]);

function enumDefault(type: IdlEnum): string | undefined {
  if (type.init !== undefined) return type.init;
  return Object.keys(type.values).find((name) => type.values[name] === 0);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function defboolJson(value: unknown): string | undefined {
  if (value === true || value === 'True') return 'True';
  if (value === false || value === 'False') return 'False';
  return undefined;
}

const isZeroGenid = (v: unknown): boolean => !Array.isArray(v) || v.every((b) => b === 0);
const UUID_NIL = /^[0-]*$/;
const MAC_ZERO = /^[0:]*$/;

/** The JSON of `value`, or undefined where libxl's generator leaves the field out. */
function fieldJson(type: IdlType, value: unknown): unknown {
  switch (type.kind) {
    case 'struct':
      return structJson(type, isObject(value) ? value : {});
    case 'union':
      throw new Error('a keyed union is printed by its parent');
    case 'array':
      return Array.isArray(value) && value.length > 0 ? value.map((v) => elementJson(type.elem, v)) : undefined;
    case 'number':
      return typeof value === 'number' && value !== (type.init ?? 0) ? value : undefined;
    case 'sentinel':
      return typeof value === 'number' ? value : undefined;
    case 'bool':
      return value === true ? true : undefined;
    case 'string':
      return typeof value === 'string' ? value : undefined;
    case 'defbool':
      return defboolJson(value);
    case 'enum':
      if (value === null) return null; // a value libxl has no name for: libxl__yajl_gen_enum prints null
      return typeof value === 'string' && value !== enumDefault(type) ? value : undefined;
    case 'bitmap':
      return Array.isArray(value) && value.length > 0 ? [...value] : undefined;
    case 'string_list':
      return Array.isArray(value) && value.length > 0 ? [...value] : undefined;
    case 'uuid':
      return typeof value === 'string' && !UUID_NIL.test(value) ? value : undefined;
    case 'mac':
      return typeof value === 'string' && !MAC_ZERO.test(value) ? value : undefined;
    case 'ms_vm_genid':
      return isZeroGenid(value) ? undefined : [...(value as number[])];
    case 'cpuid': {
      const policy = value as CpuidPolicy | undefined;
      if (!policy || (policy.cpuid.length === 0 && policy.msr.length === 0)) return undefined;
      // libxl_cpuid_policy_list_gen_json: leaf, subleaf, then the registers in eax..edx order.
      const leaves = policy.cpuid.map((l) => {
        const out: Record<string, unknown> = { leaf: l.leaf };
        for (const key of ['subleaf', 'eax', 'ebx', 'ecx', 'edx'] as const) if (l[key] !== undefined) out[key] = l[key];
        return out;
      });
      return { cpuid: leaves, msr: policy.msr.map((m) => ({ index: m.index, policy: m.policy })) };
    }
  }
}

/** An array element is always printed: its own default check does not apply. */
function elementJson(type: IdlType, value: unknown): unknown {
  switch (type.kind) {
    case 'struct':
      return structJson(type, isObject(value) ? value : {});
    case 'bitmap':
      return Array.isArray(value) ? [...value] : [];
    case 'number':
      return value;
    case 'enum':
      return value;
    default:
      return fieldJson(type, value);
  }
}

function structJson(type: IdlStruct, value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, fieldType] of type.fields) {
    if (fieldType.kind === 'union') {
      const key = value[fieldType.keyvar];
      if (typeof key !== 'string' || !(key in fieldType.members)) continue;
      const member = fieldType.members[key];
      out[`${fieldType.keyvar}.${key}`] = member ? structJson(member, isObject(value[name]) ? (value[name] as Record<string, unknown>) : {}) : {};
      continue;
    }
    const json = fieldJson(fieldType, value[name]);
    if (json !== undefined) out[name] = json;
  }
  return out;
}

/** libxl_domain_config_to_json's object for a value tree of libxl_domain_config (formatLibxlJson prints it). */
export function libxlJson(config: Record<string, unknown>): Record<string, unknown> {
  return structJson(DOMAIN_CONFIG, config);
}

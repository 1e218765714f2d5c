/**
 * Where in a guest config file a refusal from the backend comes from. Creating a guest first asks libxl what it
 * needs (libxl_domain_need_memory, which runs libxl's setdefault checks; the mock host applies the same rules), and
 * that check names libxl JSON fields (`config.b_info.target_memkb`) or, for libxl's own ERROR_INVAL, only says why
 * ("videoram must be at least 16 MB for STDVGA on QEMU_XEN"). This maps both back to the JSON path and from there to
 * the xl.cfg keys that set it (tools/xl/xl_parse.c parse_config_data), so an operator is told the key and line.
 */
import type { XenError } from '../errors.js';
import { quote } from '../validate.js';
import type { ConfigErrorPlace } from './config-error.js';
import type { XlConfig, XlValue } from './xl-parser.js';

/**
 * Where a libxl JSON field (`b_info.target_memkb`, under the domain config) was set in the file a config was read
 * from: the place, and the setting as the operator wrote it (`memory = 8`, `$.b_info.target_memkb`), or the key
 * and "(not set)" when the file leaves it to a default.
 */
export type FieldLocator = (field: string) => { place: ConfigErrorPlace; setting: string };

/** The JSON path (under the domain config) a libxl log message is about, for refusals that name no field. */
const LIBXL_MESSAGE_FIELDS: ReadonlyArray<readonly [RegExp, string]> = [
  [/videoram|STDVGA|CIRRUS/, 'b_info.video_memkb'],
  [/qxl/, 'b_info.type.hvm.vga.kind'],
  [/bios/, 'b_info.type.hvm.bios'],
  [/passthrough|IOMMU/, 'c_info.passthrough'],
  [/vNUMA/, 'b_info.vnuma_nodes'],
  [/kernel missing/, 'b_info.kernel'],
  [/usbversion|usbredirection/, 'b_info.type.hvm.usbversion'],
  [/nestedhvm|ALTP2M/i, 'b_info.nested_hvm'],
  [/vPMU/, 'b_info.vpmu'],
  [/hap nor shadow/, 'c_info.hap'],
  [/avail_vcpus/, 'b_info.avail_vcpus'],
];

/** The xl.cfg keys that set each libxl JSON path, most specific first (xl_parse.c). */
export const XL_KEYS_OF_FIELD: Readonly<Record<string, readonly string[]>> = {
  'c_info.name': ['name'],
  'c_info.type': ['type', 'builder'],
  'c_info.hap': ['hap'],
  'c_info.passthrough': ['passthrough', 'pci', 'dtdev'],
  'b_info.target_memkb': ['memory'],
  'b_info.max_memkb': ['maxmem', 'memory'],
  'b_info.video_memkb': ['videoram', 'stdvga', 'vga', 'memory'],
  'b_info.shadow_memkb': ['shadow_memory'],
  'b_info.iommu_memkb': ['pci'],
  'b_info.stubdomain_memkb': ['stubdomain_memory', 'device_model_stubdomain_override'],
  'b_info.max_vcpus': ['maxvcpus', 'vcpus'],
  'b_info.avail_vcpus': ['vcpus'],
  'b_info.vnuma_nodes': ['vnuma', 'maxmem'],
  'b_info.kernel': ['ramdisk', 'cmdline', 'root', 'extra', 'kernel'],
  'b_info.vpmu': ['vpmu'],
  'b_info.nested_hvm': ['nestedhvm', 'altp2m', 'altp2mhvm', 'maxmem'],
  'b_info.altp2m': ['altp2m', 'altp2mhvm'],
  'b_info.device_model_version': ['device_model_version'],
  'b_info.device_model_stubdomain': ['device_model_stubdomain_override'],
  'b_info.type.hvm.bios': ['bios', 'device_model_version'],
  'b_info.type.hvm.vga.kind': ['vga', 'stdvga'],
  'b_info.type.hvm.usbversion': ['usbversion', 'usb', 'usbdevice'],
};

/**
 * The JSON path under the domain config (`b_info.target_memkb`) a backend's refusal is about: the field it names
 * (`config.b_info.target_memkb`, or `config.b_info.type.hvm.vga.kind`), else the field libxl's message is about;
 * undefined when neither says.
 */
export function refusedField(error: XenError): string | undefined {
  if (error.field !== undefined && error.field.startsWith('config.')) return error.field.slice('config.'.length);
  const text = [error.message, ...error.xenLog].join('\n');
  return LIBXL_MESSAGE_FIELDS.find(([pattern]) => pattern.test(text))?.[1];
}

/** The refusal's reason without the backend operation's prefix (`needMemoryKiB: `). */
export function refusalReason(error: XenError): string {
  const prefix = `${error.op}: `;
  return error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
}

/** The field and its parents, most specific first: b_info.type.hvm.vga.kind, b_info.type.hvm.vga, … */
export function fieldAndParents(field: string): string[] {
  const parts = field.split('.');
  return parts.map((_, i) => parts.slice(0, parts.length - i).join('.'));
}

/** A value as the file wrote it, near enough: a number token bare, a string quoted, a list as [...]. */
function written(value: XlValue): string {
  if (value.kind === 'list') return '[...]';
  return /^[0-9][0-9a-fx]*$/.test(value.value) ? value.value : quote(value.value);
}

/** The locator of an xl.cfg file: a field's xl keys, the first one the file sets (else the first one, not set). */
export function xlFieldLocator(cfg: XlConfig): FieldLocator {
  return (field) => {
    const keys = fieldAndParents(field).map((f) => XL_KEYS_OF_FIELD[f]).find((k) => k !== undefined) ?? [];
    for (const key of keys) {
      const setting = cfg.get(key);
      if (setting) {
        return { place: { file: cfg.file, line: setting.value.line, column: setting.value.column, key }, setting: `${key} = ${written(setting.value)}` };
      }
    }
    const key = keys[0];
    return { place: { file: cfg.file, line: 1, column: 1, key }, setting: key === undefined ? 'the config' : `${key} (not set)` };
  };
}

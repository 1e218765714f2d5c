/**
 * Maps a parsed xl.cfg to libxl's JSON domain config: the JSON `xl -N create` prints for Xen 4.17
 * (parse_config_data in tools/xl/xl_parse.c; field names from tools/libs/light/libxl_types.idl). Fields are put in
 * the IDL's order and, like libxl's JSON generator, fields left at libxl's default are absent.
 *
 * xl's global defaults (no /etc/xen/xl.conf) are applied as xl applies them: run_hotplug_scripts and claim_mode
 * are "True". Keys this reader does not map are returned as warnings naming the file and line.
 */
import { randomUUID } from 'node:crypto';
import type { LibxlDomainConfig } from '../backend.js';
import { MAX_VCPUS } from '../validate.js';
import { ConfigError } from './config-error.js';
import { DiskSpecError, parseDiskSpec, type LibxlDiskJson } from './disk-spec.js';
import { NicSpecError, parseNicSpec, type LibxlNicJson } from './nic-spec.js';
import { XL_KNOWN_KEYS } from './xl-keys.js';
import type { XlConfig, XlSetting, XlString, XlValue } from './xl-parser.js';

/** x86 Xen 4.17 without CONFIG_BIGMEM addresses at most 16 TiB, so no guest can be larger. */
export const MAX_GUEST_MEMORY_MIB = 16 * 1024 * 1024;

export interface GuestConfigResult {
  config: LibxlDomainConfig;
  /** `FILE:LINE: warning: …` lines: keys not mapped, values read in a surprising way. */
  warnings: string[];
}

export interface GuestConfigOptions {
  /** Makes the UUID of a config without `uuid` (xl generates a random one each time). Default: crypto.randomUUID. */
  generateUuid?: () => string;
}

type DomainType = 'pv' | 'pvh' | 'hvm';

/** libxl_action_on_shutdown: xl's names → libxl's JSON names. `destroy` is libxl's default, so never printed. */
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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** xl's top-level display keys: an HVM guest's emulated display, or a PV guest's vfb when vnc is enabled. */
const DISPLAY_KEYS = ['vnc', 'vnclisten', 'vncpasswd', 'vncdisplay', 'vncunused', 'sdl', 'opengl', 'display', 'xauthority', 'keymap'];

/** The keys this module reads. Anything else in a file is warned about. */
const MAPPED_KEYS = new Set([
  'name',
  'type',
  'builder',
  'uuid',
  'memory',
  'maxmem',
  'vcpus',
  'maxvcpus',
  'kernel',
  'ramdisk',
  'cmdline',
  'extra',
  'root',
  'bootloader',
  'bootloader_args',
  'disk',
  'vif',
  ...DISPLAY_KEYS,
  ...ACTION_KEYS.map(([key]) => key),
]);

/** C's strtol(text, &end, 0) as libxlu uses it, requiring the whole text to be read. */
function cStrtol(text: string): { value: bigint; octal: boolean } | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(text);
  if (!m) return undefined;
  const digits = m[2]!;
  const magnitude = /^0[xX]/.test(digits) ? BigInt(digits) : digits.length > 1 && digits.startsWith('0') ? BigInt(`0o${digits.slice(1)}`) : BigInt(digits);
  return { value: m[1] === '-' ? -magnitude : magnitude, octal: digits.length > 1 && /^0[0-7]/.test(digits) };
}

class Mapper {
  readonly warnings: string[] = [];
  private readonly used = new Set<string>();

  constructor(
    private readonly cfg: XlConfig,
    private readonly options: GuestConfigOptions,
  ) {}

  private fail(place: { line: number; column: number }, key: string, reason: string): never {
    throw new ConfigError({ file: this.cfg.file, line: place.line, column: place.column, key }, reason);
  }

  /** Where a whole-file requirement is reported when no line is to blame. */
  private failFile(key: string, reason: string): never {
    this.fail({ line: 1, column: 1 }, key, reason);
  }

  private readonly lines: number[] = [];

  private warn(line: number, text: string): void {
    this.warnings.push(`${this.cfg.file}:${line}: warning: ${text}`);
    this.lines.push(line);
  }

  /** Warnings in file order (the sort is stable, so one line's warnings keep their order). */
  sortedWarnings(): string[] {
    return this.warnings.map((w, i) => [w, this.lines[i]!] as const).sort((a, b) => a[1] - b[1]).map(([w]) => w);
  }

  private setting(key: string): XlSetting | undefined {
    this.used.add(key);
    return this.cfg.get(key);
  }

  string(key: string): XlString | undefined {
    const s = this.setting(key);
    if (!s) return undefined;
    if (s.value.kind !== 'string') this.fail(s.value, key, `${key} must be a single value, not a list`);
    return s.value;
  }

  /** An integer key in [min, max]; `unit` is said in the error. */
  integer(key: string, min: number, max: number, unit = '', expected?: string): { value: number; place: XlString } | undefined {
    const s = this.setting(key);
    if (!s) return undefined;
    const range = expected ?? `an integer from ${min} to ${max}${unit ? ` (${unit})` : ''}`;
    if (s.value.kind !== 'string') this.fail(s.value, key, `${key} must be ${range}, not a list`);
    if (s.op === '+=') this.fail(s.value, key, `${key} is a number: '+=' cannot be used with it (xl refuses it too)`);
    const parsed = cStrtol(s.value.value);
    if (!parsed) this.fail(s.value, key, `${key} must be ${range}, got ${JSON.stringify(s.value.value)}`);
    if (parsed.value < BigInt(min) || parsed.value > BigInt(max)) {
      this.fail(s.value, key, `${key} must be ${range}, got ${parsed.value}`);
    }
    if (parsed.octal) {
      this.warn(s.line, `${key} = ${s.value.value} has a leading 0, so xl reads it as octal: ${parsed.value}`);
    }
    return { value: Number(parsed.value), place: s.value };
  }

  list(key: string): { items: XlString[]; setting: XlSetting } | undefined {
    const s = this.setting(key);
    if (!s) return undefined;
    if (s.value.kind !== 'list') this.fail(s.value, key, `${key} must be a list, e.g. ${key} = [ '...' ]`);
    const items = s.value.items.map((item: XlValue, i) => {
      if (item.kind !== 'string') this.fail(item, key, `${key}[${i}] must be a string, not a list`);
      return item;
    });
    return { items, setting: s };
  }

  defbool(key: string): 'True' | 'False' | undefined {
    const n = this.integer(key, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, '', '0 or 1 (xl reads any integer; non-zero is true)');
    return n === undefined ? undefined : n.value !== 0 ? 'True' : 'False';
  }

  /** xl matches a type by prefix (strncmp(value, "hvm", strlen(value))): `h` is hvm, `p` is pv. */
  private domainType(): DomainType {
    let type: DomainType | undefined;
    const typeValue = this.string('type');
    if (typeValue) {
      type = this.matchPrefix('type', typeValue, ['hvm', 'pv', 'pvh'] as const);
    }
    const builder = this.string('builder');
    if (builder) {
      const b = this.matchPrefix('builder', builder, ['hvm', 'generic'] as const);
      const builderType: DomainType = b === 'hvm' ? 'hvm' : 'pv';
      if (type !== undefined && type !== builderType) {
        this.fail(builder, 'builder', `builder = "${builder.value}" contradicts type = "${typeValue!.value}"`);
      }
      this.warn(builder.line, `builder is deprecated since Xen 4.10; use type = "${builderType}"`);
      type = builderType;
    }
    return type ?? 'pv';
  }

  private matchPrefix<T extends string>(key: string, value: XlString, names: readonly T[]): T {
    const found = value.value === '' ? undefined : names.find((n) => n.startsWith(value.value));
    if (found === undefined) {
      this.fail(value, key, `${key} must be one of ${names.map((n) => `'${n}'`).join(', ')}, got ${JSON.stringify(value.value)}`);
    }
    if (found !== value.value) this.warn(value.line, `${key} = "${value.value}" is read as "${found}" (xl accepts abbreviations)`);
    return found;
  }

  private uuid(): string {
    const u = this.string('uuid');
    if (!u) return (this.options.generateUuid ?? randomUUID)();
    if (!UUID.test(u.value)) {
      this.fail(u, 'uuid', `uuid must be 32 hexadecimal digits as 8-4-4-4-12 (e.g. 6e8e9a49-7a4c-4c3a-9f7c-0f1d2e3a4b5c), got ${JSON.stringify(u.value)}`);
    }
    return u.value.toLowerCase();
  }

  /** xl's parse_cmdline: cmdline wins; otherwise "root=ROOT EXTRA". */
  private cmdline(): string | undefined {
    const cmdline = this.string('cmdline');
    const root = this.string('root');
    const extra = this.string('extra');
    if (cmdline) {
      if (root || extra) this.warn(cmdline.line, 'ignoring root= and extra= in favour of cmdline= (as xl does)');
      return cmdline.value;
    }
    if (root && extra) return `root=${root.value} ${extra.value}`;
    if (root) return `root=${root.value}`;
    return extra?.value;
  }

  private bootloaderArgs(): string[] | undefined {
    const s = this.setting('bootloader_args');
    if (!s) return undefined;
    if (s.value.kind === 'string') {
      this.warn(s.line, 'bootloader_args as a string is deprecated; use a list of arguments (split on spaces, as xl does)');
      return s.value.value.split(/[ \t\n]+/).filter((a) => a !== '');
    }
    return this.list('bootloader_args')!.items.map((i) => i.value);
  }

  private disks(): LibxlDiskJson[] | undefined {
    const disk = this.list('disk');
    if (!disk) return undefined;
    return disk.items.map((item, i) => {
      try {
        return parseDiskSpec(item.value);
      } catch (err) {
        if (!(err instanceof DiskSpecError)) throw err;
        this.fail(item, 'disk', `disk[${i}] ${JSON.stringify(item.value)}: ${err.message}`);
      }
    });
  }

  private nics(): LibxlNicJson[] | undefined {
    const vif = this.list('vif');
    if (!vif) return undefined;
    return vif.items.map((item, i) => {
      try {
        const { nic, ignored } = parseNicSpec(item.value, i);
        for (const why of ignored) this.warn(item.line, `vif[${i}]: ${why}`);
        return nic;
      } catch (err) {
        if (!(err instanceof NicSpecError)) throw err;
        this.fail(item, 'vif', `vif[${i}] ${JSON.stringify(item.value)}: ${err.message}`);
      }
    });
  }

  /**
   * The top-level vnc and sdl keys (parse_top_level_vnc_options, parse_top_level_sdl_options). xl uses them for
   * an HVM guest's display, and for a PV guest only when vnc is enabled (it then adds a vfb and a vkb). A PVH
   * guest has neither, so they are ignored, with a warning.
   */
  private display(type: DomainType): { vnc: Record<string, unknown>; sdl: Record<string, unknown>; keymap?: string } | undefined {
    const present = DISPLAY_KEYS.filter((k) => this.cfg.get(k));
    const vncEnabled = this.defbool('vnc');
    if (type === 'pvh' || (type === 'pv' && vncEnabled !== 'True') || (type === 'pv' && this.cfg.get('vfb'))) {
      const why =
        type === 'pvh' ? 'a pvh guest has no emulated display' : this.cfg.get('vfb') ? 'vfb is set, and xl then ignores them' : 'vnc is not enabled, so xl adds no vfb';
      for (const key of present) this.warn(this.cfg.get(key)!.line, `${key} is ignored: ${why}`);
      for (const key of DISPLAY_KEYS) this.used.add(key);
      return undefined;
    }
    const vnc: Record<string, unknown> = {};
    if (vncEnabled !== undefined) vnc['enable'] = vncEnabled;
    const listen = this.string('vnclisten');
    if (listen) vnc['listen'] = listen.value;
    const passwd = this.string('vncpasswd');
    if (passwd) vnc['passwd'] = passwd.value;
    const vncDisplay = this.integer('vncdisplay', 0, 2 ** 31 - 1);
    if (vncDisplay && vncDisplay.value !== 0) vnc['display'] = vncDisplay.value;
    const findUnused = this.defbool('vncunused');
    if (findUnused !== undefined) vnc['findunused'] = findUnused;

    const sdl: Record<string, unknown> = {};
    const sdlEnabled = this.defbool('sdl');
    if (sdlEnabled !== undefined) sdl['enable'] = sdlEnabled;
    const opengl = this.defbool('opengl');
    if (opengl !== undefined) sdl['opengl'] = opengl;
    const x11Display = this.string('display');
    if (x11Display) sdl['display'] = x11Display.value;
    const xauthority = this.string('xauthority');
    if (xauthority) sdl['xauthority'] = xauthority.value;

    const keymap = this.string('keymap');
    return keymap ? { vnc, sdl, keymap: keymap.value } : { vnc, sdl };
  }

  private action(key: string, fallback: string): string {
    const s = this.string(key);
    const name = s?.value ?? fallback;
    const action = SHUTDOWN_ACTIONS[name];
    if (action === undefined) {
      this.fail(s!, key, `${key} must be one of ${Object.keys(SHUTDOWN_ACTIONS).map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(name)}`);
    }
    return action;
  }

  map(): LibxlDomainConfig {
    const type = this.domainType();
    const nameSetting = this.string('name');
    if (!nameSetting || nameSetting.value === '') {
      if (nameSetting) this.fail(nameSetting, 'name', 'name must not be empty');
      this.failFile('name', 'name is required (the domain name), e.g. name = "guest1"');
    }
    const uuid = this.uuid();

    const memory = this.integer('memory', 1, MAX_GUEST_MEMORY_MIB, 'MiB');
    const maxmem = this.integer('maxmem', 1, MAX_GUEST_MEMORY_MIB, 'MiB');
    if (memory && maxmem && maxmem.value < memory.value) {
      this.fail(maxmem.place, 'maxmem', `maxmem must be an integer from ${memory.value} (memory) to ${MAX_GUEST_MEMORY_MIB} (MiB), got ${maxmem.value}`);
    }
    const vcpus = this.integer('vcpus', 1, MAX_VCPUS);
    const maxvcpus = this.integer('maxvcpus', 1, MAX_VCPUS);
    if (vcpus && maxvcpus && maxvcpus.value < vcpus.value) {
      this.fail(maxvcpus.place, 'maxvcpus', `maxvcpus must be an integer from ${vcpus.value} (vcpus) to ${MAX_VCPUS}, got ${maxvcpus.value}`);
    }

    const actions = ACTION_KEYS.map(([key, fallback]) => [key, this.action(key, fallback)] as const);

    const kernel = this.string('kernel');
    const ramdisk = this.string('ramdisk');
    const cmdline = this.cmdline();
    const bootloader = this.string('bootloader');
    const bootloaderArgs = this.bootloaderArgs();
    if (type !== 'hvm' && !kernel && !bootloader) {
      const where = this.cfg.get('type') ?? nameSetting;
      this.fail(where, 'kernel', `a ${type} guest needs kernel = "..." or bootloader = "..." (neither is set)`);
    }

    const display = this.display(type);

    const disks = this.disks();
    const nics = this.nics();
    this.warnUnknownKeys();

    const c_info: LibxlDomainConfig['c_info'] = { type, name: nameSetting.value };
    // An all-zero UUID is libxl's default, which its JSON leaves out.
    if (!/^[0-]+$/.test(uuid)) c_info.uuid = uuid;
    c_info['run_hotplug_scripts'] = 'True';

    const b_info: LibxlDomainConfig['b_info'] = {};
    const maxVcpus = maxvcpus?.value ?? vcpus?.value;
    if (maxVcpus !== undefined) b_info.max_vcpus = maxVcpus;
    if (vcpus) b_info['avail_vcpus'] = Array.from({ length: vcpus.value }, (_, i) => i);
    const maxMemKiB = (maxmem ?? memory)?.value;
    if (maxMemKiB !== undefined) b_info.max_memkb = maxMemKiB * 1024;
    if (memory) b_info.target_memkb = memory.value * 1024;
    b_info['sched_params'] = {};
    b_info.claim_mode = 'True';
    if (kernel) b_info['kernel'] = kernel.value;
    if (cmdline !== undefined) b_info['cmdline'] = cmdline;
    if (ramdisk) b_info['ramdisk'] = ramdisk.value;
    if (bootloader) b_info['bootloader'] = bootloader.value;
    // Empty lists are libxl's defaults (NULL, count 0), which its JSON leaves out.
    if (bootloaderArgs && bootloaderArgs.length > 0) b_info['bootloader_args'] = bootloaderArgs;
    if (type === 'hvm') {
      const hvm: Record<string, unknown> = { vga: {}, vnc: display?.vnc ?? {} };
      if (display?.keymap !== undefined) hvm['keymap'] = display.keymap;
      Object.assign(hvm, { sdl: display?.sdl ?? {}, spice: {}, rdm: {} });
      b_info['type.hvm'] = hvm;
    } else {
      b_info[`type.${type}`] = {};
    }
    b_info['arch_arm'] = {};
    b_info['arch_x86'] = {};

    const config: LibxlDomainConfig = { c_info, b_info };
    if (disks && disks.length > 0) config['disks'] = disks;
    if (nics && nics.length > 0) config['nics'] = nics;
    if (type === 'pv' && display) {
      const vfb: Record<string, unknown> = { devid: 0, vnc: display.vnc, sdl: display.sdl };
      if (display.keymap !== undefined) vfb['keymap'] = display.keymap;
      config['vfbs'] = [vfb];
      config['vkbs'] = [{ devid: 0 }];
    }
    for (const [key, action] of actions) {
      if (action !== 'destroy') config[key] = action;
    }
    return config;
  }

  private warnUnknownKeys(): void {
    for (const key of this.cfg.keys()) {
      if (this.used.has(key) || MAPPED_KEYS.has(key)) continue;
      const line = this.cfg.get(key)!.line;
      if (XL_KNOWN_KEYS.has(key)) this.warn(line, `'${key}' is an xl key xenclaim does not map; ignored`);
      else this.warn(line, `unknown key '${key}' (not an xl.cfg key in Xen 4.17); ignored`);
    }
    for (const key of this.cfg.keys()) {
      const all = this.cfg.settings.filter((s) => s.name === key && s.op === '=');
      if (all.length > 1) {
        this.warn(all[all.length - 1]!.line, `'${key}' is set ${all.length} times; the last (this line) wins, as in xl`);
      }
    }
  }
}

/** Maps a parsed xl.cfg to libxl's JSON domain config. Throws ConfigError for a value xl (or libxl) would refuse. */
export function xlToLibxl(cfg: XlConfig, options: GuestConfigOptions = {}): GuestConfigResult {
  const mapper = new Mapper(cfg, options);
  const config = mapper.map();
  return { config, warnings: mapper.sortedWarnings() };
}

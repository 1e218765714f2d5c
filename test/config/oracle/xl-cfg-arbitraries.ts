/**
 * fast-check arbitraries for whole xl.cfg files over every key of xl.cfg(5) (Xen 4.17) and the forms its values
 * are written in: numbers in decimal, hex, octal and quoted; strings in either quote; old and new spellings
 * (builder/type, stdvga/vga, altp2mhvm/altp2m, numbered and named tsc_mode and timer_mode); lists and the single
 * strings some list keys also take; enum names in any case; every device list's options.
 *
 * `GROUPS` holds one generator per key or per set of keys that must agree (vcpus and maxvcpus, vnuma and the
 * memory and vCPU counts it fixes); each yields the lines to put in the file. The values are ones xl 4.17 reads
 * without misreading them, so xenclaim must print the same JSON; `INVALID` holds values xl refuses or warns about.
 */
import fc from 'fast-check';
import { CPUID_FEATURES } from '../../../src/config/cpuid-features.js';

export type GuestType = 'pv' | 'pvh' | 'hvm';
type Lines = fc.Arbitrary<string[]>;

const int = (min: number, max: number): fc.Arbitrary<number> => fc.integer({ min, max });

/** An integer as xl.cfg may write it: 12, 0xc, 014 (octal), "12", "0xc". */
function numberText(n: number): fc.Arbitrary<string> {
  const forms: Array<fc.Arbitrary<string>> = [fc.constant(String(n)), fc.constant(`"${n}"`)];
  if (n >= 0) forms.push(fc.constant(`0x${n.toString(16)}`), fc.constant(`"0x${n.toString(16).toUpperCase()}"`));
  if (n > 0) forms.push(fc.constant(`0${n.toString(8)}`));
  return fc.oneof(...forms);
}

const num = (min: number, max: number): fc.Arbitrary<string> => int(min, max).chain(numberText);
const bool = (): fc.Arbitrary<string> => fc.oneof(num(0, 1), fc.constantFrom('2', '"7"', '0x0'));

const SAFE = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:@ é';
/** Text of safe characters, quoted either way (sometimes with an escape). */
function str(minLength = 0, maxLength = 12, chars = SAFE): fc.Arbitrary<string> {
  const body = fc.array(fc.constantFrom(...chars), { minLength, maxLength }).map((cs) => cs.join(''));
  return fc.tuple(body, fc.constantFrom('"', "'", 'esc')).map(([b, q]) => (q === 'esc' ? `"${b}\\t\\"q\\"\\\\"` : `${q}${b}${q}`));
}

/** A bare word for inside specs (no separators). */
const word = (chars = 'abcdefghijklmnopqrstuvwxyz0123456789'): fc.Arbitrary<string> =>
  fc.array(fc.constantFrom(...chars), { minLength: 1, maxLength: 8 }).map((cs) => cs.join(''));

const quote = (s: string): string => (s.includes('"') ? `'${s}'` : `"${s}"`);
const list = (items: fc.Arbitrary<string>, min = 0, max = 3): fc.Arbitrary<string> =>
  fc.array(items, { minLength: min, maxLength: max }).map((xs) => `[ ${xs.map(quote).join(', ')} ]`);

/** Any letter case of `name` (libxl's enum names are read case-insensitively). */
const anyCase = (name: string): fc.Arbitrary<string> =>
  fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }).map((up) => [...name].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(''));
const enumName = (...names: string[]): fc.Arbitrary<string> => fc.constantFrom(...names).chain(anyCase).map(quote);

const line = (key: string, value: fc.Arbitrary<string>): Lines => value.map((v) => [`${key} = ${v}`]);

/** `key=value` options in any order, a few of them. */
function options(pairs: Array<fc.Arbitrary<string>>, min = 0): fc.Arbitrary<string> {
  return fc
    .shuffledSubarray(pairs, { minLength: min })
    .chain((chosen) => (chosen.length === 0 ? fc.constant<string[]>([]) : fc.tuple(...chosen).map((xs): string[] => xs)))
    .map((xs) => xs.join(','));
}
const opt = (key: string, value: fc.Arbitrary<string>): fc.Arbitrary<string> => value.map((v) => `${key}=${v}`);

const cpuPiece = fc.oneof(
  int(0, 7).map(String),
  fc.tuple(int(0, 7), int(0, 7)).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
  int(0, 7).map((c) => `^${c}`),
  int(0, 1).map((n) => `node:${n}`),
  fc.constantFrom('nodes:0-1', '^node:1', 'all'),
);
const cpuSet = fc.array(cpuPiece, { minLength: 1, maxLength: 3 }).map((ps) => ps.join(','));

const bdf = fc
  .tuple(fc.option(int(0, 0xffff)), int(0, 0xff), int(0, 0x1f), fc.oneof(int(0, 7).map(String), fc.constant('*')))
  .map(([d, b, s, f]) => `${d === null ? '' : `${d.toString(16).padStart(4, '0')}:`}${b.toString(16).padStart(2, '0')}:${s.toString(16).padStart(2, '0')}.${f}`);
const pciSpec = fc.oneof(
  fc.tuple(bdf, fc.option(int(0, 0x1f)), options([
    opt('permissive', fc.constantFrom('0', '1')), opt('msitranslate', fc.constantFrom('0', '1')), opt('seize', fc.constantFrom('0', '1')),
    opt('power_mgmt', fc.constantFrom('0', '1')), fc.constantFrom('strict', 'relaxed', 'RELAXED').map((p) => `rdm_policy=${p}`),
  ])).map(([b, slot, o]) => `${b}${slot === null ? '' : `@${slot.toString(16)}`}${o ? `,${o}` : ''}`),
  fc.tuple(bdf, options([opt('permissive', fc.constantFrom('1'))])).map(([b, o]) => `bdf=${b}${o ? `,${o}` : ''}`),
  word().map((w) => `name=${w}`),
);

const CPUID_NAMES = ['tm', 'aes', 'sse4.1', 'sse4_2', 'est', 'psn', 'arat', 'invtsc', 'svm_npt', 'lfence+', 'btc-no', 'cmt', 'tsc_adjust'];
const cpuidFlag = fc.oneof(
  fc.tuple(fc.constantFrom(...CPUID_NAMES, ...CPUID_FEATURES.map(([n]) => n)), fc.constantFrom('0', '1', 'x', 'k', 's')).map(([n, v]) => `${n}=${v}`),
  fc.tuple(fc.constantFrom('family', 'model', 'stepping', 'procpkg', 'nc', 'apicidsize', 'proccount', 'maxleaf', 'maxhvleaf'), fc.oneof(int(0, 300).map(String), fc.constantFrom('x', 'k', '0x1f'))).map(([n, v]) => `${n}=${v}`),
);
const register = fc.array(fc.constantFrom('0', '1', 'x', 'k', 's'), { minLength: 32, maxLength: 32 }).map((b) => b.join(''));
const xendItem = fc
  .tuple(fc.constantFrom('1', '0x7', '0xd,1', '7,0', '0x80000001'), fc.subarray(['eax', 'ebx', 'ecx', 'edx'], { minLength: 0 }))
  .chain(([leaf, regs]) => fc.tuple(...regs.map(() => register)).map((bits) => `${leaf}:${regs.map((r, i) => `${r}=${bits[i]}`).join(',')}`));

const vsndItem = fc.oneof(
  options([opt('short-name', word()), opt('long-name', word()), opt('sample-rates', fc.constantFrom('8000;48000', '44100')), opt('sample-formats', fc.constantFrom('s16_le;S24_LE', 'u8')), opt('channels-min', int(1, 2).map(String)), opt('channels-max', int(2, 8).map(String)), opt('buffer-size', int(0, 65536).map(String)), opt('backend', word())]).map((o) => `card${o ? `, ${o}` : ''}`),
  options([opt('name', word()), opt('channels-max', int(1, 4).map(String))]).map((o) => `pcm${o ? `, ${o}` : ''}`),
  options([opt('unique-id', word()), opt('type', fc.constantFrom('p', 'C')), opt('sample-rates', fc.constantFrom('48000'))]).map((o) => `stream${o ? `, ${o}` : ''}`),
);

/** Keys and key groups → generator of their lines for a guest of `type` (undefined: not for this type). */
export const GROUPS: Readonly<Record<string, { keys: readonly string[]; lines: (type: GuestType) => Lines | undefined }>> = {};

function group(name: string, keys: readonly string[], lines: (type: GuestType) => Lines | undefined): void {
  (GROUPS as Record<string, unknown>)[name] = { keys, lines };
}
const simple = (key: string, value: fc.Arbitrary<string>): void => group(key, [key], () => line(key, value));

// Identity, type and lifecycle.
group('uuid', ['uuid'], () => line('uuid', fc.uuid().map((u) => quote(u.toUpperCase()))));
group('builder', ['builder'], (type) => (type === 'pvh' ? undefined : line('builder', fc.constantFrom(...(type === 'hvm' ? ['"hvm"', '"h"'] : ['"generic"', "'gen'"])))));
for (const key of ['on_poweroff', 'on_reboot', 'on_watchdog', 'on_crash', 'on_soft_reset']) {
  simple(key, fc.constantFrom('destroy', 'restart', 'rename-restart', 'preserve', 'coredump-destroy', 'coredump-restart', 'soft-reset').map(quote));
}
for (const key of ['init_seclabel', 'seclabel', 'pool', 'device_model_stubdomain_seclabel', 'device_model_user']) simple(key, str(1));
// Memory and vCPUs (numbers that must agree are generated together).
group('memory', ['memory', 'maxmem'], () => fc.tuple(int(16, 65536), fc.option(int(0, 4096))).chain(([m, extra]) => fc.tuple(numberText(m), extra === null ? fc.constant(null) : numberText(m + extra)).map(([a, b]) => (b === null ? [`memory = ${a}`] : [`memory = ${a}`, `maxmem = ${b}`]))));
group('vcpus', ['vcpus', 'maxvcpus'], () => fc.tuple(int(1, 16), fc.option(int(0, 16))).chain(([v, extra]) => fc.tuple(numberText(v), extra === null ? fc.constant(null) : numberText(v + extra)).map(([a, b]) => (b === null ? [`vcpus = ${a}`] : [`vcpus = ${a}`, `maxvcpus = ${b}`]))));
for (const key of ['cpus', 'cpus_soft']) {
  group(key, [key], () => fc.tuple(int(1, 6), fc.oneof(cpuSet.map(quote), list(cpuSet, 1, 6))).map(([v, value]) => [`vcpus = ${v}`, `${key} = ${value}`]));
}
group('vnuma', ['vnuma'], () =>
  fc.tuple(fc.array(fc.tuple(int(1, 2), int(64, 1024), int(0, 1)), { minLength: 1, maxLength: 3 }), fc.boolean(), fc.boolean()).map(([nodes, withMax, withVcpus]) => {
    let next = 0;
    const specs = nodes.map(([vcpus, size, pnode]) => {
      const range = vcpus === 1 ? `${next}` : `${next}-${next + vcpus - 1}`;
      next += vcpus;
      const distances = nodes.map((_, j) => (j === 0 ? 10 : 20)).join(',');
      return `[ "pnode=${pnode}", "size=${size}", "vcpus=${range}", "vdistances=${distances}" ]`;
    });
    const lines = [`vnuma = [ ${specs.join(', ')} ]`, `memory = ${nodes.reduce((a, [, s]) => a + s, 0)}`];
    if (withMax) lines.push(`maxvcpus = ${next}`);
    if (withVcpus) lines.push(`vcpus = ${next}`);
    return lines;
  }),
);
for (const key of ['cpu_weight', 'cap', 'period', 'slice', 'latency', 'extratime']) simple(key, num(-1, 65535));
for (const key of ['max_grant_frames', 'max_maptrack_frames', 'max_grant_version']) simple(key, num(0, 4096));
simple('max_event_channels', num(0, 4_000_000_000));
for (const key of ['shadow_memory', 'videoram', 'stubdomain_memory']) simple(key, num(0, 4096));
simple('rtc_timeoffset', fc.oneof(num(0, 86400), int(1, 86400).map((n) => `"-${n}"`)));
simple('vmtrace_buf_kb', num(0, 65536));
// Booleans read with xlu_cfg_get_defbool.
for (const key of ['hap', 'oos', 'nomigrate', 'localtime', 'driver_domain', 'acpi', 'nestedhvm', 'dm_restrict', 'xend_suspend_evtchn_compat', 'msr_relaxed', 'vpmu', 'device_model_stubdomain_override', 'pci_msitranslate', 'pci_power_mgmt', 'pci_permissive', 'pci_seize']) {
  simple(key, bool());
}
group('e820_host', ['e820_host'], () => line('e820_host', bool()));
group('pvshim', ['pvshim', 'pvshim_path', 'pvshim_cmdline', 'pvshim_extra'], () => fc.tuple(bool(), str(1), str(), str()).map(([a, b, c, d]) => [`pvshim = ${a}`, `pvshim_path = ${b}`, `pvshim_cmdline = ${c}`, `pvshim_extra = ${d}`]));
// Boot.
group('kernel', ['kernel', 'ramdisk', 'cmdline', 'root', 'extra'], () => fc.tuple(str(1), fc.option(str()), fc.option(str()), fc.option(str()), fc.option(str())).map(([k, rd, c, root, extra]) => [`kernel = ${k}`, ...(rd ? [`ramdisk = ${rd}`] : []), ...(c ? [`cmdline = ${c}`] : []), ...(root ? [`root = ${root}`] : []), ...(extra ? [`extra = ${extra}`] : [])]));
group('bootloader', ['bootloader', 'bootloader_args'], () => fc.tuple(str(1), fc.option(fc.oneof(list(word()), str()))).map(([b, a]) => [`bootloader = ${b}`, ...(a ? [`bootloader_args = ${a}`] : [])]));
group('firmware', ['firmware'], (type) => line('firmware', type === 'hvm' ? fc.oneof(enumName('seabios', 'rombios', 'ovmf'), fc.constantFrom('"uefi"', '"u"', '"bios"', '"/srv/fw/custom.bin"')) : fc.constantFrom('"pvgrub32"', '"pvgrub64"')));
simple('device_tree', str(1));
simple('tsc_mode', fc.oneof(num(0, 3), enumName('default', 'always_emulate', 'native', 'native_paravirt')));
group('timer_mode', ['timer_mode'], (type) => (type === 'pv' ? undefined : line('timer_mode', fc.oneof(num(0, 3), enumName('delay_for_missed_ticks', 'no_delay_for_missed_ticks', 'no_missed_ticks_pending', 'one_missed_tick_pending')))));
simple('altp2m', fc.oneof(num(0, 3), enumName('disabled', 'mixed', 'external', 'limited')));
simple('passthrough', enumName('default', 'disabled', 'enabled', 'sync_pt', 'share_pt'));
simple('vuart', enumName('unknown', 'sbsa_uart'));
simple('gic_version', fc.constantFrom('"v2"', '"V3"', '"default"'));
simple('tee', enumName('none', 'optee'));
// HVM platform.
for (const key of ['pae', 'acpi_s3', 'acpi_s4', 'acpi_laptop_slate', 'nx', 'hpet', 'vpt_align', 'apic', 'altp2mhvm', 'nographic', 'usb', 'vkb_device', 'xen_platform_pci', 'spice', 'spicedisable_ticketing', 'spiceagent_mouse', 'spicevdagent', 'spice_clipboard_sharing']) {
  simple(key, bool());
}
for (const key of ['firmware_override', 'bios_path_override', 'smbios_firmware', 'acpi_firmware', 'boot', 'soundhw', 'keymap', 'spicehost', 'spicepasswd', 'spice_image_compression', 'spice_streaming_video', 'device_model_override', 'stubdomain_kernel', 'stubdomain_cmdline', 'stubdomain_ramdisk']) {
  simple(key, str(1));
}
group('kernel-hvmloader', ['kernel'], (type) => (type === 'hvm' ? fc.constant(['kernel = "/usr/lib/xen-4.17/boot/hvmloader"']) : undefined));
simple('bios', enumName('rombios', 'seabios', 'ovmf', 'unknown'));
simple('viridian', fc.oneof(bool(), list(fc.oneof(fc.constantFrom('all', 'defaults'), fc.tuple(fc.boolean(), fc.constantFrom('base', 'freq', 'time_ref_count', 'reference_tsc', 'hcall_remote_tlb_flush', 'apic_assist', 'crash_ctl', 'synic', 'stimer', 'hcall_ipi', 'ex_processor_masks', 'no_vp_limit', 'cpu_hotplug')).chain(([neg, n]) => anyCase(n).map((c) => `${neg ? '!' : ''}${c}`))), 0, 4)));
simple('mmio_hole', num(256, 3840));
simple('ms_vm_genid', fc.constantFrom('"generate"', '"none"'));
simple('rdm_mem_boundary', num(0, 4096));
simple('mca_caps', list(fc.constant('lmce'), 0, 2));
group('vga', ['vga', 'stdvga'], () => fc.oneof(line('vga', fc.constantFrom('"stdvga"', '"cirrus"', '"none"', '"qxl"')), line('stdvga', bool()), fc.tuple(fc.constantFrom('stdvga', 'cirrus'), bool()).map(([v, s]) => [`vga = "${v}"`, `stdvga = ${s}`])));
simple('hdtype', enumName('ide', 'ahci'));
for (const key of ['spiceport', 'spicetls_port', 'spiceusbredirection', 'usbversion']) simple(key, num(0, 65535));
simple('gfx_passthru', fc.oneof(bool(), enumName('default', 'igd')));
simple('serial', fc.oneof(str(1), list(fc.constantFrom('pty', 'vc', 'null', 'file:/tmp/s', 'tcp::4555,server'), 0, 3)));
simple('usbdevice', fc.oneof(fc.constantFrom('"tablet"', '"mouse"'), list(fc.constantFrom('tablet', 'mouse', 'host:1.2'), 0, 2)));
simple('vendor_device', enumName('none', 'xenserver'));
// Display.
group('display', ['vnc', 'vnclisten', 'vncpasswd', 'vncdisplay', 'vncunused', 'sdl', 'opengl', 'display', 'xauthority'], () =>
  fc.tuple(bool(), fc.option(str(1, 12, 'abc0123456789.')), fc.option(str()), fc.option(num(0, 99)), fc.option(bool()), fc.option(bool()), fc.option(bool()), fc.option(str(1)), fc.option(str(1))).map(([vnc, listen, passwd, display, unused, sdl, opengl, x11, xauth]) => [
    `vnc = ${vnc}`,
    ...(listen ? [`vnclisten = ${listen}`] : []),
    ...(passwd ? [`vncpasswd = ${passwd}`] : []),
    ...(display ? [`vncdisplay = ${display}`] : []),
    ...(unused ? [`vncunused = ${unused}`] : []),
    ...(sdl ? [`sdl = ${sdl}`] : []),
    ...(opengl ? [`opengl = ${opengl}`] : []),
    ...(x11 ? [`display = ${x11}`] : []),
    ...(xauth ? [`xauthority = ${xauth}`] : []),
  ]),
);
group('device_model_version', ['device_model_version'], () => line('device_model_version', fc.constantFrom('"qemu-xen"', '"qemu-xen-traditional"')));
for (const key of ['device_model_args', 'device_model_args_pv', 'device_model_args_hvm']) simple(key, list(word('-abcdefgh=,'), 0, 3));
// Keys xl only warns about.
simple('vncviewer', bool());
simple('vif2', list(fc.constant('bridge=xenbr0'), 0, 1));
simple('device_model', fc.constantFrom('"/usr/bin/qemu-dm"', '"stubdom-dm"'));
// Devices and resources.
simple('disk', list(fc.constantFrom('/dev/vg/a,raw,xvda,rw', 'format=qcow2,vdev=xvdb,access=ro,target=/i/b.qcow2', 'file:/i/cd.iso,hdc:cdrom,r', ',,hdd:cdrom,r', 'phy:/dev/sdb,xvdc,w', 'vdev=xvde,backendtype=qdisk,discard,target=/x'), 0, 3));
simple('vif', list(options([opt('bridge', word()), opt('mac', fc.constantFrom('00:16:3e:01:02:03', '00:16:3E:aa:bb:cc')), opt('ip', fc.constantFrom('10.0.0.1')), opt('model', fc.constantFrom('e1000')), opt('type', fc.constantFrom('vif', 'ioemu')), opt('script', word()), opt('vifname', word()), opt('mtu', int(576, 9000).map(String)), opt('rate', fc.constantFrom('10Mb/s', '1GB/s@20ms')), opt('backend', word()), opt('gatewaydev', word()), opt('forwarddev', word()), opt('colo_sock_mirror_ip', word()), fc.constantFrom('trusted', 'untrusted')]), 0, 3));
simple('pci', list(pciSpec, 0, 3));
// For a PV/PVH guest with PCI devices xl hands them an uninitialised policy: refused, so not generated there.
group('rdm', ['rdm'], (type) => (type === 'hvm' ? line('rdm', fc.constant('"strategy=host"')) : undefined));
simple('dtdev', list(word().map((w) => `/soc/${w}`), 0, 2));
simple('ioports', list(fc.oneof(int(0, 0xffff).map((p) => p.toString(16)), fc.tuple(int(0, 0xfff0), int(0, 15)).map(([a, n]) => `${a.toString(16)}-${(a + n).toString(16)}`), fc.constant('0x60')), 0, 3));
simple('irqs', fc.array(int(0, 255), { maxLength: 3 }).map((xs) => `[ ${xs.map((x, i) => (i % 2 ? `"${x}"` : String(x))).join(', ')} ]`));
simple('iomem', list(fc.tuple(int(0, 0xfffff), int(1, 16), fc.option(int(0, 0xfffff))).map(([s, n, g]) => `${s.toString(16)},${n.toString(16)}${g === null ? '' : `@${g.toString(16)}`}`), 0, 2));
simple('p9', fc.array(fc.tuple(word(), word(), fc.constantFrom('none', 'passthrough', 'mapped')), { maxLength: 2 }).map((ps) => `[ ${ps.map(([t, p, m]) => `"tag=${t},path=/${p},security_model=${m},backend=dom0"`).join(', ')} ]`));
simple('vtpm', list(fc.tuple(word(), fc.option(fc.uuid())).map(([b, u]) => `backend=${b}${u ? `,uuid=${u}` : ''}`), 0, 2));
simple('vdispl', list(fc.tuple(fc.option(word()), fc.option(fc.constantFrom('0', '1')), fc.array(fc.tuple(word(), int(1, 4096), int(1, 4096)), { minLength: 1, maxLength: 2 })).map(([b, a, cs]) => [b ? `backend=${b}` : '', a ? `be-alloc=${a}` : '', `connectors=${cs.map(([i, w, h]) => `${i}:${w}x${h}`).join(';')}`].filter((x) => x).join(',')), 0, 2));
simple('pvcalls', list(fc.option(word()).map((b) => (b ? `backend=${b}` : '')), 0, 2));
simple('vsnd', fc.array(fc.array(vsndItem, { maxLength: 4 }), { maxLength: 2 }).map((cards) => `[ ${cards.map((items) => `[ ${items.map(quote).join(', ')} ]`).join(', ')} ]`));
simple('channel', list(fc.oneof(word().map((n) => `name=${n},connection=pty`), fc.tuple(word(), word()).map(([n, p]) => `connection=socket, path=/run/${p}, name=${n}`)), 0, 2));
simple('vfb', list(options([opt('vnc', fc.constantFrom('0', '1')), opt('vnclisten', fc.constantFrom('127.0.0.1')), opt('vncdisplay', int(0, 9).map(String)), opt('vncunused', fc.constantFrom('0', '1')), opt('keymap', word()), opt('sdl', fc.constantFrom('0', '1')), opt('opengl', fc.constantFrom('1')), opt('display', fc.constantFrom(':0')), opt('xauthority', fc.constantFrom('/x')), opt('vncpasswd', word())]), 0, 2));
simple('usbctrl', list(options([opt('type', fc.constantFrom('auto', 'pv', 'devicemodel', 'QUSB')), opt('version', int(1, 3).map(String)), opt('ports', int(1, 15).map(String))]), 0, 2));
simple('usbdev', list(fc.tuple(int(0, 255), int(0, 255), options([opt('controller', int(0, 3).map(String)), opt('port', int(1, 8).map(String))])).map(([b, a, o]) => `type=hostdev,hostbus=${b},hostaddr=${a}${o ? `,${o}` : ''}`), 0, 2));
simple('vkb', list(fc.tuple(fc.constantFrom('qemu', 'linux'), options([opt('width', int(1, 4096).map(String)), opt('height', int(1, 4096).map(String)), opt('unique-id', word()), opt('backend', word()), opt('feature-disable-keyboard', fc.constantFrom('0', '1')), opt('feature-abs-pointer', fc.constantFrom('1')), opt('multi-touch-width', int(1, 100).map(String))])).map(([t, o]) => `backend-type=${t}${o ? `,${o}` : ''}`), 0, 2));
simple('cpuid', fc.oneof(fc.array(cpuidFlag, { maxLength: 5 }).map((fs) => `"host${fs.map((f) => `,${f}`).join('')}"`), list(xendItem, 0, 3)));

/** A whole guest config: a name, a type (written as type, builder or by abbreviation), and a random set of groups. */
export const guestConfig: fc.Arbitrary<{ type: GuestType; groups: string[]; text: string }> = fc
  .tuple(fc.constantFrom<GuestType>('pv', 'pvh', 'hvm'), fc.subarray(Object.keys(GROUPS), { minLength: 1, maxLength: 12 }))
  .chain(([type, names]) => {
    const typeText = type === 'pv' ? fc.constantFrom('"pv"', '"p"', null) : type === 'hvm' ? fc.constantFrom('"hvm"', '"h"', "'hv'") : fc.constant('"pvh"');
    const usable = names.filter((n) => GROUPS[n]!.lines(type) !== undefined);
    return fc.tuple(fc.constant(type), fc.constant(usable), typeText, fc.tuple(...usable.map((n) => GROUPS[n]!.lines(type)!)));
  })
  .map(([type, groups, typeText, lineSets]) => {
    const lines = ['name = "prop"'];
    if (typeText !== null && !groups.includes('builder')) lines.push(`type = ${typeText}`);
    if (groups.includes('builder') && type === 'hvm') lines.push('type = "hvm"');
    const firmware = type !== 'hvm' && groups.includes('firmware');
    const boots = groups.some((g) => g === 'kernel' || g === 'bootloader');
    if (type !== 'hvm' && !firmware && !boots) lines.push('kernel = "/boot/vmlinuz"');
    lineSets.forEach((ls, i) => {
      // A PV/PVH guest booted by firmware takes no kernel (xl refuses both).
      if (firmware && groups[i] === 'kernel') return;
      lines.push(...ls);
    });
    return { type, groups, text: `${lines.join('\n')}\n` };
  });

/** Values xl refuses or warns about (and does not use), one key at a time: xenclaim must refuse them, naming the key. */
export const INVALID: ReadonlyArray<readonly [string, fc.Arbitrary<string>]> = [
  ['memory', fc.constantFrom('"lots"', '[ 512 ]', '"512M"', '0x')],
  ['vcpus', fc.constantFrom('"two"', '0x1g', '[ 2 ]')],
  ['shadow_memory', fc.constantFrom('"8M"', '[ 8 ]')],
  ['tsc_mode', fc.constantFrom('"fast"', '9', '"native-paravirt"')],
  ['altp2m', fc.constantFrom('"on"', '4')],
  ['bios', fc.constantFrom('"coreboot"', '"efi"')],
  ['vga', fc.constantFrom('"vmware"', '"std"')],
  ['hdtype', fc.constantFrom('"scsi"', '"sata"')],
  ['vendor_device', fc.constantFrom('"citrix"')],
  ['passthrough', fc.constantFrom('"on"', '"pt"')],
  ['gfx_passthru', fc.constantFrom('"amd"')],
  ['device_model_version', fc.constantFrom('"qemu"', '"QEMU-XEN"')],
  ['on_crash', fc.constantFrom('"reboot"', '"Destroy"')],
  ['mmio_hole', fc.constantFrom('128', '4096', '"big"')],
  ['max_grant_frames', fc.constantFrom('"-1"', '0x80000000')],
  ['ms_vm_genid', fc.constantFrom('"yes"', '"random"')],
  ['viridian', fc.constantFrom('[ "warp" ]', '[ "!all" ]')],
  ['mca_caps', fc.constantFrom('[ "mce" ]', '"lmce"')],
  ['pci', fc.constantFrom('[ "03:00.8" ]', '[ "zz:00.0" ]', '[ "03:00.0,msi=1" ]', '[ "03:00.0,name=x" ]')],
  ['vtpm', fc.constantFrom('[ "uuid=6e8e9a49-7a4c-4c3a-9f7c-0f1d2e3a4b5c" ]', '[ "backend=a,uuid=12" ]', '[ "backend=a,key=1" ]')],
  ['vkb', fc.constantFrom('[ "width=1" ]', '[ "backend-type=usb" ]', '[ "backend-type=qemu,feature-multi-touch=1" ]')],
  ['usbctrl', fc.constantFrom('[ "type=ehci" ]', '[ "speed=2" ]')],
  ['usbdev', fc.constantFrom('[ "type=usb" ]', '[ "vendor=1" ]')],
  ['channel', fc.constantFrom('[ "name=a" ]', '[ "connection=tcp" ]', '[ "connection=socket" ]')],
  ['vdispl', fc.constantFrom('[ "backend=a" ]', '[ "connectors=a" ]', '[ "width=1" ]')],
  ['p9', fc.constantFrom('[ "tag=a" ]', '[ "tag=a,path=/a,security_model=none,mode=1" ]')],
  ['pvcalls', fc.constantFrom('[ "frontend=a" ]')],
  ['vsnd', fc.constantFrom('[ [ "speaker" ] ]', '[ [ "card, volume=1" ] ]', '[ [ "stream, type=x" ] ]', '[ [ "card, sample-formats=s99" ] ]')],
  ['irqs', fc.constantFrom('[ "x" ]', '[ "12a" ]', '[ "4294967295" ]')],
  ['ioports', fc.constantFrom('[ "zz" ]', '[ "ffffffff" ]')],
  ['iomem', fc.constantFrom('[ "fe000" ]', '[ "fe000,2@" ]', '[ "x,1" ]')],
  ['device_model_args', fc.constantFrom('"-a"')],
];

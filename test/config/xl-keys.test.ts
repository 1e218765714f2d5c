/**
 * The keys of xl.cfg beyond the basics: the field cases with their right values, the forms xl misreads (refused
 * here with an EINVAL ConfigError naming the key, file and line) and the keys xl ignores for a guest type (warned).
 * Byte-for-byte agreement with xl is checked by the recorded fixtures (to-libxl.test.ts) and the oracle
 * (xl-oracle.test.ts, xl-oracle-properties.test.ts).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseGuestConfig, type XlHost } from '../../src/config/index.js';
import { XL_KNOWN_KEYS } from '../../src/config/xl-keys.js';
import { FIXED_UUID, ORACLE_HOST } from './oracle-host.js';

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/** `host` null: the config is read for no host in particular. */
function read(body: string, host: XlHost | null = ORACLE_HOST) {
  return parseGuestConfig(body, 'g.cfg', { generateUuid: () => FIXED_UUID, ...(host ? { host } : {}) });
}

function refused(body: string, host: XlHost | null = ORACLE_HOST): ConfigError {
  try {
    read(body, host);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected ${JSON.stringify(body)} to be refused`);
}

describe('field cases', () => {
  it('hvm-old-style-keys.cfg: acpi, apic, boot order, serial and the platform device, as xl -N create prints them', () => {
    const path = fixture('hvm-old-style-keys.cfg');
    const { config } = parseGuestConfig(readFileSync(path, 'utf8'), path, { generateUuid: () => FIXED_UUID, host: ORACLE_HOST });
    expect(config.b_info).toMatchObject({ acpi: 'True', apic: 'True', max_vcpus: 4, target_memkb: 2048 * 1024 });
    expect(config.b_info['type.hvm']).toMatchObject({ serial: 'pty', boot: 'c', xen_platform_pci: 'True' });
    expect(config['on_crash']).toBe('preserve');
  });

  it('pci-passthrough.cfg: both functions, each with its own options, over the global pci_permissive', () => {
    const path = fixture('pci-passthrough.cfg');
    const { config } = parseGuestConfig(readFileSync(path, 'utf8'), path, { generateUuid: () => FIXED_UUID, host: ORACLE_HOST });
    expect(config['pcidevs']).toEqual([
      { bus: 3, vfunc_mask: 1, permissive: true },
      { func: 1, bus: 3, vfunc_mask: 1, msitranslate: true, rdm_policy: 'relaxed' },
    ]);
  });
});

describe('keys that change the guest are refused where xl would build a different one', () => {
  const cases: Array<[string, string, string, RegExp]> = [
    ['cpus without vcpus (xl drops it)', 'name="g"\nkernel="/k"\ncpus="0-3"\n', 'cpus', /^g\.cfg:3:6: cpus needs vcpus or maxvcpus/],
    ['a CPU the host does not have', 'name="g"\nkernel="/k"\nvcpus=1\ncpus="9"\n', 'cpus', /the host has CPUs 0 to 7; xl 4.17 would silently drop CPU 9/],
    ['a malformed CPU range', 'name="g"\nkernel="/k"\nvcpus=1\ncpus="3-1"\n', 'cpus', /not a CPU range/],
    ['^all', 'name="g"\nkernel="/k"\nvcpus=1\ncpus="^all"\n', 'cpus', /cannot be combined with "all"/],
    ['rdm with a policy (xl ignores the whole setting)', 'name="g"\ntype="hvm"\nrdm="strategy=host,policy=relaxed"\n', 'rdm', /xl 4\.17 ignores the whole rdm setting/],
    ['rdm on a PV guest with PCI devices (xl gives them an uninitialised policy)', 'name="g"\nkernel="/k"\npci=["01:00.0"]\nrdm="strategy=host"\n', 'rdm', /uninitialised rdm policy/],
    ['usbdev without a type (the JSON loses hostbus)', 'name="g"\nkernel="/k"\nusbdev=["hostbus=1,hostaddr=2"]\n', 'usbdev', /needs type=hostdev/],
    ['a p9 share missing its path', 'name="g"\nkernel="/k"\np9=["tag=a,security_model=none"]\n', 'p9', /path= is required/],
    ['a p9 share that would inherit a backend', 'name="g"\nkernel="/k"\np9=["tag=a,path=/a,security_model=none,backend=d1","tag=b,path=/b,security_model=none"]\n', 'p9', /previous share's backend \(d1\)/],
    ['a vfb option without "=" (xl stops reading there)', 'name="g"\nkernel="/k"\nvfb=["vnc=1,sdl,keymap=de"]\n', 'vfb', /'sdl' is not key=value/],
    ['a vTPM without backend', 'name="g"\nkernel="/k"\nvtpm=["uuid=6e8e9a49-7a4c-4c3a-9f7c-0f1d2e3a4b5c"]\n', 'vtpm', /backend= is required/],
    ['a channel without connection', 'name="g"\nkernel="/k"\nchannel=["name=a"]\n', 'channel', /connection=pty or connection=socket is required/],
    ['a socket channel without path', 'name="g"\nkernel="/k"\nchannel=["name=a,connection=socket"]\n', 'channel', /needs path=/],
    ['timer_mode for a PV guest', 'name="g"\nkernel="/k"\ntimer_mode="delay_for_missed_ticks"\n', 'timer_mode', /not supported for PV guests/],
    ['PV firmware other than pvgrub', 'name="g"\nfirmware="ovmf"\n', 'firmware', /must be 'pvgrub32' or 'pvgrub64'/],
    ['tsc_mode out of range', 'name="g"\nkernel="/k"\ntsc_mode=7\n', 'tsc_mode', /tsc_mode must be one of/],
    ['an unknown tsc_mode', 'name="g"\nkernel="/k"\ntsc_mode="fast"\n', 'tsc_mode', /tsc_mode must be one of 'default'/],
    ['mmio_hole below 256 MiB', 'name="g"\ntype="hvm"\nmmio_hole=128\n', 'mmio_hole', /mmio_hole must be an integer from 256 to 3840/],
    ['an unknown viridian enlightenment', 'name="g"\ntype="hvm"\nviridian=["base","warp"]\n', 'viridian', /unknown viridian enlightenment "warp"/],
    ['a bad PCI BDF', 'name="g"\ntype="hvm"\npci=["03:20.0"]\n', 'pci', /pci\[0\] "03:20\.0": "03:20\.0" is not key=value \(and the spec does not start with a BDF/],
    ['an unknown PCI option', 'name="g"\ntype="hvm"\npci=["03:00.0,msi=1"]\n', 'pci', /unknown option 'msi'/],
    ['an unknown CPUID flag', 'name="g"\nkernel="/k"\ncpuid="host,warp=1"\n', 'cpuid', /unknown CPUID flag name 'warp'/],
    ['a CPUID string not starting with host', 'name="g"\nkernel="/k"\ncpuid="tm=0"\n', 'cpuid', /first word must be "host"/],
    ['a short xend CPUID register', 'name="g"\nkernel="/k"\ncpuid=["1:eax=0101"]\n', 'cpuid', /exactly 32 characters/],
    ['an unknown vnuma option', 'name="g"\ntype="hvm"\nmaxvcpus=1\nvnuma=[["size=256","vcpus=0","node=0"]]\n', 'vnuma', /unknown option 'node'/],
    ['vnuma vCPUs against maxvcpus', 'name="g"\ntype="hvm"\nmaxvcpus=2\nvnuma=[["size=256","vcpus=0"]]\n', 'vnuma', /gives 1 vCPUs but maxvcpus is 2/],
    ['a vnuma pnode the host lacks', 'name="g"\ntype="hvm"\nvnuma=[["size=256","vcpus=0","pnode=2"]]\n', 'vnuma', /below the host's 2 NUMA nodes/],
    ['an ioport range ending before it starts', 'name="g"\nkernel="/k"\nioports=["3ff-3f8"]\n', 'ioports', /ends before it starts/],
    ['junk after an ioport', 'name="g"\nkernel="/k"\nioports=["3f8x"]\n', 'ioports', /unexpected "x"/],
    ['a bad iomem range', 'name="g"\nkernel="/k"\niomem=["fe000"]\n', 'iomem', /not START,NUM/],
    ['a vkb without backend-type', 'name="g"\nkernel="/k"\nvkb=["width=10"]\n', 'vkb', /backend-type=qemu or backend-type=linux is required/],
    ['an unknown vga', 'name="g"\ntype="hvm"\nvga="vmware"\n', 'vga', /vga must be one of/],
    ['vnclisten and vncdisplay both giving the display', 'name="g"\ntype="hvm"\nvnclisten="0.0.0.0:1"\nvncdisplay=2\n', 'vncdisplay', /both in vnclisten/],
    ['an unknown device model version', 'name="g"\ntype="hvm"\ndevice_model_version="qemu-dm"\n', 'device_model_version', /must be 'qemu-xen' or 'qemu-xen-traditional'/],
    ['ms_vm_genid other than generate or none', 'name="g"\ntype="hvm"\nms_vm_genid="yes"\n', 'ms_vm_genid', /"generate" or "none"/],
    ['a mca_caps other than lmce', 'name="g"\ntype="hvm"\nmca_caps=["mce"]\n', 'mca_caps', /only 'lmce'/],
    ['grant frames out of range', 'name="g"\nkernel="/k"\nmax_grant_frames=0x80000000\n', 'max_grant_frames', /from 0 to 2147483647/],
    ['a number key given a list', 'name="g"\nkernel="/k"\nshadow_memory=[8]\n', 'shadow_memory', /not a list/],
  ];
  for (const [what, body, key, message] of cases) {
    it(what, () => {
      const err = refused(body);
      expect(err.key).toBe(key);
      expect(err.code).toBe('EINVAL');
      expect(err.message).toMatch(/^g\.cfg:\d+:\d+: /);
      expect(err.message).toMatch(message);
    });
  }

  it('host-dependent forms need the host the config is read for', () => {
    expect(refused('name="g"\nkernel="/k"\nvcpus=1\ncpus="all"\n', null).message).toMatch(/depends on the host's CPUs/);
    expect(refused('name="g"\nkernel="/k"\nvcpus=1\ncpus="node:0"\n', null).message).toMatch(/depends on the host's CPUs/);
    expect(refused('name="g"\ntype="hvm"\nvnuma=[["size=256","vcpus=0"]]\n', null).message).toMatch(/set maxvcpus/);
    // Plain CPU numbers need no host.
    expect(read('name="g"\nkernel="/k"\nvcpus=2\ncpus="1,3"\n', null).config.b_info['vcpu_hard_affinity']).toEqual([[1, 3], [1, 3]]);
  });

  it('node: forms on a host whose nodes xl cannot map are refused (xl sizes the map by the node count)', () => {
    const big: XlHost = { maxCpus: 16, onlineCpus: 16, nrNodes: 2, nodeCpus: [[0, 1, 2, 3, 4, 5, 6, 7], [8, 9, 10, 11, 12, 13, 14, 15]] };
    expect(refused('name="g"\nkernel="/k"\nvcpus=1\ncpus="node:1"\n', big).message).toMatch(/node 1 has CPUs 8,9,10,11,12,13,14,15, which xl 4\.17 drops/);
    expect(read('name="g"\nkernel="/k"\nvcpus=1\ncpus="node:0"\n', big).config.b_info['vcpu_hard_affinity']).toEqual([[0, 1, 2, 3, 4, 5, 6, 7]]);
    const unknownTopology: XlHost = { maxCpus: 8, onlineCpus: 8, nrNodes: 2 };
    expect(refused('name="g"\nkernel="/k"\nvcpus=1\ncpus="node:0"\n', unknownTopology).message).toMatch(/NUMA topology is not known/);
    const oneNode: XlHost = { maxCpus: 4, onlineCpus: 4, nrNodes: 1 };
    expect(read('name="g"\nkernel="/k"\nvcpus=1\ncpus="node:0"\n', oneNode).config.b_info['vcpu_hard_affinity']).toEqual([[0, 1, 2, 3]]);
  });

  it('"all" is every CPU of a bitmap sized for the host, rounded up to a byte, as libxl allocates it', () => {
    const six: XlHost = { maxCpus: 6, onlineCpus: 6, nrNodes: 1 };
    expect(read('name="g"\nkernel="/k"\nvcpus=1\ncpus="all"\n', six).config.b_info['vcpu_hard_affinity']).toEqual([[0, 1, 2, 3, 4, 5, 6, 7]]);
  });
});

describe('maps what xl maps', () => {
  it('memory overheads: shadow_memory, videoram, stub domain memory', () => {
    const b = read('name="g"\ntype="hvm"\nmemory=1024\nshadow_memory=12\nvideoram=32\nstdvga=1\ndevice_model_stubdomain_override=1\nstubdomain_memory=96\n').config.b_info;
    expect(b).toMatchObject({ shadow_memkb: 12 * 1024, video_memkb: 32 * 1024, device_model_stubdomain: 'True', stubdomain_memkb: 96 * 1024 });
    expect(b['type.hvm']).toMatchObject({ vga: { kind: 'std' } });
  });

  it('placement: hard affinity per vCPU from a list, soft affinity from a string, scheduler and pool', () => {
    const { config } = read('name="g"\nkernel="/k"\nvcpus=2\ncpus=["0-1","node:1"]\ncpus_soft="^0,all"\ncpu_weight=256\ncap=50\npool="p1"\n');
    expect(config.b_info).toMatchObject({
      vcpu_hard_affinity: [[0, 1], [4, 5, 6, 7]],
      vcpu_soft_affinity: [[0, 1, 2, 3, 4, 5, 6, 7], [0, 1, 2, 3, 4, 5, 6, 7]],
      numa_placement: 'False',
      sched_params: { weight: 256, cap: 50 },
    });
    expect(config.c_info['pool_name']).toBe('p1');
  });

  it('old and new spellings: builder/type, stdvga/vga, altp2mhvm/altp2m, numbers for names', () => {
    const old = read('name="g"\nbuilder="hvm"\nstdvga=1\naltp2mhvm=1\ntsc_mode=1\ntimer_mode=2\n');
    const modern = read('name="g"\ntype="hvm"\nvga="stdvga"\naltp2m="mixed"\ntsc_mode="always_emulate"\ntimer_mode="no_missed_ticks_pending"\n');
    expect(old.config.b_info['type.hvm']).toMatchObject({ vga: { kind: 'std' }, altp2m: 'True' });
    expect(modern.config.b_info['type.hvm']).toMatchObject({ vga: { kind: 'std' } });
    expect(modern.config.b_info['altp2m']).toBe('mixed');
    for (const c of [old, modern]) expect(c.config.b_info).toMatchObject({ tsc_mode: 'always_emulate', timer_mode: 'no_missed_ticks_pending' });
    expect(old.warnings.join('\n')).toMatch(/altp2mhvm is deprecated/);
    expect(old.warnings.join('\n')).toMatch(/tsc_mode as an integer is deprecated/);
  });

  it('ms_vm_genid = "generate" takes 16 random bytes (injectable, like the UUID)', () => {
    const bytes = Array.from({ length: 16 }, (_, i) => i + 1);
    const { config } = parseGuestConfig('name="g"\ntype="hvm"\nms_vm_genid="generate"\n', 'g.cfg', { generateUuid: () => FIXED_UUID, generateVmGenid: () => bytes });
    expect(config.b_info['type.hvm']).toMatchObject({ ms_vm_genid: bytes });
  });

  it('rdm = "strategy=host" leaves the policy to libxl (xl prints an uninitialised one), with a warning', () => {
    const { config, warnings } = read('name="g"\ntype="hvm"\nrdm="strategy=host"\n');
    expect((config.b_info['type.hvm'] as Record<string, unknown>)['rdm']).toEqual({ strategy: 'host' });
    expect(warnings).toEqual(["g.cfg:3: warning: rdm's policy is left to libxl's default (relaxed); xl 4.17 leaves it uninitialised and prints null"]);
  });

  it('PCI devices of a PV guest turn on e820_host and take policy "strict", as xl gives them', () => {
    const { config } = read('name="g"\nkernel="/k"\npci=["01:00.0"]\n');
    expect(config.b_info['type.pv']).toEqual({ e820_host: 'True' });
    expect(config['pcidevs']).toEqual([{ bus: 1, vfunc_mask: 1, rdm_policy: 'strict' }]);
  });
});

describe('keys xl ignores for the guest type are warned about, never silently dropped', () => {
  it('HVM keys on a PV guest, PVH keys on an HVM guest, PV keys on a PVH guest', () => {
    expect(read('name="g"\nkernel="/k"\nserial="pty"\nacpi_s3=0\n').warnings).toEqual([
      'g.cfg:3: warning: serial is ignored: it applies to HVM guests, and this is a pv guest (xl ignores it too)',
      'g.cfg:4: warning: acpi_s3 is ignored: it applies to HVM guests, and this is a pv guest (xl ignores it too)',
    ]);
    expect(read('name="g"\ntype="hvm"\npvshim=1\n').warnings).toEqual(['g.cfg:3: warning: pvshim is ignored: it applies to PVH guests, and this is a hvm guest (xl ignores it too)']);
    expect(read('name="g"\ntype="pvh"\nkernel="/k"\ne820_host=1\n').warnings).toEqual(['g.cfg:4: warning: e820_host is ignored: it applies to PV guests, and this is a pvh guest (xl ignores it too)']);
  });

  it('keys xl only warns about (vncviewer, vif2, device_model), and Arm-only keys', () => {
    expect(read('name="g"\ntype="hvm"\nvncviewer=1\nvif2=[""]\ndevice_model="/q"\ngic_version="v2"\n').warnings).toEqual([
      'g.cfg:3: warning: vncviewer is ignored; xl create -V starts a viewer (xl ignores the key too)',
      'g.cfg:4: warning: vif2 (netchannel2) is deprecated and not supported by xl; ignored',
      'g.cfg:5: warning: device_model is ignored; use device_model_override for a non-default device model (xl ignores it too)',
      'g.cfg:6: warning: gic_version applies to Arm guests; libxl on x86 does not use it',
    ]);
  });
});

describe('docs/xl-config.md', () => {
  it('says what happens to every top-level key xl 4.17 reads', () => {
    const doc = readFileSync(fileURLToPath(new URL('../../docs/xl-config.md', import.meta.url)), 'utf8');
    const rows = doc.split('\n').filter((l) => l.startsWith('| `'));
    const documented = new Set(rows.flatMap((row) => [...row.split('|')[1]!.matchAll(/`([a-z0-9_]+)`/g)].map((m) => m[1]!)));
    expect([...XL_KNOWN_KEYS].filter((k) => !documented.has(k))).toEqual([]);
    expect([...documented].filter((k) => !XL_KNOWN_KEYS.has(k))).toEqual([]);
  });
});

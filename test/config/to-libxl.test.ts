/**
 * The xl.cfg → libxl JSON mapping. The expected *.xl.json files in fixtures/ are what Xen 4.17's own
 * `xl -N create` printed for the matching .cfg (Debian's xl 4.17.7, see oracle/README.md), with the random UUID of
 * UUID-less configs replaced by FIXED_UUID.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, formatLibxlJson, loadGuestConfig, parseGuestConfig } from '../../src/config/index.js';
import { MAX_GUEST_MEMORY_MIB } from '../../src/config/to-libxl.js';
import { FIXED_UUID, ORACLE_HOST } from './oracle-host.js';

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const expected = (name: string): unknown => JSON.parse(readFileSync(fixture(`${name}.xl.json`), 'utf8'));
const opts = { generateUuid: () => FIXED_UUID, host: ORACLE_HOST };
/** Every fixture xl's output was recorded for (oracle/record-fixtures.mjs). */
const RECORDED = readdirSync(fixture('.'))
  .filter((f) => f.endsWith('.cfg') && existsSync(fixture(f.replace(/\.cfg$/, '.xl.json'))))
  .map((f) => f.replace(/\.cfg$/, ''));

function read(body: string, file = 'g.cfg') {
  return parseGuestConfig(body, file, opts);
}

/** A minimal PV guest plus `extra` lines. */
function pv(extra: string) {
  return read(`name = "g"\nkernel = "/boot/k"\n${extra}`);
}

function rejected(body: string): ConfigError {
  try {
    read(body);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected rejection of ${JSON.stringify(body)}`);
}

describe("the example configs give xl's own JSON", () => {
  it('covers every area of xl.cfg with recorded fixtures', () => {
    expect(RECORDED.length).toBeGreaterThanOrEqual(23);
  });

  for (const name of RECORDED) {
    it(`${name}.cfg`, async () => {
      const { config } = await loadGuestConfig(fixture(`${name}.cfg`), opts);
      expect(config).toEqual(expected(name));
      // Key order follows libxl_types.idl, as libxl prints it.
      expect(JSON.stringify(config)).toBe(JSON.stringify(expected(name)));
    });

    it(`${name}.cfg printed byte for byte as xl prints it`, async () => {
      const { config } = await loadGuestConfig(fixture(`${name}.cfg`), opts);
      expect(formatLibxlJson(config)).toBe(readFileSync(fixture(`${name}.xl.json`), 'utf8'));
    });
  }

  it('prints escapes and empty containers as libxl does', () => {
    // xl printed this for: name = "g\t", kernel = "/k\a\"\\/é", vif = [ 'bridge=\b' ]
    const config = { c_info: { name: 'g\t' }, b_info: { kernel: '/k\x07"\\/é', sched_params: {}, list: [] }, nics: [{ devid: 0, bridge: '\b' }] };
    expect(formatLibxlJson(config)).toBe(
      '{\n    "c_info": {\n        "name": "g\\t"\n    },\n    "b_info": {\n        "kernel": "/k\\u0007\\"\\\\/é",\n' +
        '        "sched_params": {\n\n        },\n        "list": [\n\n        ]\n    },\n' +
        '    "nics": [\n        {\n            "devid": 0,\n            "bridge": "\\b"\n        }\n    ]\n}\n',
    );
  });

  it('warns about nothing in the clean examples', async () => {
    for (const name of ['pvlinux', 'pvhlinux', 'hvm', 'hvm-display', 'hvm-stubdomain', 'pv-devices', 'large-hvm-overhead', 'pci-passthrough']) {
      expect((await loadGuestConfig(fixture(`${name}.cfg`), opts)).warnings, name).toEqual([]);
    }
  });

  it('makes a fresh random UUID when the config has none, as xl does', () => {
    const a = parseGuestConfig(`name = "g"\nkernel = "/k"\n`, 'g.cfg').config.c_info.uuid;
    const b = parseGuestConfig(`name = "g"\nkernel = "/k"\n`, 'g.cfg').config.c_info.uuid;
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a).not.toBe(b);
  });
});

describe('unknown keys are warned about with file and line', () => {
  it('tells typos from xl keys this guest type does not use, and notes octal and repeated settings', async () => {
    const path = fixture('unknown-keys.cfg');
    const { warnings } = await loadGuestConfig(path, opts);
    expect(warnings).toEqual([
      `${path}:4: warning: unknown key 'vcpu' (not an xl.cfg key in Xen 4.17); ignored`,
      `${path}:5: warning: boot is ignored: it applies to HVM guests, and this is a pv guest (xl ignores it too)`,
      `${path}:6: warning: unknown key 'max_mem' (not an xl.cfg key in Xen 4.17); ignored`,
      `${path}:7: warning: memory = 0400 has a leading 0, so xl reads it as octal: 256`,
      `${path}:7: warning: 'memory' is set 2 times; the last (this line) wins, as in xl`,
    ]);
  });

  it('warns about ignored vif options and cmdline overriding root/extra', () => {
    const { warnings } = pv(`vif = [ 'bridge=br0,accel=x,foo=bar' ]\ncmdline = "quiet"\nroot = "/dev/xvda1"\n`);
    expect(warnings).toEqual([
      "g.cfg:3: warning: vif[0]: vif option 'accel' is not supported by xl; ignored (as xl does)",
      "g.cfg:3: warning: vif[0]: unrecognized vif option 'foo' (xl ignores it too)",
      "g.cfg:4: warning: ignoring root= and extra= in favour of cmdline= (as xl does)",
    ]);
  });

  it('warns that display keys are ignored where xl ignores them', () => {
    expect(pv(`sdl = 1\nvnc = 0\n`).warnings).toEqual([
      'g.cfg:3: warning: sdl is ignored: vnc is not enabled, so xl adds no vfb (xl ignores it too)',
      'g.cfg:4: warning: vnc is ignored: vnc is not enabled, so xl adds no vfb',
    ]);
    expect(pv(`type = "pvh"\nvnc = 1\n`).warnings).toEqual(['g.cfg:4: warning: vnc is ignored: a pvh guest has no emulated display (xl ignores it too)']);
  });

  it('vnc = 1 gives a pv guest a vfb and a vkb, as xl does', () => {
    const c = pv(`vnc = 1\nsdl = 1\nvnclisten = "0.0.0.0"\nkeymap = "de"\n`).config;
    expect(c['vfbs']).toEqual([{ devid: 0, vnc: { enable: 'True', listen: '0.0.0.0' }, sdl: { enable: 'True' }, keymap: 'de' }]);
    expect(c['vkbs']).toEqual([{ devid: 0 }]);
  });

  it('the display keys of an hvm guest', () => {
    const body = `name = "g"\ntype = "hvm"\nvnc = 1\nvnclisten = "0.0.0.0"\nvncpasswd = "pw"\nvncdisplay = 3\nvncunused = 0\nsdl = 1\nopengl = 1\ndisplay = ":0"\nxauthority = "/x"\nkeymap = "de"\n`;
    // what xl 4.17 printed for this config
    const hvm = { vga: {}, vnc: { enable: 'True', listen: '0.0.0.0', passwd: 'pw', display: 3, findunused: 'False' }, keymap: 'de', sdl: { enable: 'True', opengl: 'True', display: ':0', xauthority: '/x' }, spice: {}, rdm: {} };
    expect(JSON.stringify(read(body).config.b_info['type.hvm'])).toBe(JSON.stringify(hvm));
  });

  it('an all-zero uuid is left out, as libxl prints it', () => {
    expect(pv(`uuid = "00000000-0000-0000-0000-000000000000"\n`).config.c_info.uuid).toBeUndefined();
  });
});

describe('mapping xl keys to libxl fields', () => {
  it('memory and maxmem are MiB; maxmem defaults to memory', () => {
    expect(pv(`memory = 512\n`).config.b_info).toMatchObject({ target_memkb: 524288, max_memkb: 524288 });
    expect(pv(`memory = 512\nmaxmem = 1024\n`).config.b_info).toMatchObject({ target_memkb: 524288, max_memkb: 1048576 });
    expect(pv(`memory = "0x200"\n`).config.b_info.target_memkb).toBe(512 * 1024);
    // without memory, xl leaves target_memkb to libxl's default
    const b = pv(`maxmem = 1024\n`).config.b_info;
    expect(b.max_memkb).toBe(1048576);
    expect(b.target_memkb).toBeUndefined();
  });

  it('vcpus sets avail_vcpus; maxvcpus sets max_vcpus', () => {
    expect(pv(`vcpus = 3\n`).config.b_info).toMatchObject({ max_vcpus: 3, avail_vcpus: [0, 1, 2] });
    expect(pv(`vcpus = 2\nmaxvcpus = 8\n`).config.b_info).toMatchObject({ max_vcpus: 8, avail_vcpus: [0, 1] });
    const only = pv(`maxvcpus = 4\n`).config.b_info;
    expect(only.max_vcpus).toBe(4);
    expect(only['avail_vcpus']).toBeUndefined();
  });

  it('type: pv by default; pvh, hvm; builder="hvm"; abbreviations as xl reads them', () => {
    expect(pv('').config.c_info.type).toBe('pv');
    expect(pv(`type = "pvh"\n`).config.c_info.type).toBe('pvh');
    expect(read(`name = "g"\ntype = "hvm"\n`).config.c_info.type).toBe('hvm');
    const old = read(`name = "g"\nbuilder = "hvm"\n`);
    expect(old.config.c_info.type).toBe('hvm');
    expect(old.warnings).toEqual([`g.cfg:2: warning: builder is deprecated since Xen 4.10; use type = "hvm"`]);
    expect(pv(`builder = "generic"\n`).config.c_info.type).toBe('pv');
    const short = read(`name = "g"\ntype = "h"\n`);
    expect(short.config.c_info.type).toBe('hvm');
    expect(short.warnings).toEqual([`g.cfg:2: warning: type = "h" is read as "hvm" (xl accepts abbreviations)`]);
  });

  it('cmdline, or root= and extra= combined as xl does', () => {
    expect(pv(`root = "/dev/xvda1"\nextra = "quiet"\n`).config.b_info['cmdline']).toBe('root=/dev/xvda1 quiet');
    expect(pv(`root = "/dev/xvda1"\n`).config.b_info['cmdline']).toBe('root=/dev/xvda1');
    expect(pv(`extra = "quiet"\n`).config.b_info['cmdline']).toBe('quiet');
    expect(pv(`cmdline = "a"\nextra = "b"\n`).config.b_info['cmdline']).toBe('a');
  });

  it('on_* actions use libxl names; destroy is the default and not printed', () => {
    const c = pv(`on_poweroff = "restart"\non_reboot = "destroy"\non_crash = "rename-restart"\non_soft_reset = "destroy"\n`).config;
    expect(c['on_poweroff']).toBe('restart');
    expect(c['on_reboot']).toBeUndefined();
    expect(c['on_crash']).toBe('restart_rename');
    expect(c['on_soft_reset']).toBeUndefined();
    expect(pv('').config).toMatchObject({ on_reboot: 'restart', on_soft_reset: 'soft_reset' });
  });

  it('uuid is lowercased', () => {
    expect(pv(`uuid = "6E8E9A49-7A4C-4C3A-9F7C-0F1D2E3A4B5C"\n`).config.c_info.uuid).toBe('6e8e9a49-7a4c-4c3a-9f7c-0f1d2e3a4b5c');
  });

  it('bootloader alone is enough for a pv guest', () => {
    const b = read(`name = "g"\nbootloader = "pygrub"\nbootloader_args = "-q --entry=1"\n`).config.b_info;
    expect(b['bootloader']).toBe('pygrub');
    expect(b['bootloader_args']).toEqual(['-q', '--entry=1']);
  });

  it('vif: one nic per entry, devid from the position', () => {
    const nics = pv(`vif = [ '', 'mac=0:16:3e:a:b:c,bridge=br0', ',,ip=10.0.0.9,,' ]\n`).config['nics'];
    expect(nics).toEqual([{ devid: 0 }, { devid: 1, mac: '00:16:3e:0a:0b:0c', bridge: 'br0' }, { devid: 2, ip: '10.0.0.9' }]);
  });
});

describe('bad values are ConfigErrors naming the key, place and accepted range', () => {
  const cases: Array<[string, string, number, number, string]> = [
    ['memory "abc"', `name = "g"\nkernel = "/k"\nmemory = "abc"\n`, 3, 10, `memory must be an integer from 1 to ${MAX_GUEST_MEMORY_MIB} (MiB), got "abc"`],
    ['memory 0', `name = "g"\nkernel = "/k"\nmemory = 0\n`, 3, 10, `memory must be an integer from 1 to ${MAX_GUEST_MEMORY_MIB} (MiB), got 0`],
    ['memory 08 (not octal)', `name = "g"\nkernel = "/k"\nmemory = 08\n`, 3, 10, `memory must be an integer from 1 to ${MAX_GUEST_MEMORY_MIB} (MiB), got "08"`],
    ['memory as a list', `name = "g"\nkernel = "/k"\nmemory = [1]\n`, 3, 10, `memory must be an integer from 1 to ${MAX_GUEST_MEMORY_MIB} (MiB), not a list`],
    ['memory +=', `name = "g"\nkernel = "/k"\nmemory = 5\nmemory += 12\n`, 4, 11, `memory is a number: '+=' cannot be used with it (xl refuses it too)`],
    ['maxmem < memory', `name = "g"\nkernel = "/k"\nmemory = 1024\nmaxmem = 512\n`, 4, 10, `maxmem must be an integer from 1024 (memory) to ${MAX_GUEST_MEMORY_MIB} (MiB), got 512`],
    ['vcpus 0', `name = "g"\nkernel = "/k"\nvcpus = 0\n`, 3, 9, 'vcpus must be an integer from 1 to 128, got 0'],
    ['vcpus 129', `name = "g"\nkernel = "/k"\nvcpus = 129\n`, 3, 9, 'vcpus must be an integer from 1 to 128, got 129'],
    ['maxvcpus < vcpus', `name = "g"\nkernel = "/k"\nvcpus = 4\nmaxvcpus = 2\n`, 4, 12, 'maxvcpus must be an integer from 4 (vcpus) to 128, got 2'],
    ['type "foo"', `name = "g"\ntype = "foo"\n`, 2, 8, `type must be one of 'hvm', 'pv', 'pvh', got "foo"`],
    ['type ""', `name = "g"\ntype = ""\n`, 2, 8, `type must be one of 'hvm', 'pv', 'pvh', got ""`],
    ['builder contradicting type', `name = "g"\ntype = "pvh"\nbuilder = "hvm"\nkernel = "/k"\n`, 3, 11, `builder = "hvm" contradicts type = "pvh"`],
    ['no name', `kernel = "/k"\n`, 1, 1, 'name is required (the domain name), e.g. name = "guest1"'],
    ['name as a list', `name = ["a"]\n`, 1, 8, 'name must be a single value, not a list'],
    ['pv without kernel', `name = "g"\nmemory = 5\n`, 1, 8, 'a pv guest needs kernel = "..." or bootloader = "..." (neither is set)'],
    ['bad uuid', `name = "g"\nkernel = "/k"\nuuid = "1234"\n`, 3, 8, 'uuid must be 32 hexadecimal digits as 8-4-4-4-12 (e.g. 6e8e9a49-7a4c-4c3a-9f7c-0f1d2e3a4b5c), got "1234"'],
    ['bad action', `name = "g"\nkernel = "/k"\non_crash = "explode"\n`, 3, 12, `on_crash must be one of 'destroy', 'restart', 'rename-restart', 'preserve', 'coredump-destroy', 'coredump-restart', 'soft-reset', got "explode"`],
    ['disk not a list', `name = "g"\nkernel = "/k"\ndisk = "/a,raw,xvda"\n`, 3, 8, `disk must be a list, e.g. disk = [ '...' ]`],
    ['disk without vdev', `name = "g"\nkernel = "/k"\ndisk = [ '/a,raw,xvda', '/b,raw' ]\n`, 3, 25, `disk[1] "/b,raw": no vdev specified`],
    ['disk bad format', `name = "g"\nkernel = "/k"\ndisk = [ '/a,raw2,xvda' ]\n`, 3, 10, `disk[0] "/a,raw2,xvda": unknown value for format: near 'raw2'`],
    ['vif bad mac', `name = "g"\nkernel = "/k"\nvif = [ 'mac=00:16:3e' ]\n`, 3, 9, `vif[0] "mac=00:16:3e": mac must be six hexadecimal octets like 00:16:3e:12:34:56, got "00:16:3e"`],
    ['a yes/no key given as text', `name = "g"\ntype = "hvm"\nvnc = "yes"\n`, 3, 7, `vnc must be 0 or 1 (xl reads any integer; non-zero is true), got "yes"`],
    ['vif bad type', `name = "g"\nkernel = "/k"\nvif = [ 'type=tap' ]\n`, 3, 9, `vif[0] "type=tap": type must be 'vif' or 'ioemu', got "tap"`],
  ];
  for (const [what, body, line, column, reason] of cases) {
    it(what, () => {
      const err = rejected(body);
      expect(err.reason).toBe(reason);
      expect(err.message).toBe(`g.cfg:${line}:${column}: ${reason}`);
      expect(err.code).toBe('EINVAL');
    });
  }

  it('names the key in the error', () => {
    expect(rejected(`name = "g"\nkernel = "/k"\nvcpus = 0\n`).key).toBe('vcpus');
  });
});

describe('loadGuestConfig', () => {
  it('reports an unreadable file as a XenError with its errno', async () => {
    await expect(loadGuestConfig('/nonexistent/guest.cfg')).rejects.toMatchObject({ code: 'ENOENT', errno: 2, op: 'config' });
  });

  it('reads the malformed fixtures as errors at the right place', async () => {
    const cases: Array<[string, number, number, RegExp]> = [
      ['bad-unterminated-string.cfg', 5, 10, /unterminated string/],
      ['bad-missing-equals.cfg', 4, 8, /expected '=' or '\+=' after 'memory', found number 512/],
      ['bad-list.cfg', 7, 5, /in the list for 'disk' \(opened at line 5\): expected ',' or '\]', found string/],
      ['bad-value.cfg', 6, 10, /memory must be an integer from 1 to \d+ \(MiB\), got "lots"/],
    ];
    for (const [name, line, column, message] of cases) {
      const path = fixture(name);
      const err = await loadGuestConfig(path).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, name).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).message, name).toMatch(message);
      expect([(err as ConfigError).file, (err as ConfigError).line, (err as ConfigError).column], name).toEqual([path, line, column]);
    }
  });
});

/**
 * What an operator meets first when a config is wrong: nesting too deep is a FILE:LINE error, not a stack overflow;
 * a guest name outside the domain-name rule is refused at its line; and reading a config for a host refuses what
 * creating it there would, at the xl key (or JSON path) and line the refusal comes from.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseGuestConfig, parseGuestConfigFor } from '../../src/config/index.js';
import { MAX_JSON_DEPTH } from '../../src/config/libxl-json.js';
import { MAX_LIST_DEPTH } from '../../src/config/xl-parser.js';
import { MockBackend } from '../../src/mock/backend.js';

function refusal(work: () => unknown): ConfigError {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

async function refusalOf(work: Promise<unknown>): Promise<ConfigError> {
  const error = await work.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

const PV = 'kernel = "/boot/vmlinuz"\nmemory = 256\n';

describe('nesting depth', () => {
  it('xl.cfg: a list nested 4,000 deep is refused at the list that goes too deep', () => {
    const text = `name = "g"\n${PV}vnuma = ${'['.repeat(4000)}${']'.repeat(4000)}\n`;
    const error = refusal(() => parseGuestConfig(text, 'deep.cfg'));
    expect(error.message).toBe(`deep.cfg:4:${9 + MAX_LIST_DEPTH}: lists in 'vnuma' nest more than ${MAX_LIST_DEPTH} deep (no xl key nests them more than 2 deep)`);
    expect(error).toMatchObject({ code: 'EINVAL', key: 'vnuma', line: 4 });
  });

  it('xl.cfg: nesting up to the limit still parses (and is then judged by its key)', () => {
    const text = `name = "g"\n${PV}extra_list = ${'['.repeat(MAX_LIST_DEPTH)}${']'.repeat(MAX_LIST_DEPTH)}\n`;
    expect(parseGuestConfig(text, 'ok.cfg').warnings.join('\n')).toMatch(/unknown key 'extra_list'/);
  });

  it('libxl JSON: arrays and objects nested 4,000 deep are refused with the place', () => {
    for (const [open, close] of [['[', ']'], ['{"a":', '}']] as const) {
      const text = `{"c_info": {"name": "g", "type": "pv"},\n "b_info": {"x": ${open.repeat(4000)}1${close.repeat(4000)}}}`;
      const error = refusal(() => parseGuestConfig(text, 'deep.json'));
      expect(error.message).toMatch(new RegExp(`^deep\\.json:2:\\d+: invalid JSON: objects and arrays nest more than ${MAX_JSON_DEPTH} deep \\(at \\$\\.b_info\\.x`));
      expect(error.line).toBe(2);
    }
  });
});

describe('guest names', () => {
  const bad: Array<[string, string, RegExp]> = [
    ['a NUL', 'a\u0000b', /got "a\\u0000b"/],
    ['a tab', 'a\tb', /got "a\\tb"/],
    ['a bidi override', 'evil\u202egnp.exe', /got "evil\\u202egnp\.exe"/],
    ['5,000 characters', 'x'.repeat(5000), /got "x{77}\.\.\." \(5000 characters\)$/],
    ['a space', 'web 1', /got "web 1"/],
  ];
  for (const [what, name, shown] of bad) {
    it(`xl.cfg and libxl JSON refuse a name with ${what}, at its line, quoted safely`, () => {
      const cfg = refusal(() => parseGuestConfig(`${PV}name = "${name}"\n`, 'g.cfg')); // written raw: xl.cfg has no \u escape
      expect(cfg.message).toMatch(/^g\.cfg:3:8: name must be a name of 1 to 64 characters from A-Z a-z 0-9 _ \. : \+ -, got /);
      expect(cfg.message).toMatch(shown);
      expect(cfg.message).not.toMatch(/[\u0000-\u001f\u007f-\uffff]/);
      const json = refusal(() => parseGuestConfig(`{"c_info": {"type": "pv",\n"name": ${JSON.stringify(name)}}, "b_info": {}}`, 'g.json'));
      expect(json.message).toMatch(/^g\.json:2:9: \$\.c_info\.name must be a name of 1 to 64 characters/);
      expect(json.message).not.toMatch(/[\u0000-\u001f\u007f-\uffff]/);
    });
  }

  it('accepts 64 characters of the allowed set', () => {
    const name = `${'A-z_.:+9'.repeat(8)}`;
    expect(parseGuestConfig(`${PV}name = "${name}"\n`, 'g.cfg').config.c_info.name).toBe(name);
  });
});

describe('parseGuestConfigFor: what create would refuse, at the xl key and line', () => {
  const mock = (): MockBackend => new MockBackend({ host: { memoryMiB: 8192 } });

  it('an HVM guest too small for its video RAM: memory, at its line', async () => {
    const error = await refusalOf(parseGuestConfigFor(mock(), 'name = "h1"\ntype = "hvm"\nmemory = 8\n', 'h1.cfg'));
    expect(error.message).toBe('h1.cfg:3:10: memory = 8: config.b_info.target_memkb must be above video_memkb + 128 KiB for an HVM guest, got 8192');
    expect(error).toMatchObject({ code: 'EINVAL', key: 'memory', line: 3 });
  });

  it("video RAM below libxl's minimum for the VGA kind: videoram, at its line", async () => {
    const text = 'name = "h2"\ntype = "hvm"\nmemory = 64\nstdvga = 1\nvideoram = 4\n';
    const error = await refusalOf(parseGuestConfigFor(mock(), text, 'h2.cfg'));
    expect(error.message).toBe('h2.cfg:5:12: videoram = 4: ERROR_INVAL (videoram must be at least 16 MB for STDVGA on QEMU_XEN)');
    expect(error.key).toBe('videoram');
  });

  it('PV vNUMA, which libxl refuses: vnuma, at its line', async () => {
    const text = `name = "v"\n${PV}vnuma = [ [ "pnode=0", "size=256", "vcpus=0", "vdistances=10" ] ]\n`;
    const error = await refusalOf(parseGuestConfigFor(mock(), text, 'v.cfg'));
    expect(error.message).toMatch(/^v\.cfg:4:9: vnuma = \[\.\.\.\]: ERROR_INVAL \(PV vNUMA is not yet supported\)$/);
  });

  it('libxl JSON: the JSON path and its line', async () => {
    const text = '{"c_info": {"type": "hvm", "name": "j"},\n "b_info": {"type.hvm": {},\n  "target_memkb": 8192, "max_memkb": 8192}}';
    const error = await refusalOf(parseGuestConfigFor(mock(), text, 'j.json'));
    expect(error.message).toBe('j.json:3:19: $.b_info.target_memkb: config.b_info.target_memkb must be above video_memkb + 128 KiB for an HVM guest, got 8192');
    const noType = await refusalOf(parseGuestConfigFor(mock(), '{"c_info": {"name": "j"},\n "b_info": {}}', 'j.json'));
    expect(noType.message).toMatch(/^j\.json:1:12: \$\.c_info: config\.c_info\.type must be one of 'pv', 'pvh', 'hvm', got undefined$/);
  });

  it("a config create accepts is read as config reads it, with libxl's need", async () => {
    const read = await parseGuestConfigFor(mock(), `name = "ok"\n${PV}`, 'ok.cfg');
    expect(read.config.c_info.name).toBe('ok');
    expect(read.needKiB).toBeGreaterThan(256 * 1024);
  });

  it("a failure that is not about the config passes through unchanged", async () => {
    const backend = mock();
    await backend.close();
    await expect(parseGuestConfigFor(backend, `name = "ok"\n${PV}`, 'ok.cfg')).rejects.toMatchObject({ code: 'EBADF' });
  });
});

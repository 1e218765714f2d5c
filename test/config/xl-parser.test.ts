import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config-error.js';
import { parseXlConfig, type XlValue } from '../../src/config/xl-parser.js';
import { isXenError } from '../../src/errors.js';

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/** A value with positions stripped, for comparing shapes. */
function plain(value: XlValue | undefined): unknown {
  if (value === undefined) return undefined;
  return value.kind === 'string' ? value.value : value.items.map(plain);
}

function get(text: string, key: string): unknown {
  return plain(parseXlConfig(text, 't.cfg').get(key)?.value);
}

function syntaxError(text: string, file = 'bad.cfg'): ConfigError {
  try {
    parseXlConfig(text, file);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be rejected`);
}

describe('xl.cfg syntax (libxlu 4.17)', () => {
  it('reads strings, numbers and lists, keeping numbers as text as libxlu does', () => {
    const cfg = parseXlConfig(`name = "a"\nmemory = 512\nmaxmem = 0x800\ndisk = [ 'x', "y" ]\n`, 't.cfg');
    expect(plain(cfg.get('name')?.value)).toBe('a');
    expect(plain(cfg.get('memory')?.value)).toBe('512');
    expect(plain(cfg.get('maxmem')?.value)).toBe('0x800');
    expect(plain(cfg.get('disk')?.value)).toEqual(['x', 'y']);
    expect(cfg.keys()).toEqual(['name', 'memory', 'maxmem', 'disk']);
  });

  it('records where each key and value is', () => {
    const cfg = parseXlConfig(`\n  memory =   512\n`, 't.cfg');
    const s = cfg.get('memory')!;
    expect([s.line, s.column]).toEqual([2, 3]);
    expect([s.value.line, s.value.column]).toEqual([2, 14]);
  });

  it('accepts ; as a separator, empty statements and a last line without newline', () => {
    const cfg = parseXlConfig(`a = 1; b = 2;;\n;\nc = "3"`, 't.cfg');
    expect(cfg.keys()).toEqual(['a', 'b', 'c']);
    expect(get(`a = 1; b = 2;;\n;\nc = "3"`, 'c')).toBe('3');
  });

  it('accepts comments after values and on their own lines', () => {
    expect(get(`# top\nmemory = 512 # MiB\n   # indented\n`, 'memory')).toBe('512');
  });

  it('lets lists span lines, end with a comma and nest', () => {
    const text = `disk = [\n  'a',   # first\n\n  'b',\n]\nx = [ [ '1', 2 ], [] , ]\nempty = [\n]\n`;
    expect(get(text, 'disk')).toEqual(['a', 'b']);
    expect(get(text, 'x')).toEqual([['1', '2'], []]);
    expect(get(text, 'empty')).toEqual([]);
  });

  it('decodes the escapes libxlu supports', () => {
    expect(get(String.raw`s = "a\"b\'c\\d\ne\tf\rg\a\b\f\v"`, 's')).toBe('a"b\'c\\d\ne\tf\rg\x07\b\f\v');
    expect(get(String.raw`s = 'it\'s "fine"'`, 's')).toBe('it\'s "fine"');
  });

  it('lets a later setting replace an earlier one', () => {
    expect(get(`memory = 1\nmemory = 2\n`, 'memory')).toBe('2');
  });

  it('appends with += to strings and lists (xl 4.17 supports +=)', () => {
    expect(get(`extra = "a"\nextra += " b"\nextra += "c"\n`, 'extra')).toBe('a bc');
    expect(get(`disk = ['a']\ndisk += [\n'b',\n]\n`, 'disk')).toEqual(['a', 'b']);
    // += with nothing before is a plain setting
    const cfg = parseXlConfig(`extra += "x"\n`, 't.cfg');
    expect(plain(cfg.get('extra')?.value)).toBe('x');
    expect(cfg.get('extra')?.op).toBe('+=');
  });

  it('reads keys with digits, dots and underscores', () => {
    expect(parseXlConfig(`a.b_c9 = 1\n`, 't.cfg').keys()).toEqual(['a.b_c9']);
  });

  it('reads the fixtures without error', () => {
    for (const name of ['pvlinux.cfg', 'pvhlinux.cfg', 'hvm.cfg', 'everything.cfg', 'unknown-keys.cfg']) {
      const cfg = parseXlConfig(readFileSync(fixture(name), 'utf8'), name);
      expect(cfg.get('name')).toBeDefined();
    }
  });
});

describe('xl.cfg syntax errors name the file, line and column', () => {
  const cases: Array<[string, string, number, number, RegExp]> = [
    ['unterminated string', `name = "g"\nkernel = "/boot/k\nmemory = 5\n`, 2, 10, /unterminated string/],
    ['missing =', `name = "g"\nkernel "/k"\n`, 2, 8, /expected '=' or '\+=' after 'kernel', found string "\/k"/],
    ['missing comma in a list', `disk = [ "/a"\n  "/b" ]\n`, 2, 3, /expected ',' or '\]', found string "\/b"/],
    ['two commas in a list', `disk = [ "/a",, ]\n`, 1, 15, /expected a value or '\]' after ',', found ','/],
    ['leading comma in a list', `disk = [ , "a" ]\n`, 1, 10, /expected a value or '\]', found ','/],
    ['unclosed list', `name = "g"\ndisk = [ "/a"\n\n`, 2, 14, /list for 'disk' \(opened at line 2\): expected ',' or '\]', found end of file/],
    ['two settings on a line', `kernel = "/k" memory = 5\n`, 1, 15, /after the value of 'kernel', found name 'memory'/],
    ['value on the next line', `kernel =\n"/k"\n`, 1, 9, /expected a value for 'kernel'.*found end of line/],
    ['no key', `name = "g"\n= 5\n`, 2, 1, /expected a setting \(key = value\), found '='/],
    ['unquoted path', `kernel = /boot/k\n`, 1, 10, /unexpected character "\/"/],
    ['a unit suffix', `memory = 512M\n`, 1, 13, /unexpected 'M'/],
    ['lowercase unit suffix', `memory = 512m\n`, 1, 13, /after the value of 'memory', found name 'm'/],
    ['Python arithmetic', `memory = 256 * 2\n`, 1, 14, /unexpected character "\*"/],
    ['a sign', `memory = -5\n`, 1, 10, /xl.cfg is not Python/],
    ['an uppercase key', `Name = "g"\n`, 1, 1, /keys are lowercase/],
    ['a backslash continuation', `kernel = \\\n"/k"\n`, 1, 10, /no line continuations/],
    ['CR-LF line endings', `name = "g"\r\n`, 1, 11, /carriage return/],
    ['a comment without a final newline', `name = "g"\n# last`, 2, 1, /comment on the last line must end with a newline/],
    ['an unknown escape', `kernel = "/k\\q"\n`, 1, 13, /invalid escape \\q/],
    ['a hex escape (libxlu 4.17 rejects all)', `kernel = "\\x41"\n`, 1, 11, /xl 4.17 rejects every \\x escape/],
    ['an octal escape (libxlu 4.17 drops them)', `kernel = "k\\101k"\n`, 1, 12, /silently drops octal escapes/],
    ['+= of a string to a list', `disk = ['a']\ndisk += "b"\n`, 2, 9, /'disk' \+= cannot add a string to the list set at line 1/],
    ['a stray ]', `vcpus = [1] ]\n`, 1, 13, /found '\]'/],
  ];

  for (const [what, text, line, column, message] of cases) {
    it(`rejects ${what} at ${line}:${column}`, () => {
      const err = syntaxError(text);
      expect(err.message).toMatch(message);
      expect([err.file, err.line, err.column]).toEqual(['bad.cfg', line, column]);
      expect(err.message.startsWith(`bad.cfg:${line}:${column}: `)).toBe(true);
    });
  }

  it('is a XenError with code EINVAL, op config', () => {
    const err = syntaxError(`name "x"\n`);
    expect(isXenError(err, 'EINVAL')).toBe(true);
    expect(err.op).toBe('config');
    expect(err.reason).toBe(`expected '=' or '+=' after 'name', found string "x"`);
  });

  it('names the key the error is about', () => {
    expect(syntaxError(`kernel "/k"\n`).key).toBe('kernel');
  });
});

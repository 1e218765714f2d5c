/**
 * Reading xl.cfg keys the way libxlu's getters read them (tools/libs/util/libxlu_cfg.c, Xen 4.17), with the places
 * kept for errors and warnings. Where xl prints a warning and carries on without the key (a number that is not
 * one, a list where a single value belongs), this refuses with a ConfigError naming the key, file and line: a
 * setting silently dropped would build a different guest than the operator wrote.
 *
 * - `long`: xlu_cfg_get_long — strtol(text, 0) reading the whole text (decimal, 0x hex, leading-0 octal); never
 *   `+=`; a list is refused.
 * - `defbool`: a long, non-zero is true.
 * - `string`: xlu_cfg_get_string — an atom (a quoted string or a number token), never a list.
 * - `list`: xlu_cfg_get_list — a list whose items are atoms (libxlu stops reading at a nested list; this refuses it).
 */
import { ConfigError } from './config-error.js';
import type { XlConfig, XlList, XlSetting, XlString, XlValue } from './xl-parser.js';

/** C's `long` on x86-64. */
export const LONG_MIN = -(2n ** 63n);
export const LONG_MAX = 2n ** 63n - 1n;

/** C's strtol(text, &end, 0) as libxlu uses it, requiring the whole text to be read. */
export function cStrtol(text: string): { value: bigint; octal: boolean } | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(text);
  if (!m) return undefined;
  const digits = m[2]!;
  const magnitude = /^0[xX]/.test(digits) ? BigInt(digits) : digits.length > 1 && digits.startsWith('0') ? BigInt(`0o${digits.slice(1)}`) : BigInt(digits);
  return { value: m[1] === '-' ? -magnitude : magnitude, octal: digits.length > 1 && /^0[0-7]/.test(digits) };
}

/**
 * C's strtoul(text, &end, base) over a prefix of `text`: optional space and sign, then digits of the base (base 0:
 * 0x hex, leading-0 octal, else decimal). Returns the value (wrapped as unsigned long, as C does for a '-') and the
 * characters read; read 0 means no digits.
 */
export function cStrtoulPrefix(text: string, base: 0 | 10 | 16): { value: bigint; read: number; overflow: boolean } {
  const m = /^[ \t\n\v\f\r]*([+-]?)/.exec(text)!;
  let pos = m[0].length;
  let radix: number = base;
  const rest = text.slice(pos);
  if ((base === 0 || base === 16) && /^0[xX][0-9a-fA-F]/.test(rest)) {
    pos += 2;
    radix = 16;
  } else if (base === 0) {
    radix = rest.startsWith('0') ? 8 : 10;
  }
  const digitRe = radix === 16 ? /^[0-9a-fA-F]+/ : radix === 8 ? /^[0-7]+/ : /^[0-9]+/;
  const digits = digitRe.exec(text.slice(pos));
  if (!digits) return { value: 0n, read: 0, overflow: false };
  let value = 0n;
  for (const ch of digits[0]) value = value * BigInt(radix) + BigInt(Number.parseInt(ch, radix));
  const overflow = value > 2n ** 64n - 1n;
  if (overflow) value = 2n ** 64n - 1n;
  else if (m[1] === '-') value = (2n ** 64n - value) % 2n ** 64n;
  return { value, read: pos + digits[0].length, overflow };
}

/** C's atoi: optional space and sign, then decimal digits; 0 when there are none (wrapped to int as glibc does). */
export function cAtoi(text: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(text);
  if (!m) return 0;
  return toInt32(BigInt(m[1]!));
}

/** A C integer conversion: the value modulo 2^bits, as a signed or unsigned number. */
export function wrapInteger(value: bigint, bits: 8 | 16 | 32 | 64, signed: boolean): bigint {
  const mod = 2n ** BigInt(bits);
  let v = ((value % mod) + mod) % mod;
  if (signed && v >= mod / 2n) v -= mod;
  return v;
}

export const toInt32 = (value: bigint): number => Number(wrapInteger(value, 32, true));
export const toUint32 = (value: bigint): number => Number(wrapInteger(value, 32, false));

export interface Place {
  line: number;
  column: number;
}

export interface ReadLong {
  value: bigint;
  place: XlString;
}

/** A key's range for `long`: bounds (inclusive) and how the error states them. */
export interface LongRange {
  min: bigint | number;
  max: bigint | number;
  /** How the accepted range is said in errors; default "an integer from MIN to MAX". */
  expected?: string;
}

export class XlReader {
  private readonly warningLines: Array<[string, number]> = [];
  /** Keys read (or deliberately skipped) by the mapper. */
  readonly used = new Set<string>();

  constructor(readonly cfg: XlConfig) {}

  get file(): string {
    return this.cfg.file;
  }

  fail(place: Place, key: string, reason: string): never {
    throw new ConfigError({ file: this.cfg.file, line: place.line, column: place.column, key }, reason);
  }

  /** Fails at the key's setting, or at the top of the file when the key is not set. */
  failKey(key: string, reason: string): never {
    const s = this.cfg.get(key);
    this.fail(s ? s.value : { line: 1, column: 1 }, key, reason);
  }

  warn(line: number, text: string): void {
    this.warningLines.push([`${this.cfg.file}:${line}: warning: ${text}`, line]);
  }

  /** Warns at the key's line. */
  warnKey(key: string, text: string): void {
    const s = this.cfg.get(key);
    this.warn(s ? s.line : 1, text);
  }

  /** Warnings in file order (stable: one line's warnings keep their order). */
  warnings(): string[] {
    return [...this.warningLines].sort((a, b) => a[1] - b[1]).map(([w]) => w);
  }

  has(key: string): boolean {
    return this.cfg.get(key) !== undefined;
  }

  setting(key: string): XlSetting | undefined {
    this.used.add(key);
    return this.cfg.get(key);
  }

  /** The key's value, whatever its kind (marks it read). */
  value(key: string): XlValue | undefined {
    return this.setting(key)?.value;
  }

  /** xlu_cfg_get_string / replace_string: an atom. */
  string(key: string): XlString | undefined {
    const s = this.setting(key);
    if (!s) return undefined;
    if (s.value.kind !== 'string') this.fail(s.value, key, `${key} must be a single value, not a list`);
    return s.value;
  }

  /**
   * Whether the key is set to a number xlu_cfg_get_long reads (what xl tries first for keys that take a number or
   * a name: tsc_mode, timer_mode, altp2m, gfx_passthru, vmtrace_buf_kb).
   */
  isLong(key: string): boolean {
    const s = this.cfg.get(key);
    return s !== undefined && s.value.kind === 'string' && s.op === '=' && cStrtol(s.value.value) !== undefined;
  }

  /** xlu_cfg_get_long, refused outside `range`. */
  long(key: string, range: LongRange = { min: LONG_MIN, max: LONG_MAX }): ReadLong | undefined {
    const s = this.setting(key);
    if (!s) return undefined;
    const min = BigInt(range.min);
    const max = BigInt(range.max);
    const expected = range.expected ?? `an integer from ${min} to ${max}`;
    if (s.value.kind !== 'string') this.fail(s.value, key, `${key} must be ${expected}, not a list`);
    if (s.op === '+=') this.fail(s.value, key, `${key} is a number: '+=' cannot be used with it (xl refuses it too)`);
    const parsed = cStrtol(s.value.value);
    if (!parsed) this.fail(s.value, key, `${key} must be ${expected}, got ${JSON.stringify(s.value.value)}`);
    if (parsed.value < LONG_MIN || parsed.value > LONG_MAX) {
      this.fail(s.value, key, `${key} must be ${expected}, got ${parsed.value} (beyond C's long; xl refuses it too)`);
    }
    if (parsed.value < min || parsed.value > max) this.fail(s.value, key, `${key} must be ${expected}, got ${parsed.value}`);
    if (parsed.octal) this.warn(s.line, `${key} = ${s.value.value} has a leading 0, so xl reads it as octal: ${parsed.value}`);
    return { value: parsed.value, place: s.value };
  }

  /** A long known to fit a JS number (its range is within ±2^53). */
  number(key: string, min: number, max: number, unit = '', expected?: string): { value: number; place: XlString } | undefined {
    const text = expected ?? `an integer from ${min} to ${max}${unit ? ` (${unit})` : ''}`;
    const r = this.long(key, { min: BigInt(min), max: BigInt(max), expected: text });
    return r && { value: Number(r.value), place: r.place };
  }

  /** xlu_cfg_get_defbool: a long, non-zero is true. */
  defbool(key: string): boolean | undefined {
    const n = this.long(key, { min: LONG_MIN, max: LONG_MAX, expected: '0 or 1 (xl reads any integer; non-zero is true)' });
    return n === undefined ? undefined : n.value !== 0n;
  }

  /** xlu_cfg_get_list with atoms only. */
  list(key: string): { items: XlString[]; value: XlList; line: number } | undefined {
    const s = this.setting(key);
    if (!s) return undefined;
    if (s.value.kind !== 'list') this.fail(s.value, key, `${key} must be a list, e.g. ${key} = [ '...' ]`);
    return { items: this.atoms(key, s.value), value: s.value, line: s.line };
  }

  /** The items of a list, each an atom. */
  atoms(key: string, list: XlList): XlString[] {
    return list.items.map((item, i) => {
      if (item.kind !== 'string') this.fail(item, key, `${key}[${i}] must be a string, not a list`);
      return item;
    });
  }

  /** A key xl reads as a list or, failing that, as a single string (serial, usbdevice, cpus, bootloader_args). */
  listOrString(key: string): { list: XlString[]; line: number } | { string: XlString; line: number } | undefined {
    const s = this.setting(key);
    if (!s) return undefined;
    if (s.value.kind === 'list') return { list: this.atoms(key, s.value), line: s.line };
    return { string: s.value, line: s.line };
  }

  /** Every key set in the file that the mapper did not read, with its line. */
  unread(): Array<{ key: string; line: number }> {
    return this.cfg.keys().filter((k) => !this.used.has(k)).map((key) => ({ key, line: this.cfg.get(key)!.line }));
  }
}

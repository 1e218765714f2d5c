/**
 * libxl JSON domain configs as input (what `xl -N create` prints, or `xenclaim config --json`). The JSON is read
 * with positions kept, so every error names the file, line, column and the JSON path ($.b_info.max_memkb).
 * Only what the toolstack itself reads is checked; libxl_domain_config_from_json judges the rest.
 */
import type { LibxlDomainConfig } from '../backend.js';
import { DOMAIN_NAME_RULE, isDomainName, MAX_VCPUS, quote } from '../validate.js';
import { ConfigError } from './config-error.js';
import { fieldAndParents, type FieldLocator } from './libxl-refusals.js';
import type { GuestConfigResult } from './to-libxl.js';

/**
 * Deepest nesting of objects and arrays accepted. libxl's domain config nests a handful of levels (b_info's
 * type.hvm.vga, vnuma_nodes' distances); a deeper document is refused with its place rather than exhausting the
 * stack of the readers that walk it.
 */
export const MAX_JSON_DEPTH = 64;

interface Place {
  line: number;
  column: number;
}

class JsonReader {
  private pos = 0;
  /** Where each JSON path's value starts. */
  readonly places = new Map<string, Place>();

  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {}

  place(pos = this.pos): Place {
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < pos; i++) {
      if (this.text[i] === '\n') {
        line++;
        lineStart = i + 1;
      }
    }
    return { line, column: pos - lineStart + 1 };
  }

  private fail(reason: string, pos = this.pos): never {
    throw new ConfigError({ file: this.file, ...this.place(pos) }, `invalid JSON: ${reason}`);
  }

  private skipSpace(): void {
    while (/[ \t\n\r]/.test(this.text[this.pos] ?? '')) this.pos++;
  }

  private found(): string {
    const ch = this.text[this.pos];
    return ch === undefined ? 'end of file' : JSON.stringify(ch);
  }

  document(): unknown {
    const value = this.value('$');
    this.skipSpace();
    if (this.pos < this.text.length) this.fail(`unexpected ${this.found()} after the top-level value`);
    return value;
  }

  private value(path: string, depth = 0): unknown {
    this.skipSpace();
    this.places.set(path, this.place());
    const ch = this.text[this.pos];
    if ((ch === '{' || ch === '[') && depth === MAX_JSON_DEPTH) {
      this.fail(`objects and arrays nest more than ${MAX_JSON_DEPTH} deep (at ${path.length > 60 ? `${path.slice(0, 57)}...` : path})`);
    }
    if (ch === '{') return this.object(path, depth + 1);
    if (ch === '[') return this.array(path, depth + 1);
    if (ch === '"') return this.string();
    const literal = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(this.text.slice(this.pos, this.pos + 400));
    if (!literal) this.fail(`expected a value at ${path}, found ${this.found()}`);
    this.pos += literal[0].length;
    return JSON.parse(literal[0]) as unknown;
  }

  private string(): string {
    const m = /^"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/.exec(this.text.slice(this.pos));
    if (!m) this.fail('unterminated or malformed string');
    this.pos += m[0].length;
    return JSON.parse(m[0]) as string;
  }

  private object(path: string, depth: number): Record<string, unknown> {
    this.pos++;
    const out: Record<string, unknown> = {};
    this.skipSpace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] !== '"') this.fail(`expected a property name in ${path}, found ${this.found()}`);
      const key = this.string();
      this.skipSpace();
      if (this.text[this.pos] !== ':') this.fail(`expected ':' after ${JSON.stringify(key)} in ${path}, found ${this.found()}`);
      this.pos++;
      // A key is data, whatever its name: "__proto__" becomes an own property (as JSON.parse makes it), never the
      // object's prototype.
      Object.defineProperty(out, key, { value: this.value(`${path}.${key}`, depth), enumerable: true, writable: true, configurable: true });
      this.skipSpace();
      const ch = this.text[this.pos];
      this.pos++;
      if (ch === '}') return out;
      if (ch !== ',') this.fail(`expected ',' or '}' in ${path}, found ${ch === undefined ? 'end of file' : JSON.stringify(ch)}`, this.pos - 1);
    }
  }

  private array(path: string, depth: number): unknown[] {
    this.pos++;
    const out: unknown[] = [];
    this.skipSpace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value(`${path}[${out.length}]`, depth));
      this.skipSpace();
      const ch = this.text[this.pos];
      this.pos++;
      if (ch === ']') return out;
      if (ch !== ',') this.fail(`expected ',' or ']' in ${path}, found ${ch === undefined ? 'end of file' : JSON.stringify(ch)}`, this.pos - 1);
    }
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads a libxl JSON domain config, checking the fields xenclaim reads. */
export function parseLibxlJson(text: string, fileName: string): GuestConfigResult {
  const reader = new JsonReader(text, fileName);
  const doc = reader.document();
  const fail = (path: string, reason: string): never => {
    const place = reader.places.get(path) ?? { line: 1, column: 1 };
    throw new ConfigError({ file: fileName, ...place, key: path }, `${path} ${reason}`);
  };
  if (!isObject(doc)) return fail('$', 'must be an object with c_info and b_info');
  const c_info = doc['c_info'];
  const b_info = doc['b_info'];
  if (!isObject(c_info)) return fail(doc['c_info'] === undefined ? '$' : '$.c_info', 'must have a c_info object (libxl_domain_create_info)');
  if (!isObject(b_info)) return fail(doc['b_info'] === undefined ? '$' : '$.b_info', 'must have a b_info object (libxl_domain_build_info)');

  const type = c_info['type'];
  if (type !== undefined && type !== 'pv' && type !== 'pvh' && type !== 'hvm') {
    fail('$.c_info.type', `must be one of 'pv', 'pvh', 'hvm', got ${JSON.stringify(type)}`);
  }
  for (const key of ['name', 'uuid'] as const) {
    if (c_info[key] !== undefined && typeof c_info[key] !== 'string') fail(`$.c_info.${key}`, `must be a string, got ${JSON.stringify(c_info[key])}`);
  }
  if (typeof c_info['name'] === 'string' && !isDomainName(c_info['name'])) {
    fail('$.c_info.name', `must be ${DOMAIN_NAME_RULE}, got ${quote(c_info['name'])}`);
  }
  const checkInt = (key: string, min: number, max: number): void => {
    const v = b_info[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)) {
      fail(`$.b_info.${key}`, `must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
    }
  };
  checkInt('max_vcpus', 1, MAX_VCPUS);
  checkInt('max_memkb', 1, Number.MAX_SAFE_INTEGER);
  checkInt('target_memkb', 1, Number.MAX_SAFE_INTEGER);
  const claim = b_info['claim_mode'];
  if (claim !== undefined && claim !== true && claim !== false && claim !== 'True' && claim !== 'False') {
    fail('$.b_info.claim_mode', `must be true, false, "True" or "False", got ${JSON.stringify(claim)}`);
  }
  const max = b_info['max_memkb'];
  const target = b_info['target_memkb'];
  if (typeof max === 'number' && typeof target === 'number' && max < target) {
    fail('$.b_info.max_memkb', `must be at least target_memkb (${target}), got ${max}`);
  }
  const locate: FieldLocator = (field) => {
    for (const path of fieldAndParents(field).map((f) => `$.${f}`)) {
      const place = reader.places.get(path);
      if (place) return { place: { file: fileName, ...place, key: path }, setting: path };
    }
    return { place: { file: fileName, line: 1, column: 1, key: '$' }, setting: `$.${field} (not set)` };
  };
  return { config: doc as LibxlDomainConfig, warnings: [], locate };
}

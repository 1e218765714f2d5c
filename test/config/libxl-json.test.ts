import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, isLibxlJson, parseGuestConfig } from '../../src/config/index.js';

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

function rejected(text: string): ConfigError {
  try {
    parseGuestConfig(text, 'g.json');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected rejection of ${text}`);
}

describe('libxl JSON input', () => {
  it('is recognised by a leading {', () => {
    expect(isLibxlJson('  \n{"c_info":{}}')).toBe(true);
    expect(isLibxlJson('name = "g"')).toBe(false);
  });

  it("reads xl's own JSON back unchanged", () => {
    for (const name of ['pvlinux', 'hvm', 'everything']) {
      const text = readFileSync(fixture(`${name}.xl.json`), 'utf8');
      const { config, warnings } = parseGuestConfig(text, `${name}.xl.json`);
      expect(config).toEqual(JSON.parse(text));
      expect(warnings).toEqual([]);
    }
  });

  it('round-trips what the xl.cfg reader makes', () => {
    const fromCfg = parseGuestConfig(readFileSync(fixture('everything.cfg'), 'utf8'), 'everything.cfg').config;
    expect(parseGuestConfig(JSON.stringify(fromCfg, null, 2), 'x.json').config).toEqual(fromCfg);
  });

  const cases: Array<[string, string, number, number, string]> = [
    ['syntax: a missing comma', '{\n  "c_info": {}\n  "b_info": {}\n}', 3, 3, `invalid JSON: expected ',' or '}' in $, found "\\""`],
    ['syntax: a trailing comma', '{"c_info": {}, "b_info": {},}', 1, 29, `invalid JSON: expected a property name in $, found "}"`],
    ['syntax: unterminated', '{"c_info": {"name": "x', 1, 21, 'invalid JSON: unterminated or malformed string'],
    ['syntax: text after the object', '{"c_info": {}, "b_info": {}} x', 1, 30, 'invalid JSON: unexpected "x" after the top-level value'],
    ['no c_info', '{"b_info": {}}', 1, 1, '$ must have a c_info object (libxl_domain_create_info)'],
    ['c_info not an object', '{"c_info": [], "b_info": {}}', 1, 12, '$.c_info must have a c_info object (libxl_domain_create_info)'],
    ['no b_info', '{"c_info": {}}', 1, 1, '$ must have a b_info object (libxl_domain_build_info)'],
    ['bad type', '{"c_info": {"type": "kvm"}, "b_info": {}}', 1, 21, `$.c_info.type must be one of 'pv', 'pvh', 'hvm', got "kvm"`],
    ['name not a string', '{"c_info": {"name": 5}, "b_info": {}}', 1, 21, '$.c_info.name must be a string, got 5'],
    ['max_memkb not an integer', '{"c_info": {}, "b_info": {\n  "max_memkb": 1.5}}', 2, 16, `$.b_info.max_memkb must be an integer from 1 to ${Number.MAX_SAFE_INTEGER}, got 1.5`],
    ['max_vcpus 0', '{"c_info": {}, "b_info": {"max_vcpus": 0}}', 1, 40, '$.b_info.max_vcpus must be an integer from 1 to 128, got 0'],
    ['claim_mode', '{"c_info": {}, "b_info": {"claim_mode": "yes"}}', 1, 41, '$.b_info.claim_mode must be true, false, "True" or "False", got "yes"'],
    ['max_memkb < target_memkb', '{"c_info": {}, "b_info": {"max_memkb": 1024, "target_memkb": 2048}}', 1, 40, '$.b_info.max_memkb must be at least target_memkb (2048), got 1024'],
  ];
  for (const [what, text, line, column, reason] of cases) {
    it(`refuses ${what} at ${line}:${column}`, () => {
      const err = rejected(text);
      expect(err.reason).toBe(reason);
      expect([err.file, err.line, err.column]).toEqual(['g.json', line, column]);
    });
  }

  it('names the JSON path as the key', () => {
    expect(rejected('{"c_info": {"type": "kvm"}, "b_info": {}}').key).toBe('$.c_info.type');
  });

  it('keeps a "__proto__" key as data, as JSON.parse does: never the prototype of the object it is in', () => {
    const text = '{"c_info": {"type": "pv", "name": "g", "__proto__": {"polluted": true}}, "b_info": {"max_memkb": 65536, "target_memkb": 65536}}';
    const { config } = parseGuestConfig(text, 'g.json');
    const cInfo = config.c_info as Record<string, unknown>;
    expect(Object.getPrototypeOf(cInfo)).toBe(Object.prototype);
    expect(cInfo['polluted']).toBeUndefined();
    expect(Object.keys(cInfo)).toContain('__proto__');
    expect(Object.getOwnPropertyDescriptor(cInfo, '__proto__')?.value).toEqual({ polluted: true });
    expect(config).toEqual(JSON.parse(text));
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

/**
 * Differential property tests against Xen 4.17's own `xl -N create` (the oracle in oracle/): configs generated over
 * every key of xl.cfg(5) and the forms their values are written in (oracle/xl-cfg-arbitraries.ts) must give
 * exactly xl's JSON, byte for byte; values xl refuses or warns about must be refused, naming the key.
 *
 * The runs are seeded and bounded (deterministic, a few seconds); set XENCLAIM_XL_PROPERTY_RUNS to run more, and
 * XENCLAIM_XL_PROPERTY_SEED to explore other seeds. Without the oracle the comparisons skip, saying why.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/index.js';
import { XL_KNOWN_KEYS } from '../../src/config/xl-keys.js';
import { compareWithXl, ORACLE, ORACLE_SKIP_REASON } from './oracle/oracle.js';
import { GROUPS, guestConfig, INVALID } from './oracle/xl-cfg-arbitraries.js';

const SEED = Number(process.env['XENCLAIM_XL_PROPERTY_SEED'] ?? 20260601);
const RUNS = Number(process.env['XENCLAIM_XL_PROPERTY_RUNS'] ?? 400);
const scratch = ORACLE ? mkdtempSync(join(tmpdir(), 'xenclaim-xl-props-')) : '';

describe('the generators cover xl.cfg', () => {
  it('every top-level key xl 4.17 reads is generated', () => {
    const generated = new Set(Object.values(GROUPS).flatMap((g) => g.keys));
    generated.add('name');
    generated.add('type');
    expect([...XL_KNOWN_KEYS].filter((k) => !generated.has(k))).toEqual([]);
  });
});

describe.skipIf(!ORACLE)(ORACLE ? 'xl oracle: generated configs' : ORACLE_SKIP_REASON, () => {
  it(`${RUNS} generated configs give xl's JSON byte for byte (seed ${SEED})`, () => {
    let n = 0;
    const outcomes = { same: 0, bothRefused: 0 };
    fc.assert(
      fc.property(guestConfig, ({ text }) => {
        const path = join(scratch, `g${n++}.cfg`);
        writeFileSync(path, text);
        const r = compareWithXl(path, text);
        if (r.error) {
          // Refused: only where xl refuses it too (a combination xl rejects, such as maxvcpus below vnuma's vCPUs).
          expect(r.error, text).toBeInstanceOf(ConfigError);
          expect(r.xl.status, `${text}\nxenclaim refused (${r.error.message}) what xl accepts:\n${r.xl.stderr}`).not.toBe(0);
          outcomes.bothRefused++;
          return;
        }
        expect(r.xl.status, `${text}\nxl refused what xenclaim accepts:\n${r.xl.stderr}`).toBe(0);
        expect(r.ours, text).toBe(r.xl.stdout);
        outcomes.same++;
      }),
      { seed: SEED, numRuns: RUNS },
    );
    console.info(`xl oracle: ${outcomes.same} generated configs gave xl's JSON byte for byte, ${outcomes.bothRefused} were refused by both (seed ${SEED})`);
    // Nearly all generated configs are ones xl accepts: the comparison is the point.
    expect(outcomes.same).toBeGreaterThan(RUNS * 0.9);
  }, 300_000);

  it('values xl refuses or warns about are refused, naming the key and its line', () => {
    let n = 0;
    fc.assert(
      fc.property(fc.constantFrom(...INVALID).chain(([key, value]) => value.map((v) => [key, v] as const)), ([key, value]) => {
        const text = `name = "bad"\ntype = "hvm"\n${key} = ${value}\n`;
        const path = join(scratch, `bad${n++}.cfg`);
        writeFileSync(path, text);
        const r = compareWithXl(path, text);
        expect(r.error, text).toBeInstanceOf(ConfigError);
        const err = r.error as ConfigError;
        expect(err.key, err.message).toBe(key);
        expect(err.line, err.message).toBe(3);
        expect(err.code).toBe('EINVAL');
        expect(r.xl.status !== 0 || r.xl.stderr !== '', `${text}: xl neither refused nor warned`).toBe(true);
      }),
      { seed: SEED, numRuns: Math.max(100, RUNS / 4) },
    );
  }, 300_000);
});

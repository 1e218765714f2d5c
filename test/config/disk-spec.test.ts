/**
 * xl disk specs. fixtures/disk-specs.xl.json holds, for each spec, what Xen 4.17's own xl made of it
 * (`xl -N create`, Debian's 4.17.7, see oracle/README.md): the libxl_device_disk JSON, or libxlu's complaint.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DiskSpecError, parseDiskSpec } from '../../src/config/disk-spec.js';

interface Case {
  spec: string;
  disk?: unknown;
  error?: string;
  near?: string;
}

const cases = JSON.parse(
  readFileSync(fileURLToPath(new URL('./fixtures/disk-specs.xl.json', import.meta.url)), 'utf8'),
) as Case[];

describe("disk specs read as xl 4.17's libxlu reads them", () => {
  it('has both accepted and refused specs to check', () => {
    expect(cases.filter((c) => c.disk).length).toBeGreaterThan(30);
    expect(cases.filter((c) => c.error).length).toBeGreaterThan(15);
  });

  for (const c of cases) {
    if (c.disk) {
      it(`accepts ${JSON.stringify(c.spec)}`, () => {
        const disk = parseDiskSpec(c.spec);
        expect(disk).toEqual(c.disk);
        expect(JSON.stringify(disk)).toBe(JSON.stringify(c.disk));
      });
    } else {
      it(`refuses ${JSON.stringify(c.spec)}: ${c.error}`, () => {
        let caught: unknown;
        try {
          parseDiskSpec(c.spec);
        } catch (err) {
          caught = err;
        }
        expect(caught).toBeInstanceOf(DiskSpecError);
        expect((caught as DiskSpecError).reason).toBe(c.error);
        expect((caught as DiskSpecError).near).toBe(c.near);
      });
    }
  }
});

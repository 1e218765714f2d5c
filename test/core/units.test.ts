import { describe, expect, it } from 'vitest';
import {
  kibToMiB, kibToPagesCeil, kibToPagesFloor, LIBXL_MAXMEM_CONSTANT_KIB, mibToKiB, mibToPages, PAGE_SIZE_BYTES, PAGE_SIZE_KIB,
  PAGES_PER_MIB, pagesToKiB, pagesToMiB,
} from '../../src/units.js';

describe('units', () => {
  it('unit conversions round needs up and takeable amounts down', () => {
    expect(kibToPagesCeil(4097)).toBe(1025);
    expect(kibToPagesFloor(4097)).toBe(1024);
    expect(pagesToKiB(3)).toBe(12);
    expect(mibToPages(1.5)).toBe(384);
    expect(pagesToMiB(512)).toBe(2);
  });

  it('x86 pages are 4 KiB, 256 to the MiB; libxl adds 1 MiB of maxmem slack', () => {
    expect(PAGE_SIZE_KIB * 1024).toBe(PAGE_SIZE_BYTES);
    expect(PAGES_PER_MIB).toBe(256);
    expect(mibToKiB(3)).toBe(3072);
    expect(kibToMiB(1536)).toBe(1.5);
    expect(LIBXL_MAXMEM_CONSTANT_KIB).toBe(1024);
  });
});

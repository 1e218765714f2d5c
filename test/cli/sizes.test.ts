import { describe, expect, it } from 'vitest';
import { parseSizeKiB, SizeError } from '../../src/cli/sizes.js';

describe('parseSizeKiB (xl parse_mem_size_kb)', () => {
  it.each([
    ['512m', 512 * 1024],
    ['512M', 512 * 1024],
    ['2g', 2 * 1024 * 1024],
    ['1t', 1024 * 1024 * 1024],
    ['1048576k', 1048576],
    ['4096b', 4],
    ['1024', 1024 * 1024],
    [' 64 ', 64 * 1024],
  ])('%s → %d KiB', (text, kib) => {
    expect(parseSizeKiB(text)).toBe(kib);
  });

  it.each(['', 'm', '-1', '1.5g', '12x', '1gb', 'abc'])('rejects %j with the accepted forms', (text) => {
    expect(() => parseSizeKiB(text, 'SIZE')).toThrow(SizeError);
    expect(() => parseSizeKiB(text, 'SIZE')).toThrow(/SIZE must be an integer with an optional suffix b, k, m, g or t/);
  });

  it('rejects sizes beyond exact integers', () => {
    expect(() => parseSizeKiB('99999999999999999t')).toThrow(/too large/);
  });
});

/**
 * Memory sizes as xl accepts them (xl_utils.c parse_mem_size_kb): an integer with an optional one-letter suffix
 * b, k, m, g or t (any case); a plain number means MiB.
 */
const SHIFT_KIB: Readonly<Record<string, number>> = { k: 0, m: 10, '': 10, g: 20, t: 30 };

export class SizeError extends Error {
  override name = 'SizeError';
}

/** Parses `512m`, `2g`, `1048576k`, `1024` (MiB) into KiB. */
export function parseSizeKiB(text: string, what = 'size'): number {
  const match = /^\s*(\d+)([bkmgt]?)\s*$/i.exec(text);
  if (!match) {
    throw new SizeError(`${what} must be an integer with an optional suffix b, k, m, g or t (plain numbers are MiB), got ${JSON.stringify(text)}`);
  }
  const value = Number(match[1]);
  const suffix = match[2]!.toLowerCase();
  const kib = suffix === 'b' ? Math.floor(value / 1024) : value * 2 ** SHIFT_KIB[suffix]!;
  if (!Number.isSafeInteger(kib)) throw new SizeError(`${what} ${JSON.stringify(text)} is too large`);
  return kib;
}

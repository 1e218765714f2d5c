/**
 * Prints a libxl JSON domain config byte for byte as `xl -N create` does: libxl's yajl generator in beautify mode
 * (4-space indent, `"key": value`, an empty map or array as an opening line, a blank line and the closing line,
 * \u escapes in uppercase hex, a final newline).
 */

function encodeString(text: string): string {
  return JSON.stringify(text).replace(/\\u([0-9a-f]{4})/g, (_m, hex: string) => `\\u${hex.toUpperCase()}`);
}

function format(value: unknown, indent: string): string {
  const inner = `${indent}    `;
  if (Array.isArray(value)) {
    if (value.length === 0) return `[\n\n${indent}]`;
    return `[\n${value.map((v) => inner + format(v, inner)).join(',\n')}\n${indent}]`;
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return `{\n\n${indent}}`;
    return `{\n${entries.map(([k, v]) => `${inner}${encodeString(k)}: ${format(v, inner)}`).join(',\n')}\n${indent}}`;
  }
  if (typeof value === 'string') return encodeString(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new RangeError(`libxl JSON has no ${value}`);
    return String(value);
  }
  if (typeof value === 'boolean' || value === null) return String(value);
  throw new TypeError(`libxl JSON cannot hold a ${typeof value}`);
}

/** The text `xl -N create` prints for this config, final newline included. */
export function formatLibxlJson(config: unknown): string {
  return `${format(config, '')}\n`;
}

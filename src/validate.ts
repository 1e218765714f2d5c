/**
 * Argument checks shared by every backend: bad input is refused in TypeScript, before any hypercall, with an
 * EINVAL XenError that names the argument and the accepted range.
 */
import { XenError } from './errors.js';

/** Xen's DOMID_FIRST_RESERVED: domids from 0x7FF0 up are special (DOMID_SELF, DOMID_IO, …). */
export const DOMID_FIRST_RESERVED = 0x7ff0;
export const MAX_DOMID = DOMID_FIRST_RESERVED - 1;
/** Largest count we pass to Xen: a JS number holds integers exactly only up to 2^53 − 1. */
export const MAX_COUNT = Number.MAX_SAFE_INTEGER;
/** HVM_MAX_VCPUS on x86. */
export const MAX_VCPUS = 128;

/**
 * Text from outside, quoted for a one-line message: JSON-quoted, every character outside printable ASCII escaped as
 * \uXXXX (so NUL, control and bidi characters cannot break or disguise the line) and cut to 80 characters.
 */
export function quote(text: string): string {
  const cut = text.length > 80 ? `${text.slice(0, 77)}...` : text;
  const quoted = JSON.stringify(cut).replace(/[^\x20-\x7e]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return text.length > 80 ? `${quoted} (${text.length} characters)` : quoted;
}

function describe(value: unknown): string {
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string') return quote(value);
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Map) return 'a Map';
  return `an ${typeof value}`.replace(/^an (?=[^aeiou])/, 'a ');
}

export function invalidArgument(op: string, name: string, expected: string, value: unknown): XenError {
  return new XenError(`${op}: ${name} must be ${expected}, got ${describe(value)}`, { code: 'EINVAL', op, field: name });
}

/** An integer in [min, max]; returns it typed as number. */
export function checkInteger(op: string, name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidArgument(op, name, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

export function checkDomid(op: string, value: unknown): number {
  return checkInteger(op, 'domid', value, 0, MAX_DOMID);
}

/** A page or KiB count: a non-negative safe integer. */
export function checkCount(op: string, name: string, value: unknown): number {
  return checkInteger(op, name, value, 0, MAX_COUNT);
}

/** A signed count (relative targets): a safe integer. */
export function checkSignedCount(op: string, name: string, value: unknown): number {
  return checkInteger(op, name, value, -MAX_COUNT, MAX_COUNT);
}

export function checkBoolean(op: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalidArgument(op, name, 'true or false', value);
  return value;
}

export function checkOneOf<T extends string>(op: string, name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalidArgument(op, name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
  }
  return value as T;
}

export function checkObject(op: string, name: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidArgument(op, name, 'an object', value);
  }
  return value as Record<string, unknown>;
}

/** How the domain-name rule reads in errors. */
export const DOMAIN_NAME_RULE = 'a name of 1 to 64 characters from A-Z a-z 0-9 _ . : + -';
const DOMAIN_NAME = /^[A-Za-z0-9_.:+-]{1,64}$/;

/**
 * Whether `value` is a guest name xenclaim creates or acts on: 1 to 64 characters from A-Z a-z 0-9 _ . : + - (so
 * never NUL, a control or a bidi character). xenclaim's own rule, applied by both backends' createGuest, both config
 * readers and the host: names stay safe as xenstore values, in the file names libxl and qemu derive from them
 * (/var/log/xen/qemu-dm-NAME.log) and on xl's command line. Dom0's name, Domain-0, passes it.
 */
export function isDomainName(value: unknown): value is string {
  return typeof value === 'string' && DOMAIN_NAME.test(value);
}

/** A guest name (isDomainName); EINVAL naming `name` otherwise. */
export function checkDomainName(op: string, name: string, value: unknown): string {
  if (!isDomainName(value)) throw invalidArgument(op, name, DOMAIN_NAME_RULE, value);
  return value;
}

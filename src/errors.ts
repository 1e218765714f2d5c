/**
 * XenError: the one error type every backend throws. It carries what an operator needs to act on a failure:
 * the Xen errno name (or libxl ERROR_* name), the numeric errno, the operation and the Xen library's own log lines.
 */

/** errno values on Linux/x86, the platform Xen's dom0 runs on. */
export const ERRNO = Object.freeze({
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOSPC: 28,
  ERANGE: 34,
  ENOSYS: 38,
  EOPNOTSUPP: 95,
  EOVERFLOW: 75,
  ETIMEDOUT: 110,
} as const);

/** An errno name ERRNO knows: 'ENOMEM', 'EINVAL', … */
export type ErrnoName = keyof typeof ERRNO;

const ERRNO_NAMES = new Map<number, string>(Object.entries(ERRNO).map(([name, value]) => [value, name]));

/** The errno number of a code such as `ENOMEM`, or undefined for a code that has none (libxl's ERROR_*). */
export function errnoOf(code: string): number | undefined {
  return Object.hasOwn(ERRNO, code) ? ERRNO[code as ErrnoName] : undefined;
}

/** The errno name for a number, or `E<number>` when it is not one we know. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `E${errno}`;
}

/** What a XenError is made with besides its message. */
export interface XenErrorFields {
  code: string;
  op: string;
  /** The argument or config field the error is about, where there is one (`config.b_info.target_memkb`). */
  field?: string | undefined;
  errno?: number | undefined;
  xenLog?: readonly string[] | undefined;
  cause?: unknown;
}

/** The one error type of xenclaim (see the file header): code, errno, op, field and the Xen libraries' log lines. */
export class XenError extends Error {
  /** `ENOMEM`, `EINVAL`, … or a libxl code such as `ERROR_FAIL`. */
  readonly code: string;
  /** The numeric errno, where the failure has one. */
  readonly errno: number | undefined;
  /** The backend operation that failed, e.g. `claimPages`. */
  readonly op: string;
  /** The argument or config field at fault, e.g. `config.b_info.target_memkb` (EINVAL from an argument check). */
  readonly field: string | undefined;
  /** Lines the Xen libraries logged while the operation ran (captured, never printed to stderr). */
  readonly xenLog: readonly string[];

  constructor(message: string, fields: XenErrorFields) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.name = 'XenError';
    this.code = fields.code;
    this.op = fields.op;
    this.field = fields.field;
    this.errno = fields.errno ?? errnoOf(fields.code);
    this.xenLog = Object.freeze([...(fields.xenLog ?? [])]);
  }

  /** An error for an operation Xen refused with an errno, in the form `op: CODE (why)`. */
  static fromErrno(op: string, errno: number, detail: string, xenLog?: readonly string[]): XenError {
    const code = errnoName(errno);
    return new XenError(`${op}: ${code} (${detail})`, { code, op, errno, xenLog });
  }
}

/** Whether `value` is a XenError (with that code, when given). */
export function isXenError(value: unknown, code?: string): value is XenError {
  return value instanceof XenError && (code === undefined || value.code === code);
}

/** ENOMEM from a claim or an allocation: the code itself, or errno 12 on an error from elsewhere. */
export function isOutOfMemory(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const e = error as Error & { code?: unknown; errno?: unknown };
  return e.code === 'ENOMEM' || e.errno === ERRNO.ENOMEM;
}

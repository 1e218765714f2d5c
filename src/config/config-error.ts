/**
 * ConfigError: a guest config that cannot be read. It is a XenError (code EINVAL, op `config`) so callers that
 * handle XenError handle it too, and it names the place in the file: `FILE:LINE:COL: what is wrong`.
 */
import { XenError } from '../errors.js';

/** Where in a config file an error is: file, 1-based line and column, and the key (or JSON path). */
export interface ConfigErrorPlace {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based, in characters. */
  column: number;
  /** The config key (or JSON path) the error is about, where there is one. */
  key?: string | undefined;
}

/** A guest config that cannot be used, at its place in the file (see the file header). */
export class ConfigError extends XenError {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly key: string | undefined;
  /** The message without the `FILE:LINE:COL: ` prefix. */
  readonly reason: string;

  constructor(place: ConfigErrorPlace, reason: string) {
    super(`${place.file}:${place.line}:${place.column}: ${reason}`, { code: 'EINVAL', op: 'config' });
    this.name = 'ConfigError';
    this.file = place.file;
    this.line = place.line;
    this.column = place.column;
    this.key = place.key;
    this.reason = reason;
  }
}

/** Whether `value` is a ConfigError. */
export function isConfigError(value: unknown): value is ConfigError {
  return value instanceof ConfigError;
}

/**
 * Reads an operator's input file (a guest config, a scenario). A file that cannot be read becomes a XenError with
 * the errno Node reported (ENOENT, EACCES, …), so the CLI prints it as one line like any other failure.
 */
import { readFile } from 'node:fs/promises';
import { ERRNO, XenError, errnoName } from './errors.js';
import { invalidArgument } from './validate.js';

/** The file's text (UTF-8). EINVAL for a path that is not a non-empty string; the read's errno otherwise. */
export async function readTextFile(path: string, op: string): Promise<string> {
  if (typeof path !== 'string' || path === '') throw invalidArgument(op, 'path', 'a non-empty file path', path);
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const errno = typeof e.errno === 'number' ? Math.abs(e.errno) : ERRNO.EIO;
    const code = e.code ?? errnoName(errno);
    throw new XenError(`${op}: cannot read ${path}: ${code}`, { code, op, errno, cause: err });
  }
}

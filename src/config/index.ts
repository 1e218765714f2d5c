/**
 * Guest configs: an xl.cfg file or a libxl JSON domain config, read into the libxl JSON xenclaim creates guests
 * from, with warnings for whatever was not mapped.
 */
import type { Physinfo, XenBackend } from '../backend.js';
import { isXenError } from '../errors.js';
import { readTextFile } from '../read-text-file.js';
import { ConfigError } from './config-error.js';
import { parseLibxlJson } from './libxl-json.js';
import { refusalReason, refusedField } from './libxl-refusals.js';
import { xlToLibxl, type GuestConfigOptions, type GuestConfigResult } from './to-libxl.js';
import type { XlHost } from './xl-context.js';
import { parseXlConfig } from './xl-parser.js';

export { ConfigError, isConfigError, type ConfigErrorPlace } from './config-error.js';
export { parseDiskSpec, DiskSpecError, type LibxlDiskJson } from './disk-spec.js';
export { parseNicSpec, NicSpecError, type LibxlNicJson } from './nic-spec.js';
export { parseLibxlJson } from './libxl-json.js';
export { type FieldLocator } from './libxl-refusals.js';
export { formatLibxlJson } from './libxl-json-format.js';
export { xlToLibxl, MAX_GUEST_MEMORY_MIB, type GuestConfigOptions, type GuestConfigResult } from './to-libxl.js';
export { type XlHost } from './xl-context.js';
export { parseXlConfig, XlConfig, type XlList, type XlSetting, type XlString, type XlValue } from './xl-parser.js';

/** Whether text is libxl JSON rather than xl.cfg: its first non-space character is `{`. */
export function isLibxlJson(text: string): boolean {
  return /^\s*\{/.test(text);
}

/** Reads a guest config from text; `fileName` is used in errors and warnings. Throws ConfigError. */
export function parseGuestConfig(text: string, fileName: string, options: GuestConfigOptions = {}): GuestConfigResult {
  if (isLibxlJson(text)) return parseLibxlJson(text, fileName);
  return xlToLibxl(parseXlConfig(text, fileName), options);
}

/** A guest config read for a backend's host and checked as creating it there would check it. */
export interface CheckedGuestConfig extends GuestConfigResult {
  /** libxl_domain_need_memory's answer on that host, in KiB: what building the guest takes. */
  needKiB: number;
}

/**
 * Reads a guest config (xl.cfg or libxl JSON text) for `backend`'s host and checks it as `createGuest` there would:
 * read for the host's CPUs and NUMA nodes (unless `options.host` is given), then libxl is asked what the guest
 * needs (backend.needMemoryKiB: libxl's setdefault and need-memory checks; the mock host applies the same rules).
 * What libxl would refuse — a name outside the domain-name rule, an HVM guest too small for its video RAM, a video
 * RAM below libxl's minimum, … — is a ConfigError (EINVAL) at the xl key (or JSON path) and line it comes from, so
 * `xenclaim config` refuses exactly what `xenclaim create` would. Other failures of the backend pass through.
 */
export async function parseGuestConfigFor(
  backend: XenBackend,
  text: string,
  fileName: string,
  options: GuestConfigOptions = {},
): Promise<CheckedGuestConfig> {
  const host = options.host ?? xlHostFromPhysinfo(await backend.physinfo());
  const result = parseGuestConfig(text, fileName, { ...options, host });
  try {
    return { ...result, needKiB: await backend.needMemoryKiB(result.config) };
  } catch (error) {
    if (!isXenError(error)) throw error;
    const field = refusedField(error);
    if (field === undefined && error.code !== 'EINVAL' && error.code !== 'ERROR_INVAL') throw error;
    const { place, setting } = result.locate(field ?? '');
    const refusal = new ConfigError(place, `${setting}: ${refusalReason(error)}`);
    refusal.cause = error;
    throw refusal;
  }
}

/**
 * Reads a guest config file (parseGuestConfig; with `options.backend`, parseGuestConfigFor that backend). A file
 * that cannot be read is a XenError with its errno (ENOENT, EACCES, …); a config that cannot be used, a ConfigError.
 */
export async function loadGuestConfig(
  path: string,
  options: GuestConfigOptions & { backend?: XenBackend } = {},
): Promise<GuestConfigResult> {
  const { backend, ...readOptions } = options;
  const text = await readTextFile(path, 'config');
  return backend === undefined ? parseGuestConfig(text, path, readOptions) : parseGuestConfigFor(backend, text, path, readOptions);
}

/**
 * The host a config is read for, from the backend's physinfo: its CPUs (nr_cpus standing for max_cpu_id + 1) and
 * NUMA nodes. Node-to-CPU topology is not in physinfo, so `node:N` affinity is read only on a one-node host.
 */
export function xlHostFromPhysinfo(physinfo: Physinfo): XlHost {
  return { maxCpus: physinfo.nrCpus, onlineCpus: physinfo.nrCpus, nrNodes: physinfo.nrNodes };
}

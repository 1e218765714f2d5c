/**
 * Guest configs: an xl.cfg file or a libxl JSON domain config, read into the libxl JSON xenclaim creates guests
 * from, with warnings for whatever was not mapped.
 */
import type { Physinfo } from '../backend.js';
import { readTextFile } from '../read-text-file.js';
import type { XlHost } from './xl-context.js';
import { parseLibxlJson } from './libxl-json.js';
import { xlToLibxl, type GuestConfigOptions, type GuestConfigResult } from './to-libxl.js';
import { parseXlConfig } from './xl-parser.js';

export { ConfigError, isConfigError, type ConfigErrorPlace } from './config-error.js';
export { parseDiskSpec, DiskSpecError, type LibxlDiskJson } from './disk-spec.js';
export { parseNicSpec, NicSpecError, type LibxlNicJson } from './nic-spec.js';
export { parseLibxlJson } from './libxl-json.js';
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

/** Reads a guest config file. A file that cannot be read is a XenError with its errno (ENOENT, EACCES, …). */
export async function loadGuestConfig(path: string, options: GuestConfigOptions = {}): Promise<GuestConfigResult> {
  const text = await readTextFile(path, 'config');
  return parseGuestConfig(text, path, options);
}

/**
 * The host a config is read for, from the backend's physinfo: its CPUs (nr_cpus standing for max_cpu_id + 1) and
 * NUMA nodes. Node-to-CPU topology is not in physinfo, so `node:N` affinity is read only on a one-node host.
 */
export function xlHostFromPhysinfo(physinfo: Physinfo): XlHost {
  return { maxCpus: physinfo.nrCpus, onlineCpus: physinfo.nrCpus, nrNodes: physinfo.nrNodes };
}

/**
 * Running Xen 4.17's own `xl -N create` (the oracle set up by setup.sh) and comparing xenclaim's reading of the same
 * file with it. The oracle is found at XENCLAIM_XL_ORACLE or, when that is unset, at setup.sh's default path; where
 * it is absent, ORACLE is undefined and the oracle tests skip, naming ORACLE_SKIP_REASON.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatLibxlJson, parseGuestConfig } from '../../../src/config/index.js';
import { ORACLE_HOST } from '../oracle-host.js';

/** setup.sh's default directory. */
export const DEFAULT_ORACLE = '/tmp/xenclaim-xl-oracle/xl-dry-run.sh';

const configured = process.env['XENCLAIM_XL_ORACLE'] ?? DEFAULT_ORACLE;

/** Why the oracle at `configured` cannot be used, or undefined when it can. */
function unusable(): string | undefined {
  if (!existsSync(configured)) return `no ${configured}`;
  const shim = readFileSync(fileURLToPath(new URL('./no-hypervisor-shim.c', import.meta.url)));
  const stamp = join(dirname(configured), 'shim.sha256');
  const built = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : '';
  if (built !== createHash('sha256').update(shim).digest('hex')) return `${configured} was built from another no-hypervisor-shim.c`;
  return undefined;
}

const why = unusable();

/** The xl-dry-run.sh to run, or undefined when there is none. */
export const ORACLE: string | undefined = why === undefined ? configured : undefined;

export const ORACLE_SKIP_REASON =
  `xl oracle (skipped: ${why ?? 'available'}; run test/config/oracle/setup.sh, or set XENCLAIM_XL_ORACLE to its xl-dry-run.sh)`;

export interface XlRun {
  status: number | null;
  stdout: string;
  json: Record<string, unknown> | undefined;
  /** xl's messages, without the two lines every run prints (no xl.conf, "Parsing config from"). */
  stderr: string;
}

export function runXl(path: string): XlRun {
  if (ORACLE === undefined) throw new Error(ORACLE_SKIP_REASON);
  const r = spawnSync(ORACLE, [path], { encoding: 'utf8' });
  const json = r.status === 0 ? (JSON.parse(r.stdout) as Record<string, unknown>) : undefined;
  const stderr = r.stderr
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('Failed to read config file: /etc/xen/xl.conf') && !l.startsWith('Parsing config from'))
    .join('\n');
  return { status: r.status, stdout: r.stdout, json, stderr };
}

/**
 * Where xenclaim deliberately prints something else than xl 4.17, each with why (docs/xl-config.md):
 * rdm = "strategy=host" leaves libxl_rdm_reserve.policy uninitialised in xl, which prints it (and the PCI devices'
 * rdm_policy, which follows it) as null; xenclaim leaves both at libxl's default, which
 * libxl_domain_config_from_json can read back.
 */
export function withoutKnownDeviations(xlStdout: string): string {
  const rdm = /("rdm": \{\n\s+"strategy": "host"),\n\s+"policy": null/;
  if (!rdm.test(xlStdout)) return xlStdout;
  // The PCI devices inherit that policy.
  return xlStdout.replace(rdm, '$1').replace(/,\n\s+"rdm_policy": null(?=\n)/g, '').replace(/\n\s+"rdm_policy": null,(?=\n)/g, '');
}

export interface Comparison {
  xl: XlRun;
  /** xenclaim's JSON as xl prints it; undefined when xenclaim refused the config. */
  ours: string | undefined;
  error: Error | undefined;
  warnings: string[];
}

/** Runs xl and xenclaim on `path` (whose text is `text`); a UUID-less config gets xl's random UUID, and so on. */
export function compareWithXl(path: string, text: string): Comparison {
  const xl = runXl(path);
  const cInfo = xl.json?.['c_info'] as { uuid?: string } | undefined;
  const uuid = cInfo?.uuid ?? '00000000-0000-0000-0000-000000000000';
  const hvm = (xl.json?.['b_info'] as Record<string, Record<string, unknown>> | undefined)?.['type.hvm'];
  const genid = hvm?.['ms_vm_genid'] as number[] | undefined;
  try {
    const r = parseGuestConfig(text, path, { generateUuid: () => uuid, host: ORACLE_HOST, ...(genid ? { generateVmGenid: () => genid } : {}) });
    return { xl: { ...xl, stdout: withoutKnownDeviations(xl.stdout) }, ours: formatLibxlJson(r.config), error: undefined, warnings: r.warnings };
  } catch (error) {
    return { xl, ours: undefined, error: error as Error, warnings: [] };
  }
}

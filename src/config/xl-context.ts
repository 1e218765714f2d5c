/**
 * What every part of the xl.cfg → libxl mapping shares: the reader, the libxl value tree being filled (see
 * libxl-idl.ts), the domain type and the host the config is read for.
 */
import type { XlReader } from './xl-reader.js';

export type DomainType = 'pv' | 'pvh' | 'hvm';

/**
 * The host a config is read for: what xl 4.17 asks libxl about while parsing. `cpus = "all"` sets every CPU of a
 * bitmap sized for the host (libxl_cpu_bitmap_alloc: max_cpu_id + 1, rounded up to 8 bits), `node:N` takes node
 * N's CPUs (libxl_node_to_cpumap), vnuma checks its pnodes against nr_nodes and its vCPUs against online CPUs.
 */
export interface XlHost {
  /** physinfo max_cpu_id + 1. */
  maxCpus: number;
  /** Online physical CPUs (libxl_get_online_cpus). */
  onlineCpus: number;
  /** physinfo nr_nodes. */
  nrNodes: number;
  /** The CPUs of each NUMA node; unknown (undefined) refuses `node:` forms unless there is one node. */
  nodeCpus?: ReadonlyArray<readonly number[]>;
}

export interface MapOptions {
  /** Makes the UUID of a config without `uuid` (xl generates a random one each time). Default: crypto.randomUUID. */
  generateUuid?: () => string;
  /** Makes the 16 bytes of `ms_vm_genid = "generate"` (random in xl). Default: crypto.randomBytes. */
  generateVmGenid?: () => number[];
  /** The host the config is read for; without it, host-dependent forms (cpus "all", "node:N", vnuma) are refused. */
  host?: XlHost;
}

/** A libxl struct being filled: field name → value (see libxl-idl.ts for how values are written). */
export type Fields = Record<string, unknown>;

export interface MapContext {
  readonly r: XlReader;
  readonly type: DomainType;
  readonly options: MapOptions;
  /** libxl_domain_config. */
  readonly d: Fields;
  readonly c_info: Fields;
  readonly b_info: Fields;
  /** b_info.u: the member of the domain type (u.hvm, u.pv or u.pvh). */
  readonly u: Fields;
}

/** A device list of the domain config, created on first use. */
export function deviceList(ctx: MapContext, name: string): Fields[] {
  let list = ctx.d[name] as Fields[] | undefined;
  if (!list) {
    list = [];
    ctx.d[name] = list;
  }
  return list;
}

/** libxl's struct member, created on first use (b_info.u.hvm.spice, b_info.sched_params, …). */
export function member(parent: Fields, name: string): Fields {
  let m = parent[name] as Fields | undefined;
  if (!m) {
    m = {};
    parent[name] = m;
  }
  return m;
}

/** Keys xl reads only for some domain types: set for another type they are ignored (as xl ignores them), with a warning. */
export function warnIgnoredForType(ctx: MapContext, keys: readonly string[], why: string): void {
  for (const key of keys) {
    if (!ctx.r.has(key)) continue;
    ctx.r.used.add(key);
    ctx.r.warnKey(key, `${key} is ignored: ${why} (xl ignores it too)`);
  }
}

/**
 * Splits `text` at each `sep` into key=value options, as xl's strtok loops do: empty pieces skipped, leading spaces
 * of each dropped. An option without '=' has value undefined.
 */
export function splitOptions(text: string, sep = ','): Array<{ key: string; value: string | undefined; token: string }> {
  return text
    .split(sep)
    .filter((p) => p !== '')
    .map((p) => p.replace(/^ +/, ''))
    .map((token) => {
      const eq = token.indexOf('=');
      return eq < 0 ? { key: token, value: undefined, token } : { key: token.slice(0, eq), value: token.slice(eq + 1), token };
    });
}

/** strtok(text, delims): the non-empty pieces between any of the delimiter characters. */
export function strtok(text: string, delims: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (const ch of text) {
    if (delims.includes(ch)) {
      if (cur !== '') out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur !== '') out.push(cur);
  return out;
}

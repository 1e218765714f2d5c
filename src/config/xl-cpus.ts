/**
 * Placement keys: `cpus` and `cpus_soft` (vCPU hard and soft affinity) and `vnuma`, read as xl 4.17 reads them
 * (parse_vcpu_affinity, parse_cpurange, update_cpumap_range, parse_vnuma_config in tools/xl/xl_parse.c).
 *
 * Where xl would silently build a guest other than the one written, this refuses instead: affinity with neither
 * vcpus nor maxvcpus set (xl sizes it by them and drops it), a `node:` range whose CPUs xl's node-sized map cannot
 * hold, malformed ranges (xl reads them as CPU 0), unknown vnuma options (xl skips them).
 */
import type { XlString } from './xl-parser.js';
import { type Fields, type MapContext, strtok, type XlHost } from './xl-context.js';
import { cStrtoulPrefix } from './xl-reader.js';

const ULONG_MAX = 2n ** 64n - 1n;

/** Bits in a libxl bitmap allocated for `n` bits: rounded up to whole bytes. */
const bitmapBits = (n: number): number => Math.ceil(n / 8) * 8;

/** A libxl_bitmap: `size` bits (a multiple of 8); setting a bit at or above it does nothing, as in libxl. */
class Bitmap {
  readonly bits = new Set<number>();
  constructor(readonly size: number) {}
  set(bit: number): void {
    if (bit < this.size) this.bits.add(bit);
  }
  reset(bit: number): void {
    this.bits.delete(bit);
  }
  setAll(): void {
    for (let i = 0; i < this.size; i++) this.bits.add(i);
  }
  json(): number[] {
    return [...this.bits].sort((a, b) => a - b);
  }
}

/** parse_range: `A` or `A-B`, decimal, nothing after; undefined where xl's parse_range fails. */
export function parseRange(text: string): { a: bigint; b: bigint } | undefined {
  const first = cStrtoulPrefix(text, 10);
  if (first.read === 0 || first.value === ULONG_MAX) return undefined;
  let b = first.value;
  let end = first.read;
  if (text[end] === '-') {
    const second = cStrtoulPrefix(text.slice(end + 1), 10);
    if (second.read === 0 || second.value === ULONG_MAX || second.value < first.value) return undefined;
    b = second.value;
    end += 1 + second.read;
  }
  return end === text.length ? { a: first.value, b } : undefined;
}

interface AffinityRead {
  ctx: MapContext;
  key: string;
  place: XlString;
  host: XlHost | undefined;
}

function needHost(read: AffinityRead, form: string): XlHost {
  if (read.host) return read.host;
  return read.ctx.r.fail(read.place, read.key, `${read.key} ${JSON.stringify(read.place.value)}: "${form}" depends on the host's CPUs, and no host was given to read the config for`);
}

/** The CPUs of `node` as xl's update_cpumap_range sees them (a map sized by the node count, not the CPU count). */
function nodeCpus(read: AffinityRead, node: number, piece: string): number[] {
  const host = needHost(read, piece);
  if (node >= bitmapBits(host.nrNodes)) return [];
  let cpus: readonly number[];
  if (host.nodeCpus) cpus = host.nodeCpus[node] ?? [];
  else if (host.nrNodes === 1) cpus = node === 0 ? Array.from({ length: host.maxCpus }, (_, i) => i) : [];
  else return read.ctx.r.fail(read.place, read.key, `${read.key} "${piece}": the host's NUMA topology is not known here, so node ${node}'s CPUs cannot be read; list the CPUs instead`);
  const limit = bitmapBits(host.nrNodes);
  const lost = cpus.filter((c) => c >= limit);
  if (lost.length > 0) {
    read.ctx.r.fail(read.place, read.key, `${read.key} "${piece}": node ${node} has CPUs ${lost.join(',')}, which xl 4.17 drops from node: forms (it sizes the CPU map by the number of nodes, ${host.nrNodes}); list the CPUs instead`);
  }
  return [...cpus];
}

/** update_cpumap_range for one comma-separated piece. */
function applyPiece(read: AffinityRead, map: Bitmap, original: string): void {
  let text = original;
  const negate = text.startsWith('^');
  if (negate) text = text.slice(1);
  let nodes = false;
  for (const prefix of ['node:', 'nodes:']) {
    if (text.startsWith(prefix)) {
      nodes = true;
      text = text.slice(prefix.length);
      break;
    }
  }
  if (text === 'all') {
    if (negate) read.ctx.r.fail(read.place, read.key, `${read.key} "${original}": "^" cannot be combined with "all" (xl refuses it too)`);
    needHost(read, original);
    map.setAll();
    return;
  }
  const range = parseRange(text);
  if (!range) {
    read.ctx.r.fail(read.place, read.key, `${read.key} "${original}": not a CPU range; expected N, N-M, ^N, node:N, nodes:N-M or all (xl refuses it too)`);
  }
  if (nodes) {
    const host = needHost(read, original);
    const last = range.b < BigInt(host.nrNodes) ? Number(range.b) : host.nrNodes - 1;
    for (let node = Number(range.a); node <= last; node++) {
      for (const cpu of nodeCpus(read, node, original)) (negate ? map.reset(cpu) : map.set(cpu));
    }
    return;
  }
  if (read.host === undefined && range.b >= 4096n) {
    read.ctx.r.fail(read.place, read.key, `${read.key} "${original}": CPU numbers above 4095 need the host's CPU count to be read`);
  }
  const last = range.b < BigInt(map.size) ? Number(range.b) : map.size - 1;
  if (read.host && range.b >= BigInt(map.size) && !negate) {
    read.ctx.r.fail(read.place, read.key, `${read.key} "${original}": the host has CPUs 0 to ${read.host.maxCpus - 1}; xl 4.17 would silently drop CPU ${range.b}`);
  }
  for (let cpu = Number(range.a); cpu <= last; cpu++) (negate ? map.reset(cpu) : map.set(cpu));
}

/** parse_cpurange: a CPU bitmap sized for the host. */
function cpuRange(read: AffinityRead, text: string): number[] {
  const map = new Bitmap(read.host ? bitmapBits(read.host.maxCpus) : 4096);
  for (const piece of strtok(text, ',')) applyPiece(read, map, piece);
  return map.json();
}

/** xl's apply_global_affinity_masks: every vCPU must keep at least one CPU of hard affinity. */
function checkHardAffinity(ctx: MapContext, maps: number[][], places: XlString[]): void {
  maps.forEach((map, i) => {
    if (map.length === 0) ctx.r.fail(places[Math.min(i, places.length - 1)]!, 'cpus', `cpus leaves vCPU ${i} no CPU to run on (xl refuses it too)`);
  });
}

/** cpus / cpus_soft: vcpu_hard_affinity / vcpu_soft_affinity, one bitmap per vCPU. */
export function mapAffinity(ctx: MapContext, key: 'cpus' | 'cpus_soft', maxVcpus: number): void {
  const value = ctx.r.listOrString(key);
  if (!value) return;
  const field = key === 'cpus' ? 'vcpu_hard_affinity' : 'vcpu_soft_affinity';
  const place = 'list' in value ? ctx.r.cfg.get(key)!.value : value.string;
  if (maxVcpus === 0) {
    ctx.r.fail(place as { line: number; column: number }, key, `${key} needs vcpus or maxvcpus to be set: xl 4.17 sizes the affinity by them and drops ${key} otherwise`);
  }
  const host = ctx.options.host;
  if ('string' in value) {
    const read: AffinityRead = { ctx, key, place: value.string, host };
    const map = cpuRange(read, value.string.value);
    const maps = Array.from({ length: maxVcpus }, () => [...map]);
    if (key === 'cpus') checkHardAffinity(ctx, maps, [value.string]);
    ctx.b_info[field] = maps;
    if (key === 'cpus_soft') ctx.b_info['numa_placement'] = false;
    return;
  }
  if (value.list.length > maxVcpus) {
    ctx.r.warn(value.line, `${key} lists ${value.list.length} CPU sets for ${maxVcpus} vCPUs; xl ignores the ones past vCPU ${maxVcpus - 1}`);
  }
  const items = value.list.slice(0, maxVcpus);
  const maps = items.map((item) => cpuRange({ ctx, key, place: item, host }, item.value));
  if (key === 'cpus') checkHardAffinity(ctx, maps, items);
  ctx.b_info[field] = maps;
  // A list of maps always turns automatic NUMA placement off.
  ctx.b_info['numa_placement'] = false;
}

/** xl's parse_ulong: strtoul base 10 of a prefix (junk after it allowed); no digits or ULONG_MAX fails. */
function parseUlong(ctx: MapContext, place: XlString, what: string, text: string): bigint {
  const r = cStrtoulPrefix(text, 10);
  if (r.read === 0 || r.value === ULONG_MAX) ctx.r.fail(place, 'vnuma', `vnuma ${what}: "${text}" is not a number (xl refuses it too)`);
  if (r.read !== text.length) ctx.r.fail(place, 'vnuma', `vnuma ${what}: "${text}" has text after the number (xl would ignore it)`);
  return r.value;
}

/** split_string_into_pair(buf, "=") then trim(isspace) on both halves. */
function splitPair(text: string): [string, string] | undefined {
  const parts = strtok(text, '=');
  if (parts.length < 2) return undefined;
  return [parts[0]!.trim(), parts[1]!.trim()];
}

/** parse_vnuma_config: one vnode_info per vnuma list entry; sets max_vcpus and max_memkb from them. */
export function mapVnuma(ctx: MapContext): void {
  const s = ctx.r.setting('vnuma');
  if (!s) return;
  if (s.value.kind !== 'list') ctx.r.fail(s.value, 'vnuma', `vnuma must be a list of vnode lists, e.g. vnuma = [ [ "pnode=0", "size=512", "vcpus=0-1", "vdistances=10,20" ] ] (xl ignores a single value)`);
  const vnodes = s.value.items;
  if (vnodes.length === 0) return;
  const host = ctx.options.host;
  const maxVcpusKey = (ctx.b_info['max_vcpus'] as number | undefined) ?? 0;
  if (maxVcpusKey === 0 && !host) {
    ctx.r.fail(s.value, 'vnuma', 'vnuma without maxvcpus is checked against the host\'s online CPUs, and no host was given to read the config for; set maxvcpus');
  }
  const bits = bitmapBits(maxVcpusKey || host!.maxCpus);
  let vcpuCount = 0n;
  let memkbSum = 0;
  const nodes: Fields[] = vnodes.map((vnode, i) => {
    if (vnode.kind !== 'list') ctx.r.fail(vnode, 'vnuma', `vnuma[${i}] must be a list of options, e.g. [ "pnode=0", "size=512", "vcpus=0-1" ]`);
    const node: Fields = { distances: new Array<number>(vnodes.length).fill(0) };
    const vcpus = new Bitmap(bits);
    for (const option of vnode.items) {
      if (option.kind !== 'string') ctx.r.fail(option, 'vnuma', `vnuma[${i}]: options are strings like "size=512", not lists`);
      const pair = splitPair(option.value);
      if (!pair) ctx.r.fail(option, 'vnuma', `vnuma[${i}]: "${option.value}" is not option=value (xl refuses it too)`);
      const [name, value] = pair;
      if (name === 'pnode') {
        const pnode = parseUlong(ctx, option, 'pnode', value);
        if (host && pnode >= BigInt(host.nrNodes)) ctx.r.fail(option, 'vnuma', `vnuma[${i}] pnode must be below the host's ${host.nrNodes} NUMA nodes, got ${pnode} (xl refuses it too)`);
        if (!host) ctx.r.fail(option, 'vnuma', `vnuma[${i}] pnode is checked against the host's NUMA nodes, and no host was given to read the config for`);
        node['pnode'] = Number(pnode);
        ctx.b_info['numa_placement'] = false;
      } else if (name === 'size') {
        const mib = parseUlong(ctx, option, 'size', value);
        if (mib > 16n * 1024n * 1024n) ctx.r.fail(option, 'vnuma', `vnuma[${i}] size must be at most 16777216 (MiB), got ${mib}`);
        node['memkb'] = Number(mib) * 1024;
        memkbSum += Number(mib) * 1024;
      } else if (name === 'vcpus') {
        if (strtok(value, ',').length === 0) ctx.r.fail(option, 'vnuma', `vnuma[${i}] vcpus= lists no vCPUs (xl 4.17 crashes on it)`);
        for (const piece of strtok(value, ',')) {
          const range = parseRange(piece);
          if (!range) ctx.r.fail(option, 'vnuma', `vnuma[${i}] vcpus: "${piece}" is not N or N-M (xl would read it as vCPU 0)`);
          if (range.b >= 4096n) ctx.r.fail(option, 'vnuma', `vnuma[${i}] vcpus: ${range.b} is above any vCPU count`);
          for (let v = Number(range.a); v <= Number(range.b); v++) vcpus.set(v);
          vcpuCount += range.b - range.a + 1n;
        }
      } else if (name === 'vdistances') {
        const distances = strtok(value, ',');
        if (distances.length === 0) ctx.r.fail(option, 'vnuma', `vnuma[${i}] vdistances= lists no distances (xl 4.17 crashes on it)`);
        if (distances.length > vnodes.length) ctx.r.fail(option, 'vnuma', `vnuma[${i}] vdistances lists ${distances.length} distances for ${vnodes.length} vnodes`);
        distances.forEach((d, j) => {
          const n = parseUlong(ctx, option, 'vdistances', d);
          (node['distances'] as number[])[j] = Number(n % 2n ** 32n);
        });
      } else {
        ctx.r.fail(option, 'vnuma', `vnuma[${i}]: unknown option '${name}' (pnode, size, vcpus or vdistances; xl would skip it)`);
      }
    }
    node['vcpus'] = vcpus.json();
    return node;
  });
  if (maxVcpusKey !== 0) {
    if (BigInt(maxVcpusKey) !== vcpuCount) ctx.r.fail(s.value, 'vnuma', `vnuma gives ${vcpuCount} vCPUs but maxvcpus is ${maxVcpusKey} (xl refuses the mismatch too)`);
  } else {
    if (BigInt(host!.onlineCpus) < vcpuCount) ctx.r.fail(s.value, 'vnuma', `vnuma gives ${vcpuCount} vCPUs, more than the host's ${host!.onlineCpus} CPUs; set maxvcpus to override (as xl asks)`);
    ctx.b_info['max_vcpus'] = Number(vcpuCount);
  }
  const maxmem = ctx.b_info['max_memkb'];
  if (maxmem !== undefined && maxmem !== memkbSum) ctx.r.fail(s.value, 'vnuma', `vnuma sizes add up to ${memkbSum / 1024} MiB but maxmem is ${(maxmem as number) / 1024} MiB (xl refuses the mismatch too)`);
  ctx.b_info['max_memkb'] = memkbSum;
  ctx.b_info['vnuma_nodes'] = nodes;
}

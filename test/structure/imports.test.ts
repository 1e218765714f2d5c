/**
 * The import structure of src/ (docs/architecture.md#floors), parsed: no cycle, nothing imports a higher floor, the
 * admission core imports nothing with effects, and no toolstack file grows past 300 lines.
 */
import { describe, expect, it } from 'vitest';
import { filesUnder, importsOf, readSource, type ImportEdge } from './source-files.js';

/** Floors from the top down; a file may import its own floor and those below. */
const FLOORS: readonly (readonly string[])[] = [
  ['src/cli/', 'src/daemon/', 'src/simulate/', 'src/index.ts'],
  ['src/api/'],
  ['src/host/'],
  ['src/toolstack/', 'src/peers/', 'src/journal/'],
  ['src/admission/', 'src/recovery/', 'src/config/'],
  ['src/backend.ts', 'src/open-backend.ts', 'src/native/', 'src/mock/'],
  ['src/errors.ts', 'src/validate.ts', 'src/clock.ts', 'src/binary-heap.ts', 'src/units.ts', 'src/read-text-file.ts'],
];

/** What admission may import for its values: itself and the pure base modules (types may come from below too). */
const PURE_FOR_ADMISSION = ['src/admission/', 'src/units.ts', 'src/errors.ts', 'src/validate.ts'];
const PURE_FOR_RECOVERY = ['src/recovery/', 'src/units.ts', 'src/errors.ts', 'src/validate.ts'];

function floorOf(file: string): number {
  const floor = FLOORS.findIndex((prefixes) => prefixes.some((p) => (p.endsWith('/') ? file.startsWith(p) : file === p)));
  if (floor < 0) throw new Error(`${file} is on no floor: add it to FLOORS in test/structure/imports.test.ts (and docs/architecture.md#floors)`);
  return floor;
}

type Graph = Map<string, ImportEdge[]>;

function graphOf(files: readonly string[]): Graph {
  return new Map(files.map((file) => [file, importsOf(file, readSource(file))]));
}

/** Every cycle in the graph, each once, as the list of files around it (Tarjan's strongly connected components). */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const connect = (v: string): void => {
    indices.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!indices.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, indices.get(w)!));
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!indices.has(v)) connect(v);
  return found;
}

function upwardImports(graph: Graph): string[] {
  const problems: string[] = [];
  for (const [file, edges] of graph) {
    for (const edge of edges) {
      if (!edge.target.startsWith('src/')) continue;
      if (floorOf(edge.target) < floorOf(file)) problems.push(`${file} imports ${edge.target}, a higher floor`);
    }
  }
  return problems;
}

function impureAdmissionImports(graph: Graph): string[] {
  const problems: string[] = [];
  for (const [file, edges] of graph) {
    const allowed = file.startsWith('src/admission/') ? PURE_FOR_ADMISSION : file.startsWith('src/recovery/') ? PURE_FOR_RECOVERY : undefined;
    if (allowed === undefined) continue;
    for (const edge of edges) {
      const pure = allowed.some((p) => (p.endsWith('/') ? edge.target.startsWith(p) : edge.target === p));
      if (pure || (edge.typeOnly && edge.target.startsWith('src/'))) continue;
      problems.push(`${file} imports ${edge.target}${edge.typeOnly ? ' (types)' : ''}: admission imports nothing with effects`);
    }
  }
  return problems;
}

const SRC = filesUnder('src', ['.ts']);
const GRAPH = graphOf(SRC);

describe('the import structure of src/', () => {
  it('parses every file and every import resolves to a file of src/', () => {
    expect(SRC.length).toBeGreaterThan(60);
    for (const [file, edges] of GRAPH) {
      for (const edge of edges) {
        if (edge.target.startsWith('src/')) expect(SRC, `${file} imports ${edge.target}`).toContain(edge.target);
      }
    }
  });

  it('has no import cycle, type-only imports included', () => {
    const plain = new Map([...GRAPH].map(([file, edges]) => [file, edges.map((e) => e.target)]));
    expect(cycles(plain)).toEqual([]);
  });

  it('imports nothing from a higher floor (cli, simulate → host → toolstack, peers → admission, config → backend → base)', () => {
    expect(upwardImports(GRAPH)).toEqual([]);
  });

  it('keeps admission and recovery pure: their values come only from themselves, units, errors and validate', () => {
    expect(impureAdmissionImports(GRAPH)).toEqual([]);
  });

  it('keeps every toolstack and peer-model file at 300 lines or fewer', () => {
    const long = SRC.filter((f) => f.startsWith('src/toolstack/') || f.startsWith('src/peers/'))
      .map((f) => ({ f, lines: readSource(f).split('\n').length - 1 }))
      .filter(({ lines }) => lines > 300);
    expect(long).toEqual([]);
  });
});

describe('the checks themselves catch what they look for', () => {
  it('finds a cycle, a self-import, and none in a tree', () => {
    expect(cycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]))).toEqual([['a', 'b', 'c']]);
    expect(cycles(new Map([['a', ['a']]]))).toEqual([['a']]);
    expect(cycles(new Map([['a', ['b', 'c']], ['b', ['c']], ['c', []]]))).toEqual([]);
  });

  it('flags an upward import, an effectful import into admission, and sees type-only imports as such', () => {
    const edges = importsOf('src/admission/x.ts', [
      "import { XenHost } from '../host/xen-host.js';",
      "import type { Clock } from '../clock.js';",
      "import { type XenBackend } from '../backend.js';",
      "import { readFile } from 'node:fs/promises';",
      "export { planBalloon } from './balloon-plan.js';",
    ].join('\n'));
    expect(edges).toEqual([
      { target: 'src/host/xen-host.ts', typeOnly: false },
      { target: 'src/clock.ts', typeOnly: true },
      { target: 'src/backend.ts', typeOnly: true },
      { target: 'node:fs/promises', typeOnly: false },
      { target: 'src/admission/balloon-plan.ts', typeOnly: false },
    ]);
    const graph: Graph = new Map([['src/admission/x.ts', edges]]);
    expect(upwardImports(graph)).toEqual(['src/admission/x.ts imports src/host/xen-host.ts, a higher floor']);
    expect(impureAdmissionImports(graph)).toEqual([
      'src/admission/x.ts imports src/host/xen-host.ts: admission imports nothing with effects',
      'src/admission/x.ts imports node:fs/promises: admission imports nothing with effects',
    ]);
  });
});

/**
 * Every change the toolstack and the host make to Xen passes the mutation port (docs/architecture.md#the-mutation-port):
 * the sources of src/toolstack and src/host, type-checked, never touch a XenBackend method that changes Xen — only
 * src/toolstack/mutations.ts, the port itself, does. The backend's mutators are read off the XenBackend interface:
 * every method that is not a query, so a method added to the contract is watched until it is declared a query.
 */
import { join } from 'node:path';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { filesUnder, ROOT } from './source-files.js';

/** The XenBackend methods that only read. */
const QUERIES = new Set(['physinfo', 'xenVersion', 'listDomains', 'getDomain', 'needMemoryKiB', 'freeMemoryKiB', 'tmemFreeablePages', 'close']);
const PORT = 'src/toolstack/mutations.ts';

let program: ts.Program;
let mutators: Set<ts.Symbol>;

/** Each reference (call or not) in `file` to a XenBackend mutator, as `line: text`. */
function mutatorReferences(file: string): string[] {
  const source = program.getSourceFile(join(ROOT, file));
  if (!source) throw new Error(`${file} is not in the program`);
  const checker = program.getTypeChecker();
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    const name = ts.isPropertyAccessExpression(node) ? node.name : ts.isElementAccessExpression(node) ? node.argumentExpression : undefined;
    if (name) {
      const symbol = checker.getSymbolAtLocation(name);
      if (symbol && mutators.has(symbol)) {
        const { line } = source.getLineAndCharacterOfPosition(node.getStart());
        found.push(`${file}:${line + 1}: ${node.getText()}`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

beforeAll(() => {
  const files = filesUnder('src', ['.ts']).map((f) => join(ROOT, f));
  program = ts.createProgram(files, { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, strict: true, noEmit: true, skipLibCheck: true });
  const contract = program.getSourceFile(join(ROOT, 'src/backend.ts'))!;
  const checker = program.getTypeChecker();
  const backend = contract.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === 'XenBackend')!;
  mutators = new Set();
  for (const member of backend.members) {
    if (!ts.isMethodSignature(member) || !member.name || !ts.isIdentifier(member.name) || QUERIES.has(member.name.text)) continue;
    mutators.add(checker.getSymbolAtLocation(member.name)!);
  }
}, 60_000);

describe('no backend mutator outside the mutation port', () => {
  it('reads the mutators off the contract', () => {
    const names = [...mutators].map((s) => s.name).sort();
    expect(names).toEqual(expect.arrayContaining(['createGuest', 'destroyGuest', 'setMemoryTarget', 'setMaxMem', 'claimPages', 'tmemFreeze', 'tmemThaw', 'tmemSetCap']));
    expect(names).not.toContain('physinfo');
  });

  it('finds them where they are: the port itself calls each one it carries', () => {
    const inPort = mutatorReferences(PORT);
    for (const method of ['createGuest', 'destroyGuest', 'setMemoryTarget', 'setMaxMem', 'setGuestMaxMem', 'claimPages', 'tmemFreeze', 'tmemSetCap', 'tmemThaw']) {
      expect(inPort.some((ref) => ref.includes(`.${method}`)), method).toBe(true);
    }
  });

  it('src/toolstack and src/host reach Xen\'s mutators only through the port', () => {
    const files = [...filesUnder('src/toolstack', ['.ts']), ...filesUnder('src/host', ['.ts'])].filter((f) => f !== PORT);
    expect(files.length).toBeGreaterThan(15);
    expect(files.flatMap(mutatorReferences)).toEqual([]);
  });
});

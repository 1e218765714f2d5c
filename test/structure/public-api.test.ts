/**
 * The public API is documented: every name the package exports (src/index.ts, values and types) is listed in
 * docs/api.md, and each has a docstring where it is declared, so an editor shows it to whoever imports it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ROOT } from './source-files.js';

function publicExports(): Array<{ name: string; documented: boolean }> {
  const entry = join(ROOT, 'src', 'index.ts');
  const program = ts.createProgram([entry], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, strict: true });
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!;
  return checker.getExportsOfModule(module).map((symbol) => {
    const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    return { name: symbol.getName(), documented: ts.displayPartsToString(target.getDocumentationComment(checker)).trim() !== '' };
  });
}

describe('the public API', () => {
  const exported = publicExports();

  it('is what the package exports: the four steps are all there', () => {
    const names = exported.map((e) => e.name);
    for (const name of ['openBackend', 'XenHost', 'createGuests', 'loadGuestConfig', 'parseGuestConfigFor', 'runScenario', 'loadScenario', 'XenError', 'AutoClock']) {
      expect(names).toContain(name);
    }
    expect(names.length).toBeGreaterThan(80);
  });

  it('every export is listed in docs/api.md', () => {
    const doc = readFileSync(join(ROOT, 'docs/api.md'), 'utf8');
    const missing = exported.map((e) => e.name).filter((name) => !doc.includes(`\`${name}\``) && !new RegExp(`\`(?:new )?${name}[(.<]`).test(doc));
    expect(missing).toEqual([]);
  });

  it('every export has a docstring where it is declared', () => {
    expect(exported.filter((e) => !e.documented).map((e) => e.name)).toEqual([]);
  });
});

/**
 * The project is self-contained: what its code, tests, README, scripts and CLI help cite lives in the repository.
 * No pointer to a sibling folder or an issue tracker; Xen's rules and the peers' lessons are cited by their anchors
 * in docs/claim-rules.md (never as a bare "rule 7"); every `*.md` named resolves to a file here, and every
 * `docs/FILE.md#section` to a section of it.
 */
import { existsSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { filesUnder, readSource, ROOT } from './source-files.js';

const SCANNED = [
  ...filesUnder('src', ['.ts']),
  ...filesUnder('test', ['.ts', '.cjs', '.c', '.cc', '.sh', '.md']),
  ...filesUnder('bench', ['.ts']),
  ...filesUnder('docs', ['.md']),
  ...filesUnder('examples', ['.md', '.json']),
  ...filesUnder('native', ['.cc', '.h', '.md']),
  ...filesUnder('scripts', ['.sh', '.mjs', '.md', '.ts']),
  'README.md',
  'package.json',
  '.ci/run',
].filter((file) => file !== 'test/structure/self-contained.test.ts');

const OUTSIDE: readonly [RegExp, string][] = [
  [/\.\.\/shared\b/, 'a sibling folder outside the repository'],
  [/(?<![\w-])shared\/[\w.-]+\.md/, "the reference folder outside the repository: cite docs/ instead"],
  [/\/work\//, 'a path on one machine'],
  [/\bissues? #?\d+\b/i, "the project's issue tracker: say what is meant instead"],
  [/\b(?:rules?|lessons?)\s+\d/i, 'a bare rule or lesson number: cite docs/claim-rules.md#rule-N or #lesson-N'],
];

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-');
}

function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  for (const match of markdown.matchAll(/<a id="([\w-]+)"><\/a>/g)) anchors.add(match[1]!);
  for (const match of markdown.matchAll(/^#{1,6} (.+)$/gm)) anchors.add(slug(match[1]!));
  return anchors;
}

/** Problems with what `text` (the contents of `file`) points at. */
function pointers(file: string, text: string): string[] {
  const problems: string[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    // A markdown heading defines (docs/claim-rules.md's "Rule 7"); a link's text is cited by its target.
    const pointing = file.endsWith('.md') && /^#{1,6} /.test(line) ? '' : line.replace(/\[[^\]]*\]\(([^)]*)\)/g, '$1');
    for (const [pattern, why] of OUTSIDE) {
      const match = pattern.exec(pointing);
      if (match) problems.push(`${file}:${i + 1}: "${match[0]}" points outside: ${why}`);
    }
    for (const match of line.matchAll(/(?<![\w/.-])((?:\.\.?\/)*(?:[\w.-]+\/)*[\w.-]+\.md)(?:#([\w-]+))?/g)) {
      const [whole, path, anchor] = match;
      const candidates = [normalize(path!), normalize(join(dirname(file), path!))];
      const target = candidates.find((c) => !c.startsWith('..') && existsSync(join(ROOT, c)));
      if (target === undefined) {
        problems.push(`${file}:${i + 1}: ${whole} is not a file of the repository`);
        continue;
      }
      if (anchor !== undefined && !anchorsOf(readSource(target)).has(anchor)) {
        problems.push(`${file}:${i + 1}: ${whole}: ${target} has no section #${anchor}`);
      }
    }
  });
  return problems;
}

describe('everything cited lives in the repository', () => {
  it('scans the code, tests, docs, scripts and README', () => {
    expect(SCANNED).toEqual(expect.arrayContaining(['README.md', 'src/cli/commands/simulate.ts', 'docs/claim-rules.md', 'docs/architecture.md']));
  });

  it('nothing points outside the repository, and every docs link and section resolves', () => {
    expect(SCANNED.flatMap((file) => pointers(file, readSource(file)))).toEqual([]);
  });

  it('every rule and lesson of docs/claim-rules.md has its stable anchor', () => {
    const anchors = anchorsOf(readSource('docs/claim-rules.md'));
    for (let n = 1; n <= 15; n++) expect(anchors, `rule-${n}`).toContain(`rule-${n}`);
    for (let n = 1; n <= 13; n++) expect(anchors, `lesson-${n}`).toContain(`lesson-${n}`);
  });

  it('the check catches each kind of pointer outside, a missing file and a missing section', () => {
    const text = [
      'see ../shared/scenario-format.md',
      'as in shared/xen-claim-rules.md',
      'fixed for issue 5',
      'the allocation gate (rule 7)',
      'lesson 9 says so',
      'docs/nowhere.md',
      'docs/claim-rules.md#rule-99',
      'docs/claim-rules.md#rule-7 and docs/architecture.md#the-wait-loop are fine',
    ].join('\n');
    const lines = new Set(pointers('src/x.ts', text).map((p) => Number(p.split(':')[1])));
    expect([...lines]).toEqual([1, 2, 3, 4, 5, 6, 7]);
    // In markdown, a heading defines and a link cites.
    expect(pointers('docs/x.md', '### Rule 7: the gate\nas [rule 7](claim-rules.md#rule-7) says')).toEqual([]);
    expect(pointers('docs/x.md', 'as rule 7 says')).toHaveLength(1);
  });
});

#!/usr/bin/env node
// Prints the summary of a vitest JSON report from the nested dom0: counts, every failure with its message,
// every skipped test (a skip is never a pass). Exits 1 when a test failed or nothing ran at all.
// Usage: summarize.mjs VITEST_JSON [VITEST_LOG] [LABEL, e.g. "Debian 13 (trixie), Xen 4.20.4"]
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const report = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const out = (line) => process.stderr.write(`${line}\n`);
const files = report.testResults ?? [];
const cases = files.flatMap((file) =>
  (file.assertionResults ?? []).map((test) => ({ ...test, file: file.name })),
);
const count = (status) => cases.filter((test) => test.status === status).length;
const passed = count('passed');
const failed = count('failed');
const skipped = cases.length - passed - failed;
const shortName = (file) => (file.includes('/test/') ? file.slice(file.indexOf('/test/') + 1) : relative(process.cwd(), file));

const label = process.argv[4] ? ` (${process.argv[4]})` : '';
out(`nested-xen: tests in dom0${label}: ${cases.length} total, ${passed} passed, ${failed} failed, ${skipped} skipped, in ${files.length} files`);
for (const file of files) {
  const mine = cases.filter((test) => test.file === file.name);
  const n = (status) => mine.filter((test) => test.status === status).length;
  out(`  ${shortName(file.name)}: ${n('passed')} passed, ${n('failed')} failed, ${mine.length - n('passed') - n('failed')} skipped`);
  if (file.status === 'failed' && mine.length === 0) out(`    FILE FAILED: ${(file.message ?? '').split('\n').slice(0, 12).join('\n    ')}`);
}
for (const test of cases.filter((t) => t.status === 'failed')) {
  out(`  ✗ ${shortName(test.file)} › ${test.fullName}`);
  for (const message of test.failureMessages ?? []) out(`      ${message.split('\n').slice(0, 14).join('\n      ')}`);
}
for (const test of cases.filter((t) => t.status !== 'passed' && t.status !== 'failed')) {
  out(`  ↓ skipped: ${shortName(test.file)} › ${test.fullName}${test.meta?.note ? ` [${test.meta.note}]` : ''}`);
}
const fileFailures = files.filter((file) => file.status === 'failed').length;
if (failed > 0 || fileFailures > 0) {
  out(`  (full output, with each XenError's captured Xen log lines: ${process.argv[3] ?? 'vitest.log'})`);
}
if (cases.length === 0) out('nested-xen: FAILED: no test ran in dom0');
process.exit(failed > 0 || fileFailures > 0 || cases.length === 0 || report.success === false ? 1 : 0);

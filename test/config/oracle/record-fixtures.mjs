#!/usr/bin/env node
// Records what Xen 4.17's own `xl -N create` prints for test/config/fixtures/NAME.cfg into NAME.xl.json, the random
// UUID of a UUID-less config replaced by the fixed one the tests inject (FIXED_UUID in ../oracle-host.ts).
// Usage: node test/config/oracle/record-fixtures.mjs [NAME.cfg...]   (default: every fixture not named bad-*)
// Needs the oracle: test/config/oracle/setup.sh (XENCLAIM_XL_ORACLE, or its default path).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FIXED_UUID = '0e7b6c3a-5f0d-4d8e-9a51-3c2b1f0e9d77';
const oracle = process.env.XENCLAIM_XL_ORACLE ?? '/tmp/xenclaim-xl-oracle/xl-dry-run.sh';
if (!existsSync(oracle)) {
  console.error(`no xl oracle at ${oracle}: run test/config/oracle/setup.sh first`);
  process.exit(2);
}
const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));
const names = process.argv.length > 2 ? process.argv.slice(2).map((f) => basename(f)) : readdirSync(fixtures).filter((f) => f.endsWith('.cfg') && !f.startsWith('bad-'));
let failed = 0;
for (const name of names) {
  const r = spawnSync(oracle, [join(fixtures, name)], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(`${name}: xl failed (${r.status}): ${r.stderr.trim()}`);
    failed++;
    continue;
  }
  const uuid = JSON.parse(r.stdout).c_info.uuid;
  const random = uuid && !/^uuid\s*=/m.test(readFileSync(join(fixtures, name), 'utf8'));
  const text = random ? r.stdout.replace(uuid, FIXED_UUID) : r.stdout;
  writeFileSync(join(fixtures, name.replace(/\.cfg$/, '.xl.json')), text);
  console.log(`${name}: recorded`);
}
process.exitCode = failed ? 1 : 0;

/**
 * Differential tests against Xen 4.17's own xl (`xl -N create`, a dry run that prints libxl's JSON), run through
 * the no-hypervisor shim in oracle/. They run where the xl-dry-run.sh that oracle/setup.sh makes exists
 * (XENCLAIM_XL_ORACLE, or its default path; CI sets it up), and are skipped, visibly, everywhere else.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseGuestConfig } from '../../src/config/index.js';
import { compareWithXl, ORACLE, ORACLE_SKIP_REASON, runXl } from './oracle/oracle.js';

const available = ORACLE !== undefined;
const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const scratch = available ? mkdtempSync(join(tmpdir(), 'xenclaim-xl-oracle-')) : '';

function compare(path: string): void {
  const r = compareWithXl(path, readFileSync(path, 'utf8'));
  expect(r.xl.status, r.xl.stderr).toBe(0);
  expect(r.ours).toBe(r.xl.stdout);
}

function writeCfg(name: string, body: string): string {
  const path = join(scratch, name);
  writeFileSync(path, body);
  return path;
}

describe.skipIf(!available)(available ? 'xl oracle: Xen 4.17 xl -N create' : ORACLE_SKIP_REASON, () => {
  const goodFixtures = readdirSync(fixtures).filter((f) => f.endsWith('.cfg') && !f.startsWith('bad-'));
  for (const name of goodFixtures) {
    it(`${name}: same JSON as xl`, () => compare(join(fixtures, name)));
    it(`${name}: the committed .xl.json is still what xl prints`, () => {
      const committed = join(fixtures, name.replace(/\.cfg$/, '.xl.json'));
      expect(existsSync(committed), `${committed}: record it with oracle/record-fixtures.mjs`).toBe(true);
      const xl = runXl(join(fixtures, name));
      const text = readFileSync(committed, 'utf8');
      const uuid = (JSON.parse(text) as { c_info: { uuid: string } }).c_info.uuid;
      expect(xl.stdout.replace((xl.json!['c_info'] as { uuid: string }).uuid, uuid)).toBe(text);
    });
  }

  const badFixtures = readdirSync(fixtures).filter((f) => f.startsWith('bad-') && f.endsWith('.cfg'));
  for (const name of badFixtures) {
    it(`${name}: xl complains about the same line`, () => {
      const path = join(fixtures, name);
      let ours: ConfigError | undefined;
      try {
        parseGuestConfig(readFileSync(path, 'utf8'), path);
      } catch (err) {
        ours = err as ConfigError;
      }
      expect(ours).toBeInstanceOf(ConfigError);
      // xl reports `FILE:LINE: config parsing error ...` or `FILE:LINE: warning: ...`
      expect(runXl(path).stderr).toContain(`${path}:${ours!.line}: `);
    });
  }

  const specs = (file: string): string[] =>
    (JSON.parse(readFileSync(join(fixtures, file), 'utf8')) as Array<{ spec: string; disk?: unknown }>)
      .filter((c) => c.disk !== undefined || file.startsWith('vif'))
      .map((c) => c.spec);

  it('every accepted disk spec in disk-specs.xl.json gives the same JSON as xl', () => {
    const list = specs('disk-specs.xl.json');
    compare(writeCfg('disks.cfg', `name = "d"\nkernel = "/k"\ndisk = [\n${list.map((s) => `  ${JSON.stringify(s)},`).join('\n')}\n]\n`));
  });

  it('every vif spec in vif-specs.xl.json gives the same JSON as xl', () => {
    const list = specs('vif-specs.xl.json');
    compare(writeCfg('vifs.cfg', `name = "v"\nkernel = "/k"\nvif = [\n${list.map((s) => `  ${JSON.stringify(s)},`).join('\n')}\n]\n`));
  });

  const syntax: Array<[string, string]> = [
    ['separators and comments', `name = "s" ; kernel = '/k' # c\n;;\nmemory = 0x100\nvcpus = 2; maxvcpus = 010\n`],
    ['+= on strings and lists', `name = "s"\nkernel = "/k"\nextra = "a"\nextra += " b"\nvif = ['']\nvif += [\n 'bridge=x',\n]\n`],
    ['escapes', `name = "s"\nkernel = "/k"\nextra = "q\\"d\\' \\\\ \\t \\n"\n`],
    ['no final newline', `name = "s"\nkernel = "/k"`],
    ['type abbreviations', `name = "s"\ntype = "h"\n`],
    ['root and extra', `name = "s"\nkernel = "/k"\nroot = "/dev/xvda1 ro"\nextra = "quiet"\n`],
    ['pv with vnc: a vfb and a vkb', `name = "s"\nkernel = "/k"\nvnc = 1\nsdl = 1\nvnclisten = "0.0.0.0"\nkeymap = "de"\n`],
    ['pvh ignores the display keys', `name = "s"\nkernel = "/k"\ntype = "pvh"\nvnc = 1\nsdl = 1\n`],
    ['hvm display keys', `name = "s"\ntype = "hvm"\nvnc = 1\nvnclisten = "0.0.0.0"\nvncpasswd = "pw"\nvncdisplay = 3\nvncunused = 0\nsdl = 1\nopengl = 1\ndisplay = ":0"\nxauthority = "/x"\nkeymap = "de"\n`],
    ['all-zero uuid', `name = "s"\nkernel = "/k"\nuuid = "00000000-0000-0000-0000-000000000000"\n`],
    ['vif rates', `name = "s"\nkernel = "/k"\nvif = [ 'rate=10Mb/s', 'rate=1GB/s@20ms', 'rate=5b/s@100us' ]\n`],
    ['actions', `name = "s"\nkernel = "/k"\non_poweroff = "coredump-destroy"\non_reboot = "preserve"\non_watchdog = "rename-restart"\non_crash = "restart"\non_soft_reset = "destroy"\n`],
  ];
  for (const [what, body] of syntax) {
    it(`syntax: ${what}`, () => compare(writeCfg('syntax.cfg', body)));
  }

  it('the one known deviation: xl prints rdm\'s uninitialised policy as null, xenclaim leaves it to libxl', () => {
    const path = writeCfg('rdm.cfg', `name = "s"\ntype = "hvm"\nrdm = "strategy=host"\npci = [ '01:00.0' ]\n`);
    const xl = runXl(path);
    expect(xl.stdout).toMatch(/"rdm": \{\n\s+"strategy": "host",\n\s+"policy": null\n/);
    compare(path);
  });

  const syntaxErrors: string[] = [
    `name = "s"\nkernel = "/k\n`,
    `name = "s"\n\nkernel "/k"\n`,
    `name = "s"\ndisk = [ "a"\n "b" ]\n`,
    `name = "s"\nmemory = 512M\n`,
    `name = "s"\n# no newline`,
    `name = "s"\r\n`,
    `name = "s"\nkernel = "\\x41"\n`,
    `name = "s"\nkernel = \\\n "/k"\n`,
  ];
  for (const body of syntaxErrors) {
    it(`syntax error on the same line as xl: ${JSON.stringify(body)}`, () => {
      const path = writeCfg('error.cfg', body);
      let ours: ConfigError | undefined;
      try {
        parseGuestConfig(body, path);
      } catch (err) {
        ours = err as ConfigError;
      }
      expect(ours).toBeInstanceOf(ConfigError);
      const xl = runXl(path);
      expect(xl.status).not.toBe(0);
      expect(xl.stderr).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${ours!.line}: config parsing error`, 'm'));
    });
  }
});

/**
 * The addon pins libuv's SIGCHLD handler at load and later chains libxl's to it (native/sigchld_chain.h): Node's
 * own child processes must keep working in a process that loaded the addon and used libxl (here libxl's ctx
 * cannot be created without Xen, so this checks the load-time half; the real-Xen tests check the rest).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ADDON_PATH } from './helpers.js';

const SCRIPT = `
const { spawn, spawnSync, execFileSync } = require('node:child_process');
const addon = require(process.argv[1]);
const exitOf = (child) => new Promise((resolve) => child.on('exit', (code) => resolve(code)));
(async () => {
  const results = [];
  results.push(spawnSync('sh', ['-c', 'exit 3']).status);          // a private libuv loop: SIGCHLD watcher comes and goes
  results.push(await exitOf(spawn('sh', ['-c', 'exit 4'])));        // the main loop's child watcher
  await addon.freeMemoryKiB().catch(() => undefined);               // libxl (its ctx, where Xen exists)
  results.push(await exitOf(spawn('sh', ['-c', 'exit 5'])));
  results.push(spawnSync('sh', ['-c', 'exit 6']).status);
  const many = await Promise.all(Array.from({ length: 8 }, (_, i) => exitOf(spawn('sh', ['-c', 'exit ' + (10 + i)]))));
  results.push(...many);
  results.push(execFileSync('sh', ['-c', 'echo ok']).toString().trim());
  process.stdout.write(JSON.stringify(results));
})();
`;

/**
 * A hung child fails the test after this long. The child is a whole Node process: 7 s in the nested dom0 of an idle
 * machine, over 30 s when two nested runs share a loaded 2-core host.
 */
const CHILD_TIMEOUT_MS = 120_000;

describe("Node's child processes in a process that loaded the addon", () => {
  it('spawn, spawnSync and exit events all still work, before and after a libxl call', { timeout: CHILD_TIMEOUT_MS + 10_000 }, () => {
    const child = spawnSync(process.execPath, ['-e', SCRIPT, ADDON_PATH], { encoding: 'utf8', timeout: CHILD_TIMEOUT_MS });
    expect(child.error).toBeUndefined();
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toEqual([3, 4, 5, 6, 10, 11, 12, 13, 14, 15, 16, 17, 'ok']);
  });
});

const PROBE_SCRIPT = `
const { spawn, spawnSync } = require('node:child_process');
const probe = require(process.argv[1]);
const exitOf = (child) => new Promise((resolve) => child.on('exit', (code) => resolve(code)));
(async () => {
  const results = [];
  results.push(await exitOf(spawn('sh', ['-c', 'exit 1'])));        // libuv's handler is in place, Node reaps
  results.push(probe.negotiate());                                   // libxl's stand-in must find SIG_DFL
  results.push(await exitOf(spawn('sh', ['-c', 'exit 2'])));        // after the chain: Node still sees exits
  results.push(spawnSync('sh', ['-c', 'exit 3']).status);
  results.push(...(await Promise.all([4, 5, 6].map((n) => exitOf(spawn('sh', ['-c', 'sleep 0.05; exit ' + n]))))));
  results.push(probe.libxlHandlerCalls() >= 5);                      // and libxl's handler heard every exit
  for (let join = 0; join < 3; join++) {                             // more ctxs join libxl (the build pool)
    probe.anotherContextJoins(true);
    results.push(await exitOf(spawn('sh', ['-c', 'exit ' + (20 + join)])));
  }
  const before = probe.libxlHandlerCalls();
  results.push(spawnSync('sh', ['-c', 'exit 7']).status);
  results.push(await exitOf(spawn('sh', ['-c', 'exit 8'])));
  results.push(probe.libxlHandlerCalls() > before);                 // libxl still hears exits too
  process.stdout.write(JSON.stringify(results));
})();
`;

// Without the chain put back, Node never hears its child exit: the child is killed after 2 s and the script says so.
const UNRESTORED_SCRIPT = `
const { spawn } = require('node:child_process');
const probe = require(process.argv[1]);
probe.negotiate();
probe.anotherContextJoins(false);
const child = spawn('sh', ['-c', 'exit 9']);
const timer = setTimeout(() => { process.stdout.write('"no exit event"'); process.exit(0); }, 2000);
child.on('exit', (code) => { clearTimeout(timer); process.stdout.write(JSON.stringify(code)); });
`;

describe('SIGCHLD negotiation between libuv and libxl (native/sigchld_chain.cc, with a stand-in for libxl)', () => {
  it('libxl finds SIG_DFL as it requires, and afterwards both Node and libxl hear child exits', { timeout: CHILD_TIMEOUT_MS + 10_000 }, () => {
    const probe = ADDON_PATH.replace(/xenclaim\.node$/, 'sigchld_probe.node');
    const child = spawnSync(process.execPath, ['-e', PROBE_SCRIPT, probe], { encoding: 'utf8', timeout: CHILD_TIMEOUT_MS });
    expect(child.error).toBeUndefined();
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toEqual([1, true, 2, 3, 4, 5, 6, true, 20, 21, 22, 7, 8, true]);
  });

  it("a further libxl ctx re-installs libxl's bare handler: left alone, Node stops hearing exits (why the pool restores the chain)", () => {
    const probe = ADDON_PATH.replace(/xenclaim\.node$/, 'sigchld_probe.node');
    const child = spawnSync(process.execPath, ['-e', UNRESTORED_SCRIPT, probe], { encoding: 'utf8', timeout: 30_000 });
    expect(child.error).toBeUndefined();
    expect(JSON.parse(child.stdout)).toBe('no exit event');
  });
});

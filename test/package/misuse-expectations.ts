/**
 * What each misuse case of misuse.mjs must give: a rejected promise or a thrown error (for constructors and other
 * synchronous calls) with EINVAL naming the option, or a result the caller sees — never a crash or an unhandled
 * rejection. Shared by the two tests that run misuse.mjs (this checkout, and the installed tarball).
 */
import { spawnSync } from 'node:child_process';
import { expect } from 'vitest';

interface Expected {
  outcome: 'rejected' | 'threw' | 'resolved' | 'returned';
  code?: string;
  message?: RegExp;
  value?: unknown;
}

const einval = (outcome: 'rejected' | 'threw', message: RegExp): Expected => ({ outcome, code: 'EINVAL', message });

export const MISUSE: Readonly<Record<string, Expected>> = {
  'createGuests(xen, [null])': einval('rejected', /^createGuests: requests\[0\] must be an object, got null$/),
  'createGuests(xen, null)': einval('rejected', /^createGuests: requests must be an array of guest requests, got null$/),
  'createGuests(xen, [{ name }])': einval('rejected', /^createGuests: requests\[0\]\.config must be an object, got undefined$/),
  'createGuests(xen, [request], null)': einval('rejected', /^createGuests: options must be an object, got null$/),
  'createGuests(xen, [request], { floors })': einval('rejected', /^createGuests: unknown option "floors" \(known: backend, clock, strategy, floorsKiB, /),
  'createGuests(xen, [request], { onEvent: 5 })': einval('rejected', /^createGuests: onEvent must be a function, got 5$/),
  'createGuests(xen, [too big for the host])': { outcome: 'resolved', value: [{ name: 'huge', ok: false, domid: null, code: 'ENOMEM' }] },
  'createGuests(xen, [a, a])': {
    outcome: 'resolved',
    value: [{ name: 'twice', ok: true, domid: expect.any(Number), code: null }, { name: 'twice', ok: false, domid: null, code: 'EEXIST' }],
  },
  'createGuests with a listener that throws': { outcome: 'resolved', value: [{ name: 'heard', ok: true, domid: expect.any(Number), code: null }] },
  'new XenHost floorsKiB as a plain object': { outcome: 'returned', value: [['web1', 524288]] },
  'new XenHost floorsKiB as a Map': { outcome: 'returned', value: [['web1', 524288]] },
  'new XenHost floorsKiB { web1: -1 }': einval('threw', /^XenHost: floorsKiB\.web1 must be a finite number of KiB >= 0, got -1$/),
  'new XenHost floorsKiB Map web1 → NaN': einval('threw', /^XenHost: floorsKiB\.web1 must be a finite number of KiB >= 0, got NaN$/),
  'new XenHost floorsKiB as an array': einval('threw', /^XenHost: floorsKiB must be a Map or a plain object of guest name → KiB, got an array$/),
  'new XenHost floorsKiB { "bad name": 1 }': einval('threw', /^XenHost: floorsKiB key must be a name of 1 to 64 characters .*, got "bad name"$/),
  'new XenHost wait { maxWaitMs: NaN }': einval('threw', /^XenHost: wait\.maxWaitMs must be null or a finite number >= 0, got NaN$/),
  'new XenHost wait { stallTimeoutMs: -1 }': einval('threw', /^XenHost: wait\.stallTimeoutMs must be a finite number >= 0, got -1$/),
  'new XenHost wait { budget: 1 }': einval('threw', /^XenHost: wait\.budget must be a known setting \(stallTimeoutMs, maxWaitMs, targetTolerancePages, rateWindowMs\)/),
  'new XenHost pollMs NaN': einval('threw', /^XenHost: pollMs must be a finite number > 0 and at most 3600000 \(ms\), got NaN$/),
  'new XenHost policy { dom0MinKiB: -1 }': einval('threw', /^XenHost: policy\.dom0MinKiB must be a finite number >= 0, got -1$/),
  'new XenHost strategy "fastest"': einval('threw', /^XenHost: strategy must be one of 'claim-first', 'limit-and-check', 'model', got "fastest"$/),
  'new XenHost backend {}': einval('threw', /^XenHost: backend must be a XenBackend \(what openBackend returns\), got an object$/),
  'new XenHost()': einval('threw', /^XenHost: options must be an object, got undefined$/),
  'host.admit(null)': einval('rejected', /^admit: request must be an object, got null$/),
  'host.createGuests("web1")': einval('rejected', /^createGuests: requests must be an array of guest requests, got "web1"$/),
  'host.setMemoryTarget(-1, 1)': einval('rejected', /^setMemoryTarget: domid must be an integer from 0 to 32751, got -1$/),
  'host.setMaxMem(0, NaN)': einval('rejected', /^setMaxMem: maxKiB must be an integer from 0 to \d+, got NaN$/),
  'host.setFloor("web1", -1)': einval('threw', /^setFloor: floor of web1 must be a finite number of KiB >= 0, got -1$/),
  'host.subscribe(null)': einval('threw', /^subscribe: listener must be a function, got null$/),
  'openBackend()': einval('rejected', /^openBackend: options must be an object, got undefined$/),
  'openBackend({ kind: "kvm" })': einval('rejected', /^openBackend: options\.kind must be one of 'native', 'mock', 'auto', got "kvm"$/),
  'openBackend({ kind: "native" }) without Xen': { outcome: 'rejected', code: 'ENOENT', message: /^openBackend: Xen is not reachable: not a Xen dom0 \(no \/dev\/xen\/privcmd\)/ },
  'loadGuestConfig("/nonexistent.cfg")': { outcome: 'rejected', code: 'ENOENT', message: /^config: cannot read \/nonexistent\.cfg: ENOENT$/ },
  'loadGuestConfig(undefined)': einval('rejected', /^config: path must be a non-empty file path, got undefined$/),
  'parseGuestConfig(a list 4,000 deep)': einval('threw', /^deep\.cfg:2:41: lists in 'vnuma' nest more than 32 deep/),
  'parseGuestConfigFor(xen, an HVM guest of 8 MiB)': einval('rejected', /^h1\.cfg:3:10: memory = 8: config\.b_info\.target_memkb must be above video_memkb \+ 128 KiB for an HVM guest, got 8192$/),
  'runScenario(null)': einval('rejected', /^scenario: must be an object, got null$/),
  'runScenario(scenario, { strategies: ["fastest"] })': einval('rejected', /^runScenario: strategies\[0\] must be one of 'claim-first', 'limit-and-check', 'model', got "fastest"$/),
  'runScenario(scenario, { limitS: -1 })': einval('rejected', /^runScenario: limitS must be a finite number of seconds > 0, got -1$/),
  'runScenario(a plain object)': { outcome: 'resolved', value: [['claim-first', 1, 0], ['limit-and-check', 1, 0], ['model', 1, 0]] },
  'parseScenario("{")': einval('threw', /^scenario: is not valid JSON/),
  'loadScenario("/nonexistent.json")': { outcome: 'rejected', code: 'ENOENT', message: /^simulate: cannot read \/nonexistent\.json: ENOENT$/ },
  'xen.createGuest(null)': einval('rejected', /^createGuest: config must be an object, got null$/),
  'new MockBackend({ host: { memoryMiB: -1 } })': einval('threw', /^MockBackend: host\.memoryMiB must be an integer from 256 to \d+, got -1$/),
  'await xen.createGuest(config), nobody driving the clock': { outcome: 'resolved', value: expect.any(Number) },
};

/**
 * Runs misuse.mjs with `node --unhandled-rejections=strict` in `cwd` (where `import 'xenclaim'` resolves to the
 * package under test) and checks every case against MISUSE: each one, and nothing else, in order.
 */
export function runMisuse(script: string, cwd: string): void {
  const child = spawnSync(process.execPath, ['--unhandled-rejections=strict', script], { cwd, encoding: 'utf8', timeout: 120_000 });
  expect(child.error).toBeUndefined();
  expect(child.stderr).toBe('');
  expect(child.status).toBe(0);
  const lines = child.stdout.trim().split('\n').map((line) => JSON.parse(line) as { case: string; outcome: string; code?: string; message?: string; value?: unknown });
  expect(lines.map((l) => l.case)).toEqual(Object.keys(MISUSE));
  for (const line of lines) {
    const expected = MISUSE[line.case]!;
    expect(line.outcome, line.case).toBe(expected.outcome);
    if (expected.code !== undefined) expect(line.code, line.case).toBe(expected.code);
    if (expected.message !== undefined) expect(line.message, line.case).toMatch(expected.message);
    if ('value' in expected) expect(line.value, line.case).toEqual(expected.value);
  }
}

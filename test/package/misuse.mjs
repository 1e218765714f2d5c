// Misusing the package, the way a newcomer does: each case's outcome (resolved, rejected or threw, with the error's
// code and message) as one JSON line. Run in a child Node with --unhandled-rejections=strict by
// test/package/readme.test.ts (against this checkout) and test/package/pack.test.ts (against the installed tarball):
// an unhandled rejection anywhere kills the process, and the tests see it. Plain JavaScript: it runs as a consumer
// runs it, on the simulated host.
import {
  createGuests, loadGuestConfig, loadScenario, MockBackend, openBackend, parseGuestConfig, parseGuestConfigFor,
  parseScenario, runScenario, XenHost,
} from 'xenclaim';

const xen = await openBackend({ kind: 'mock', host: { memoryMiB: 4096, dom0MiB: 1024 } });
const pv = (name, mib) => ({ name, config: { c_info: { type: 'pv', name }, b_info: { max_memkb: mib * 1024, target_memkb: mib * 1024 } } });
const scenario = { host: { memoryMiB: 4096, dom0MiB: 1024 }, requests: [{ name: 'r1', memoryMiB: 256 }] };
const host = () => new XenHost({ backend: xen });
const summary = (results) => results.map((r) => ({ name: r.name, ok: r.ok, domid: r.domid, code: r.error?.code ?? null }));

const cases = {
  'createGuests(xen, [null])': () => createGuests(xen, [null]),
  'createGuests(xen, null)': () => createGuests(xen, null),
  'createGuests(xen, [{ name }])': () => createGuests(xen, [{ name: 'a' }]),
  'createGuests(xen, [request], null)': () => createGuests(xen, [pv('a', 64)], null),
  'createGuests(xen, [request], { floors })': () => createGuests(xen, [pv('a', 64)], { floors: { web1: 1 } }),
  'createGuests(xen, [request], { onEvent: 5 })': () => createGuests(xen, [pv('a', 64)], { onEvent: 5 }),
  'createGuests(xen, [too big for the host])': async () => summary(await createGuests(xen, [pv('huge', 65536)])),
  'createGuests(xen, [a, a])': async () => summary(await createGuests(xen, [pv('twice', 64), pv('twice', 64)])),
  'createGuests with a listener that throws': async () => summary(await createGuests(xen, [pv('heard', 64)], { onEvent: () => { throw new Error('tty gone'); } })),
  'new XenHost floorsKiB as a plain object': () => [...new XenHost({ backend: xen, floorsKiB: { web1: 524288 } }).floorsKiB()],
  'new XenHost floorsKiB as a Map': () => [...new XenHost({ backend: xen, floorsKiB: new Map([['web1', 524288]]) }).floorsKiB()],
  'new XenHost floorsKiB { web1: -1 }': () => new XenHost({ backend: xen, floorsKiB: { web1: -1 } }),
  'new XenHost floorsKiB Map web1 → NaN': () => new XenHost({ backend: xen, floorsKiB: new Map([['web1', NaN]]) }),
  'new XenHost floorsKiB as an array': () => new XenHost({ backend: xen, floorsKiB: [['web1', 1]] }),
  'new XenHost floorsKiB { "bad name": 1 }': () => new XenHost({ backend: xen, floorsKiB: { 'bad name': 1 } }),
  'new XenHost wait { maxWaitMs: NaN }': () => new XenHost({ backend: xen, wait: { maxWaitMs: NaN } }),
  'new XenHost wait { stallTimeoutMs: -1 }': () => new XenHost({ backend: xen, wait: { stallTimeoutMs: -1 } }),
  'new XenHost wait { budget: 1 }': () => new XenHost({ backend: xen, wait: { budget: 1 } }),
  'new XenHost pollMs NaN': () => new XenHost({ backend: xen, pollMs: NaN }),
  'new XenHost policy { dom0MinKiB: -1 }': () => new XenHost({ backend: xen, policy: { dom0MinKiB: -1 } }),
  'new XenHost strategy "fastest"': () => new XenHost({ backend: xen, strategy: 'fastest' }),
  'new XenHost backend {}': () => new XenHost({ backend: {} }),
  'new XenHost()': () => new XenHost(),
  'host.admit(null)': () => host().admit(null),
  'host.createGuests("web1")': () => host().createGuests('web1'),
  'host.setMemoryTarget(-1, 1)': () => host().setMemoryTarget(-1, 1),
  'host.setMaxMem(0, NaN)': () => host().setMaxMem(0, NaN),
  'host.setFloor("web1", -1)': () => host().setFloor('web1', -1),
  'host.subscribe(null)': () => host().subscribe(null),
  'openBackend()': () => openBackend(),
  'openBackend({ kind: "kvm" })': () => openBackend({ kind: 'kvm' }),
  'openBackend({ kind: "native" }) without Xen': () => openBackend({ kind: 'native' }),
  'loadGuestConfig("/nonexistent.cfg")': () => loadGuestConfig('/nonexistent.cfg'),
  'loadGuestConfig(undefined)': () => loadGuestConfig(undefined),
  'parseGuestConfig(a list 4,000 deep)': () => parseGuestConfig(`name = "g"\nvnuma = ${'['.repeat(4000)}${']'.repeat(4000)}\n`, 'deep.cfg'),
  'parseGuestConfigFor(xen, an HVM guest of 8 MiB)': () => parseGuestConfigFor(xen, 'name = "h1"\ntype = "hvm"\nmemory = 8\n', 'h1.cfg'),
  'runScenario(null)': () => runScenario(null),
  'runScenario(scenario, { strategies: ["fastest"] })': () => runScenario(scenario, { strategies: ['fastest'] }),
  'runScenario(scenario, { limitS: -1 })': () => runScenario(scenario, { limitS: -1 }),
  'runScenario(a plain object)': async () => (await runScenario(scenario)).map((r) => [r.strategy, r.started, r.leakedClaimPages]),
  'parseScenario("{")': () => parseScenario('{'),
  'loadScenario("/nonexistent.json")': () => loadScenario('/nonexistent.json'),
  'xen.createGuest(null)': () => xen.createGuest(null),
  'new MockBackend({ host: { memoryMiB: -1 } })': () => new MockBackend({ host: { memoryMiB: -1 } }),
  'await xen.createGuest(config), nobody driving the clock': () => xen.createGuest(pv('nodriver', 64).config),
};

const only = process.argv[2];
for (const [name, run] of Object.entries(cases)) {
  if (only !== undefined && name !== only) continue;
  let outcome;
  try {
    const value = run();
    outcome = value instanceof Promise
      ? await value.then((v) => ({ outcome: 'resolved', value: v }), (e) => ({ outcome: 'rejected', error: e }))
      : { outcome: 'returned', value };
  } catch (error) {
    outcome = { outcome: 'threw', error };
  }
  const { error } = outcome;
  const value = outcome.value instanceof XenHost ? 'a XenHost' : outcome.value;
  process.stdout.write(`${JSON.stringify({
    case: name,
    outcome: outcome.outcome,
    ...(error === undefined ? { value } : { name: error?.name, code: error?.code, message: error?.message }),
  })}\n`);
}
await xen.close();

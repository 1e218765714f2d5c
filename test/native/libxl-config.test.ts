/**
 * What NativeBackend hands libxl as JSON: libxl's parser takes a defbool only as 'True'/'False'/'<default>', and
 * createGuest's claim choice must reach b_info.claim_mode without touching the caller's object.
 */
import { describe, expect, it } from 'vitest';
import type { LibxlDomainConfig } from '../../src/backend.js';
import { NativeBackend, checkLibxlConfig } from '../../src/native/backend.js';
import type { NativeBinding } from '../../src/native/binding.js';
import { loadAddon } from './helpers.js';

const base = (): LibxlDomainConfig => ({ c_info: { type: 'pv', name: 'g' }, b_info: { max_memkb: 131072, target_memkb: 131072, 'type.pv': {} } });

describe('checkLibxlConfig', () => {
  it('turns a boolean claim_mode into the defbool string libxl parses', () => {
    const config = base();
    config.b_info.claim_mode = false;
    const checked = checkLibxlConfig('createGuest', config);
    expect(checked.claimMode).toBe(false);
    expect(JSON.parse(checked.json).b_info.claim_mode).toBe('False');
    expect(config.b_info.claim_mode).toBe(false); // the caller's object is untouched
  });

  it("an explicit claim replaces the config's; absent both, no claim_mode is written", () => {
    const config = base();
    config.b_info.claim_mode = 'False';
    expect(JSON.parse(checkLibxlConfig('createGuest', config, true).json).b_info.claim_mode).toBe('True');
    expect(JSON.parse(checkLibxlConfig('createGuest', base()).json).b_info).not.toHaveProperty('claim_mode');
    const dflt = base();
    dflt.b_info.claim_mode = '<default>' as never;
    expect(checkLibxlConfig('createGuest', dflt).claimMode).toBeUndefined();
  });

  it('gives b_info its "type.<type>" key from c_info.type when it has none (as xl does)', () => {
    const config: LibxlDomainConfig = { c_info: { type: 'pvh', name: 'g' }, b_info: { target_memkb: 65536 } };
    expect(JSON.parse(checkLibxlConfig('createGuest', config).json).b_info['type.pvh']).toEqual({});
    expect(config.b_info).not.toHaveProperty('type.pvh');
    const given = { c_info: { type: 'pv' as const, name: 'g' }, b_info: { 'type.pv': { bootloader: 'pygrub' } } };
    expect(JSON.parse(checkLibxlConfig('createGuest', given).json).b_info['type.pv']).toEqual({ bootloader: 'pygrub' });
  });

  it('keeps every other field for libxl as given', () => {
    const config = { ...base(), on_poweroff: 'destroy', disks: [{ vdev: 'xvda' }] };
    expect(JSON.parse(checkLibxlConfig('needMemoryKiB', config).json)).toMatchObject({ on_poweroff: 'destroy', disks: [{ vdev: 'xvda' }], b_info: { 'type.pv': {} } });
  });
});

describe('createGuest passes the claim decision to the addon', () => {
  function capture(): { backend: NativeBackend; seen: Array<{ json: string; claim: boolean; paused: boolean }> } {
    const seen: Array<{ json: string; claim: boolean; paused: boolean }> = [];
    const addon = loadAddon();
    const binding = Object.assign(Object.create(addon) as NativeBinding, {
      createGuest: (json: string, options: { claim: boolean; paused: boolean }) => {
        seen.push({ json, ...options });
        return Promise.resolve(7);
      },
    });
    return { backend: new NativeBackend(binding), seen };
  }

  it('defaults to claim and not paused', async () => {
    const { backend, seen } = capture();
    expect(await backend.createGuest(base())).toBe(7);
    expect(seen[0]).toMatchObject({ claim: true, paused: false });
  });

  it("uses the config's claim_mode when the options do not say", async () => {
    const { backend, seen } = capture();
    const config = base();
    config.b_info.claim_mode = 'False';
    await backend.createGuest(config, { paused: true });
    expect(seen[0]).toMatchObject({ claim: false, paused: true });
    expect(JSON.parse(seen[0]!.json).b_info.claim_mode).toBe('False');
  });

  it('options.claim wins over the config', async () => {
    const { backend, seen } = capture();
    const config = base();
    config.b_info.claim_mode = true;
    await backend.createGuest(config, { claim: false });
    expect(seen[0]).toMatchObject({ claim: false });
    expect(JSON.parse(seen[0]!.json).b_info.claim_mode).toBe('False');
  });
});

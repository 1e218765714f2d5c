/**
 * Whatever the input, the reader either returns a config or throws a ConfigError: never another exception.
 * Inputs are seeded mutations of the fixtures and random disk/vif specs, so a failure is reproducible.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, DiskSpecError, NicSpecError, parseDiskSpec, parseGuestConfig, parseNicSpec } from '../../src/config/index.js';
import { prng } from '../helpers/random.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const texts = readdirSync(fixtures)
  .filter((f) => f.endsWith('.cfg') || f.endsWith('.json'))
  .map((f) => readFileSync(fixtures + f, 'utf8'));
const ALPHABET = ` \t\n\r"'[],;=+#\\:.-0x9azAZ{}@/`;

function mutate(text: string, random: () => number): string {
  let out = text;
  const edits = 1 + Math.floor(random() * 4);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(random() * (out.length + 1));
    const kind = random();
    const ch = ALPHABET[Math.floor(random() * ALPHABET.length)]!;
    if (kind < 0.4) out = out.slice(0, at) + ch + out.slice(at);
    else if (kind < 0.8) out = out.slice(0, at) + out.slice(at + 1);
    else out = out.slice(0, at) + ch + out.slice(at + 1);
  }
  return out;
}

function randomSpec(random: () => number, words: readonly string[]): string {
  const n = Math.floor(random() * 6);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const w = words[Math.floor(random() * words.length)]!;
    parts.push(random() < 0.2 ? mutate(w, random) : w);
  }
  return parts.join(random() < 0.9 ? ',' : ' ');
}

describe('robustness', () => {
  it('mutated fixtures give a config or a ConfigError', () => {
    const random = prng(20260526);
    let errors = 0;
    for (let i = 0; i < 3000; i++) {
      const input = mutate(texts[i % texts.length]!, random);
      try {
        parseGuestConfig(input, 'fuzz.cfg', { generateUuid: () => '00000000-0000-4000-8000-000000000000' });
      } catch (err) {
        if (!(err instanceof ConfigError)) throw new Error(`non-ConfigError for ${JSON.stringify(input)}: ${String(err)}`);
        expect(err.line).toBeGreaterThanOrEqual(1);
        expect(err.column).toBeGreaterThanOrEqual(1);
        errors++;
      }
    }
    // The mutations must actually exercise the error paths.
    expect(errors).toBeGreaterThan(300);
  });

  it('random disk and vif specs give JSON or the spec error', () => {
    const random = prng(7);
    const diskWords = ['/img', 'raw', 'qcow2', 'xvda', 'hdc:cdrom', 'rw', 'r', '', 'vdev=xvdb', 'target=/t,x', 'phy:/dev/sda', 'format=vhd', 'devtype=cdrom', 'access=ro', 'cdrom', 'discard', 'backendtype=qdisk', 'iscsi:iqn', ' ', '=', 'x:y'];
    const vifWords = ['mac=00:16:3e:00:00:01', 'bridge=br0', 'type=ioemu', 'rate=10Mb/s@20ms', 'devid=3', 'mtu=1500', 'trusted', '', 'ip=1.2.3.4', 'model=e1000', 'foo'];
    for (let i = 0; i < 3000; i++) {
      const disk = randomSpec(random, diskWords);
      try {
        parseDiskSpec(disk);
      } catch (err) {
        if (!(err instanceof DiskSpecError)) throw new Error(`non-DiskSpecError for ${JSON.stringify(disk)}: ${String(err)}`);
      }
      const vif = randomSpec(random, vifWords);
      try {
        parseNicSpec(vif, 0);
      } catch (err) {
        if (!(err instanceof NicSpecError)) throw new Error(`non-NicSpecError for ${JSON.stringify(vif)}: ${String(err)}`);
      }
    }
  });
});

/**
 * xl vif specs. fixtures/vif-specs.xl.json holds what Xen 4.17's own xl made of each spec (`xl -N create`,
 * Debian's 4.17.7, see oracle/README.md). Where xl complains and carries on, xenclaim refuses (tested below).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NicSpecError, parseNicSpec } from '../../src/config/nic-spec.js';

const cases = JSON.parse(
  readFileSync(fileURLToPath(new URL('./fixtures/vif-specs.xl.json', import.meta.url)), 'utf8'),
) as Array<{ spec: string; nic: unknown }>;

describe("vif specs give xl 4.17's libxl_device_nic", () => {
  for (const c of cases) {
    it(`reads ${JSON.stringify(c.spec)}`, () => {
      const { nic } = parseNicSpec(c.spec, 0);
      expect(nic).toEqual(c.nic);
      expect(JSON.stringify(nic)).toBe(JSON.stringify(c.nic));
    });
  }

  it('takes the devid from the position unless devid= is given', () => {
    expect(parseNicSpec('bridge=b', 3).nic.devid).toBe(3);
    expect(parseNicSpec('devid=9', 3).nic.devid).toBe(9);
  });

  it('says what it ignored', () => {
    expect(parseNicSpec('foo=bar,rate=10Mb/s,netdev=eth1,colo_sock_mirror_id=1,accel=x,colo_bogus=1', 0).ignored).toEqual([
      "unrecognized vif option 'foo' (xl ignores it too)",
      "vif option 'netdev' is deprecated; read as 'gatewaydev' (as xl does)",
      "vif option 'accel' is not supported by xl; ignored (as xl does)",
      "unrecognized vif option 'colo_bogus' (xl ignores it too)",
    ]);
  });

  it('maps the COLO options, forwarddev as coloft_forwarddev', () => {
    const { nic, ignored } = parseNicSpec('forwarddev=eth1,colo_sock_mirror_id=1,colo_checkpoint_port=9,colo_filter_sec_rewriter0_queue=q', 0);
    expect(ignored).toEqual([]);
    expect(JSON.stringify(nic)).toBe(JSON.stringify({ devid: 0, coloft_forwarddev: 'eth1', colo_sock_mirror_id: '1', colo_filter_sec_rewriter0_queue: 'q', colo_checkpoint_port: '9' }));
  });

  const bad: Array<[string, string]> = [
    ['mac=zz', 'mac must be six hexadecimal octets like 00:16:3e:12:34:56, got "zz"'],
    ['mac=00:16:3e:01:02', 'mac must be six hexadecimal octets like 00:16:3e:12:34:56, got "00:16:3e:01:02"'],
    ['mac=00:16:3e:01:02:100', 'mac must be six hexadecimal octets like 00:16:3e:12:34:56, got "00:16:3e:01:02:100"'],
    ['type=tap', `type must be 'vif' or 'ioemu', got "tap"`],
    ['devid=x', 'devid must be an integer from 0 to 2147483647, got "x"'],
    ['mtu=-1', 'mtu must be an integer from 0 to 2147483647, got "-1"'],
    ['mtu=9000abc', 'mtu must be an integer from 0 to 2147483647, got "9000abc"'],
    // xl refuses these too, with the same complaint
    ['rate=0Mb/s', 'rate "0Mb/s": rate overflow (expected e.g. 10Mb/s or 10Mb/s@20ms)'],
    ['rate=10Mbit', 'rate "10Mbit": invalid rate (expected e.g. 10Mb/s or 10Mb/s@20ms)'],
    ['rate=10Mb/s@0', 'rate "10Mb/s@0": replenishment interval overflow (expected e.g. 10Mb/s or 10Mb/s@20ms)'],
    ['rate=10Mb/s@', 'rate "10Mb/s@": invalid replenishment interval (expected e.g. 10Mb/s or 10Mb/s@20ms)'],
    ['rate=@5ms', 'rate "@5ms": no rate specified (expected e.g. 10Mb/s or 10Mb/s@20ms)'],
    ['rate=99999999999Mb/s', 'rate "99999999999Mb/s": rate overflow (expected e.g. 10Mb/s or 10Mb/s@20ms)'],
  ];
  for (const [spec, reason] of bad) {
    it(`refuses ${spec} (xl would complain and carry on)`, () => {
      expect(() => parseNicSpec(spec, 0)).toThrow(NicSpecError);
      expect(() => parseNicSpec(spec, 0)).toThrow(reason);
    });
  }
});

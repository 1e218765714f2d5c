/** The admission knobs create and serve share (src/cli/admission-flags.ts): one parser, one set of names and units. */
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addAdmissionOptions, admissionSettings, givenAdmissionFlags, type AdmissionFlags } from '../../src/cli/admission-flags.js';

function parse(argv: string[]): AdmissionFlags {
  const command = addAdmissionOptions(new Command('x').exitOverride());
  command.parse(argv, { from: 'user' });
  return command.opts<AdmissionFlags>();
}

describe('admission flags', () => {
  it('sizes to KiB, seconds to ms; only what was given', () => {
    expect(admissionSettings(parse(['--reserve', '16m', '--dom0-min', '2g', '--stall-timeout-s', '2.5', '--max-wait-s', '600']))).toEqual({
      policy: { reserveKiB: 16 * 1024, dom0MinKiB: 2 * 1024 * 1024 },
      wait: { stallTimeoutMs: 2500, maxWaitMs: 600_000 },
    });
    expect(admissionSettings(parse([]))).toEqual({ policy: {}, wait: {} });
    expect(givenAdmissionFlags(parse(['--max-wait-s', '5', '--reserve', '0']))).toEqual(['--reserve', '--max-wait-s']);
  });

  it.each([
    ['--stall-timeout-s', '0'], ['--stall-timeout-s', 'soon'], ['--max-wait-s', '-1'], ['--max-wait-s', String(366 * 24 * 3600)],
  ])('%s %s is a usage error naming the flag and its range', (flag, value) => {
    expect(() => admissionSettings(parse([flag, value]))).toThrow(new RegExp(`^${flag} must be a number of seconds > 0 and at most one year`));
  });
});

import { Value } from 'typebox/value';
import { describe, expect, it } from 'vitest';
import { ResultBody } from '../../src/api/schemas.js';
import { XenError } from '../../src/errors.js';
import { eventError } from '../../src/toolstack/events.js';

describe('eventError: an error as events, results and the daemon log carry it', () => {
  it('keeps the Xen/libxl lines a failing call captured (why libxl said no), and only when there are any', () => {
    const lines = ['libxl: error: libxl_create.c:1779:console_xswait_callback: domain 22 console tty: timed out'];
    const withLines = eventError(new XenError('createGuest: ERROR_FAIL (libxl_domain_create_new: libxl ERROR_FAIL)', { code: 'ERROR_FAIL', op: 'createGuest', xenLog: lines }));
    expect(withLines).toEqual({ code: 'ERROR_FAIL', errno: null, message: 'createGuest: ERROR_FAIL (libxl_domain_create_new: libxl ERROR_FAIL)', xenLog: lines });
    expect(eventError(new XenError('claimPages: ENOMEM', { code: 'ENOMEM', errno: 12, op: 'claimPages' }))).toEqual({ code: 'ENOMEM', errno: 12, message: 'claimPages: ENOMEM' });
    expect(eventError('plain')).toEqual({ code: null, errno: null, message: 'plain' });
  });

  it("the API's result schema admits the lines, so the daemon's answer keeps them", () => {
    const result = { name: 'g', ok: false, domid: null, error: { code: 'ERROR_FAIL', errno: null, message: 'm', xenLog: ['a line'] } };
    expect(Value.Check(ResultBody, result)).toBe(true);
    expect(Value.Check(ResultBody, { ...result, error: { ...result.error, xenLog: [3] } })).toBe(false);
  });
});

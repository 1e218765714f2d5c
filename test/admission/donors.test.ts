/** The donor rules that used to live in the I/O room: floors and ceilings, the ledger, what a stuck donor keeps. */
import { describe, expect, it } from 'vitest';
import { donorFacts, floorAndCeilingKiB } from '../../src/admission/donor-facts.js';
import { DonorLedger, stuckDonorRaiseKiB } from '../../src/admission/donor-ledger.js';
import { domainInfo } from '../helpers/domain-info.js';

const MIB = 1024;
const PAGES = 256;

describe('floorAndCeilingKiB', () => {
  const web = domainInfo(5, { name: 'web', totPages: 2048 * PAGES, maxPages: 4096 * PAGES, targetKiB: 2048 * MIB });

  it('a guest with a floor may be ballooned down to it and up to its max_pages', () => {
    expect(floorAndCeilingKiB(web, 512 * MIB)).toEqual({ minKiB: 512 * MIB, maxKiB: 4096 * MIB });
  });

  it('a guest without a floor is never ballooned (its floor is its size); dom0 without one has floor 0', () => {
    expect(floorAndCeilingKiB(web, undefined)).toEqual({ minKiB: 2048 * MIB, maxKiB: 4096 * MIB });
    const dom0 = domainInfo(0, { name: 'Domain-0', totPages: 1024 * PAGES, maxPages: 1024 * PAGES });
    expect(floorAndCeilingKiB(dom0, undefined)).toEqual({ minKiB: 0, maxKiB: 1024 * MIB });
  });

  it('a floor above everything the guest has or may have is taken as that, and the ceiling never below it', () => {
    // The highest of size, target and max_pages.
    expect(floorAndCeilingKiB(web, 9000 * MIB).minKiB).toBe(4096 * MIB);
    const aboveMax = domainInfo(6, { name: 'grow', totPages: 1024 * PAGES, maxPages: 512 * PAGES, targetKiB: 1536 * MIB });
    expect(floorAndCeilingKiB(aboveMax, 9000 * MIB)).toEqual({ minKiB: 1536 * MIB, maxKiB: 1536 * MIB });
  });

  it('a guest whose target is not known counts only its size and max_pages', () => {
    const unknown = domainInfo(7, { totPages: 100 * PAGES, maxPages: 50 * PAGES });
    expect(floorAndCeilingKiB(unknown, 9000 * MIB)).toEqual({ minKiB: 100 * MIB, maxKiB: 100 * MIB });
  });
});

describe('donorFacts', () => {
  it('combines floors by name, the guests being built and the uncooperative donors, for every domain', () => {
    const domains = [
      domainInfo(0, { name: 'Domain-0', totPages: 1024 * PAGES, maxPages: 1024 * PAGES }),
      domainInfo(3, { name: 'web', totPages: 2048 * PAGES, maxPages: 2048 * PAGES }),
      domainInfo(4, { name: 'new', totPages: 10 * PAGES, maxPages: 1024 * PAGES }),
      domainInfo(9, { totPages: 64 * PAGES, maxPages: 64 * PAGES }),
    ];
    const facts = donorFacts(domains, {
      floorsKiB: new Map([['web', 256 * MIB], ['new', 1 * MIB]]),
      building: new Set(['new']),
      uncooperative: new Set([3]),
    });
    expect([...facts.keys()]).toEqual([0, 3, 4, 9]);
    expect(facts.get(3)).toEqual({ minKiB: 256 * MIB, maxKiB: 2048 * MIB, building: false, uncooperative: true });
    expect(facts.get(4)).toMatchObject({ building: true, uncooperative: false });
    // A domain without a name has no floor and is not ours.
    expect(facts.get(9)).toEqual({ minKiB: 64 * MIB, maxKiB: 64 * MIB, building: false, uncooperative: false });
  });
});

describe('DonorLedger', () => {
  it('adds up what each donor was asked, keeps its latest target, and gives back exactly that', () => {
    const ledger = new DonorLedger();
    ledger.lowered(1, 'a', 4096, 3072);
    ledger.lowered(1, 'a', 3072, 2048);
    ledger.lowered(2, 'b', 1000, 900);
    expect(ledger.size).toBe(2);
    expect(ledger.get(1)).toEqual({ domid: 1, name: 'a', askedKiB: 2048, toKiB: 2048 });
    const copy = ledger.get(1)!;
    copy.askedKiB = 0;
    expect(ledger.get(1)!.askedKiB).toBe(2048);
    expect(ledger.take([2])).toEqual([{ domid: 2, name: 'b', askedKiB: 100, toKiB: 900 }]);
    expect(ledger.take()).toEqual([{ domid: 1, name: 'a', askedKiB: 2048, toKiB: 2048 }]);
    expect(ledger.size).toBe(0);
  });

  it('a raise lowers what is owed; raised by all of it, the donor leaves the ledger; commit forgets everything', () => {
    const ledger = new DonorLedger();
    ledger.lowered(1, 'a', 4096, 2048);
    ledger.raised(1, 512);
    expect(ledger.get(1)).toEqual({ domid: 1, name: 'a', askedKiB: 1536, toKiB: 2560 });
    ledger.raised(1, 1536);
    expect(ledger.get(1)).toBeUndefined();
    ledger.raised(7, 100); // unknown: nothing happens
    ledger.lowered(2, 'b', 100, 50);
    ledger.commit();
    expect(ledger.size).toBe(0);
  });
});

describe('stuckDonorRaiseKiB: what a stuck donor keeps', () => {
  const entry = { domid: 1, name: 'a', askedKiB: 2048 * MIB, toKiB: 2048 * MIB };

  it('its target goes up to where it stopped', () => {
    expect(stuckDonorRaiseKiB(entry, 3000 * PAGES)).toBe(952 * MIB);
  });

  it('never above its target before it was asked, even if it grew', () => {
    expect(stuckDonorRaiseKiB(entry, 5000 * PAGES)).toBe(2048 * MIB);
  });

  it('nothing when it reached its target (or went below it)', () => {
    expect(stuckDonorRaiseKiB(entry, 2048 * PAGES)).toBe(0);
    expect(stuckDonorRaiseKiB(entry, 1000 * PAGES)).toBe(0);
  });
});

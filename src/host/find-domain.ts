/** DOMAIN arguments, as xl takes them (the CLI's and the daemon's {domain}). */
import type { DomainInfo } from '../backend.js';
import { XenError } from '../errors.js';

/** DOMAIN is a name or a domid, as in xl ('Domain-0' is dom0). ESRCH when no domain matches. */
export function findDomain(domains: readonly DomainInfo[], spec: string): DomainInfo {
  const byName = domains.find((d) => d.name === spec || (d.domid === 0 && spec === 'Domain-0'));
  if (byName) return byName;
  if (/^\d+$/.test(spec)) {
    const byId = domains.find((d) => d.domid === Number(spec));
    if (byId) return byId;
  }
  throw new XenError(`domain '${spec}' does not exist`, { code: 'ESRCH', op: 'findDomain' });
}

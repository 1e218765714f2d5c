/** DOMAIN arguments, as xl takes them: resolved by the host layer (src/host/find-domain.ts), shared with the daemon. */
export { findDomain } from '../host/find-domain.js';

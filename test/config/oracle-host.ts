/**
 * The host the xl oracle's no-hypervisor shim describes (oracle/no-hypervisor-shim.c): 8 CPUs in 2 NUMA nodes.
 * Fixtures are recorded on it, so the mapper reads them for the same host. FIXED_UUID replaces xl's random UUID of
 * UUID-less configs in the recorded .xl.json files (oracle/record-fixtures.mjs).
 */
import type { XlHost } from '../../src/config/index.js';

export const ORACLE_HOST: XlHost = { maxCpus: 8, onlineCpus: 8, nrNodes: 2, nodeCpus: [[0, 1, 2, 3], [4, 5, 6, 7]] };

export const FIXED_UUID = '0e7b6c3a-5f0d-4d8e-9a51-3c2b1f0e9d77';

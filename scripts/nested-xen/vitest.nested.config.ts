/**
 * vitest's configuration for the run inside the nested dom0 (scripts/nested-xen/dom0-run.sh), on top of the
 * project's own. Under QEMU's software CPU, JS runs ~20x slower than on the host and every file read crosses 9p,
 * so: transformed modules are cached on disk (the host warms the cache before booting: same paths, same node),
 * one worker runs every file (no per-file re-import of vitest and the sources), and no two files run at once —
 * they all share one Xen host, and a claim in one would skew another.
 */
import { defineConfig, mergeConfig } from 'vitest/config';
import base from '../../vitest.config.js';

export default mergeConfig(
  base,
  defineConfig({
    test: {
      fileParallelism: false,
      isolate: false,
      pool: 'forks',
      testTimeout: 180_000,
      hookTimeout: 180_000,
      experimental: {
        fsModuleCache: true,
        fsModuleCachePath: 'node_modules/.cache/xenclaim-nested-vitest',
      },
    },
  }),
);

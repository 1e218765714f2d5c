import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests that need real Xen run only in the nested-Xen harness (scripts/nested-xen), which selects them itself.
    exclude: ['**/node_modules/**', 'dist/**'],
    testTimeout: 30_000,
    reporters: ['default'],
  },
});

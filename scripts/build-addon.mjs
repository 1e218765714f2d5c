#!/usr/bin/env node
// Builds the native addon (native/) with node-gyp against the system's libxen-dev.
// With --optional (npm's install hook) a machine without libxen-dev still installs: the mock host works there,
// and openBackend({kind:'native'}) explains how to build the addon later. Without --optional a missing
// libxen-dev or a failed build is an error, so CI cannot pass without the addon.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const optional = process.argv.includes('--optional');
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const XEN_PKGS = ['xencontrol', 'xenlight', 'xentoollog'];

function say(line) {
  process.stderr.write(`xenclaim: ${line}\n`);
}

const probe = spawnSync('pkg-config', ['--exists', ...XEN_PKGS], { stdio: 'ignore' });
if (probe.error || probe.status !== 0) {
  const why = probe.error ? 'pkg-config is not installed' : `pkg-config finds no ${XEN_PKGS.join('/')}`;
  const how = 'install the Xen development files (Debian/Ubuntu: apt-get install -y pkg-config libxen-dev), then run: npm run build:native';
  if (optional) {
    say(`native addon not built (${why}); the mock host still works. To use real Xen, ${how}`);
    process.exit(0);
  }
  say(`cannot build the native addon: ${why}; ${how}`);
  process.exit(1);
}

const require = createRequire(import.meta.url);
const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
const build = spawnSync(process.execPath, [nodeGyp, 'rebuild'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) {
  say(`native addon build failed (node-gyp exit ${build.status ?? build.signal})`);
  process.exit(optional ? 0 : 1);
}

/** Tests that run the installed command (bin/xenclaim.js → dist/) rebuild dist/ first when a source is newer. */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'xenclaim.js');

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

/** Compiles src/ to dist/ (tsc) unless dist/ is newer than every source. */
export function ensureDistBuilt(): void {
  const built = join(ROOT, 'dist', 'src', 'daemon', 'serve.js');
  if (existsSync(built) && statSync(built).mtimeMs >= newest(join(ROOT, 'src'))) return;
  // This node and the project's own tsc: the nested harness's dom0 has node but no npx.
  const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8' });
  if (tsc.status !== 0) throw new Error(`building dist/ failed: ${tsc.error ?? ''}${tsc.stdout}${tsc.stderr}`);
}

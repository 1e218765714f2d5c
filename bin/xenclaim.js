#!/usr/bin/env node
// The installed command: runs the compiled CLI (npm's prepare step compiles src/ to dist/).
// The daemon runs libxl calls (guest builds among them) on libuv's thread pool, 4 threads unless told otherwise:
// room for parallel builds next to its other calls. The pool is sized when first used, so this comes first.
if (process.argv.includes('serve') && process.env.UV_THREADPOOL_SIZE === undefined) process.env.UV_THREADPOOL_SIZE = '32';
const { main } = await import('../dist/src/cli/main.js');

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});

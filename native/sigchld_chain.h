// SIGCHLD shared between Node (libuv) and libxl in one process.
//
// libxl in libxl_sigchld_owner_libxl_always_selective_reap mode installs its own SIGCHLD handler and reaps only
// its own children (waitpid on their pids); libuv reaps Node's children the same way. But there is one SIGCHLD
// disposition per process: libxl asserts that it finds SIG_DFL/SIG_IGN when it installs its handler ("application
// must negotiate with libxl about SIGCHLD") and then replaces whatever was there, and libuv (re)installs or resets
// its handler whenever its first SIGCHLD watcher starts or its last one stops. Left alone, either Node's
// child_process would stop seeing exits or libxl's children (hotplug scripts, bootloader) would never be reaped.
//
// The negotiation done here:
//  1. At addon load, on Node's main loop, a permanent unref'd libuv SIGCHLD watcher: libuv's handler is installed
//     now and libuv never touches the SIGCHLD disposition again (it only does so for the first/last watcher).
//  2. When the libxl ctx is set up: remember libuv's handler, reset SIGCHLD to SIG_DFL for libxl's check, let
//     libxl_childproc_setmode install libxl's handler, then install a handler that calls libxl's and libuv's.
//     libxl itself changes the disposition again only when a ctx is freed or its mode changes, which xenclaim
//     never does. A SIGCHLD that arrived during the switch is re-raised afterwards (both handlers only wake their
//     reapers; a spurious wake-up is harmless).
// Limit: if the addon is first loaded in a worker thread rather than on Node's main thread, step 1 is skipped
// (a handle cannot be started on another thread's loop), and Node's main loop may later re-install libuv's
// handler over the chain.
#pragma once

#include <napi.h>

namespace xenclaim {

// Step 1; call from module init (idempotent).
void KeepLibuvSigchldHandler(Napi::Env env);

// Step 2, around libxl_childproc_setmode: Begin resets SIGCHLD to SIG_DFL (remembering libuv's handler), End
// installs the handler that calls libxl's and libuv's. Process-wide; once, with no libxl children running.
void BeginSigchldNegotiation();
void EndSigchldNegotiation();

// After the chain is in place, libxl puts its own bare handler back whenever another ctx joins its SIGCHLD users
// (libxl_fork.c: libxl__sigchld_needed brackets the list insertion with defer_sigchld/release_sigchld, and
// release_sigchld installs sigchld_handler itself). Call after every later libxl_childproc_setmode: it puts the
// chain back and re-raises SIGCHLD, so an exit Node missed in between is noticed. No-op before the chain exists.
void RestoreSigchldChain();

}  // namespace xenclaim

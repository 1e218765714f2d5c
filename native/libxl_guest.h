// Toolstack-level operations over libxenlight, each an AsyncWorker: libxl's synchronous calls (ao_how NULL) run
// on a libuv worker thread, never on Node's main thread. Several may run at once: the libxl ctx is thread-safe.
//
// createGuest(configJson, { claim, paused }) → Promise<domid>
// destroyGuest(domid) → Promise<undefined>
// setMemoryTarget(domid, targetKiB, relative, enforce) → Promise<undefined>
// needMemoryKiB(configJson) → Promise<KiB>
// freeMemoryKiB() → Promise<KiB>
// domainNamesAndTargets(domids[]) → Promise<{ domid, name: string | null, targetKiB: number | null }[]>
#pragma once

#include <napi.h>

namespace xenclaim {

void RegisterLibxlGuest(Napi::Env env, Napi::Object exports);

}  // namespace xenclaim

// Host queries over libxenctrl: physinfo and the hypervisor version.
#pragma once

#include <napi.h>

namespace xenclaim {

// physinfo() → Promise<{ totalPages, freePages, scrubPages, outstandingPages, nrCpus, nrNodes, cpuKhz, capabilities }>
// xenVersion() → Promise<{ major, minor, extra }>
void RegisterHost(Napi::Env env, Napi::Object exports);

}  // namespace xenclaim

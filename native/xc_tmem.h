// Transcendent memory control. tmem was removed from Xen (hypervisor and tools) in 4.13; against headers without
// it (every Xen ≥ 4.13, including 4.17) each call fails with ENOSYS and says so.
#pragma once

#include <napi.h>

namespace xenclaim {

// Set when the Xen headers the addon was built against still define the tmem sysctl (Xen < 4.13).
#ifdef XEN_SYSCTL_tmem_op
constexpr bool kBuiltWithTmem = true;
#else
constexpr bool kBuiltWithTmem = false;
#endif

// tmemControl(op 'freeze' | 'thaw' | 'setCap' | 'freeablePages', arg) → Promise (ENOSYS without tmem)
// hasTmem: boolean (compile-time)
void RegisterTmem(Napi::Env env, Napi::Object exports);

}  // namespace xenclaim

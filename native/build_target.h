// What the addon was compiled against: the Xen libraries' versions (pkg-config, at build time) and the interface
// versions of the installed headers. A hypervisor of another Xen minor refuses this build's domctls and sysctls
// (their interface versions differ), so `xenclaim info` prints both sides.
#pragma once

#include <napi.h>

namespace xenclaim {

// buildTarget: { xenctrlVersion, xenlightVersion, domctlInterfaceVersion, sysctlInterfaceVersion,
//                libxlApiVersion, domainInfoCall }   (constants, no Xen access)
// domctlInterfaceVersion: the same number, kept at the top level
void RegisterBuildTarget(Napi::Env env, Napi::Object exports);

}  // namespace xenclaim

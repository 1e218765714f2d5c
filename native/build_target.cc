#include "build_target.h"

#include "xen_headers.h"

// binding.gyp passes the versions pkg-config reports for the libraries the addon links against.
#ifndef XENCLAIM_XENCTRL_VERSION
#error "XENCLAIM_XENCTRL_VERSION must be defined (binding.gyp: pkg-config --modversion xencontrol)"
#endif
#ifndef XENCLAIM_XENLIGHT_VERSION
#error "XENCLAIM_XENLIGHT_VERSION must be defined (binding.gyp: pkg-config --modversion xenlight)"
#endif

namespace xenclaim {

void RegisterBuildTarget(Napi::Env env, Napi::Object exports) {
  Napi::Object target = Napi::Object::New(env);
  target.Set("xenctrlVersion", XENCLAIM_XENCTRL_VERSION);
  target.Set("xenlightVersion", XENCLAIM_XENLIGHT_VERSION);
  target.Set("domctlInterfaceVersion", XEN_DOMCTL_INTERFACE_VERSION);
  target.Set("sysctlInterfaceVersion", XEN_SYSCTL_INTERFACE_VERSION);
  target.Set("libxlApiVersion", LIBXL_API_VERSION);
  target.Set("domainInfoCall", XENCLAIM_HAVE_GETINFO_SINGLE ? "xc_domain_getinfo_single" : "xc_domain_getinfolist");
  target.Freeze();
  exports.Set("buildTarget", target);
  // The domctl ABI the addon was compiled for (0x15 for Xen 4.17, 0x17 for 4.19 and 4.20).
  exports.Set("domctlInterfaceVersion", Napi::Number::New(env, XEN_DOMCTL_INTERFACE_VERSION));
}

}  // namespace xenclaim

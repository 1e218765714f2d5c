#include "xc_handle.h"

#include <cerrno>
#include <mutex>

#include "xen_logger.h"

namespace xenclaim {
namespace {

std::mutex open_mutex;
xc_interface* handle = nullptr;  // never closed: it lives as long as the process, like libxl's own

}  // namespace

xc_interface* XcHandle(XenFailure& failure) {
  std::lock_guard<std::mutex> lock(open_mutex);
  if (handle != nullptr) return handle;
  // The same capturing logger serves as the domain-builder logger: otherwise libxc would log builds to a file.
  handle = xc_interface_open(CapturingLogger(), CapturingLogger(), 0);
  if (handle == nullptr) {
    const int err = errno;
    failure.SetErrno("xc_interface_open", err != 0 ? err : EIO, "cannot open the Xen control interface");
  }
  return handle;
}

}  // namespace xenclaim

// The process's one libxenctrl handle, opened on first use with the capturing logger.
#pragma once

#include "xen_error.h"
#include "xen_headers.h"

namespace xenclaim {

// Returns the open handle, opening it now if needed. On failure returns nullptr and fills `failure` with
// xc_interface_open's errno (ENOENT without /dev/xen/privcmd, EACCES when not root) and, through the capture in
// place on this thread, the lines the library logged. A failed open is retried by the next call, so every call
// made while Xen is unreachable reports the reason with its own log lines.
xc_interface* XcHandle(XenFailure& failure);

}  // namespace xenclaim

// The process's one libxl_ctx, created on first use with the capturing logger and with SIGCHLD shared with Node.
//
// Log capture: libxl logs through its ctx, not per call. The addon attributes a line to the operation whose worker
// thread emitted it (xen_logger.h's thread-local capture), which is exact for everything libxl does on the calling
// thread. The limit: libxl runs one event loop per ctx, and a thread waiting inside a synchronous libxl call may
// run callbacks (child exits, xenstore watches, timeouts) of another operation in flight; lines those callbacks log
// land in the capture of the thread that happened to run them.
#pragma once

#include "xen_error.h"
#include "xen_headers.h"

namespace xenclaim {

// The ctx, or nullptr with `failure` filled (libxl_ctx_alloc's ERROR_* code and its log lines). A failed creation
// is retried by the next call.
libxl_ctx* LibxlContext(XenFailure& failure);

}  // namespace xenclaim

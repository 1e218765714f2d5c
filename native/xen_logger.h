// A xentoollog_logger that never prints: it appends formatted lines to the capture of the operation running on
// the calling thread, so the lines can travel with that operation's error (XenError.xenLog).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "xen_headers.h"

namespace xenclaim {

// The lines one operation produced. Owned by the worker running that operation; written only by its thread.
struct LogCapture {
  std::vector<std::string> lines;
  std::size_t dropped = 0;  // the oldest lines given up once kMaxCapturedLines is reached
  // The errno the libraries attached to the first error-level line (-1: none). libxl returns only ERROR_* codes;
  // the errno behind them (e.g. ENOMEM from a refused claim) reaches us only through its log calls.
  int first_error_errno = -1;
};

// The newest lines are kept: a failure is explained by what was logged last.
constexpr std::size_t kMaxCapturedLines = 400;
// Like xl without -v, debug/verbose chatter (hundreds of lines per libxl create) is not captured.
constexpr xentoollog_level kMinCapturedLevel = XTL_DETAIL;

// While alive, routes everything the Xen libraries log on this thread into `capture`.
class ScopedLogCapture {
 public:
  explicit ScopedLogCapture(LogCapture* capture);
  ~ScopedLogCapture();
  ScopedLogCapture(const ScopedLogCapture&) = delete;
  ScopedLogCapture& operator=(const ScopedLogCapture&) = delete;

 private:
  LogCapture* previous_;
};

// The process-wide capturing logger handed to xc_interface_open and libxl_ctx_alloc. Never destroyed.
xentoollog_logger* CapturingLogger();

// Lines logged on a thread with no capture in place (e.g. by a library thread of its own). Kept in a small ring,
// never printed, so that nothing the libraries say reaches stderr; returned (and cleared) for diagnostics.
std::vector<std::string> TakeUnattributedLines();

}  // namespace xenclaim

// What a failed Xen library call leaves behind, and its conversion into the JS error object the TypeScript layer
// re-wraps as a XenError: { message, code, errno?, libxlCode?, xenCall, xenLog, xenLogDropped?, pagesDone? }.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

#include "xen_logger.h"

namespace xenclaim {

struct XenFailure {
  bool failed = false;
  std::string xen_call;  // the library function that failed, e.g. "xc_domain_claim_pages"
  int errno_value = 0;   // > 0 when the failure carries an errno
  int libxl_code = 0;    // < 0 (libxl ERROR_*) when libxl reported the failure
  std::string detail;    // a sentence of context, e.g. "domain 7 does not exist"
  int64_t pages_done = -1;  // populate/decrease: pages already handled when the call failed (-1: not applicable)
  LogCapture log;

  // Pass errno straight from the failed call, as SetErrno("call", errno), and fill `detail` afterwards: building
  // a detail string in the same argument list may run first (unspecified order) and could disturb errno.
  void SetErrno(const char* call, int err, std::string why = {});
  void SetLibxl(const char* call, int rc, std::string why = {});
};

// "domain 7": how a failure's detail names a domain.
std::string DomainText(uint32_t domid);

// "ENOENT" for 2; "E<n>" for numbers glibc has no name for.
std::string ErrnoName(int err);
// "ERROR_FAIL" for -3; "ERROR_<n>" for codes this libxl does not name.
std::string LibxlCodeName(int rc);

Napi::Error ToJsError(Napi::Env env, const XenFailure& failure);

}  // namespace xenclaim

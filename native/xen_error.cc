#include "xen_error.h"

#include <cctype>
#include <cstring>

#include "xen_headers.h"

namespace xenclaim {

void XenFailure::SetErrno(const char* call, int err, std::string why) {
  failed = true;
  xen_call = call;
  errno_value = err;
  detail = std::move(why);
}

void XenFailure::SetLibxl(const char* call, int rc, std::string why) {
  failed = true;
  xen_call = call;
  libxl_code = rc;
  detail = std::move(why);
}

std::string DomainText(uint32_t domid) { return "domain " + std::to_string(domid); }

std::string ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : "E" + std::to_string(err);
}

std::string LibxlCodeName(int rc) {
  const char* name = libxl_error_to_string(static_cast<libxl_error>(rc));  // "fail" for ERROR_FAIL
  if (name == nullptr) return "ERROR_" + std::to_string(rc);
  std::string code = "ERROR_";
  for (const char* c = name; *c != '\0'; ++c) code += static_cast<char>(std::toupper(static_cast<unsigned char>(*c)));
  return code;
}

Napi::Error ToJsError(Napi::Env env, const XenFailure& failure) {
  // The message names the call and what it said; the code goes in `code` (TypeScript puts both in XenError).
  std::string code;
  std::string message = failure.xen_call + ": ";
  // A libxl failure has no errno of its own: take the one libxl/libxc logged with their first error line.
  int errno_value = failure.errno_value;
  if (failure.libxl_code < 0) {
    code = LibxlCodeName(failure.libxl_code);
    message += "libxl " + code;
    if (errno_value <= 0 && failure.log.first_error_errno > 0) {
      errno_value = failure.log.first_error_errno;
      char buffer[128];
      message += " (first error logged with " + ErrnoName(errno_value) + ": " +
                 strerror_r(errno_value, buffer, sizeof buffer) + ")";
    }
  } else if (failure.errno_value > 0) {
    char buffer[128];
    code = ErrnoName(failure.errno_value);
    message += strerror_r(failure.errno_value, buffer, sizeof buffer);
  } else {
    code = "ERROR_FAIL";
    message += "failed";
  }
  if (!failure.detail.empty()) message += "; " + failure.detail;

  Napi::Error error = Napi::Error::New(env, message);
  Napi::Object object = error.Value();
  object.Set("code", code);
  object.Set("xenCall", failure.xen_call);
  if (errno_value > 0) object.Set("errno", errno_value);
  if (failure.libxl_code < 0) object.Set("libxlCode", failure.libxl_code);
  Napi::Array lines = Napi::Array::New(env, failure.log.lines.size());
  for (std::size_t i = 0; i < failure.log.lines.size(); ++i) lines.Set(static_cast<uint32_t>(i), failure.log.lines[i]);
  object.Set("xenLog", lines);
  if (failure.pages_done >= 0) object.Set("pagesDone", static_cast<double>(failure.pages_done));
  if (failure.log.dropped > 0) object.Set("xenLogDropped", static_cast<double>(failure.log.dropped));
  return error;
}

}  // namespace xenclaim

#include "xc_host.h"

#include <cerrno>
#include <cstring>
#include <string>

#include "xc_handle.h"
#include "xen_worker.h"

namespace xenclaim {
namespace {

Napi::Value Physinfo(const Napi::CallbackInfo& info) {
  return LambdaWorker<xc_physinfo_t>::Start(
      info.Env(), "xenclaim.physinfo",
      [](xc_physinfo_t& out, XenFailure& failure) {
        xc_interface* xch = XcHandle(failure);
        if (xch == nullptr) return;
        if (xc_physinfo(xch, &out) != 0) failure.SetErrno("xc_physinfo", errno);
      },
      [](Napi::Env env, const xc_physinfo_t& physinfo) -> Napi::Value {
        Napi::Object result = Napi::Object::New(env);
        result.Set("totalPages", static_cast<double>(physinfo.total_pages));
        result.Set("freePages", static_cast<double>(physinfo.free_pages));
        result.Set("scrubPages", static_cast<double>(physinfo.scrub_pages));
        result.Set("outstandingPages", static_cast<double>(physinfo.outstanding_pages));
        result.Set("nrCpus", physinfo.nr_cpus);
        result.Set("nrNodes", physinfo.nr_nodes);
        result.Set("cpuKhz", physinfo.cpu_khz);
        result.Set("capabilities", physinfo.capabilities);  // XEN_SYSCTL_PHYSCAP_* (hvm, pv, hap, shadow, …)
        return result;
      });
}

struct VersionOutput {
  int major = 0;
  int minor = 0;
  std::string extra;
};

Napi::Value XenVersion(const Napi::CallbackInfo& info) {
  return LambdaWorker<VersionOutput>::Start(
      info.Env(), "xenclaim.xenVersion",
      [](VersionOutput& out, XenFailure& failure) {
        xc_interface* xch = XcHandle(failure);
        if (xch == nullptr) return;
        // XENVER_version returns (major << 16) | minor, or a negative value with errno set.
        const int version = xc_version(xch, XENVER_version, nullptr);
        if (version < 0) {
          failure.SetErrno("xc_version", errno);
          failure.detail = "XENVER_version";
          return;
        }
        out.major = version >> 16;
        out.minor = version & 0xFFFF;
        xen_extraversion_t extra;
        std::memset(extra, 0, sizeof extra);
        if (xc_version(xch, XENVER_extraversion, &extra) < 0) {
          failure.SetErrno("xc_version", errno);
          failure.detail = "XENVER_extraversion";
          return;
        }
        out.extra.assign(extra, strnlen(extra, sizeof extra));
      },
      [](Napi::Env env, const VersionOutput& version) -> Napi::Value {
        Napi::Object result = Napi::Object::New(env);
        result.Set("major", version.major);
        result.Set("minor", version.minor);
        result.Set("extra", version.extra);
        return result;
      });
}

}  // namespace

void RegisterHost(Napi::Env env, Napi::Object exports) {
  exports.Set("physinfo", Napi::Function::New(env, Physinfo, "physinfo"));
  exports.Set("xenVersion", Napi::Function::New(env, XenVersion, "xenVersion"));
}

}  // namespace xenclaim

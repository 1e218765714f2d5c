#include "xc_domain.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "args.h"
#include "domain_frames.h"
#include "xc_handle.h"
#include "xen_worker.h"

namespace xenclaim {

bool ReadDomainInfo(xc_interface* xch, uint32_t domid, xc_domaininfo_t& out, bool& found, XenFailure& failure) {
#if XENCLAIM_HAVE_GETINFO_SINGLE
  if (xc_domain_getinfo_single(xch, domid, &out) == 0) {
    found = true;
    return true;
  }
  if (errno == ESRCH) {
    found = false;
    return true;
  }
  failure.SetErrno("xc_domain_getinfo_single", errno);
  failure.detail = DomainText(domid);
  return false;
#else
  // getdomaininfolist answers with the NEXT domain, or nothing, for an unknown domid.
  const int n = xc_domain_getinfolist(xch, domid, 1, &out);
  if (n < 0) {
    failure.SetErrno("xc_domain_getinfolist", errno);
    failure.detail = DomainText(domid);
    return false;
  }
  found = n == 1 && out.domain == domid;
  return true;
#endif
}

namespace {

// Frames per populate/decrease hypercall: bounds the hypercall-safe buffer libxc bounces (512 KiB); Xen itself
// preempts long requests with continuations.
constexpr uint64_t kFramesPerCall = 65536;
// Domains per getdomaininfolist hypercall.
constexpr unsigned kDomainsPerCall = 128;

// The same, but a missing domain is an ESRCH failure.
bool RequireDomain(xc_interface* xch, uint32_t domid, xc_domaininfo_t& out, XenFailure& failure) {
  bool found = false;
  if (!ReadDomainInfo(xch, domid, out, found, failure)) return false;
  if (!found) {
    failure.SetErrno(XENCLAIM_HAVE_GETINFO_SINGLE ? "xc_domain_getinfo_single" : "xc_domain_getinfolist", ESRCH,
                     DomainText(domid) + " does not exist");
    return false;
  }
  return true;
}

Napi::Object DomainInfoToJs(Napi::Env env, const xc_domaininfo_t& info) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("domid", static_cast<uint32_t>(info.domain));
  result.Set("totPages", static_cast<double>(info.tot_pages));
  result.Set("maxPages", static_cast<double>(info.max_pages));
  result.Set("outstandingPages", static_cast<double>(info.outstanding_pages));
  result.Set("shrPages", static_cast<double>(info.shr_pages));
  result.Set("pagedPages", static_cast<double>(info.paged_pages));
  result.Set("dying", (info.flags & XEN_DOMINF_dying) != 0);
  result.Set("shutdown", (info.flags & XEN_DOMINF_shutdown) != 0);
  result.Set("paused", (info.flags & XEN_DOMINF_paused) != 0);
  result.Set("hvm", (info.flags & XEN_DOMINF_hvm_guest) != 0);
  result.Set("onlineVcpus", info.nr_online_vcpus);
  result.Set("cpuTimeNs", static_cast<double>(info.cpu_time));
  return result;
}

Napi::Value ListDomains(const Napi::CallbackInfo& info) {
  return LambdaWorker<std::vector<xc_domaininfo_t>>::Start(
      info.Env(), "xenclaim.listDomains",
      [](std::vector<xc_domaininfo_t>& out, XenFailure& failure) {
        xc_interface* xch = XcHandle(failure);
        if (xch == nullptr) return;
        std::vector<xc_domaininfo_t> batch(kDomainsPerCall);
        uint32_t first = 0;
        for (;;) {
          const int n = xc_domain_getinfolist(xch, first, kDomainsPerCall, batch.data());
          if (n < 0) {
            failure.SetErrno("xc_domain_getinfolist", errno);
            return;
          }
          out.insert(out.end(), batch.begin(), batch.begin() + n);
          if (n < static_cast<int>(kDomainsPerCall)) return;
          first = static_cast<uint32_t>(batch[n - 1].domain) + 1;
        }
      },
      [](Napi::Env env, const std::vector<xc_domaininfo_t>& domains) -> Napi::Value {
        Napi::Array result = Napi::Array::New(env, domains.size());
        for (std::size_t i = 0; i < domains.size(); ++i) result.Set(static_cast<uint32_t>(i), DomainInfoToJs(env, domains[i]));
        return result;
      });
}

struct MaybeDomain {
  bool found = false;
  xc_domaininfo_t info{};
};

Napi::Value GetDomainInfo(const Napi::CallbackInfo& info) {
  const uint32_t domid = DomidArg(info, 0, "domid");
  return LambdaWorker<MaybeDomain>::Start(
      info.Env(), "xenclaim.getDomainInfo",
      [domid](MaybeDomain& out, XenFailure& failure) {
        xc_interface* xch = XcHandle(failure);
        if (xch == nullptr) return;
        ReadDomainInfo(xch, domid, out.info, out.found, failure);
      },
      [](Napi::Env env, const MaybeDomain& domain) -> Napi::Value {
        if (!domain.found) return env.Null();
        return DomainInfoToJs(env, domain.info);
      });
}

Napi::Value ClaimPages(const Napi::CallbackInfo& info) {
  const uint32_t domid = DomidArg(info, 0, "domid");
  const uint64_t pages = UnsignedArg(info, 1, "pages", 0, kMaxSafeInteger);
  return LambdaWorker<NoOutput>::Start(
      info.Env(), "xenclaim.claimPages",
      [domid, pages](NoOutput&, XenFailure& failure) {
        xc_interface* xch = XcHandle(failure);
        if (xch == nullptr) return;
        // Before Xen 4.22 libxc turns ENOSYS from this call into success (docs/claim-rules.md#rule-15).
        if (xc_domain_claim_pages(xch, domid, static_cast<unsigned long>(pages)) != 0) {
          failure.SetErrno("xc_domain_claim_pages", errno);
          failure.detail = DomainText(domid) + ", " + std::to_string(pages) + " pages";
        }
      },
      ResolveUndefined);
}

Napi::Value SetMaxMem(const Napi::CallbackInfo& info) {
  const uint32_t domid = DomidArg(info, 0, "domid");
  const uint64_t max_kib = UnsignedArg(info, 1, "maxKiB", 0, kMaxSafeInteger);
  return LambdaWorker<NoOutput>::Start(
      info.Env(), "xenclaim.setMaxMem",
      [domid, max_kib](NoOutput&, XenFailure& failure) {
        xc_interface* xch = XcHandle(failure);
        if (xch == nullptr) return;
        if (xc_domain_setmaxmem(xch, domid, max_kib) != 0) {
          failure.SetErrno("xc_domain_setmaxmem", errno);
          failure.detail = DomainText(domid) + ", " + std::to_string(max_kib) + " KiB";
        }
      },
      ResolveUndefined);
}

enum class EmptyDomainType { kPv, kPvh };

// An empty, paused domain as libxl__domain_make would create it for Xen 4.17 (tools/libs/light/libxl_create.c
// and libxl_x86.c's libxl__arch_domain_prepare_config), without any device model, memory or kernel.
Napi::Value CreateEmptyDomain(const Napi::CallbackInfo& info) {
  const std::string type_name = StringArg(info, 0, "type");
  if (type_name != "pv" && type_name != "pvh") throw Napi::RangeError::New(info.Env(), "type must be 'pv' or 'pvh'");
  const EmptyDomainType type = type_name == "pv" ? EmptyDomainType::kPv : EmptyDomainType::kPvh;
  const uint32_t vcpus = static_cast<uint32_t>(UnsignedArg(info, 1, "vcpus", 1, 128));

  return LambdaWorker<uint32_t>::Start(
      info.Env(), "xenclaim.createEmptyDomain",
      [type, vcpus](uint32_t& out, XenFailure& failure) {
        xc_interface* xch = XcHandle(failure);
        if (xch == nullptr) return;

        struct xen_domctl_createdomain config;
        std::memset(&config, 0, sizeof config);
        config.max_vcpus = vcpus;
        config.max_evtchn_port = 1023;   // libxl's default b_info->event_channels
        config.max_grant_frames = -1;    // < 0: the hypervisor's default (libxl's LIBXL_MAX_GRANT_DEFAULT)
        config.max_maptrack_frames = -1;
        config.grant_opts = XEN_DOMCTL_GRANT_version(1);  // Xen 4.17 refuses version 0; v1 is always available
        config.cpupool_id = 0;
        if (type == EmptyDomainType::kPvh) {
          // Like libxl: HAP when the host has it (libxl defaults c_info->hap to the host's capability),
          // shadow paging otherwise.
          xc_physinfo_t physinfo;
          if (xc_physinfo(xch, &physinfo) != 0) {
            failure.SetErrno("xc_physinfo", errno);
            return;
          }
          config.flags = XEN_DOMCTL_CDF_hvm;
          if ((physinfo.capabilities & XEN_SYSCTL_PHYSCAP_hap) != 0) config.flags |= XEN_DOMCTL_CDF_hap;
          config.arch.emulation_flags = XEN_X86_EMU_LAPIC;
        } else {
          config.arch.emulation_flags = 0;
        }
        // A random handle (what libxl fills with the guest's UUID) tells this domain apart from a later one that
        // reuses its domid (see domain_frames.h).
        std::random_device random;
        for (auto& byte : config.handle) byte = static_cast<uint8_t>(random());

        uint32_t domid = 0;  // 0 (not a valid new domid): Xen picks the next free one
        if (xc_domain_create(xch, &domid, &config) != 0) {
          failure.SetErrno("xc_domain_create", errno);
          failure.detail = type == EmptyDomainType::kPv ? "PV domain" : "PVH domain";
          return;
        }
        // Xen 4.17 sizes the vCPU array at createdomain; XEN_DOMCTL_max_vcpus (same count) creates the vCPUs.
        if (xc_domain_max_vcpus(xch, domid, vcpus) != 0) {
          const int err = errno;
          failure.SetErrno("xc_domain_max_vcpus", err, DomainText(domid) + ", " + std::to_string(vcpus) + " vCPUs");
          // No half-built domain is left behind.
          if (xc_domain_destroy(xch, domid) != 0) {
            failure.detail += "; destroying it again failed too (errno " + std::to_string(errno) + ")";
          }
          return;
        }
        DomainFrames::Instance().TrackNewDomain(domid, config.handle);
        out = domid;
      },
      [](Napi::Env env, const uint32_t& domid) -> Napi::Value { return Napi::Number::New(env, domid); });
}

Napi::Value PopulatePhysmap(const Napi::CallbackInfo& info) {
  const uint32_t domid = DomidArg(info, 0, "domid");
  const uint64_t pages = UnsignedArg(info, 1, "pages", 0, kMaxSafeInteger);
  return LambdaWorker<uint64_t>::Start(
      info.Env(), "xenclaim.populatePhysmap",
      [domid, pages](uint64_t& done, XenFailure& failure) {
        xc_interface* xch = XcHandle(failure);
        if (xch == nullptr) return;
        xc_domaininfo_t dominfo;
        if (!RequireDomain(xch, domid, dominfo, failure)) return;
        if (pages == 0) return;

        DomainFrames& frames = DomainFrames::Instance();
        xen_pfn_t first_unused = 0;
        if (frames.PopulatedCount(domid, dominfo.handle) == 0) {
          // Not (or no longer) tracked: a domain someone else built may use every frame up to maximum_gpfn.
          xen_pfn_t max_gpfn = 0;
          if (xc_domain_maximum_gpfn(xch, domid, &max_gpfn) != 0) {
            failure.SetErrno("xc_domain_maximum_gpfn", errno);
            failure.detail = DomainText(domid);
            return;
          }
          first_unused = max_gpfn + 1;
        }
        const xen_pfn_t first = frames.ReserveGfns(domid, dominfo.handle, first_unused, pages);

        std::vector<xen_pfn_t> batch(static_cast<std::size_t>(std::min(pages, kFramesPerCall)));
        while (done < pages) {
          const uint64_t n = std::min(kFramesPerCall, pages - done);
          for (uint64_t i = 0; i < n; ++i) batch[i] = first + done + i;
          // The non-_exact call, to learn how many extents Xen did populate before refusing: those pages now
          // belong to the domain and must stay accounted for. Order-0 extents: exact page counts for the claim.
          const int rc = xc_domain_populate_physmap(xch, domid, n, 0, 0, batch.data());
          if (rc < 0) {
            failure.SetErrno("xc_domain_populate_physmap", errno);
            failure.detail = DomainText(domid);
            failure.pages_done = static_cast<int64_t>(done);
            break;
          }
          // PV: Xen wrote the allocated MFNs into `batch`; translated guests: it still holds the GFNs.
          frames.RecordPopulated(domid, batch.data(), static_cast<uint64_t>(rc));
          done += static_cast<uint64_t>(rc);
          if (static_cast<uint64_t>(rc) < n) break;  // refused (allocation gate, max_pages, …): TS says which
        }
        frames.ReleaseUnusedGfns(domid, first + pages, first + done);
      },
      [](Napi::Env env, const uint64_t& done) -> Napi::Value { return Napi::Number::New(env, static_cast<double>(done)); });
}

Napi::Value DecreaseReservation(const Napi::CallbackInfo& info) {
  const uint32_t domid = DomidArg(info, 0, "domid");
  const uint64_t pages = UnsignedArg(info, 1, "pages", 0, kMaxSafeInteger);
  return LambdaWorker<uint64_t>::Start(
      info.Env(), "xenclaim.decreaseReservation",
      [domid, pages](uint64_t& done, XenFailure& failure) {
        xc_interface* xch = XcHandle(failure);
        if (xch == nullptr) return;
        xc_domaininfo_t dominfo;
        if (!RequireDomain(xch, domid, dominfo, failure)) return;
        DomainFrames& frames = DomainFrames::Instance();
        const uint64_t tracked = frames.PopulatedCount(domid, dominfo.handle);
        if (pages > tracked) {
          failure.SetErrno("xc_domain_decrease_reservation", EINVAL,
                           DomainText(domid) + " has " + std::to_string(tracked) +
                               " pages populated through xenclaim; only those can be handed back (asked for " +
                               std::to_string(pages) + ")");
          return;
        }
        while (done < pages) {
          std::vector<xen_pfn_t> batch = frames.TakeNewest(domid, std::min(kFramesPerCall, pages - done));
          if (batch.empty()) {
            failure.SetErrno("xc_domain_decrease_reservation", EINVAL,
                             "the pages populated through xenclaim ran out (a concurrent decrease took them)");
            failure.pages_done = static_cast<int64_t>(done);
            return;
          }
          const int rc = xc_domain_decrease_reservation(xch, domid, batch.size(), 0, batch.data());
          const int err = errno;
          const uint64_t freed = rc > 0 ? static_cast<uint64_t>(rc) : 0;
          if (freed < batch.size()) frames.PutBack(domid, batch.data() + freed, batch.size() - freed);
          done += freed;
          if (rc < 0) {
            failure.SetErrno("xc_domain_decrease_reservation", err, DomainText(domid));
            failure.pages_done = static_cast<int64_t>(done);
            return;
          }
          if (freed < batch.size()) return;  // Xen stopped early: TS reports the shortfall
        }
      },
      [](Napi::Env env, const uint64_t& done) -> Napi::Value { return Napi::Number::New(env, static_cast<double>(done)); });
}

// destroyDomain / pauseDomain / unpauseDomain: one domctl each, errno on failure.
template <int (*Call)(xc_interface*, uint32_t)>
Napi::Value SimpleDomainCall(const Napi::CallbackInfo& info, const char* resource, const char* xen_call,
                             bool forget_frames) {
  const uint32_t domid = DomidArg(info, 0, "domid");
  return LambdaWorker<NoOutput>::Start(
      info.Env(), resource,
      [domid, xen_call, forget_frames](NoOutput&, XenFailure& failure) {
        xc_interface* xch = XcHandle(failure);
        if (xch == nullptr) return;
        if (Call(xch, domid) != 0) {
          failure.SetErrno(xen_call, errno);
          failure.detail = DomainText(domid);
          return;
        }
        if (forget_frames) DomainFrames::Instance().Forget(domid);
      },
      ResolveUndefined);
}

Napi::Value DestroyDomain(const Napi::CallbackInfo& info) {
  return SimpleDomainCall<xc_domain_destroy>(info, "xenclaim.destroyDomain", "xc_domain_destroy", true);
}
Napi::Value PauseDomain(const Napi::CallbackInfo& info) {
  return SimpleDomainCall<xc_domain_pause>(info, "xenclaim.pauseDomain", "xc_domain_pause", false);
}
Napi::Value UnpauseDomain(const Napi::CallbackInfo& info) {
  return SimpleDomainCall<xc_domain_unpause>(info, "xenclaim.unpauseDomain", "xc_domain_unpause", false);
}

}  // namespace

void RegisterDomain(Napi::Env env, Napi::Object exports) {
  exports.Set("listDomains", Napi::Function::New(env, ListDomains, "listDomains"));
  exports.Set("getDomainInfo", Napi::Function::New(env, GetDomainInfo, "getDomainInfo"));
  exports.Set("claimPages", Napi::Function::New(env, ClaimPages, "claimPages"));
  exports.Set("setMaxMem", Napi::Function::New(env, SetMaxMem, "setMaxMem"));
  exports.Set("createEmptyDomain", Napi::Function::New(env, CreateEmptyDomain, "createEmptyDomain"));
  exports.Set("populatePhysmap", Napi::Function::New(env, PopulatePhysmap, "populatePhysmap"));
  exports.Set("decreaseReservation", Napi::Function::New(env, DecreaseReservation, "decreaseReservation"));
  exports.Set("destroyDomain", Napi::Function::New(env, DestroyDomain, "destroyDomain"));
  exports.Set("pauseDomain", Napi::Function::New(env, PauseDomain, "pauseDomain"));
  exports.Set("unpauseDomain", Napi::Function::New(env, UnpauseDomain, "unpauseDomain"));
}

}  // namespace xenclaim

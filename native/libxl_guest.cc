#include "libxl_guest.h"

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "args.h"
#include "domain_frames.h"
#include "libxl_context.h"
#include "libxl_context_pool.h"
#include "xc_domain.h"
#include "xc_handle.h"
#include "xen_worker.h"

namespace xenclaim {
namespace {

constexpr uint32_t kNoDomid = INVALID_DOMID;

// A libxl_domain_config for the length of one operation.
class DomainConfig {
 public:
  DomainConfig() { libxl_domain_config_init(&config_); }
  ~DomainConfig() { libxl_domain_config_dispose(&config_); }
  DomainConfig(const DomainConfig&) = delete;
  DomainConfig& operator=(const DomainConfig&) = delete;
  libxl_domain_config* get() { return &config_; }

  // libxl_domain_config_from_json; false with `failure` filled when libxl refuses the JSON.
  bool Parse(libxl_ctx* ctx, const std::string& json, XenFailure& failure) {
    const int rc = libxl_domain_config_from_json(ctx, &config_, json.c_str());
    if (rc != 0) {
      failure.SetLibxl("libxl_domain_config_from_json", rc, "libxl does not accept this domain configuration");
      return false;
    }
    return true;
  }

 private:
  libxl_domain_config config_;
};

// True when `domid` names a domain that exists and is not already dying.
bool DomainLives(uint32_t domid) {
  XenFailure ignored;
  xc_interface* xch = XcHandle(ignored);
  if (xch == nullptr) return false;
  xc_domaininfo_t info;
  bool found = false;
  return ReadDomainInfo(xch, domid, info, found, ignored) && found && (info.flags & XEN_DOMINF_dying) == 0;
}

// After a failed creation: libxl normally destroys what it built; if a domain with the assigned domid is still
// there, destroy it so that no half-built domain is left behind, and say what happened.
void DestroyLeftover(libxl_ctx* ctx, uint32_t domid, XenFailure& failure) {
  if (domid == kNoDomid || domid >= DOMID_FIRST_RESERVED || !DomainLives(domid)) return;
  const int rc = libxl_domain_destroy(ctx, domid, nullptr);
  std::string note = rc == 0 ? DomainText(domid) + " was left half-built and has been destroyed"
                             : DomainText(domid) + " was left half-built and destroying it failed (" + LibxlCodeName(rc) +
                                   "): destroy it by hand (xl destroy " + std::to_string(domid) + ")";
  failure.detail += failure.detail.empty() ? note : "; " + note;
}

class CreateGuestWorker final : public XenWorker {
 public:
  CreateGuestWorker(Napi::Env env, std::string config_json, bool claim, bool paused)
      : XenWorker(env, "xenclaim.createGuest"), config_json_(std::move(config_json)), claim_(claim), paused_(paused) {}

 private:
  void Run(XenFailure& failure) override {
    // A ctx of its own for this build, so that concurrent builds do not take turns on one ctx's lock.
    PooledLibxlContext pooled(failure);
    libxl_ctx* ctx = pooled.get();
    if (ctx == nullptr) return;
    DomainConfig config;
    if (!config.Parse(ctx, config_json_, failure)) return;
    // The domain builder claims the whole allocation before populating, and drops the claim when done.
    libxl_defbool_set(&config.get()->b_info.claim_mode, claim_);

    uint32_t domid = kNoDomid;
    int rc = libxl_domain_create_new(ctx, config.get(), &domid, nullptr, nullptr);
    if (rc != 0) {
      failure.SetLibxl("libxl_domain_create_new", rc);
      DestroyLeftover(ctx, domid, failure);
      return;
    }
    if (!paused_) {
      rc = libxl_domain_unpause(ctx, domid, nullptr);
      if (rc != 0) {
        failure.SetLibxl("libxl_domain_unpause", rc, DomainText(domid) + " was built but could not be started");
        DestroyLeftover(ctx, domid, failure);
        return;
      }
    }
    domid_ = domid;
  }

  Napi::Value Result(Napi::Env env) override { return Napi::Number::New(env, domid_); }

  const std::string config_json_;
  const bool claim_;
  const bool paused_;
  uint32_t domid_ = kNoDomid;
};

class DestroyGuestWorker final : public XenWorker {
 public:
  DestroyGuestWorker(Napi::Env env, uint32_t domid) : XenWorker(env, "xenclaim.destroyGuest"), domid_(domid) {}

 private:
  void Run(XenFailure& failure) override {
    libxl_ctx* ctx = LibxlContext(failure);
    if (ctx == nullptr) return;
    const int rc = libxl_domain_destroy(ctx, domid_, nullptr);
    if (rc != 0) {
      failure.SetLibxl("libxl_domain_destroy", rc, DomainText(domid_));
      return;
    }
    DomainFrames::Instance().Forget(domid_);
  }

  const uint32_t domid_;
};

class SetMemoryTargetWorker final : public XenWorker {
 public:
  SetMemoryTargetWorker(Napi::Env env, uint32_t domid, int64_t target_kib, bool relative, bool enforce)
      : XenWorker(env, "xenclaim.setMemoryTarget"), domid_(domid), target_kib_(target_kib), relative_(relative), enforce_(enforce) {}

 private:
  void Run(XenFailure& failure) override {
    libxl_ctx* ctx = LibxlContext(failure);
    if (ctx == nullptr) return;
    const int rc = libxl_set_memory_target(ctx, domid_, target_kib_, relative_ ? 1 : 0, enforce_ ? 1 : 0);
    if (rc != 0) {
      failure.SetLibxl("libxl_set_memory_target", rc,
                       DomainText(domid_) + (relative_ ? ", by " : ", to ") + std::to_string(target_kib_) + " KiB");
    }
  }

  const uint32_t domid_;
  const int64_t target_kib_;
  const bool relative_;
  const bool enforce_;
};

class NeedMemoryWorker final : public XenWorker {
 public:
  NeedMemoryWorker(Napi::Env env, std::string config_json)
      : XenWorker(env, "xenclaim.needMemoryKiB"), config_json_(std::move(config_json)) {}

 private:
  void Run(XenFailure& failure) override {
    libxl_ctx* ctx = LibxlContext(failure);
    if (ctx == nullptr) return;
    DomainConfig config;
    if (!config.Parse(ctx, config_json_, failure)) return;
    // Xen 4.17's signature takes the whole config (and defaults parts of it): target + shadow + iommu + extra +
    // stubdom, as libxl itself computes it before building.
    const int rc = libxl_domain_need_memory(ctx, config.get(), kNoDomid, &need_kib_);
    if (rc != 0) failure.SetLibxl("libxl_domain_need_memory", rc);
  }

  Napi::Value Result(Napi::Env env) override { return Napi::Number::New(env, static_cast<double>(need_kib_)); }

  const std::string config_json_;
  uint64_t need_kib_ = 0;
};

class FreeMemoryWorker final : public XenWorker {
 public:
  explicit FreeMemoryWorker(Napi::Env env) : XenWorker(env, "xenclaim.freeMemoryKiB") {}

 private:
  void Run(XenFailure& failure) override {
    libxl_ctx* ctx = LibxlContext(failure);
    if (ctx == nullptr) return;
    // libxl's view: free memory NOT reduced by outstanding claims (docs/claim-rules.md#rule-10).
    const int rc = libxl_get_free_memory(ctx, &free_kib_);
    if (rc != 0) failure.SetLibxl("libxl_get_free_memory", rc);
  }

  Napi::Value Result(Napi::Env env) override { return Napi::Number::New(env, static_cast<double>(free_kib_)); }

  uint64_t free_kib_ = 0;
};

class NamesAndTargetsWorker final : public XenWorker {
 public:
  NamesAndTargetsWorker(Napi::Env env, std::vector<uint32_t> domids)
      : XenWorker(env, "xenclaim.domainNamesAndTargets"), domids_(std::move(domids)) {}

 private:
  struct Known {
    uint32_t domid;
    std::optional<std::string> name;
    std::optional<uint64_t> target_kib;
  };

  void Run(XenFailure& failure) override {
    libxl_ctx* ctx = LibxlContext(failure);
    if (ctx == nullptr) return;
    for (uint32_t domid : domids_) {
      Known known{domid, std::nullopt, std::nullopt};
      if (char* name = libxl_domid_to_name(ctx, domid)) {
        known.name = name;
        std::free(name);
      }
      // Domains without a balloon target in xenstore (e.g. empty ones) make libxl log and fail: not an error here.
      uint64_t target = 0;
      if (libxl_get_memory_target(ctx, domid, &target) == 0) known.target_kib = target;
      known_.push_back(std::move(known));
    }
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Array result = Napi::Array::New(env, known_.size());
    for (std::size_t i = 0; i < known_.size(); ++i) {
      Napi::Object entry = Napi::Object::New(env);
      entry.Set("domid", known_[i].domid);
      entry.Set("name", known_[i].name ? Napi::Value(Napi::String::New(env, *known_[i].name)) : env.Null());
      entry.Set("targetKiB", known_[i].target_kib
                                 ? Napi::Value(Napi::Number::New(env, static_cast<double>(*known_[i].target_kib)))
                                 : env.Null());
      result.Set(static_cast<uint32_t>(i), entry);
    }
    return result;
  }

  const std::vector<uint32_t> domids_;
  std::vector<Known> known_;
};

Napi::Value CreateGuest(const Napi::CallbackInfo& info) {
  std::string config_json = StringArg(info, 0, "configJson");
  if (info.Length() < 2 || !info[1].IsObject()) throw Napi::TypeError::New(info.Env(), "options must be an object");
  Napi::Object options = info[1].As<Napi::Object>();
  if (!options.Get("claim").IsBoolean() || !options.Get("paused").IsBoolean()) {
    throw Napi::TypeError::New(info.Env(), "options.claim and options.paused must be true or false");
  }
  const bool claim = options.Get("claim").As<Napi::Boolean>().Value();
  const bool paused = options.Get("paused").As<Napi::Boolean>().Value();
  return (new CreateGuestWorker(info.Env(), std::move(config_json), claim, paused))->Start();
}

Napi::Value DestroyGuest(const Napi::CallbackInfo& info) {
  return (new DestroyGuestWorker(info.Env(), DomidArg(info, 0, "domid")))->Start();
}

Napi::Value SetMemoryTarget(const Napi::CallbackInfo& info) {
  const uint32_t domid = DomidArg(info, 0, "domid");
  const auto max = static_cast<int64_t>(kMaxSafeInteger);
  const int64_t target_kib = SignedArg(info, 1, "targetKiB", -max, max);
  const bool relative = BoolArg(info, 2, "relative");
  const bool enforce = BoolArg(info, 3, "enforce");
  if (!relative && target_kib < 0) throw Napi::RangeError::New(info.Env(), "targetKiB must not be negative unless relative");
  return (new SetMemoryTargetWorker(info.Env(), domid, target_kib, relative, enforce))->Start();
}

Napi::Value NeedMemoryKiB(const Napi::CallbackInfo& info) {
  return (new NeedMemoryWorker(info.Env(), StringArg(info, 0, "configJson")))->Start();
}

Napi::Value FreeMemoryKiB(const Napi::CallbackInfo& info) { return (new FreeMemoryWorker(info.Env()))->Start(); }

Napi::Value DomainNamesAndTargets(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(info.Env(), "domids must be an array");
  Napi::Array array = info[0].As<Napi::Array>();
  std::vector<uint32_t> domids;
  domids.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value value = array.Get(i);
    if (!value.IsNumber()) throw Napi::TypeError::New(info.Env(), "domids must hold numbers");
    const double domid = value.As<Napi::Number>().DoubleValue();
    if (!(domid >= 0 && domid <= kMaxDomid) || domid != static_cast<double>(static_cast<uint32_t>(domid))) {
      throw Napi::RangeError::New(info.Env(), "domids must hold integers from 0 to 32751");
    }
    domids.push_back(static_cast<uint32_t>(domid));
  }
  return (new NamesAndTargetsWorker(info.Env(), std::move(domids)))->Start();
}

}  // namespace

void RegisterLibxlGuest(Napi::Env env, Napi::Object exports) {
  exports.Set("createGuest", Napi::Function::New(env, CreateGuest, "createGuest"));
  exports.Set("destroyGuest", Napi::Function::New(env, DestroyGuest, "destroyGuest"));
  exports.Set("setMemoryTarget", Napi::Function::New(env, SetMemoryTarget, "setMemoryTarget"));
  exports.Set("needMemoryKiB", Napi::Function::New(env, NeedMemoryKiB, "needMemoryKiB"));
  exports.Set("freeMemoryKiB", Napi::Function::New(env, FreeMemoryKiB, "freeMemoryKiB"));
  exports.Set("domainNamesAndTargets", Napi::Function::New(env, DomainNamesAndTargets, "domainNamesAndTargets"));
}

}  // namespace xenclaim

#include "libxl_memory.h"

#include <string>

#include "args.h"
#include "domain_frames.h"
#include "libxl_context.h"
#include "xen_worker.h"

namespace xenclaim {
namespace {

class SetGuestMaxMemWorker final : public XenWorker {
 public:
  SetGuestMaxMemWorker(Napi::Env env, uint32_t domid, uint64_t max_kib)
      : XenWorker(env, "xenclaim.setGuestMaxMem"), domid_(domid), max_kib_(max_kib) {}

 private:
  void Run(XenFailure& failure) override {
    libxl_ctx* ctx = LibxlContext(failure);
    if (ctx == nullptr) return;
    const int rc = libxl_domain_setmaxmem(ctx, domid_, max_kib_);
    // libxl answers a maximum below memory/target with 1, not an ERROR_* code: report it as ERROR_INVAL.
    if (rc != 0) {
      failure.SetLibxl("libxl_domain_setmaxmem", rc < 0 ? rc : ERROR_INVAL,
                       DomainText(domid_) + ", max " + std::to_string(max_kib_) + " KiB");
    }
  }

  const uint32_t domid_;
  const uint64_t max_kib_;
};

Napi::Value SetGuestMaxMem(const Napi::CallbackInfo& info) {
  const uint32_t domid = DomidArg(info, 0, "domid");
  const uint64_t max_kib = UnsignedArg(info, 1, "maxKiB", 0, kMaxSafeInteger);
  return (new SetGuestMaxMemWorker(info.Env(), domid, max_kib))->Start();
}

}  // namespace

void RegisterLibxlMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("setGuestMaxMem", Napi::Function::New(env, SetGuestMaxMem, "setGuestMaxMem"));
}

}  // namespace xenclaim

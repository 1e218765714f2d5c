#include "xc_tmem.h"

#include <cerrno>
#include <string>

#include "args.h"
#include "xen_headers.h"
#include "xen_worker.h"

namespace xenclaim {
namespace {

// Xen 4.17's headers only keep a commented-out XEN_SYSCTL_tmem_op; xenclaim has no code for the pre-4.13 tmem
// interface, so a build against such old headers refuses the calls the same way rather than guessing at an ABI it
// was never tested with.
Napi::Value TmemControl(const Napi::CallbackInfo& info) {
  const std::string op = StringArg(info, 0, "op");
  if (op != "freeze" && op != "thaw" && op != "setCap" && op != "freeablePages") {
    throw Napi::RangeError::New(info.Env(), "op must be 'freeze', 'thaw', 'setCap' or 'freeablePages'");
  }
  return LambdaWorker<NoOutput>::Start(
      info.Env(), "xenclaim.tmemControl",
      [op](NoOutput&, XenFailure& failure) {
        failure.SetErrno("xc_tmem_control", ENOSYS,
                         kBuiltWithTmem ? "xenclaim does not drive the pre-4.13 tmem interface (tmem " + op + ")"
                                        : "tmem was removed in Xen 4.13 (tmem " + op + ")");
      },
      ResolveUndefined);
}

}  // namespace

void RegisterTmem(Napi::Env env, Napi::Object exports) {
  exports.Set("tmemControl", Napi::Function::New(env, TmemControl, "tmemControl"));
  exports.Set("hasTmem", Napi::Boolean::New(env, kBuiltWithTmem));
}

}  // namespace xenclaim

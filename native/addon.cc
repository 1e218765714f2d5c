// Module init for the xenclaim addon: each area registers its functions. The addon is thin and 1:1 over
// libxenctrl/libxenlight; policy and argument checks live in TypeScript (src/native/).
#include <napi.h>

#include "build_target.h"
#include "libxl_guest.h"
#include "libxl_memory.h"
#include "sigchld_chain.h"
#include "xc_domain.h"
#include "xc_host.h"
#include "xc_tmem.h"
#include "xen_headers.h"
#include "xen_logger.h"

namespace xenclaim {
namespace {

// Lines the Xen libraries logged with no operation's capture in place (kept, never printed).
Napi::Value TakeUnattributedLog(const Napi::CallbackInfo& info) {
  const std::vector<std::string> lines = TakeUnattributedLines();
  Napi::Array result = Napi::Array::New(info.Env(), lines.size());
  for (std::size_t i = 0; i < lines.size(); ++i) result.Set(static_cast<uint32_t>(i), lines[i]);
  return result;
}

}  // namespace
}  // namespace xenclaim

static Napi::Object InitXenclaim(Napi::Env env, Napi::Object exports) {
  using namespace xenclaim;
  RegisterHost(env, exports);
  RegisterDomain(env, exports);
  RegisterTmem(env, exports);
  RegisterLibxlGuest(env, exports);
  RegisterLibxlMemory(env, exports);
  KeepLibuvSigchldHandler(env);
  RegisterBuildTarget(env, exports);
  exports.Set("takeUnattributedLog", Napi::Function::New(env, TakeUnattributedLog, "takeUnattributedLog"));
  return exports;
}

NODE_API_MODULE(xenclaim, InitXenclaim)

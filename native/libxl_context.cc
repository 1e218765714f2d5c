#include "libxl_context.h"

#include <mutex>

#include "sigchld_chain.h"
#include "xen_logger.h"

namespace xenclaim {
namespace {

std::mutex context_mutex;
libxl_ctx* context = nullptr;  // never freed: freeing would make libxl restore SIGCHLD under Node's feet

// libxl keeps a pointer to the hooks: they must outlive the ctx.
const libxl_childproc_hooks childproc_hooks = {
    libxl_sigchld_owner_libxl_always_selective_reap,  // libxl reaps only its own children; Node reaps its own
    nullptr,                                          // fork_replacement: plain fork
    nullptr,                                          // reaped_callback: only for libxl_sigchld_owner_libxl
};

}  // namespace

libxl_ctx* LibxlContext(XenFailure& failure) {
  std::lock_guard<std::mutex> lock(context_mutex);
  if (context != nullptr) return context;
  libxl_ctx* created = nullptr;
  const int rc = libxl_ctx_alloc(&created, LIBXL_VERSION, 0, CapturingLogger());
  if (rc != 0 || created == nullptr) {
    failure.SetLibxl("libxl_ctx_alloc", rc != 0 ? rc : ERROR_FAIL, "cannot set up libxl (is this a Xen dom0 with xenstored running?)");
    return nullptr;
  }
  BeginSigchldNegotiation();
  libxl_childproc_setmode(created, &childproc_hooks, nullptr);
  EndSigchldNegotiation();
  context = created;
  return context;
}

}  // namespace xenclaim

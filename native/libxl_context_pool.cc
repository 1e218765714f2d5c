#include "libxl_context_pool.h"

#include <cstdlib>
#include <mutex>
#include <vector>

#include "libxl_context.h"
#include "sigchld_chain.h"
#include "xen_logger.h"

namespace xenclaim {
namespace {

std::mutex pool_mutex;
std::vector<libxl_ctx*> idle_contexts;  // never freed (see libxl_context.cc)

const libxl_childproc_hooks pooled_hooks = {
    libxl_sigchld_owner_libxl_always_selective_reap,  // the same mode as the first ctx: libxl reaps only its own
    nullptr,
    nullptr,
};

}  // namespace

PooledLibxlContext::PooledLibxlContext(XenFailure& failure) {
  // The process's first ctx negotiates SIGCHLD with Node; every later one joins libxl's handler.
  libxl_ctx* first = LibxlContext(failure);
  if (first == nullptr) return;
  // XENCLAIM_ONE_LIBXL_CTX=1: every build on the first ctx, as before the pool (to compare, or to rule the pool out).
  static const bool one_ctx = std::getenv("XENCLAIM_ONE_LIBXL_CTX") != nullptr;
  if (one_ctx) {
    ctx_ = first;
    shared_ = true;
    return;
  }
  {
    std::lock_guard<std::mutex> lock(pool_mutex);
    if (!idle_contexts.empty()) {
      ctx_ = idle_contexts.back();
      idle_contexts.pop_back();
      return;
    }
  }
  libxl_ctx* created = nullptr;
  const int rc = libxl_ctx_alloc(&created, LIBXL_VERSION, 0, CapturingLogger());
  if (rc != 0 || created == nullptr) {
    failure.SetLibxl("libxl_ctx_alloc", rc != 0 ? rc : ERROR_FAIL, "cannot set up another libxl context for a build");
    return;
  }
  libxl_childproc_setmode(created, &pooled_hooks, nullptr);
  RestoreSigchldChain();  // joining libxl's SIGCHLD users put libxl's bare handler back over Node's
  ctx_ = created;
}

PooledLibxlContext::~PooledLibxlContext() {
  if (ctx_ == nullptr || shared_) return;
  std::lock_guard<std::mutex> lock(pool_mutex);
  idle_contexts.push_back(ctx_);
}

}  // namespace xenclaim

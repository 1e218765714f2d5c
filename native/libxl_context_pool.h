// Extra libxl contexts for guest builds, so that concurrent builds run in parallel as separate `xl create` processes
// do. libxl runs the domain builder (populating the guest's memory, loading its kernel) in an event callback, and
// callbacks run with the ctx's lock held (libxl_internal.h, CTX_LOCK): two builds on one ctx take turns. Each
// build borrows a ctx of its own from this pool for its duration; contexts are created on demand (after the
// process's first ctx, which negotiated SIGCHLD) and, like the first one, never freed. Each new ctx joins libxl's
// SIGCHLD users, and joining re-installs libxl's bare handler over the chain with Node's (libxl_fork.c,
// libxl__sigchld_needed): the pool puts the chain back each time (sigchld_chain.h, RestoreSigchldChain).
#pragma once

#include "xen_error.h"
#include "xen_headers.h"

namespace xenclaim {

class PooledLibxlContext {
 public:
  // Borrows a ctx (creating one if none is free); get() is nullptr with `failure` filled if none could be made.
  explicit PooledLibxlContext(XenFailure& failure);
  ~PooledLibxlContext();
  PooledLibxlContext(const PooledLibxlContext&) = delete;
  PooledLibxlContext& operator=(const PooledLibxlContext&) = delete;
  libxl_ctx* get() const { return ctx_; }

 private:
  libxl_ctx* ctx_ = nullptr;
  bool shared_ = false;  // the process's first ctx (XENCLAIM_ONE_LIBXL_CTX): not the pool's to take back
};

}  // namespace xenclaim

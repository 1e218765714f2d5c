#include "sigchld_chain.h"

#include <uv.h>

#include <csignal>
#include <cstring>
#include <unistd.h>

namespace xenclaim {
namespace {

uv_signal_t* libuv_watcher = nullptr;  // never closed: it pins libuv's SIGCHLD handler for the process's life

struct sigaction before_libxl;  // what was installed before libxl (libuv's handler, or SIG_DFL)
struct sigaction libxl_action;  // libxl's own handler
volatile sig_atomic_t chain_installed = 0;

void CallHandler(const struct sigaction& action, int signo, siginfo_t* info, void* context) {
  if ((action.sa_flags & SA_SIGINFO) != 0) {
    if (action.sa_sigaction != nullptr) action.sa_sigaction(signo, info, context);
  } else if (action.sa_handler != SIG_DFL && action.sa_handler != SIG_IGN && action.sa_handler != nullptr) {
    action.sa_handler(signo);
  }
}

void ChainedSigchld(int signo, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  CallHandler(libxl_action, signo, info, context);
  CallHandler(before_libxl, signo, info, context);
  errno = saved_errno;
}

void IgnoreSignal(uv_signal_t*, int) {}

void InstallChain() {
  struct sigaction chained;
  std::memset(&chained, 0, sizeof chained);
  chained.sa_sigaction = ChainedSigchld;
  chained.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&chained.sa_mask);
  sigaction(SIGCHLD, &chained, nullptr);
  chain_installed = 1;
  kill(getpid(), SIGCHLD);  // a child that exited while the chain was not in place is noticed now
}

}  // namespace

void KeepLibuvSigchldHandler(Napi::Env env) {
  if (libuv_watcher != nullptr) return;
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop != uv_default_loop()) return;
  auto* watcher = new uv_signal_t;
  if (uv_signal_init(loop, watcher) != 0 || uv_signal_start(watcher, IgnoreSignal, SIGCHLD) != 0) {
    delete watcher;
    return;
  }
  uv_unref(reinterpret_cast<uv_handle_t*>(watcher));  // it must not keep Node alive
  libuv_watcher = watcher;
}

void BeginSigchldNegotiation() {
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGCHLD, &dfl, &before_libxl);
}

void EndSigchldNegotiation() {
  sigaction(SIGCHLD, nullptr, &libxl_action);
  const bool libxl_installed = (libxl_action.sa_flags & SA_SIGINFO) != 0 ||
                               (libxl_action.sa_handler != SIG_DFL && libxl_action.sa_handler != SIG_IGN);
  if (!libxl_installed) {
    sigaction(SIGCHLD, &before_libxl, nullptr);  // libxl did not want SIGCHLD after all: put things back
    return;
  }
  InstallChain();
}

void RestoreSigchldChain() {
  if (chain_installed == 0) return;
  struct sigaction now;
  sigaction(SIGCHLD, nullptr, &now);
  // Only libxl's own handler is replaced: anything else (the chain, or libxl's deferral handler while another
  // thread registers a ctx, which then calls this itself) is left as it is.
  const bool libxl_bare = (now.sa_flags & SA_SIGINFO) == 0 && (libxl_action.sa_flags & SA_SIGINFO) == 0 &&
                          now.sa_handler == libxl_action.sa_handler;
  if (libxl_bare) InstallChain();
}

}  // namespace xenclaim

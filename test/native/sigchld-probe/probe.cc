// Test-only addon (built as the `sigchld_probe` target next to xenclaim): drives native/sigchld_chain.cc with a
// stand-in for libxl's SIGCHLD installation, so CI can check the negotiation without Xen. The stand-in does what
// libxl_fork.c does: it checks it finds SIG_DFL (libxl asserts this) and installs a plain handler.
#include <napi.h>

#include <atomic>
#include <csignal>

#include "../../../native/sigchld_chain.h"

namespace {

std::atomic<int> libxl_handler_calls{0};

void StandInLibxlHandler(int) { libxl_handler_calls++; }

// libxl_fork.c's sigchld_sethandler_raw: its plain handler, installed over whatever is there.
void InstallStandInLibxlHandler() {
  struct sigaction ours = {};
  ours.sa_handler = StandInLibxlHandler;
  ours.sa_flags = SA_NOCLDSTOP | SA_RESTART;
  sigemptyset(&ours.sa_mask);
  sigaction(SIGCHLD, &ours, nullptr);
}

Napi::Value Negotiate(const Napi::CallbackInfo& info) {
  xenclaim::BeginSigchldNegotiation();
  struct sigaction found;
  sigaction(SIGCHLD, nullptr, &found);
  const bool found_default = (found.sa_flags & SA_SIGINFO) == 0 && found.sa_handler == SIG_DFL;
  InstallStandInLibxlHandler();
  xenclaim::EndSigchldNegotiation();
  return Napi::Boolean::New(info.Env(), found_default);
}

// What libxl does when a further ctx joins its SIGCHLD users (libxl_fork.c, libxl__sigchld_needed →
// release_sigchld): it installs its bare handler again, over whatever is there. With `restore`, the addon's
// answer (as the libxl ctx pool does after each new ctx) follows.
Napi::Value AnotherContextJoins(const Napi::CallbackInfo& info) {
  InstallStandInLibxlHandler();
  if (info.Length() > 0 && info[0].ToBoolean().Value()) xenclaim::RestoreSigchldChain();
  return info.Env().Undefined();
}

Napi::Value LibxlHandlerCalls(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), libxl_handler_calls.load());
}

}  // namespace

static Napi::Object InitProbe(Napi::Env env, Napi::Object exports) {
  xenclaim::KeepLibuvSigchldHandler(env);
  exports.Set("negotiate", Napi::Function::New(env, Negotiate, "negotiate"));
  exports.Set("anotherContextJoins", Napi::Function::New(env, AnotherContextJoins, "anotherContextJoins"));
  exports.Set("libxlHandlerCalls", Napi::Function::New(env, LibxlHandlerCalls, "libxlHandlerCalls"));
  return exports;
}

NODE_API_MODULE(sigchld_probe, InitProbe)

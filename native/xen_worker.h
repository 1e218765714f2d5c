// The one way the addon runs a Xen library call: on a libuv worker thread, with the calling thread's log capture
// pointed at this operation, settling a promise on the main thread. Inputs are copied into the worker (its
// members or the body's captures) before it is queued, so nothing reads JS values off the main thread.
#pragma once

#include <napi.h>

#include <functional>
#include <utility>

#include "xen_error.h"

namespace xenclaim {

class XenWorker : public Napi::AsyncWorker {
 public:
  // Queues the worker (which deletes itself once settled) and returns its promise.
  Napi::Promise Start();

 protected:
  XenWorker(Napi::Env env, const char* resource_name);
  // Off the main thread. Report a failure by filling `failure`; never touch JS values here.
  virtual void Run(XenFailure& failure) = 0;
  // On the main thread, after Run succeeded: the value the promise resolves with.
  virtual Napi::Value Result(Napi::Env env) { return env.Undefined(); }

 private:
  void Execute() final;
  void OnOK() final;
  void OnError(const Napi::Error& error) final;

  Napi::Promise::Deferred deferred_;
  XenFailure failure_;
};

// A XenWorker from two lambdas: `run` fills an Output off the main thread, `result` converts it to JS.
template <typename Output>
class LambdaWorker final : public XenWorker {
 public:
  using RunFn = std::function<void(Output&, XenFailure&)>;
  using ResultFn = std::function<Napi::Value(Napi::Env, const Output&)>;

  static Napi::Promise Start(Napi::Env env, const char* resource_name, RunFn run, ResultFn result) {
    auto* worker = new LambdaWorker(env, resource_name, std::move(run), std::move(result));
    return worker->XenWorker::Start();
  }

 private:
  LambdaWorker(Napi::Env env, const char* resource_name, RunFn run, ResultFn result)
      : XenWorker(env, resource_name), run_(std::move(run)), result_(std::move(result)) {}
  void Run(XenFailure& failure) override { run_(output_, failure); }
  Napi::Value Result(Napi::Env env) override { return result_(env, output_); }

  RunFn run_;
  ResultFn result_;
  Output output_{};
};

// For calls that only succeed or fail.
struct NoOutput {};
inline Napi::Value ResolveUndefined(Napi::Env env, const NoOutput&) { return env.Undefined(); }

}  // namespace xenclaim

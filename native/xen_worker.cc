#include "xen_worker.h"

#include <exception>

namespace xenclaim {

XenWorker::XenWorker(Napi::Env env, const char* resource_name)
    : Napi::AsyncWorker(env, resource_name), deferred_(Napi::Promise::Deferred::New(env)) {}

Napi::Promise XenWorker::Start() {
  Napi::Promise promise = deferred_.Promise();
  Queue();
  return promise;
}

void XenWorker::Execute() {
  ScopedLogCapture capture(&failure_.log);
  try {
    Run(failure_);
  } catch (const std::exception& e) {
    // Only allocation failures of our own buffers end up here: the Xen libraries are C.
    SetError(e.what());
  }
}

void XenWorker::OnOK() {
  Napi::Env env = Env();
  if (failure_.failed) {
    deferred_.Reject(ToJsError(env, failure_).Value());
    return;
  }
  try {
    deferred_.Resolve(Result(env));
  } catch (const Napi::Error& e) {
    deferred_.Reject(e.Value());
  }
}

void XenWorker::OnError(const Napi::Error& error) { deferred_.Reject(error.Value()); }

}  // namespace xenclaim

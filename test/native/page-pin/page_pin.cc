// Test-only addon (built as the `page_pin_probe` target next to xenclaim): maps one page of a domain into this
// process, as a device model or a backend does. While a page is mapped, a destroyed domain cannot be freed: it
// stays listed as dying (a "zombie") with that page, until the page is unmapped. The conformance suite uses this to
// hold a domain in the dying state on real Xen and ask what a claim on it does (docs/claim-rules.md#rule-2).
//
// pin(domid) → handle: populates one more page of the domain (it needs room under max_pages) and maps it read-only.
// unpin(handle): unmaps it; a dying domain then goes. Synchronous: each is one or two short hypercalls.
#include <napi.h>

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <string>

extern "C" {
#include <xenctrl.h>
#include <xenforeignmemory.h>
}

namespace {

// A guest frame far above what the tests populate (translated guests place the page there; for PV guests Xen
// ignores it and answers with the machine frame it allocated, which is what PV mappings name).
constexpr xen_pfn_t kPinGfn = 0x80000;

xc_interface* xch = nullptr;
xenforeignmemory_handle* fmem = nullptr;
std::map<uint32_t, void*> pinned;
uint32_t next_handle = 1;

Napi::Error Failure(Napi::Env env, const std::string& what, int err) {
  return Napi::Error::New(env, what + ": " + std::strerror(err) + " (errno " + std::to_string(err) + ")");
}

Napi::Value Pin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "domid must be a number");
  const uint32_t domid = info[0].As<Napi::Number>().Uint32Value();
  if (xch == nullptr && (xch = xc_interface_open(nullptr, nullptr, 0)) == nullptr) throw Failure(env, "xc_interface_open", errno);
  if (fmem == nullptr && (fmem = xenforeignmemory_open(nullptr, 0)) == nullptr) throw Failure(env, "xenforeignmemory_open", errno);
  xen_pfn_t frame = kPinGfn;
  if (xc_domain_populate_physmap_exact(xch, domid, 1, 0, 0, &frame) != 0) {
    throw Failure(env, "xc_domain_populate_physmap_exact(domain " + std::to_string(domid) + ", 1 page)", errno);
  }
  int err = 0;
  void* page = xenforeignmemory_map(fmem, domid, PROT_READ, 1, &frame, &err);
  if (page == nullptr || err != 0) throw Failure(env, "xenforeignmemory_map(domain " + std::to_string(domid) + ")", page == nullptr ? errno : -err);
  const uint32_t handle = next_handle++;
  pinned[handle] = page;
  return Napi::Number::New(env, handle);
}

Napi::Value Unpin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "handle must be a number");
  const auto it = pinned.find(info[0].As<Napi::Number>().Uint32Value());
  if (it == pinned.end()) throw Napi::RangeError::New(env, "no such pinned page");
  if (xenforeignmemory_unmap(fmem, it->second, 1) != 0) throw Failure(env, "xenforeignmemory_unmap", errno);
  pinned.erase(it);
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("pin", Napi::Function::New(env, Pin, "pin"));
  exports.Set("unpin", Napi::Function::New(env, Unpin, "unpin"));
  return exports;
}

}  // namespace

NODE_API_MODULE(page_pin_probe, Init)

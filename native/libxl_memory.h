// libxl's memory calls for an operator's commands (xl mem-max), thin and 1:1, each an AsyncWorker:
//
// setGuestMaxMem(domid, maxKiB) → Promise<undefined>   libxl_domain_setmaxmem: refuses a maximum below
//   memory/target, then sets max_pages to maxKiB + libxl's arch extra (LIBXL_MAXMEM_CONSTANT, 1 MiB on x86);
//   memory/static-max is left as it is (tools/libs/light/libxl_mem.c).
#pragma once

#include <napi.h>

namespace xenclaim {

void RegisterLibxlMemory(Napi::Env env, Napi::Object exports);

}  // namespace xenclaim

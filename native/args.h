// Defensive reading of the raw addon's arguments. The TypeScript layer has already checked every value and named
// it in an EINVAL XenError; these checks only keep a direct caller of the raw binding from reaching Xen with
// garbage (they throw a TypeError/RangeError naming the argument).
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace xenclaim {

// Xen's DOMID_FIRST_RESERVED − 1: the largest ordinary domid.
constexpr uint32_t kMaxDomid = 0x7FEF;

uint32_t DomidArg(const Napi::CallbackInfo& info, std::size_t index, const char* name);
// An integer in [min, max] (max at most 2^53 − 1, the largest integer a JS number holds exactly).
uint64_t UnsignedArg(const Napi::CallbackInfo& info, std::size_t index, const char* name, uint64_t min, uint64_t max);
int64_t SignedArg(const Napi::CallbackInfo& info, std::size_t index, const char* name, int64_t min, int64_t max);
bool BoolArg(const Napi::CallbackInfo& info, std::size_t index, const char* name);
std::string StringArg(const Napi::CallbackInfo& info, std::size_t index, const char* name);

constexpr uint64_t kMaxSafeInteger = (uint64_t{1} << 53) - 1;

}  // namespace xenclaim

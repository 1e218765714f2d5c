#include "args.h"

#include <cmath>

namespace xenclaim {
namespace {

double IntegerArg(const Napi::CallbackInfo& info, std::size_t index, const char* name, double min, double max) {
  Napi::Env env = info.Env();
  if (index >= info.Length() || !info[index].IsNumber()) {
    throw Napi::TypeError::New(env, std::string(name) + " must be a number");
  }
  const double value = info[index].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(value) || std::trunc(value) != value || value < min || value > max) {
    throw Napi::RangeError::New(env, std::string(name) + " must be an integer from " + std::to_string(static_cast<int64_t>(min)) +
                                         " to " + std::to_string(static_cast<int64_t>(max)));
  }
  return value;
}

}  // namespace

uint32_t DomidArg(const Napi::CallbackInfo& info, std::size_t index, const char* name) {
  return static_cast<uint32_t>(IntegerArg(info, index, name, 0, kMaxDomid));
}

uint64_t UnsignedArg(const Napi::CallbackInfo& info, std::size_t index, const char* name, uint64_t min, uint64_t max) {
  return static_cast<uint64_t>(IntegerArg(info, index, name, static_cast<double>(min), static_cast<double>(max)));
}

int64_t SignedArg(const Napi::CallbackInfo& info, std::size_t index, const char* name, int64_t min, int64_t max) {
  return static_cast<int64_t>(IntegerArg(info, index, name, static_cast<double>(min), static_cast<double>(max)));
}

bool BoolArg(const Napi::CallbackInfo& info, std::size_t index, const char* name) {
  if (index >= info.Length() || !info[index].IsBoolean()) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be true or false");
  }
  return info[index].As<Napi::Boolean>().Value();
}

std::string StringArg(const Napi::CallbackInfo& info, std::size_t index, const char* name) {
  if (index >= info.Length() || !info[index].IsString()) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a string");
  }
  return info[index].As<Napi::String>().Utf8Value();
}

}  // namespace xenclaim

// JS wrapper of a torch::Tensor. Owns one reference to the tensor; dispose() drops it now, the
// finalizer otherwise. CPU memory held is reported to V8 so the GC feels native pressure.
#pragma once

#include <napi.h>
#include <torch/types.h>

namespace sgdr {

class TensorWrap : public Napi::ObjectWrap<TensorWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  // Wraps a tensor into a new JS Tensor object.
  static Napi::Object Wrap(Napi::Env env, torch::Tensor tensor);
  // The tensor behind a JS value; TypeError naming `what` if it is not a live Tensor.
  static torch::Tensor Get(Napi::Value value, const char* what);
  static bool IsTensor(Napi::Value value);

  explicit TensorWrap(const Napi::CallbackInfo& info);
  void Finalize(Napi::Env env) override;

 private:
  static Napi::Value FromArray(const Napi::CallbackInfo& info);
  Napi::Value Shape(const Napi::CallbackInfo& info);
  Napi::Value DType(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value ToArray(const Napi::CallbackInfo& info);
  Napi::Value To(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);

  void Release(Napi::Env env);

  torch::Tensor tensor_;
  int64_t reported_bytes_ = 0;
};

// dtype <-> name as PyTorch spells it ('float32', 'int64', ...).
std::string DTypeName(torch::ScalarType t);
torch::ScalarType DTypeFromName(const std::string& name);

// Copies a JS typed array (with a dtype name and shape) into a new CPU tensor.
torch::Tensor TensorFromTypedArray(Napi::Env env, Napi::Value data, Napi::Value shape, const std::string& dtype);
// Copies a tensor into a new JS typed array of the matching element type.
Napi::Value TypedArrayFromTensor(Napi::Env env, const torch::Tensor& tensor);
// A tensor's shape as a JS array of numbers.
Napi::Array ShapeToJs(Napi::Env env, const torch::Tensor& tensor);
// Sets `dtype`, `shape` and `data` (a copy) on `record`: a tensor as the state records of models and
// optimizers carry it (lib/binding.ts, NativeStateRecord).
void SetTensorFields(Napi::Env env, Napi::Object record, const torch::Tensor& tensor);

}  // namespace sgdr

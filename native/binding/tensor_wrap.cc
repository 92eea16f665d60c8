#include "binding/tensor_wrap.h"

#include <torch/torch.h>

#include <algorithm>

#include "binding/addon_data.h"
#include "core/device.h"
#include "binding/args.h"
#include "binding/js_errors.h"

namespace sgdr {

namespace {

struct DTypeEntry {
  const char* name;
  torch::ScalarType type;
  napi_typedarray_type array_type;
};

// The typed array that carries each dtype across the boundary. Half and bfloat16 travel as their
// raw 16-bit patterns (Uint16Array) and bool as bytes (Uint8Array), exactly as torch stores them.
constexpr DTypeEntry kDTypes[] = {
    {"float32", torch::kFloat32, napi_float32_array}, {"float64", torch::kFloat64, napi_float64_array},
    {"float16", torch::kFloat16, napi_uint16_array},  {"bfloat16", torch::kBFloat16, napi_uint16_array},
    {"int64", torch::kInt64, napi_bigint64_array},    {"int32", torch::kInt32, napi_int32_array},
    {"int16", torch::kInt16, napi_int16_array},       {"int8", torch::kInt8, napi_int8_array},
    {"uint8", torch::kUInt8, napi_uint8_array},       {"bool", torch::kBool, napi_uint8_array},
};

const DTypeEntry* FindByName(const std::string& name) {
  for (const auto& e : kDTypes)
    if (name == e.name) return &e;
  return nullptr;
}

const DTypeEntry* FindByType(torch::ScalarType t) {
  for (const auto& e : kDTypes)
    if (t == e.type) return &e;
  return nullptr;
}

std::vector<int64_t> ShapeFromJs(Napi::Env env, Napi::Value value) {
  if (!value.IsArray()) ThrowType(env, "shape must be an array of non-negative integers");
  auto arr = value.As<Napi::Array>();
  std::vector<int64_t> shape;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value v = arr.Get(i);
    double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!IsIntegerIn(d, 0, kMaxExactInteger))
      ThrowRange(env, "shape[" + std::to_string(i) + "] must be a non-negative integer");
    shape.push_back(static_cast<int64_t>(d));
  }
  return shape;
}

}  // namespace

std::string DTypeName(torch::ScalarType t) {
  const DTypeEntry* e = FindByType(t);
  return e ? e->name : c10::toString(t);
}

torch::ScalarType DTypeFromName(const std::string& name) {
  const DTypeEntry* e = FindByName(name);
  if (!e) throw RangeFailure("unknown dtype '" + name + "'");
  return e->type;
}

torch::Tensor TensorFromTypedArray(Napi::Env env, Napi::Value data, Napi::Value shape_value, const std::string& dtype) {
  if (!data.IsTypedArray()) ThrowType(env, "data must be a typed array");
  auto array = data.As<Napi::TypedArray>();
  const DTypeEntry* entry = FindByName(dtype);
  if (!entry) ThrowRange(env, "unknown dtype '" + dtype + "'");
  if (array.TypedArrayType() != entry->array_type)
    ThrowType(env, "data's typed array type does not match dtype '" + dtype + "'");
  std::vector<int64_t> shape = ShapeFromJs(env, shape_value);
  // The product can overflow int64 (shape [2^40, 2^40]): such a shape never matches the data,
  // unless another dimension is 0.
  int64_t numel = 1;
  bool overflow = false;
  for (int64_t d : shape) overflow = __builtin_mul_overflow(numel, d, &numel) || overflow;
  if (std::find(shape.begin(), shape.end(), 0) != shape.end())
    numel = 0;
  else if (overflow)
    ThrowRange(env, "shape " + ShapeString(shape) + " has more elements than any data can hold");
  if (numel != static_cast<int64_t>(array.ElementLength()))
    ThrowRange(env, "data has " + std::to_string(array.ElementLength()) + " elements but shape " + ShapeString(shape) +
                        " needs " + std::to_string(numel));
  auto* bytes = static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
  // from_blob borrows the JS memory; clone() makes the tensor own its data before JS can move it.
  return torch::from_blob(bytes, shape, torch::TensorOptions().dtype(entry->type)).clone();
}

Napi::Value TypedArrayFromTensor(Napi::Env env, const torch::Tensor& tensor) {
  const DTypeEntry* entry = FindByType(tensor.scalar_type());
  if (!entry) throw RangeFailure("tensors of dtype " + DTypeName(tensor.scalar_type()) + " cannot be read into JS");
  torch::Tensor cpu = tensor.to(torch::kCPU).contiguous();
  const size_t nbytes = cpu.numel() * cpu.element_size();
  auto buffer = Napi::ArrayBuffer::New(env, nbytes);
  if (nbytes) std::memcpy(buffer.Data(), cpu.data_ptr(), nbytes);
  napi_value result;
  NAPI_THROW_IF_FAILED(env, napi_create_typedarray(env, entry->array_type, cpu.numel(), buffer, 0, &result),
                       Napi::Value());
  return Napi::Value(env, result);
}

Napi::Function TensorWrap::Init(Napi::Env env) {
  Napi::Function ctor = DefineClass(env, "NativeTensor",
                                    {
                                        StaticMethod<&TensorWrap::FromArray>("fromArray"),
                                        InstanceMethod<&TensorWrap::Shape>("shape"),
                                        InstanceMethod<&TensorWrap::DType>("dtype"),
                                        InstanceMethod<&TensorWrap::Device>("device"),
                                        InstanceMethod<&TensorWrap::ToArray>("toArray"),
                                        InstanceMethod<&TensorWrap::To>("to"),
                                        InstanceMethod<&TensorWrap::Dispose>("dispose"),
                                        InstanceMethod<&TensorWrap::IsDisposed>("isDisposed"),
                                    });
  GetAddonData(env).tensor_constructor = Napi::Persistent(ctor);
  return ctor;
}

Napi::Object TensorWrap::Wrap(Napi::Env env, torch::Tensor tensor) {
  auto external = Napi::External<torch::Tensor>::New(env, &tensor);
  return GetAddonData(env).tensor_constructor.New({external});
}

bool TensorWrap::IsTensor(Napi::Value value) {
  if (!value.IsObject()) return false;
  return value.As<Napi::Object>().InstanceOf(GetAddonData(value.Env()).tensor_constructor.Value());
}

torch::Tensor TensorWrap::Get(Napi::Value value, const char* what) {
  if (!IsTensor(value)) ThrowType(value.Env(), std::string(what) + " must be a Tensor");
  TensorWrap* self = Unwrap(value.As<Napi::Object>());
  if (!self->tensor_.defined()) ThrowDisposed(value.Env(), std::string(what) + " is a disposed Tensor");
  return self->tensor_;
}

TensorWrap::TensorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorWrap>(info) {
  if (info.Length() != 1 || !info[0].IsExternal())
    ThrowType(info.Env(), "Tensors are made with Tensor.fromArray() or returned by the library, not constructed");
  tensor_ = *info[0].As<Napi::External<torch::Tensor>>().Data();
  if (tensor_.defined() && tensor_.device().is_cpu()) {
    reported_bytes_ = static_cast<int64_t>(tensor_.numel() * tensor_.element_size());
    Napi::MemoryManagement::AdjustExternalMemory(info.Env(), reported_bytes_);
  }
}

void TensorWrap::Release(Napi::Env env) {
  tensor_ = torch::Tensor();
  if (reported_bytes_) {
    Napi::MemoryManagement::AdjustExternalMemory(env, -reported_bytes_);
    reported_bytes_ = 0;
  }
}

void TensorWrap::Finalize(Napi::Env env) { Release(env); }

Napi::Value TensorWrap::FromArray(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SGDR_TRY
  std::string dtype;
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    dtype = StringArg(info, 2, "dtype");
  } else if (info.Length() > 0 && info[0].IsTypedArray()) {
    switch (info[0].As<Napi::TypedArray>().TypedArrayType()) {
      case napi_float32_array:
        dtype = "float32";
        break;
      case napi_float64_array:
        dtype = "float64";
        break;
      case napi_bigint64_array:
        dtype = "int64";
        break;
      case napi_int32_array:
        dtype = "int32";
        break;
      case napi_int16_array:
        dtype = "int16";
        break;
      case napi_int8_array:
        dtype = "int8";
        break;
      case napi_uint8_array:
        dtype = "uint8";
        break;
      default:
        ThrowType(env,
                  "data must be a Float32Array, Float64Array, BigInt64Array, Int32Array, Int16Array, "
                  "Int8Array or Uint8Array (or give dtype)");
    }
  }
  torch::Tensor t = TensorFromTypedArray(env, info[0], info.Length() > 1 ? info[1] : env.Undefined(), dtype);
  if (info.Length() > 3 && info[3].IsString()) t = t.to(ResolveDevice(info[3].As<Napi::String>().Utf8Value()));
  return Wrap(env, t);
  SGDR_CATCH(env)
}

static TensorWrap* Live(TensorWrap* self, Napi::Env env, torch::Tensor& t) {
  if (!t.defined()) ThrowDisposed(env, "Tensor is disposed");
  return self;
}

Napi::Array ShapeToJs(Napi::Env env, const torch::Tensor& tensor) {
  auto arr = Napi::Array::New(env, tensor.dim());
  for (int64_t i = 0; i < tensor.dim(); ++i) arr.Set(static_cast<uint32_t>(i), static_cast<double>(tensor.size(i)));
  return arr;
}

void SetTensorFields(Napi::Env env, Napi::Object record, const torch::Tensor& tensor) {
  record.Set("dtype", DTypeName(tensor.scalar_type()));
  record.Set("shape", ShapeToJs(env, tensor));
  record.Set("data", TypedArrayFromTensor(env, tensor));
}

Napi::Value TensorWrap::Shape(const Napi::CallbackInfo& info) {
  Live(this, info.Env(), tensor_);
  return ShapeToJs(info.Env(), tensor_);
}

Napi::Value TensorWrap::DType(const Napi::CallbackInfo& info) {
  Live(this, info.Env(), tensor_);
  return Napi::String::New(info.Env(), DTypeName(tensor_.scalar_type()));
}

Napi::Value TensorWrap::Device(const Napi::CallbackInfo& info) {
  Live(this, info.Env(), tensor_);
  return Napi::String::New(info.Env(), DeviceName(tensor_.device()));
}

Napi::Value TensorWrap::ToArray(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SGDR_TRY
  Live(this, env, tensor_);
  torch::Tensor t = tensor_;
  if (info.Length() > 0 && info[0].IsString()) t = t.to(DTypeFromName(info[0].As<Napi::String>().Utf8Value()));
  return TypedArrayFromTensor(env, t);
  SGDR_CATCH(env)
}

Napi::Value TensorWrap::To(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SGDR_TRY
  Live(this, env, tensor_);
  return Wrap(env, tensor_.to(ResolveDevice(StringArg(info, 0, "device"))));
  SGDR_CATCH(env)
}

Napi::Value TensorWrap::Dispose(const Napi::CallbackInfo& info) {
  Release(info.Env());
  return info.Env().Undefined();
}

Napi::Value TensorWrap::IsDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !tensor_.defined());
}

}  // namespace sgdr

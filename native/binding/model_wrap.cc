// The NativeResNet JS class (model_wrap.h): each method checks its arguments, takes the model's
// lock and calls the LibTorch side (core/resnet.h). One JS class, one file: its state-dict methods
// share the lock and the record format with the rest, which is why it runs a little over 400 lines.
#include "binding/model_wrap.h"

#include <torch/torch.h>

#include <map>
#include <set>

#include "binding/addon_data.h"
#include "binding/promise_worker.h"
#include "core/device.h"
#include "binding/args.h"
#include "binding/js_errors.h"
#include "binding/tensor_wrap.h"

namespace sgdr {

namespace {

std::vector<std::string> StringList(Napi::Env env, Napi::Value v, const char* what) {
  if (!v.IsArray()) ThrowType(env, std::string(what) + " must be an array of strings");
  auto arr = v.As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value item = arr.Get(i);
    if (!item.IsString()) ThrowType(env, std::string(what) + "[" + std::to_string(i) + "] must be a string");
    out.push_back(item.As<Napi::String>().Utf8Value());
  }
  return out;
}

}  // namespace

Napi::Function ModelWrap::Init(Napi::Env env) {
  Napi::Function ctor = DefineClass(env, "NativeResNet",
                                    {
                                        InstanceMethod<&ModelWrap::Forward>("forward"),
                                        InstanceMethod<&ModelWrap::SetTraining>("setTraining"),
                                        InstanceMethod<&ModelWrap::IsTraining>("isTraining"),
                                        InstanceMethod<&ModelWrap::ParameterCount>("parameterCount"),
                                        InstanceMethod<&ModelWrap::StateDictKeys>("stateDictKeys"),
                                        InstanceMethod<&ModelWrap::StateDict>("stateDict"),
                                        InstanceMethod<&ModelWrap::LoadStateDict>("loadStateDict"),
                                        InstanceMethod<&ModelWrap::To>("to"),
                                        InstanceMethod<&ModelWrap::Device>("device"),
                                        InstanceMethod<&ModelWrap::Info>("info"),
                                        InstanceMethod<&ModelWrap::ReplaceClassifier>("replaceClassifier"),
                                        InstanceMethod<&ModelWrap::ModuleNames>("moduleNames"),
                                        InstanceMethod<&ModelWrap::ReinitModules>("reinitModules"),
                                        InstanceMethod<&ModelWrap::SetRequiresGrad>("setRequiresGrad"),
                                        InstanceMethod<&ModelWrap::ResetBatchNormStats>("resetBatchNormStats"),
                                        InstanceMethod<&ModelWrap::SetBatchNormMomentum>("setBatchNormMomentum"),
                                        InstanceMethod<&ModelWrap::Dispose>("dispose"),
                                        InstanceMethod<&ModelWrap::IsDisposed>("isDisposed"),
                                    });
  GetAddonData(env).model_constructor = Napi::Persistent(ctor);
  return ctor;
}

ModelWrap* ModelWrap::Get(Napi::Value value, const char* what) {
  if (!value.IsObject()) ThrowType(value.Env(), std::string(what) + " must be a model");
  Napi::Object obj = value.As<Napi::Object>();
  if (!obj.InstanceOf(GetAddonData(value.Env()).model_constructor.Value()))
    ThrowType(value.Env(), std::string(what) + " must be a model");
  ModelWrap* self = Unwrap(obj);
  if (!self->module_) ThrowDisposed(value.Env(), std::string(what) + " is a disposed model");
  return self;
}

ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
  Napi::Env env = info.Env();
  SGDR_TRY
  Napi::Object o = ObjectArg(info, 0, "options");
  ResNetOptions options;
  options.arch = StringOption(o, "arch", "resnet18");
  const double num_classes = NumberOption(o, "numClasses", 1000);
  const double in_channels = NumberOption(o, "inChannels", 3);
  if (!IsIntegerIn(num_classes, 1, kMaxExactInteger))
    ThrowRange(env,
               "numClasses must be an integer >= 1, got " + Napi::Number::New(env, num_classes).ToString().Utf8Value());
  if (!IsIntegerIn(in_channels, 1, kMaxExactInteger))
    ThrowRange(env,
               "inChannels must be an integer >= 1, got " + Napi::Number::New(env, in_channels).ToString().Utf8Value());
  options.num_classes = static_cast<int64_t>(num_classes);
  options.in_channels = static_cast<int64_t>(in_channels);
  const std::string stem = StringOption(o, "stem", "imagenet");
  if (stem != "imagenet" && stem != "cifar") ThrowRange(env, "stem must be 'imagenet' or 'cifar', got '" + stem + "'");
  options.cifar_stem = stem == "cifar";
  device_ = ResolveDevice(StringOption(o, "device", "cpu"));
  Napi::Value seed = o.Get("seed");
  if (!seed.IsUndefined() && !seed.IsNull()) {
    if (!seed.IsNumber()) ThrowType(env, "seed must be an integer");
    // Same seed => same initial weights: the seed compares schedules on identical randomness.
    torch::manual_seed(static_cast<uint64_t>(seed.As<Napi::Number>().Int64Value()));
  }
  module_ = MakeResNet(options);
  module_->to(device_);
  ReportMemory(env);
  SGDR_CATCH(env)
}

void ModelWrap::ReportMemory(Napi::Env env) {
  int64_t bytes = 0;
  if (module_ && device_.is_cpu())
    for (const auto& e : module_->StateEntries()) bytes += e.second.numel() * e.second.element_size();
  if (bytes != reported_bytes_) Napi::MemoryManagement::AdjustExternalMemory(env, bytes - reported_bytes_);
  reported_bytes_ = bytes;
}

void ModelWrap::Finalize(Napi::Env env) {
  module_ = ResNet(nullptr);
  ReportMemory(env);
}

Napi::Value ModelWrap::IsDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !module_); }

Napi::Value ModelWrap::Dispose(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(*mutex_);
  module_ = ResNet(nullptr);
  ReportMemory(info.Env());
  return info.Env().Undefined();
}

void ModelWrap::CheckInput(const torch::Tensor& input) const {
  const int64_t c = module_->options().in_channels;
  if (input.dim() != 4 || input.size(1) != c)
    throw RangeFailure("input must have shape [N, " + std::to_string(c) + ", H, W], got " + ShapeString(input.sizes()));
  if (!input.is_floating_point())
    throw TypeFailure("input must be a floating-point tensor, got " + DTypeName(input.scalar_type()));
  if (input.size(0) < 1) throw RangeFailure("input batch is empty");
  // The ImageNet stem downsamples 32x before the pool; smaller images would leave nothing to pool.
  if (input.size(2) < (module_->options().cifar_stem ? 1 : 8) ||
      input.size(3) < (module_->options().cifar_stem ? 1 : 8))
    throw RangeFailure("input images of " + std::to_string(input.size(2)) + "x" + std::to_string(input.size(3)) +
                       " are too small for the imagenet stem (use stem 'cifar' or larger images)");
}

Napi::Value ModelWrap::Forward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SGDR_TRY
  if (!module_) ThrowDisposed(env, "model is disposed");
  torch::Tensor input = TensorWrap::Get(info[0], "input");
  CheckInput(input);
  auto result = std::make_shared<torch::Tensor>();
  ResNet module = module_;
  auto mutex = mutex_;
  torch::Device device = device_;
  return PromiseWorker::Start(
      env,
      [=]() mutable {
        std::lock_guard<std::mutex> lock(*mutex);
        // Inference entry point: no autograd graph (training goes through trainStep).
        torch::NoGradGuard no_grad;
        *result = module->forward(input.to(device));
      },
      [=](Napi::Env env) -> Napi::Value { return TensorWrap::Wrap(env, *result); },
      {info.This().As<Napi::Object>(), info[0].As<Napi::Object>()});
  SGDR_CATCH(env)
}

Napi::Value ModelWrap::SetTraining(const Napi::CallbackInfo& info) {
  if (!module_) ThrowDisposed(info.Env(), "model is disposed");
  std::lock_guard<std::mutex> lock(*mutex_);
  module_->train(info.Length() > 0 && info[0].ToBoolean().Value());
  return info.Env().Undefined();
}

Napi::Value ModelWrap::IsTraining(const Napi::CallbackInfo& info) {
  if (!module_) ThrowDisposed(info.Env(), "model is disposed");
  return Napi::Boolean::New(info.Env(), module_->is_training());
}

Napi::Value ModelWrap::ParameterCount(const Napi::CallbackInfo& info) {
  if (!module_) ThrowDisposed(info.Env(), "model is disposed");
  const bool trainable_only = info.Length() > 0 && info[0].ToBoolean().Value();
  int64_t n = 0;
  for (const auto& p : module_->parameters())
    if (!trainable_only || p.requires_grad()) n += p.numel();
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

Napi::Value ModelWrap::StateDictKeys(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!module_) ThrowDisposed(env, "model is disposed");
  std::set<std::string> params;
  for (const auto& p : module_->named_parameters()) params.insert(p.key());
  auto entries = module_->StateEntries();
  auto arr = Napi::Array::New(env, entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    auto o = Napi::Object::New(env);
    o.Set("name", entries[i].first);
    o.Set("shape", ShapeToJs(env, entries[i].second));
    o.Set("dtype", DTypeName(entries[i].second.scalar_type()));
    o.Set("kind", params.count(entries[i].first) ? "parameter" : "buffer");
    o.Set("requiresGrad", entries[i].second.requires_grad());
    arr.Set(static_cast<uint32_t>(i), o);
  }
  return arr;
}

Napi::Value ModelWrap::StateDict(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SGDR_TRY
  if (!module_) ThrowDisposed(env, "model is disposed");
  std::lock_guard<std::mutex> lock(*mutex_);
  auto entries = module_->StateEntries();
  auto arr = Napi::Array::New(env, entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    auto o = Napi::Object::New(env);
    o.Set("name", entries[i].first);
    SetTensorFields(env, o, entries[i].second.detach());
    arr.Set(static_cast<uint32_t>(i), o);
  }
  return arr;
  SGDR_CATCH(env)
}

// records: Array<{ name, dtype, shape, data }>; strict: boolean. Validates everything before copying
// anything, so a failed load leaves the model as it was.
Napi::Value ModelWrap::LoadStateDict(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SGDR_TRY
  if (!module_) ThrowDisposed(env, "model is disposed");
  if (info.Length() < 1 || !info[0].IsArray()) ThrowType(env, "state dict records must be an array");
  const bool strict = info.Length() < 2 || info[1].ToBoolean().Value();
  auto records = info[0].As<Napi::Array>();
  std::lock_guard<std::mutex> lock(*mutex_);
  std::map<std::string, torch::Tensor> targets;
  std::vector<std::string> order;
  for (auto& e : module_->StateEntries()) {
    targets.emplace(e.first, e.second);
    order.push_back(e.first);
  }
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;
  std::vector<std::string> unexpected, mismatched;
  std::set<std::string> seen;
  for (uint32_t i = 0; i < records.Length(); ++i) {
    Napi::Value rv = records.Get(i);
    if (!rv.IsObject()) ThrowType(env, "state dict record " + std::to_string(i) + " must be an object");
    Napi::Object r = rv.As<Napi::Object>();
    const std::string name = StringOption(r, "name", "");
    auto it = targets.find(name);
    if (it == targets.end()) {
      unexpected.push_back(name);
      continue;
    }
    seen.insert(name);
    torch::Tensor source =
        TensorFromTypedArray(env, r.Get("data"), r.Get("shape"), StringOption(r, "dtype", "float32"));
    if (source.sizes() != it->second.sizes()) {
      mismatched.push_back("size mismatch for " + name + ": copying a param with shape " + ShapeString(source.sizes()) +
                           " from checkpoint, the shape in current model is " + ShapeString(it->second.sizes()));
      continue;
    }
    copies.emplace_back(it->second, source);
  }
  std::vector<std::string> missing;
  for (const auto& name : order)
    if (!seen.count(name)) missing.push_back(name);
  auto join = [](const std::vector<std::string>& v, size_t limit) {
    std::string s;
    for (size_t i = 0; i < v.size() && i < limit; ++i) s += (i ? ", " : "") + std::string("\"") + v[i] + "\"";
    if (v.size() > limit) s += ", ... (" + std::to_string(v.size() - limit) + " more)";
    return s;
  };
  std::string error;
  if (!mismatched.empty()) {
    for (size_t i = 0; i < mismatched.size() && i < 5; ++i) error += (i ? "; " : "") + mismatched[i];
    if (mismatched.size() > 5) error += "; ... (" + std::to_string(mismatched.size() - 5) + " more size mismatches)";
  }
  if (strict && !missing.empty())
    error += std::string(error.empty() ? "" : "; ") + "missing key(s): " + join(missing, 8);
  if (strict && !unexpected.empty())
    error += std::string(error.empty() ? "" : "; ") + "unexpected key(s): " + join(unexpected, 8);
  if (!error.empty())
    throw Napi::Error::New(env, "error(s) loading state dict into " + module_->options().arch + ": " + error);
  {
    torch::NoGradGuard no_grad;
    for (auto& c : copies) c.first.copy_(c.second);
  }
  auto result = Napi::Object::New(env);
  auto to_array = [&](const std::vector<std::string>& v) {
    auto a = Napi::Array::New(env, v.size());
    for (size_t i = 0; i < v.size(); ++i) a.Set(static_cast<uint32_t>(i), v[i]);
    return a;
  };
  result.Set("missing", to_array(missing));
  result.Set("unexpected", to_array(unexpected));
  return result;
  SGDR_CATCH(env)
}

Napi::Value ModelWrap::To(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SGDR_TRY
  if (!module_) ThrowDisposed(env, "model is disposed");
  torch::Device device = ResolveDevice(StringArg(info, 0, "device"));
  std::lock_guard<std::mutex> lock(*mutex_);
  module_->to(device);
  device_ = device;
  ReportMemory(env);
  return Napi::String::New(env, DeviceName(device_));
  SGDR_CATCH(env)
}

Napi::Value ModelWrap::Device(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), DeviceName(device_));
}

Napi::Value ModelWrap::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!module_) ThrowDisposed(env, "model is disposed");
  const auto& o = module_->options();
  auto out = Napi::Object::New(env);
  out.Set("arch", o.arch);
  out.Set("numClasses", static_cast<double>(o.num_classes));
  out.Set("inChannels", static_cast<double>(o.in_channels));
  out.Set("stem", o.cifar_stem ? "cifar" : "imagenet");
  out.Set("device", DeviceName(device_));
  return out;
}

Napi::Value ModelWrap::ReplaceClassifier(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SGDR_TRY
  if (!module_) ThrowDisposed(env, "model is disposed");
  const double n = NumberArg(info, 0, "numClasses");
  if (!IsIntegerIn(n, 1, kMaxExactInteger)) ThrowRange(env, "numClasses must be an integer >= 1");
  std::lock_guard<std::mutex> lock(*mutex_);
  module_->ReplaceClassifier(static_cast<int64_t>(n));
  ReportMemory(env);
  return env.Undefined();
  SGDR_CATCH(env)
}

// Module names in PyTorch's model.modules() order (the root is ''), e.g. for "re-initialise the last N".
Napi::Value ModelWrap::ModuleNames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!module_) ThrowDisposed(env, "model is disposed");
  auto items = module_->named_modules("", /*include_self=*/true);
  auto arr = Napi::Array::New(env, items.size());
  for (size_t i = 0; i < items.size(); ++i) arr.Set(static_cast<uint32_t>(i), items[i].key());
  return arr;
}

Napi::Value ModelWrap::ReinitModules(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SGDR_TRY
  if (!module_) ThrowDisposed(env, "model is disposed");
  std::vector<std::string> names = StringList(env, info[0], "modules");
  std::lock_guard<std::mutex> lock(*mutex_);
  auto items = module_->named_modules("", true);
  for (const auto& name : names) {
    auto* found = items.find(name);
    if (!found) ThrowRange(env, "no module named '" + name + "'");
    ResNetImpl::InitModule(**found);
  }
  return env.Undefined();
  SGDR_CATCH(env)
}

// setRequiresGrad(prefixes: string[], value: boolean): freezes/unfreezes parameters whose names
// start with one of the prefixes ('' matches all).
Napi::Value ModelWrap::SetRequiresGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SGDR_TRY
  if (!module_) ThrowDisposed(env, "model is disposed");
  std::vector<std::string> prefixes = StringList(env, info[0], "prefixes");
  const bool value = info.Length() > 1 && info[1].ToBoolean().Value();
  std::lock_guard<std::mutex> lock(*mutex_);
  const int64_t changed = module_->SetRequiresGrad(prefixes, value);
  return Napi::Number::New(env, static_cast<double>(changed));
  SGDR_CATCH(env)
}

// resetBatchNormStats(): every BatchNorm's running mean 0, running var 1, num_batches_tracked 0
// (PyTorch's module.reset_running_stats()); returns how many BatchNorm layers there are. With
// setBatchNormMomentum(null) the forwards that follow give the cumulative average of the batch
// statistics, which is how torch.optim.swa_utils.update_bn recomputes them for an averaged model.
Napi::Value ModelWrap::ResetBatchNormStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SGDR_TRY
  if (!module_) ThrowDisposed(env, "model is disposed");
  std::lock_guard<std::mutex> lock(*mutex_);
  const int64_t count = module_->ResetBatchNormStats();
  return Napi::Number::New(env, static_cast<double>(count));
  SGDR_CATCH(env)
}

// setBatchNormMomentum(momentum: number | null): the momentum of every BatchNorm; null is
// PyTorch's momentum=None, a cumulative moving average (factor 1 / num_batches_tracked). Returns the
// previous momentum (null for None); the layers of a ResNet always share one.
Napi::Value ModelWrap::SetBatchNormMomentum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SGDR_TRY
  if (!module_) ThrowDisposed(env, "model is disposed");
  c10::optional<double> momentum;
  if (info.Length() > 0 && !info[0].IsNull() && !info[0].IsUndefined()) {
    if (!info[0].IsNumber()) ThrowType(env, "momentum must be a number in [0, 1] or null");
    const double m = info[0].As<Napi::Number>().DoubleValue();
    if (!(m >= 0 && m <= 1))
      ThrowRange(env, "momentum must be a number in [0, 1] or null, got " + info[0].ToString().Utf8Value());
    momentum = m;
  }
  std::lock_guard<std::mutex> lock(*mutex_);
  const c10::optional<double> previous = module_->SetBatchNormMomentum(momentum);
  if (!previous.has_value()) return env.Null();
  return Napi::Number::New(env, *previous);
  SGDR_CATCH(env)
}

}  // namespace sgdr

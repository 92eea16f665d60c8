// One training step (forward, cross-entropy, backward, optimizer step) and one evaluation pass,
// each off the JS thread. The full epoch loop lives in trainer.cc; these serve tests, benchmarks
// and users who write their own loop.
#include <napi.h>
#include <torch/torch.h>
#include <ATen/Version.h>
#include <immintrin.h>

#include <cstdlib>
#include <string>

#include "binding/promise_worker.h"
#include "core/compat.h"
#include "binding/args.h"
#include "binding/js_errors.h"
#include "binding/model_wrap.h"
#include "binding/optimizer_wrap.h"
#include "binding/process_group_wrap.h"
#include "distributed/data_parallel.h"
#include "core/train_step.h"
#include "binding/tensor_wrap.h"

namespace sgdr {

namespace {

void CheckTarget(const torch::Tensor& target, const torch::Tensor& input, int64_t num_classes) {
  if (target.scalar_type() != torch::kInt64)
    throw TypeFailure("target must be an int64 tensor of class indices, got " + DTypeName(target.scalar_type()));
  if (target.dim() != 1 || target.size(0) != input.size(0))
    throw RangeFailure("target must have shape [" + std::to_string(input.size(0)) + "] (one class index per input)");
}

// Runs on the worker thread: cheap relative to a step, and catches labels that would otherwise make
// LibTorch index out of bounds.
void CheckTargetValues(const torch::Tensor& target, int64_t num_classes) {
  const int64_t lo = target.min().item<int64_t>(), hi = target.max().item<int64_t>();
  if (lo < 0 || hi >= num_classes)
    throw RangeFailure("target class indices must be in [0, " + std::to_string(num_classes) + "), found " +
                       std::to_string(lo < 0 ? lo : hi));
}

}  // namespace

// trainStep(model, optimizer, input, target, { processGroup?, syncBatchNorm? }) -> Promise<{ loss }>
// With a process group the step is data-parallel: the gradients are averaged over the ranks before
// the optimizer steps, and the loss returned is the global batch's; syncBatchNorm normalises with
// the global batch's BatchNorm statistics. The replicas must start equal
// (the same seed, or a broadcast of rank 0's weights); the trainer does that broadcast itself.
Napi::Value TrainStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SGDR_TRY
  ModelWrap* model = ModelWrap::Get(info[0], "model");
  OptimizerWrap* opt = OptimizerWrap::Get(info[1], "optimizer");
  torch::Tensor input = TensorWrap::Get(info[2], "input");
  torch::Tensor target = TensorWrap::Get(info[3], "target");
  model->CheckInput(input);
  const int64_t num_classes = model->module()->options().num_classes;
  CheckTarget(target, input, num_classes);
  std::shared_ptr<ProcessGroup> group;
  bool sync_batch_norm = false;
  if (info.Length() > 4 && info[4].IsObject()) {
    Napi::Object o = info[4].As<Napi::Object>();
    Napi::Value pg = o.Get("processGroup");
    if (!pg.IsUndefined() && !pg.IsNull()) group = ProcessGroupWrap::Get(pg, "processGroup");
    sync_batch_norm = BoolOption(o, "syncBatchNorm", false);
  }
  auto loss = std::make_shared<double>(0);
  ResNet module = model->module();
  std::mutex* mutex = &model->mutex();
  torch::optim::Optimizer* optimizer = &opt->optimizer();
  torch::Device device = model->device();
  return PromiseWorker::Start(
      env,
      [=]() mutable {
        CheckTargetValues(target, num_classes);
        std::lock_guard<std::mutex> lock(*mutex);
        if (group) {
          DataParallel dp(group, module, /*overlap=*/false, sync_batch_norm);
          TrainOneStep(module, *optimizer, input.to(device), target.to(device), nullptr, &dp);
          *loss = dp.loss().item<double>();
        } else {
          *loss = TrainOneStep(module, *optimizer, input.to(device), target.to(device)).loss.item<double>();
        }
      },
      [=](Napi::Env env) -> Napi::Value {
        auto o = Napi::Object::New(env);
        o.Set("loss", *loss);
        return o;
      },
      {info[0].As<Napi::Object>(), info[1].As<Napi::Object>(), info[2].As<Napi::Object>(), info[3].As<Napi::Object>()});
  SGDR_CATCH(env)
}

// evaluate(model, input, target) -> Promise<{ loss (mean), correct, count }>, no autograd.
Napi::Value Evaluate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SGDR_TRY
  ModelWrap* model = ModelWrap::Get(info[0], "model");
  torch::Tensor input = TensorWrap::Get(info[1], "input");
  torch::Tensor target = TensorWrap::Get(info[2], "target");
  model->CheckInput(input);
  const int64_t num_classes = model->module()->options().num_classes;
  CheckTarget(target, input, num_classes);
  auto result = std::make_shared<std::pair<double, int64_t>>();
  ResNet module = model->module();
  std::mutex* mutex = &model->mutex();
  torch::Device device = model->device();
  const int64_t count = input.size(0);
  return PromiseWorker::Start(
      env,
      [=]() mutable {
        CheckTargetValues(target, num_classes);
        std::lock_guard<std::mutex> lock(*mutex);
        torch::InferenceMode guard;
        torch::Tensor out = module->forward(ModelInput(input.to(device)));
        torch::Tensor t = target.to(device);
        result->first = torch::nn::functional::cross_entropy(out, t).item<double>();
        result->second = out.argmax(1).eq(t).sum().item<int64_t>();
      },
      [=](Napi::Env env) -> Napi::Value {
        auto o = Napi::Object::New(env);
        o.Set("loss", result->first);
        o.Set("correct", static_cast<double>(result->second));
        o.Set("count", static_cast<double>(count));
        return o;
      },
      {info[0].As<Napi::Object>(), info[1].As<Napi::Object>(), info[2].As<Napi::Object>()});
  SGDR_CATCH(env)
}

}  // namespace sgdr

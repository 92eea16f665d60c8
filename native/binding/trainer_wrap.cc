// The epoch loop, on a native thread of its own (not a libuv pool thread, which hours of training
// would starve). JS asks for one epoch at a time with the learning rate of every batch (computed by
// the TS schedule: the exact reference formula) and hears about progress through a thread-safe
// function. Per-batch progress is dropped when JS is busy; the end of an epoch is always delivered,
// and the thread waits for the next request, so JS can checkpoint between epochs.
//
// Why one file of ~600 lines: it is one class around one thread. Its three jobs (runEpoch, evaluate,
// timeSteps) share that thread's queue, the loaders, the model's lock and the data-parallel state,
// and each is a lambda over them; what they call is elsewhere (core/train_step.h for the step,
// distributed/data_parallel.h for the collectives, data/ for the loaders).
#include <napi.h>
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <optional>
#include <thread>

#include "data/datasets.h"
#include "binding/data_wrap.h"
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

using Clock = std::chrono::steady_clock;

// One message from the training thread to JS.
struct Message {
  enum class Type { kProgress, kDone } type;
  // progress
  int64_t batch = 0, batches = 0;
  double loss = 0, lr = 0, images_per_second = 0;
  // The reported batch's accuracy (its correct predictions / its images), for per-batch logs.
  double accuracy = 0;
  // done: either an error or a result builder run on the JS thread
  std::optional<CapturedError> error;
  std::function<Napi::Value(Napi::Env)> result;
  bool failed() const { return error.has_value(); }
};

// A single job's link back to JS: its promise, progress callback and keep-alive references.
struct JobLink {
  Napi::Promise::Deferred deferred;
  Napi::ObjectReference self;  // keeps the trainer alive until its job is answered
  std::string callback_error;  // a throwing progress callback fails the job, it does not crash
  explicit JobLink(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
};

void CallJs(Napi::Env env, Napi::Function callback, JobLink* link, Message* message) {
  std::unique_ptr<Message> m(message);
  if (env == nullptr) return;
  if (m->type == Message::Type::kProgress) {
    if (!link->callback_error.empty() || callback.IsUndefined() || !callback.IsFunction()) return;
    auto o = Napi::Object::New(env);
    o.Set("batch", static_cast<double>(m->batch));
    o.Set("batches", static_cast<double>(m->batches));
    o.Set("loss", m->loss);
    o.Set("accuracy", m->accuracy);
    o.Set("lr", m->lr);
    o.Set("imagesPerSecond", m->images_per_second);
    try {
      callback.Call({o});
    } catch (const Napi::Error& e) {
      link->callback_error = e.Message();
    }
    return;
  }
  if (!link->callback_error.empty()) {
    link->deferred.Reject(Napi::Error::New(env, "progress callback threw: " + link->callback_error).Value());
  } else if (m->failed()) {
    link->deferred.Reject(ToJsError(env, *m->error).Value());
  } else {
    try {
      link->deferred.Resolve(m->result(env));
    } catch (...) {
      link->deferred.Reject(ToJsError(env, std::current_exception()).Value());
    }
  }
  link->self.Reset();
  delete link;
}

using TrainerTsfn = Napi::TypedThreadSafeFunction<JobLink, Message, CallJs>;

}  // namespace

class TrainerWrap : public Napi::ObjectWrap<TrainerWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "NativeTrainer",
                       {
                           InstanceMethod<&TrainerWrap::RunEpoch>("runEpoch"),
                           InstanceMethod<&TrainerWrap::Evaluate>("evaluate"),
                           InstanceMethod<&TrainerWrap::TimeSteps>("timeSteps"),
                           InstanceMethod<&TrainerWrap::Abort>("abort"),
                           InstanceMethod<&TrainerWrap::BatchesPerEpoch>("batchesPerEpoch"),
                           InstanceMethod<&TrainerWrap::Close>("close"),
                       });
  }

  // new NativeTrainer(model, optimizer, { train: NativeDataset, val?: NativeDataset, batchSize,
  //                   evalBatchSize?, seed, shuffle?, workers?, prefetch?, processGroup?, overlap?,
  //                   syncBatchNorm? })
  // With processGroup the trainer trains data-parallel (distributed/data_parallel.h): batchSize is
  // per rank, each rank takes its shard of every epoch, and the first job broadcasts rank 0's weights.
  explicit TrainerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TrainerWrap>(info) {
    Napi::Env env = info.Env();
    SGDR_TRY
    model_ = ModelWrap::Get(info[0], "model");
    optimizer_ = OptimizerWrap::Get(info[1], "optimizer");
    Napi::Object o = ObjectArg(info, 2, "options");
    const double batch_size = NumberOption(o, "batchSize", 0);
    if (!IsIntegerIn(batch_size, 1, kMaxExactInteger))
      ThrowRange(env,
                 "batchSize must be an integer >= 1, got " + Napi::Number::New(env, batch_size).ToString().Utf8Value());
    const double eval_batch = NumberOption(o, "evalBatchSize", batch_size);
    if (!IsIntegerIn(eval_batch, 1, kMaxExactInteger)) ThrowRange(env, "evalBatchSize must be an integer >= 1");
    const double seed_v = NumberOption(o, "seed", 0), workers_v = NumberOption(o, "workers", 0),
                 prefetch_v = NumberOption(o, "prefetch", 4);
    if (!IsIntegerIn(seed_v, 0, kMaxSeed)) ThrowRange(env, "seed must be an integer in [0, 2^64)");
    if (!IsIntegerIn(workers_v, 0, 256)) ThrowRange(env, "workers must be an integer in [0, 256] (0 = automatic)");
    if (!IsIntegerIn(prefetch_v, 1, 1024)) ThrowRange(env, "prefetch must be an integer in [1, 1024]");
    const uint64_t seed = static_cast<uint64_t>(seed_v);
    const int workers = static_cast<int>(workers_v);
    const int prefetch = static_cast<int>(prefetch_v);
    const bool shuffle = BoolOption(o, "shuffle", true);
    // Batches for a GPU come in pinned memory, so their copies overlap the previous step's work.
    const bool pin = model_->device().is_cuda();
    LoaderShard train_shard, val_shard;
    if (!o.Get("processGroup").IsUndefined() && !o.Get("processGroup").IsNull()) {
      auto group = ProcessGroupWrap::Get(o.Get("processGroup"), "processGroup");
      if (group->backend_name() == "gloo" && model_->device().is_cuda())
        ThrowRange(env, "the gloo process group reduces CPU tensors; a model on " + model_->device().str() +
                            " needs backend 'nccl'");
      if (group->backend_name() == "nccl" && !model_->device().is_cuda())
        ThrowRange(env, "the nccl process group reduces CUDA tensors; move the model to its GPU or use backend 'gloo'");
      dp_ = std::make_unique<DataParallel>(group, model_->module(), BoolOption(o, "overlap", true),
                                           BoolOption(o, "syncBatchNorm", false));
      train_shard = {group->rank(), group->world_size(), /*pad=*/true};
      val_shard = {group->rank(), group->world_size(), /*pad=*/false};
      refs_.push_back(Napi::Persistent(o.Get("processGroup").As<Napi::Object>()));
    }
    train_ = std::make_unique<BatchLoader>(DatasetFromValue(o.Get("train"), "train"), static_cast<int64_t>(batch_size),
                                           shuffle,
                                           /*drop_last=*/false, seed, workers, prefetch, pin, train_shard);
    if (!o.Get("val").IsUndefined() && !o.Get("val").IsNull()) {
      val_ = std::make_unique<BatchLoader>(DatasetFromValue(o.Get("val"), "val"), static_cast<int64_t>(eval_batch),
                                           /*shuffle=*/false, /*drop_last=*/false, seed, workers, prefetch, pin,
                                           val_shard);
      // The whole validation set, for the passes that need every example, is opened on first use.
      val_full_options_ = {seed, prefetch, pin};
    }
    if (val_) val_->SetRole("validation");
    // Each group keeps its ratio to group 0's LR, so one schedule drives differential LRs.
    auto& groups = optimizer_->optimizer().param_groups();
    const double base = groups.empty() ? 1 : groups[0].options().get_lr();
    for (auto& g : groups) lr_ratios_.push_back(base > 0 ? g.options().get_lr() / base : 1);
    refs_.push_back(Napi::Persistent(info[0].As<Napi::Object>()));
    refs_.push_back(Napi::Persistent(info[1].As<Napi::Object>()));
    refs_.push_back(Napi::Persistent(o.Get("train").As<Napi::Object>()));
    if (val_) refs_.push_back(Napi::Persistent(o.Get("val").As<Napi::Object>()));
    thread_ = std::thread([this] { Loop(); });
    SGDR_CATCH(env)
  }

  ~TrainerWrap() override { Stop(); }

 private:
  void Loop() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;  // stopping with nothing left to do
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  // Asks the thread to finish (after the current batch) and returns whether a job is still running.
  bool RequestStop() {
    bool busy;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      busy = busy_;
    }
    abort_ = true;
    cv_.notify_all();
    return busy;
  }

  void Stop() {
    RequestStop();
    if (thread_.joinable()) thread_.join();
  }

  // After close() the loaders are gone (and the model may be too): every method but close() refuses.
  void CheckOpen(Napi::Env env) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) throw Napi::Error::New(env, "trainer is closed");
  }

  // Queues `work` on the training thread; `work` returns the JS result builder or throws.
  Napi::Value Submit(const Napi::CallbackInfo& info, Napi::Value progress,
                     std::function<std::function<Napi::Value(Napi::Env)>(TrainerTsfn&)> work) {
    Napi::Env env = info.Env();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) throw Napi::Error::New(env, "trainer is closed");
      if (busy_) throw Napi::Error::New(env, "trainer is busy: wait for the running epoch or evaluation to finish");
      busy_ = true;
    }
    auto* link = new JobLink(env);
    link->self = Napi::Persistent(info.This().As<Napi::Object>());
    Napi::Function callback = progress.IsFunction() ? progress.As<Napi::Function>() : Napi::Function();
    // Queue of 8: progress beyond that is dropped (NonBlockingCall), the final message waits.
    auto tsfn = std::make_shared<TrainerTsfn>(TrainerTsfn::New(env, callback, "sgdr-trainer", 8, 1, link));
    Napi::Promise promise = link->deferred.Promise();
    // OpenMP's thread count is per thread: a setNumThreads() made on the JS thread after this thread
    // first ran would otherwise never reach it.
    const int threads = torch::get_num_threads();
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back([this, tsfn, work, threads] {
        auto* done = new Message{Message::Type::kDone};
        try {
          if (at::get_num_threads() != threads) at::set_num_threads(threads);
          if (dp_ && !state_broadcast_) {  // DDP's constructor: every replica starts from rank 0's weights
            std::lock_guard<std::mutex> lock(model_->mutex());
            dp_->BroadcastState();
            state_broadcast_ = true;
          }
          done->result = work(*tsfn);
        } catch (...) {
          done->error = Capture(std::current_exception());
        }
        {
          std::lock_guard<std::mutex> lock(mu_);
          busy_ = false;
        }
        tsfn->BlockingCall(done);
        tsfn->Release();
      });
    }
    cv_.notify_one();
    return promise;
  }

  // The epoch's running sums, kept on the device (no host sync per batch). Returns the batch's
  // correct predictions (a 0-dim device tensor), which a progress report reads.
  static torch::Tensor Accumulate(const StepOutput& step, const torch::Tensor& y, int64_t n, torch::Tensor& loss_sum,
                                  torch::Tensor& correct_sum) {
    torch::NoGradGuard no_grad;
    loss_sum.add_(step.loss.detach().to(torch::kFloat64), static_cast<double>(n));
    torch::Tensor correct = step.logits.argmax(1).eq(y).sum();
    correct_sum.add_(correct);
    return correct;
  }

  void ApplyLr(double lr) {
    auto& groups = optimizer_->optimizer().param_groups();
    for (size_t g = 0; g < groups.size(); ++g) groups[g].options().set_lr(lr * lr_ratios_[g]);
  }

  // runEpoch({ epoch, lrs: number[] | Float64Array, startBatch?, progressEvery?, skipNonFinite? }, onProgress?)
  //   -> Promise<{ loss, correct, count, batches, seconds, imagesPerSecond, aborted,
  //                nonFiniteBatch, nonFiniteLoss, skipped }>
  //
  // Divergence: a batch whose loss is NaN or infinite. By default the epoch stops at the first such
  // batch (its 0-based index in nonFiniteBatch, -1 if none, and its loss in nonFiniteLoss) and JS
  // refuses to go on; the weights are then no longer finite, so JS saves nothing from them. How it
  // is detected without a host sync per batch: each batch's isfinite(loss) is folded on the device
  // into a "first bad batch" index (masked_fill_, no sync), read back once at epoch end together
  // with the loss sum that is read anyway. Only where a sync costs nothing (a CPU model, or a batch
  // whose loss is read for progress anyway) is the flag looked at early, to stop at once instead of
  // training on NaN weights to the end of the epoch. Checking only the epoch's summed loss would be
  // as cheap but could not name the batch.
  //
  // With skipNonFinite the loss must be known before optimizer.step(), which needs a host sync per
  // batch (explicitly opted into): a non-finite batch's update is not applied, it is left out of the
  // epoch's sums, and counted in `skipped`.
  Napi::Value RunEpoch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    SGDR_TRY
    Napi::Object o = ObjectArg(info, 0, "options");
    CheckOpen(env);
    const int64_t batches = train_->batches_per_epoch();
    const double epoch_v = NumberOption(o, "epoch", 0), start_v = NumberOption(o, "startBatch", 0),
                 every_v = NumberOption(o, "progressEvery", 1);
    if (!IsIntegerIn(epoch_v, 0, kMaxExactInteger)) ThrowRange(env, "epoch must be an integer >= 0 (at most 2^53)");
    if (!IsIntegerIn(start_v, 0, static_cast<double>(batches)))
      ThrowRange(env, "startBatch must be an integer in [0, " + std::to_string(batches) + "]");
    // progressEvery <= 1 (or beyond any epoch) is as good as 1 (or never); only NaN has no meaning.
    if (std::isnan(every_v)) ThrowRange(env, "progressEvery must be a number");
    const int64_t epoch = static_cast<int64_t>(epoch_v), start = static_cast<int64_t>(start_v);
    const int64_t every = every_v <= 1                  ? 1
                          : every_v >= kMaxExactInteger ? static_cast<int64_t>(kMaxExactInteger)
                                                        : static_cast<int64_t>(every_v);
    const bool skip_nonfinite = BoolOption(o, "skipNonFinite", false);
    std::vector<double> lrs;
    Napi::Value lv = o.Get("lrs");
    if (lv.IsTypedArray() && lv.As<Napi::TypedArray>().TypedArrayType() == napi_float64_array) {
      auto a = lv.As<Napi::Float64Array>();
      lrs.assign(a.Data(), a.Data() + a.ElementLength());
    } else if (lv.IsArray()) {
      for (uint32_t i = 0; i < lv.As<Napi::Array>().Length(); ++i)
        lrs.push_back(lv.As<Napi::Array>().Get(i).ToNumber().DoubleValue());
    } else {
      ThrowType(env, "lrs must be an array with the learning rate of every batch");
    }
    if (static_cast<int64_t>(lrs.size()) != batches)
      ThrowRange(env, "lrs has " + std::to_string(lrs.size()) + " values, the epoch has " + std::to_string(batches) +
                          " batches");
    for (double lr : lrs) CheckLr(lr);
    abort_ = false;
    // Without a progress callback nothing is read back per batch (no host sync on a GPU).
    const bool report = info.Length() > 1 && info[1].IsFunction();
    return Submit(
        info, info.Length() > 1 ? info[1] : env.Undefined(),
        [this, epoch, start, every, batches, lrs, report, skip_nonfinite](TrainerTsfn& tsfn) {
          ResNet module = model_->module();
          torch::Device device = model_->device();
          torch::optim::Optimizer& opt = optimizer_->optimizer();
          train_->StartEpoch(epoch, start);
          // Sums stay on the device: no host sync per batch except when progress is reported.
          torch::Tensor loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(device));
          torch::Tensor correct_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kInt64).device(device));
          // The first non-finite batch (-1: none) and its loss, recorded on the device.
          torch::Tensor bad_batch = torch::full({}, -1, torch::TensorOptions().dtype(torch::kInt64).device(device));
          torch::Tensor bad_loss = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(device));
          const bool cheap_sync = device.is_cpu();
          int64_t count = 0, done = 0, skipped = 0;
          int64_t host_bad = -1;
          double host_bad_loss = 0;
          bool aborted = false;
          const auto t0 = Clock::now();
          Batch batch;
          for (int64_t b = start; train_->Next(batch); ++b) {
            if (abort_) {
              aborted = true;
              break;
            }
            const int64_t n = batch.images.size(0);
            bool stop = false, skipped_step = false;
            int64_t step_images = n;  // this step's images: the global batch's under data parallelism
            {
              std::lock_guard<std::mutex> lock(model_->mutex());
              module->train(true);
              ApplyLr(lrs[b]);
              torch::Tensor y = batch.labels.to(device, /*non_blocking=*/true);
              torch::Tensor batch_correct;  // this batch's correct predictions, once counted
              const StepOutput step = TrainOneStep(module, opt, batch.images.to(device, /*non_blocking=*/true), y,
                                                   skip_nonfinite ? &skipped_step : nullptr, dp_.get());
              // Data-parallel: the global batch's loss, the same on every rank, so every check below
              // decides alike everywhere.
              const torch::Tensor loss = dp_ ? dp_->loss() : step.loss;
              if (dp_) step_images = dp_->count();
              if (skipped_step) {
                ++skipped;
                if (host_bad < 0) {
                  host_bad = b;
                  host_bad_loss = loss.item<double>();
                }
              } else if (dp_) {
                torch::NoGradGuard no_grad;
                loss_sum.add_(loss, static_cast<double>(step_images));
                batch_correct = dp_->correct();
                correct_sum.add_(batch_correct);
              } else {
                batch_correct = Accumulate(step, y, n, loss_sum, correct_sum);
                if (!skip_nonfinite && cheap_sync) {
                  // On the CPU the loss is already there: one read, and the epoch stops at the bad batch.
                  const double l = loss.item<double>();
                  if (!std::isfinite(l)) {
                    host_bad = b;
                    host_bad_loss = l;
                    stop = true;
                  }
                } else if (!skip_nonfinite) {
                  torch::NoGradGuard no_grad;
                  const torch::Tensor l = loss.detach().to(torch::kFloat64);
                  const torch::Tensor first = torch::isfinite(l).logical_not().logical_and(bad_batch.lt(0));
                  bad_batch.masked_fill_(first, b);
                  bad_loss.copy_(torch::where(first, l, bad_loss));
                }
              }
              if (report && ((b + 1) % every == 0 || b + 1 == batches)) {
                const double batch_loss = loss.item<double>();
                auto* m = new Message{Message::Type::kProgress};
                m->batch = b + 1;
                m->batches = batches;
                m->loss = batch_loss;
                if (step_images > 0) {
                  // Only on the batches that are reported: the loss read above has synchronised already.
                  // A skipped batch was not counted into the sums, so its count is made here.
                  torch::NoGradGuard no_grad;
                  if (!batch_correct.defined())
                    batch_correct = dp_ ? dp_->correct() : step.logits.argmax(1).eq(y).sum();
                  m->accuracy = static_cast<double>(batch_correct.item<int64_t>()) / static_cast<double>(step_images);
                }
                m->lr = lrs[b];
                const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
                m->images_per_second = secs > 0 ? (count + step_images) / secs : 0;
                // Once queued, the message belongs to the JS thread, which may already have run CallJs
                // and deleted it: m is not touched again either way.
                if (tsfn.NonBlockingCall(m) != napi_ok) delete m;                // JS is busy: drop this update
                if (!skip_nonfinite && !std::isfinite(batch_loss)) stop = true;  // read anyway: stop now
              }
            }
            if (!skipped_step) count += step_images;  // a skipped batch is left out of the epoch's sums
            ++done;
            if (stop) break;
          }
          const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
          const double loss_total = loss_sum.item<double>();
          const int64_t correct = correct_sum.item<int64_t>();
          int64_t nonfinite_batch = host_bad;
          double nonfinite_loss = host_bad_loss;
          if (!skip_nonfinite && !cheap_sync) {  // on the CPU host_bad already holds it
            nonfinite_batch = bad_batch.item<int64_t>();
            nonfinite_loss = bad_loss.item<double>();
          }
          return [=](Napi::Env env) -> Napi::Value {
            auto r = Napi::Object::New(env);
            r.Set("loss", count ? loss_total / count : 0.0);
            r.Set("correct", static_cast<double>(correct));
            r.Set("count", static_cast<double>(count));
            r.Set("batches", static_cast<double>(done));
            r.Set("seconds", seconds);
            r.Set("imagesPerSecond", seconds > 0 ? count / seconds : 0.0);
            r.Set("aborted", aborted);
            r.Set("nonFiniteBatch", static_cast<double>(nonfinite_batch));
            r.Set("nonFiniteLoss", nonfinite_loss);
            r.Set("skipped", static_cast<double>(skipped));
            return r;
          };
        });
    SGDR_CATCH(env)
  }

  // evaluate({ probabilities?: boolean }) -> Promise<{ loss, correct, count, probabilities?, labels? }>
  // Mean cross-entropy and accuracy on the validation set in inference mode; with `probabilities`,
  // also the softmax of every example (row-major [count, classes]) for snapshot ensembles.
  Napi::Value Evaluate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    SGDR_TRY
    CheckOpen(env);
    if (!val_) throw Napi::Error::New(env, "this trainer has no validation set");
    const bool want_probs =
        info.Length() > 0 && info[0].IsObject() && BoolOption(info[0].As<Napi::Object>(), "probabilities", false);
    return Submit(info, env.Undefined(), [this, want_probs](TrainerTsfn&) {
      ResNet module = model_->module();
      torch::Device device = model_->device();
      // Data-parallel: each rank evaluates its shard and the sums are all-reduced; a pass that must
      // return every example's probabilities reads the whole set on this rank alone (no collective).
      const bool sharded = dp_ && !want_probs;
      // DDP's forward syncs buffers in evaluation too: every rank evaluates with rank 0's BatchNorm
      // statistics, so the replicas leave the pass identical, buffers included.
      if (dp_) dp_->BeforeForward();
      if (dp_ && want_probs && !val_full_) {
        const auto& f = val_full_options_;
        val_full_ = std::make_unique<BatchLoader>(val_->dataset(), val_->batch_size(), /*shuffle=*/false,
                                                  /*drop_last=*/false, f.seed, val_->workers(), f.prefetch, f.pin);
        val_full_->SetRole("validation");
      }
      BatchLoader* loader = dp_ && want_probs ? val_full_.get() : val_.get();
      loader->StartEpoch(0, 0);
      // Sums stay on the device: nothing is read back until the pass is over.
      torch::Tensor loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(device));
      torch::Tensor correct_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kInt64).device(device));
      int64_t count = 0;
      std::vector<torch::Tensor> probs, labels;
      Batch batch;
      while (loader->Next(batch)) {
        std::lock_guard<std::mutex> lock(model_->mutex());
        const bool was_training = module->is_training();
        module->eval();
        {
          torch::InferenceMode guard;
          torch::Tensor y = batch.labels.to(device, /*non_blocking=*/true);
          torch::Tensor out = module->forward(ModelInput(batch.images.to(device, /*non_blocking=*/true)));
          loss_sum.add_(torch::nn::functional::cross_entropy(
              out, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum)));
          correct_sum.add_(out.argmax(1).eq(y).sum());
          if (want_probs) {
            probs.push_back(torch::softmax(out, 1).to(torch::kCPU, torch::kFloat32));
            labels.push_back(batch.labels.to(torch::kInt32));
          }
        }
        module->train(was_training);
        count += batch.images.size(0);
      }
      if (sharded) {
        torch::Tensor totals = torch::stack({loss_sum, correct_sum.to(torch::kFloat64),
                                             torch::full({}, static_cast<double>(count), loss_sum.options())});
        dp_->AllReduceSum(totals);
        loss_sum = totals[0];
        correct_sum = totals[1].to(torch::kInt64);
        count = static_cast<int64_t>(totals[2].item<double>());
      }
      const double loss_total = loss_sum.item<double>();
      const int64_t correct = correct_sum.item<int64_t>();
      torch::Tensor all_probs = want_probs && !probs.empty() ? torch::cat(probs) : torch::Tensor();
      torch::Tensor all_labels = want_probs && !labels.empty() ? torch::cat(labels) : torch::Tensor();
      return [=](Napi::Env env) -> Napi::Value {
        auto r = Napi::Object::New(env);
        r.Set("loss", count ? loss_total / count : 0.0);
        r.Set("correct", static_cast<double>(correct));
        r.Set("count", static_cast<double>(count));
        if (all_probs.defined()) {
          r.Set("probabilities", TypedArrayFromTensor(env, all_probs));
          r.Set("labels", TypedArrayFromTensor(env, all_labels));
        }
        return r;
      };
    });
    SGDR_CATCH(env)
  }

  // timeSteps({ steps, train?: true, batches?: 1 }) -> Promise<{ seconds, images, stepSeconds: Float64Array }>
  // The benchmark's pure C++ loop: the first `batches` batches of epoch 0 of the train set, moved to
  // the device once, then `steps` training steps (exactly the epoch loop's step and sums, at the
  // current LR) or evaluation forwards, on the trainer's own thread, with no loader, N-API or JS in
  // between. Comparing it with runEpoch over the same steps measures what lies outside LibTorch.
  Napi::Value TimeSteps(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    SGDR_TRY
    Napi::Object o = ObjectArg(info, 0, "options");
    CheckOpen(env);
    const double steps = NumberOption(o, "steps", 0), pool = NumberOption(o, "batches", 1);
    if (!IsIntegerIn(steps, 1, kMaxExactInteger)) ThrowRange(env, "steps must be an integer >= 1");
    IntegerIn<int64_t>(env, pool, 1, static_cast<double>(train_->batches_per_epoch()),
                       "batches must be an integer in [1, " + std::to_string(train_->batches_per_epoch()) + "]");
    const bool train = BoolOption(o, "train", true);
    return Submit(info, env.Undefined(), [this, steps, pool, train](TrainerTsfn&) {
      ResNet module = model_->module();
      torch::Device device = model_->device();
      torch::optim::Optimizer& opt = optimizer_->optimizer();
      std::vector<torch::Tensor> xs, ys;
      train_->StartEpoch(0, 0);
      Batch batch;
      while (static_cast<double>(xs.size()) < pool && train_->Next(batch)) {
        xs.push_back(batch.images.to(device).clone());
        ys.push_back(batch.labels.to(device).clone());
      }
      train_->StartEpoch(0, train_->batches_per_epoch());  // nothing left to prepare
      const int64_t total = static_cast<int64_t>(steps);
      std::vector<double> step_seconds(static_cast<size_t>(total));
      int64_t images = 0;
      std::lock_guard<std::mutex> lock(model_->mutex());
      const bool was_training = module->is_training();
      module->train(train);
      torch::Tensor loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(device));
      torch::Tensor correct_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kInt64).device(device));
      const auto t0 = Clock::now();
      auto last = t0;
      for (int64_t s = 0; s < total; ++s) {
        const size_t k = static_cast<size_t>(s) % xs.size();
        const int64_t n = xs[k].size(0);
        if (train) {
          Accumulate(TrainOneStep(module, opt, xs[k], ys[k], nullptr, dp_.get()), ys[k], n, loss_sum, correct_sum);
        } else {
          torch::InferenceMode guard;
          torch::Tensor out = module->forward(ModelInput(xs[k]));
          loss_sum.add_(torch::nn::functional::cross_entropy(
              out, ys[k], torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum)));
          correct_sum.add_(out.argmax(1).eq(ys[k]).sum());
        }
        images += n;
        if (!device.is_cpu()) loss_sum.item<double>();  // per-step times need the device to finish
        const auto now = Clock::now();
        step_seconds[static_cast<size_t>(s)] = std::chrono::duration<double>(now - last).count();
        last = now;
      }
      loss_sum.item<double>();  // the device has finished
      const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
      module->train(was_training);
      return [=](Napi::Env env) -> Napi::Value {
        auto r = Napi::Object::New(env);
        r.Set("seconds", seconds);
        r.Set("images", static_cast<double>(images));
        auto a = Napi::Float64Array::New(env, step_seconds.size());
        for (size_t i = 0; i < step_seconds.size(); ++i) a[i] = step_seconds[i];
        r.Set("stepSeconds", a);
        return r;
      };
    });
    SGDR_CATCH(env)
  }

  // Stops the running epoch after the current batch; its promise resolves with aborted: true.
  Napi::Value Abort(const Napi::CallbackInfo& info) {
    abort_ = true;
    return info.Env().Undefined();
  }

  Napi::Value BatchesPerEpoch(const Napi::CallbackInfo& info) {
    CheckOpen(info.Env());
    return Napi::Number::New(info.Env(), static_cast<double>(train_->batches_per_epoch()));
  }

  // Stops the thread (after the current batch) and releases the data loaders. While a job runs, the
  // JS thread must not wait for it (the job's last message needs the JS thread), so the join then
  // happens when the trainer is collected.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (!RequestStop()) {
      if (thread_.joinable()) thread_.join();
      train_.reset();
      val_.reset();
      val_full_.reset();
      dp_.reset();
      for (auto& r : refs_) r.Reset();
    }
    return info.Env().Undefined();
  }

  ModelWrap* model_ = nullptr;
  OptimizerWrap* optimizer_ = nullptr;
  std::unique_ptr<BatchLoader> train_, val_, val_full_;
  // What the whole-set validation loader is opened with (data-parallel passes with probabilities).
  struct {
    uint64_t seed = 0;
    int prefetch = 4;
    bool pin = false;
  } val_full_options_;
  std::unique_ptr<DataParallel> dp_;  // set when training data-parallel
  bool state_broadcast_ = false;      // rank 0's weights reach every replica in the first job
  std::vector<double> lr_ratios_;
  std::vector<Napi::ObjectReference> refs_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false, busy_ = false;
  std::atomic<bool> abort_{false};
};

Napi::Function InitTrainer(Napi::Env env) { return TrainerWrap::Init(env); }

}  // namespace sgdr

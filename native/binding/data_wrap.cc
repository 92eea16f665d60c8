#include "binding/data_wrap.h"

#include <atomic>
#include <cmath>

#include "binding/addon_data.h"
#include "binding/promise_worker.h"
#include "binding/args.h"
#include "binding/js_errors.h"
#include "binding/tensor_wrap.h"

namespace sgdr {

namespace {

// An optional integer option in [lo, 2^53]; absent/undefined/null gives the fallback.
int64_t IntOption(const Napi::Object& o, const char* key, int64_t fallback, int64_t lo) {
  const double v = NumberOption(o, key, static_cast<double>(fallback));
  return IntegerIn<int64_t>(o.Env(), v, static_cast<double>(lo), kMaxExactInteger,
                            std::string(key) + " must be an integer >= " + std::to_string(lo) + ", got " +
                                Napi::Number::New(o.Env(), v).ToString().Utf8Value());
}

std::vector<float> FloatList(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return {};
  if (v.IsNumber()) return {v.As<Napi::Number>().FloatValue()};
  if (!v.IsArray()) ThrowType(o.Env(), std::string(key) + " must be a number or an array of numbers");
  auto arr = v.As<Napi::Array>();
  std::vector<float> out;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value item = arr.Get(i);
    if (!item.IsNumber()) ThrowType(o.Env(), std::string(key) + "[" + std::to_string(i) + "] must be a number");
    out.push_back(item.As<Napi::Number>().FloatValue());
  }
  return out;
}

class DatasetWrap : public Napi::ObjectWrap<DatasetWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    Napi::Function ctor = DefineClass(env, "NativeDataset",
                                      {
                                          InstanceMethod<&DatasetWrap::Info>("info"),
                                          InstanceMethod<&DatasetWrap::Labels>("labels"),
                                          InstanceMethod<&DatasetWrap::Source>("source"),
                                          InstanceMethod<&DatasetWrap::Get>("get"),
                                          InstanceMethod<&DatasetWrap::Crop>("crop"),
                                          InstanceMethod<&DatasetWrap::Loader>("loader"),
                                          InstanceMethod<&DatasetWrap::Dispose>("dispose"),
                                          InstanceMethod<&DatasetWrap::IsDisposed>("isDisposed"),
                                      });
    GetAddonData(env).dataset_constructor = Napi::Persistent(ctor);
    return ctor;
  }

  explicit DatasetWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DatasetWrap>(info) {
    Napi::Env env = info.Env();
    SGDR_TRY
    dataset_ = Dataset::Open(DataSpecFromObject(ObjectArg(info, 0, "spec")));
    SGDR_CATCH(env)
  }

  std::shared_ptr<Dataset> dataset(Napi::Env env) const {
    if (!dataset_) ThrowDisposed(env, "dataset is disposed");
    return dataset_;
  }

 private:
  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto d = dataset(env);
    auto o = Napi::Object::New(env);
    o.Set("kind", d->spec().kind);
    o.Set("root", d->spec().root);
    o.Set("split", d->spec().split);
    o.Set("size", static_cast<double>(d->size()));
    o.Set("numClasses", static_cast<double>(d->num_classes()));
    o.Set("channels", static_cast<double>(d->channels()));
    o.Set("height", static_cast<double>(d->height()));
    o.Set("width", static_cast<double>(d->width()));
    o.Set("augment", d->augmenting());
    o.Set("fastDecode", d->spec().fast_decode);
    const auto names = d->class_names();
    auto arr = Napi::Array::New(env, names.size());
    for (size_t i = 0; i < names.size(); ++i) arr.Set(static_cast<uint32_t>(i), names[i]);
    o.Set("classNames", arr);
    return o;
  }

  // The labels of the (limited) dataset in its order, as an Int32Array.
  Napi::Value Labels(const Napi::CallbackInfo& info) {
    auto d = dataset(info.Env());
    auto out = Napi::Int32Array::New(info.Env(), static_cast<size_t>(d->size()));
    for (int64_t i = 0; i < d->size(); ++i) out[static_cast<size_t>(i)] = static_cast<int32_t>(d->label(i));
    return out;
  }

  Napi::Value Source(const Napi::CallbackInfo& info) {
    auto d = dataset(info.Env());
    const double i = NumberArg(info, 0, "index");
    const int64_t index = IntegerIn<int64_t>(info.Env(), i, 0, static_cast<double>(d->size()) - 1,
                                             "index must be an integer in [0, " + std::to_string(d->size()) + ")");
    return Napi::String::New(info.Env(), d->source(index));
  }

  // crop(index, seed = 0, epoch = 0) -> { x, y, w, h, flip, scale } | null: the random crop get()
  // takes for that sample (augmenting image folders only).
  Napi::Value Crop(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    SGDR_TRY
    auto d = dataset(env);
    const SampleRef r = SampleArgs(info, d->size());
    const auto crop = d->Crop(r.index, r.seed, r.epoch);
    if (!crop) return env.Null();
    auto o = Napi::Object::New(env);
    o.Set("x", static_cast<double>(crop->x));
    o.Set("y", static_cast<double>(crop->y));
    o.Set("w", static_cast<double>(crop->w));
    o.Set("h", static_cast<double>(crop->h));
    o.Set("flip", crop->flip);
    o.Set("scale", crop->scale);
    return o;
    SGDR_CATCH(env)
  }

  // The (index, seed = 0, epoch = 0) arguments of get() and crop(), checked.
  struct SampleRef {
    int64_t index;
    uint64_t seed;
    int64_t epoch;
  };
  static SampleRef SampleArgs(const Napi::CallbackInfo& info, int64_t size) {
    Napi::Env env = info.Env();
    const double i = NumberArg(info, 0, "index");
    IntegerIn<int64_t>(env, i, 0, static_cast<double>(size) - 1,
                       "index must be an integer in [0, " + std::to_string(size) + ")");
    const double seed = info.Length() > 1 && !info[1].IsUndefined() ? NumberArg(info, 1, "seed") : 0;
    const double epoch = info.Length() > 2 && !info[2].IsUndefined() ? NumberArg(info, 2, "epoch") : 0;
    if (!IsIntegerIn(seed, 0, kMaxSeed)) ThrowRange(env, "seed must be an integer in [0, 2^64)");
    if (!IsIntegerIn(epoch, 0, kMaxExactInteger)) ThrowRange(env, "epoch must be an integer >= 0 (at most 2^53)");
    return {static_cast<int64_t>(i), static_cast<uint64_t>(seed), static_cast<int64_t>(epoch)};
  }

  // get(index, seed = 0, epoch = 0) -> NativeTensor [C, H, W]: one transformed sample, on this thread.
  Napi::Value Get(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    SGDR_TRY
    auto d = dataset(env);
    const SampleRef r = SampleArgs(info, d->size());
    return TensorWrap::Wrap(env, d->GetTensor(r.index, r.seed, r.epoch));
    SGDR_CATCH(env)
  }

  // loader(options) -> NativeDataLoader over this dataset.
  Napi::Value Loader(const Napi::CallbackInfo& info) {
    dataset(info.Env());
    Napi::Value options = info.Length() > 0 ? info[0] : info.Env().Undefined();
    return GetAddonData(info.Env()).data_loader_constructor.New({info.This(), options});
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    dataset_.reset();  // loaders keep their own reference
    return info.Env().Undefined();
  }

  Napi::Value IsDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !dataset_); }

  std::shared_ptr<Dataset> dataset_;
};

class DataLoaderWrap : public Napi::ObjectWrap<DataLoaderWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    Napi::Function ctor = DefineClass(env, "NativeDataLoader",
                                      {
                                          InstanceMethod<&DataLoaderWrap::StartEpoch>("startEpoch"),
                                          InstanceMethod<&DataLoaderWrap::Next>("next"),
                                          InstanceMethod<&DataLoaderWrap::BatchesPerEpoch>("batchesPerEpoch"),
                                          InstanceMethod<&DataLoaderWrap::Options>("options"),
                                          InstanceMethod<&DataLoaderWrap::Dispose>("dispose"),
                                          InstanceMethod<&DataLoaderWrap::IsDisposed>("isDisposed"),
                                      });
    GetAddonData(env).data_loader_constructor = Napi::Persistent(ctor);
    return ctor;
  }

  // new NativeDataLoader(dataset, { batchSize, shuffle?, dropLast?, seed?, workers?, prefetch? })
  explicit DataLoaderWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DataLoaderWrap>(info) {
    Napi::Env env = info.Env();
    SGDR_TRY
    auto dataset = DatasetFromValue(info[0], "dataset");
    Napi::Object o =
        info.Length() > 1 && !info[1].IsUndefined() ? ObjectArg(info, 1, "options") : Napi::Object::New(env);
    Napi::Value bs = o.Get("batchSize");
    if (!bs.IsNumber()) ThrowType(env, "batchSize must be a number");
    const double batch_size = bs.As<Napi::Number>().DoubleValue();
    if (!IsIntegerIn(batch_size, 1, kMaxExactInteger))
      ThrowRange(env, "batch size must be an integer >= 1, got " + bs.ToString().Utf8Value());
    // Train data is shuffled by default, val data is not (as PyTorch scripts usually do).
    const bool shuffle = BoolOption(o, "shuffle", dataset->spec().split == "train");
    const bool drop_last = BoolOption(o, "dropLast", false);
    const int64_t seed = IntOption(o, "seed", 0, 0);
    const int64_t workers = IntOption(o, "workers", 0, 0);
    const int64_t prefetch = IntOption(o, "prefetch", 4, 1);
    if (workers > 256) ThrowRange(env, "workers must be <= 256");
    if (prefetch > 1024) ThrowRange(env, "prefetch must be <= 1024");
    shuffle_ = shuffle;
    drop_last_ = drop_last;
    seed_ = seed;
    loader_ = std::make_shared<BatchLoader>(dataset, static_cast<int64_t>(batch_size), shuffle, drop_last,
                                            static_cast<uint64_t>(seed), static_cast<int>(workers),
                                            static_cast<int>(prefetch));
    SGDR_CATCH(env)
  }

  void Finalize(Napi::Env env) override { Release(); }

 private:
  std::shared_ptr<BatchLoader> loader(Napi::Env env) const {
    if (!loader_) ThrowDisposed(env, "data loader is disposed");
    return loader_;
  }

  void CheckIdle(Napi::Env env, const char* what) const {
    if (pending_->load())
      throw Napi::Error::New(env, std::string(what) + " called while a next() is pending; await it first");
  }

  Napi::Value StartEpoch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    SGDR_TRY
    auto l = loader(env);
    CheckIdle(env, "startEpoch()");
    const double epoch = NumberArg(info, 0, "epoch");
    const double start = info.Length() > 1 && !info[1].IsUndefined() ? NumberArg(info, 1, "startBatch") : 0;
    if (!IsIntegerIn(epoch, 0, kMaxExactInteger)) ThrowRange(env, "epoch must be an integer >= 0 (at most 2^53)");
    // The range [0, batches per epoch] is the loader's check; this one only keeps the cast defined.
    if (!IsIntegerIn(start, -kMaxExactInteger, kMaxExactInteger)) ThrowRange(env, "startBatch must be an integer");
    l->StartEpoch(static_cast<int64_t>(epoch), static_cast<int64_t>(start));
    return env.Undefined();
    SGDR_CATCH(env)
  }

  // next() -> Promise<{ images, labels, index } | null>, waiting off the JS thread. One at a time (so
  // promises resolve in batch order): "pending" lasts until the promise settles on the JS thread.
  Napi::Value Next(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    SGDR_TRY
    auto l = loader(env);
    CheckIdle(env, "next()");
    auto batch = std::make_shared<Batch>();
    auto got = std::make_shared<bool>(false);
    auto error = std::make_shared<std::exception_ptr>();
    auto pending = pending_;
    pending->store(true);
    return PromiseWorker::Start(
        env,
        [l, batch, got, error]() {
          try {
            *got = l->Next(*batch);
          } catch (...) {
            *error = std::current_exception();  // rethrown on the JS thread, after clearing "pending"
          }
        },
        [batch, got, error, pending](Napi::Env env) -> Napi::Value {
          pending->store(false);
          if (*error) throw ToJsError(env, *error);
          if (!*got) return env.Null();
          auto o = Napi::Object::New(env);
          o.Set("images", TensorWrap::Wrap(env, batch->images));
          o.Set("labels", TensorWrap::Wrap(env, batch->labels));
          o.Set("index", static_cast<double>(batch->index));
          *batch = Batch();
          return o;
        },
        {info.This().As<Napi::Object>()});
    SGDR_CATCH(env)
  }

  Napi::Value BatchesPerEpoch(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(loader(info.Env())->batches_per_epoch()));
  }

  // The options as resolved (workers after 'automatic').
  Napi::Value Options(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto l = loader(env);
    auto o = Napi::Object::New(env);
    o.Set("batchSize", static_cast<double>(l->batch_size()));
    o.Set("shuffle", shuffle_);
    o.Set("dropLast", drop_last_);
    o.Set("seed", static_cast<double>(seed_));
    o.Set("workers", l->workers());
    return o;
  }

  // Stops the worker threads now; a pending next() rejects. Idempotent.
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    Release();
    return info.Env().Undefined();
  }

  Napi::Value IsDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !loader_); }

  void Release() {
    if (!loader_) return;
    loader_->Close();  // joins the workers; a pending Next() (holding its own reference) throws
    loader_.reset();
  }

  std::shared_ptr<BatchLoader> loader_;
  std::shared_ptr<std::atomic<bool>> pending_ = std::make_shared<std::atomic<bool>>(false);
  bool shuffle_ = false, drop_last_ = false;
  int64_t seed_ = 0;
};

}  // namespace

DataSpec DataSpecFromObject(const Napi::Object& o) {
  Napi::Env env = o.Env();
  DataSpec spec;
  Napi::Value kind = o.Get("kind");
  if (!kind.IsString())
    ThrowType(env, "spec.kind must be a string (fashion-mnist, mnist, cifar10, image-folder or synthetic)");
  spec.kind = kind.As<Napi::String>().Utf8Value();
  spec.root = StringOption(o, "root", "");
  spec.split = StringOption(o, "split", "train");
  spec.limit = IntOption(o, "limit", 0, 0);
  spec.augment = BoolOption(o, "augment", true);
  Napi::Value hflip = o.Get("hflip");
  if (!hflip.IsUndefined() && !hflip.IsNull()) spec.hflip = BoolOption(o, "hflip", true);
  Napi::Value pad = o.Get("pad");
  if (!pad.IsUndefined() && !pad.IsNull()) spec.pad = IntOption(o, "pad", 0, 0);
  spec.image_size = IntOption(o, "imageSize", 0, 0);
  spec.resize = IntOption(o, "resize", 0, 0);
  spec.fast_decode = BoolOption(o, "fastDecode", false);
  spec.mean = FloatList(o, "mean");
  spec.std = FloatList(o, "std");
  if (spec.kind == "synthetic") {
    spec.size = IntOption(o, "size", 0, 1);
    spec.channels = IntOption(o, "channels", 3, 1);
    spec.num_classes = IntOption(o, "numClasses", 10, 1);
    spec.distinct = IntOption(o, "distinct", 1024, 1);
    spec.seed = static_cast<uint64_t>(IntOption(o, "seed", 0, 0));
  }
  return spec;
}

std::shared_ptr<Dataset> DatasetFromValue(Napi::Value value, const char* what) {
  Napi::Env env = value.Env();
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(GetAddonData(env).dataset_constructor.Value()))
    ThrowType(env, std::string(what) + " must be a NativeDataset");
  return DatasetWrap::Unwrap(value.As<Napi::Object>())->dataset(env);
}

Napi::Function InitDataset(Napi::Env env) { return DatasetWrap::Init(env); }
Napi::Function InitDataLoader(Napi::Env env) { return DataLoaderWrap::Init(env); }

}  // namespace sgdr

// BatchLoader: an epoch's batches prepared ahead of the consumer on worker threads and handed over
// in order; batch b of epoch e depends only on (dataset, batch_size, shuffle, drop_last, seed, e, b).
#include <torch/types.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "core/failure.h"
#include "data/datasets.h"
#include "perf/levers.h"

namespace sgdr {

std::vector<int64_t> ShardOf(const std::vector<int64_t>& order, const LoaderShard& s) {
  if (s.world <= 1) return order;
  const int64_t n = static_cast<int64_t>(order.size());
  const int64_t total = s.pad ? (n + s.world - 1) / s.world * s.world : n;
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(total / s.world + 1));
  // Padding repeats the order from its start (DistributedSampler: indices += indices[:padding]).
  for (int64_t i = s.rank; i < total; i += s.world) out.push_back(order[static_cast<size_t>(n ? i % n : 0)]);
  return out;
}

struct BatchLoader::Impl {
  std::string role = "training";
  std::shared_ptr<Dataset> dataset;
  int64_t batch_size = 1;
  bool shuffle = false, drop_last = false;
  uint64_t seed = 0;
  int workers = 1;
  int64_t prefetch = 4;
  int64_t per_epoch = 0;
  int64_t sample_floats = 0;
  bool pin_memory = false;
  LoaderShard shard;

  std::mutex mu;
  std::condition_variable work_cv;   // workers wait for a batch to claim
  std::condition_variable ready_cv;  // the consumer waits for its next batch
  bool closed = false, started = false;
  uint64_t generation = 0;                   // bumped by every StartEpoch; stale work is dropped
  std::atomic<uint64_t> live_generation{0};  // the same, for lock-free checks between samples
  std::atomic<bool> stopping{false};
  int64_t epoch = 0;
  std::shared_ptr<const std::vector<int64_t>> order;
  int64_t next_claim = 0, next_deliver = 0;
  struct Slot {
    Batch batch;
    std::exception_ptr error;
  };
  std::map<int64_t, Slot> ready;
  std::vector<std::thread> threads;

  // Image buffers handed out to batches, reused once every user of one has let go of it.
  std::mutex pool_mu;
  std::vector<torch::Tensor> pool;

  void StartLocked(int64_t e, int64_t start, std::shared_ptr<const std::vector<int64_t>> new_order) {
    ++generation;
    live_generation.store(generation);
    epoch = e;
    order = std::move(new_order);
    ready.clear();
    next_claim = next_deliver = start;
    started = true;
    work_cv.notify_all();
    ready_cv.notify_all();
  }

  std::shared_ptr<const std::vector<int64_t>> OrderFor(int64_t e) const {
    const int64_t n = dataset->size();
    std::vector<int64_t> order;
    if (shuffle) {
      order = EpochOrder(n, seed, e);
    } else {
      order.resize(static_cast<size_t>(n));
      std::iota(order.begin(), order.end(), int64_t{0});
    }
    return std::make_shared<const std::vector<int64_t>>(ShardOf(order, shard));
  }

  torch::Tensor AcquireImages(int64_t rows) {
    const auto full = std::vector<int64_t>{batch_size, dataset->channels(), dataset->height(), dataset->width()};
    if (pin_memory)
      return torch::empty({rows, full[1], full[2], full[3]}, torch::TensorOptions(torch::kFloat32).pinned_memory(true));
    if (!Levers().loader_buffer_pool.load(std::memory_order_relaxed))
      return torch::empty({rows, full[1], full[2], full[3]}, torch::kFloat32);
    torch::Tensor buffer;
    {
      std::lock_guard<std::mutex> lock(pool_mu);
      for (const auto& t : pool)
        // Free when the pool's handle is the only one on the tensor and its tensor the only one on
        // the storage (a consumer's view shares the storage, a copy of the handle the tensor).
        // Counts only drop while we look, and a release is an acq_rel decrement, so the last user's
        // accesses happen before our writes.
        if (t.use_count() == 1 && t.storage().use_count() == 1) {
          buffer = t;
          CountLeverUse(&LeverUses::loader_buffer_pool);
          break;
        }
      if (!buffer.defined()) {
        buffer = torch::empty(full, torch::kFloat32);
        // At most `prefetch` batches are in flight; +2 covers the batch the consumer holds and the one
        // it just released. Beyond that, buffers are not kept (their memory returns when released).
        if (static_cast<int64_t>(pool.size()) < prefetch + 2) pool.push_back(buffer);
      }
    }
    return rows == batch_size ? buffer : buffer.narrow(0, 0, rows);
  }

  // Fills batch b; false if it was abandoned (epoch restarted or loader closed) part way.
  bool Build(int64_t b, int64_t e, const std::vector<int64_t>& ord, uint64_t gen, Batch& out) {
    const int64_t begin = b * batch_size;
    const int64_t rows = std::min(batch_size, static_cast<int64_t>(ord.size()) - begin);
    torch::Tensor images = AcquireImages(rows);
    torch::Tensor labels = torch::empty({rows}, torch::TensorOptions(torch::kInt64).pinned_memory(pin_memory));
    float* pixels = images.data_ptr<float>();
    int64_t* label_data = labels.data_ptr<int64_t>();
    for (int64_t k = 0; k < rows; ++k) {
      if (stopping.load(std::memory_order_relaxed) || live_generation.load(std::memory_order_relaxed) != gen)
        return false;
      const int64_t index = ord[begin + k];
      dataset->Get(index, seed, e, pixels + k * sample_floats);
      label_data[k] = dataset->label(index);
    }
    out.images = std::move(images);
    out.labels = std::move(labels);
    out.index = b;
    return true;
  }

  void WorkerLoop() {
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      work_cv.wait(
          lock, [&] { return closed || (started && next_claim < per_epoch && next_claim - next_deliver < prefetch); });
      if (closed) return;
      const int64_t b = next_claim++;
      const uint64_t gen = generation;
      const int64_t e = epoch;
      const auto ord = order;
      const std::string role_now = role;
      lock.unlock();
      Slot slot;
      bool complete = true;
      try {
        complete = Build(b, e, *ord, gen, slot.batch);
      } catch (const std::exception& err) {
        const std::string where = role_now == "training"
                                      ? "training batch " + std::to_string(b + 1) + " of epoch " + std::to_string(e + 1)
                                      : role_now + " batch " + std::to_string(b + 1);
        slot.error = std::make_exception_ptr(std::runtime_error(where + ": " + err.what()));
      } catch (...) {
        slot.error = std::current_exception();
      }
      lock.lock();
      if (complete && gen == generation && !closed) {
        ready.emplace(b, std::move(slot));
        ready_cv.notify_all();
      } else {
        lock.unlock();
        slot = Slot();  // drop tensors outside the lock
        lock.lock();
      }
    }
  }
};

void BatchLoader::SetRole(const std::string& role) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->role = role;
}

BatchLoader::BatchLoader(std::shared_ptr<Dataset> dataset, int64_t batch_size, bool shuffle, bool drop_last,
                         uint64_t seed, int workers, int prefetch, bool pin_memory, LoaderShard shard)
    : impl_(std::make_unique<Impl>()) {
  if (shard.world < 1 || shard.rank < 0 || shard.rank >= shard.world)
    throw RangeFailure("loader shard must have world >= 1 and rank in [0, world), got rank " +
                       std::to_string(shard.rank) + " of " + std::to_string(shard.world));
  if (!dataset) throw std::invalid_argument("BatchLoader needs a dataset");
  if (batch_size < 1) throw RangeFailure("batch size must be >= 1, got " + std::to_string(batch_size));
  if (workers < 0) throw RangeFailure("workers must be >= 0 (0 = automatic), got " + std::to_string(workers));
  if (prefetch < 1) throw RangeFailure("prefetch must be >= 1, got " + std::to_string(prefetch));
  Impl& s = *impl_;
  s.dataset = std::move(dataset);
  s.batch_size = batch_size;
  s.shuffle = shuffle;
  s.drop_last = drop_last;
  s.seed = seed;
  s.pin_memory = pin_memory;
  s.shard = shard;
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  // In-memory samples cost microseconds: one or two threads keep up with any model. Decoding files
  // is the expensive case and scales with threads.
  const bool decodes = s.dataset->spec().kind == "image-folder";
  s.workers = workers > 0 ? std::min(workers, 256) : (decodes ? std::min(cores, 8) : std::min(cores, 2));
  // Every worker may hold a batch in flight, so prefetch less than the workers would idle some.
  s.prefetch = std::max<int64_t>(prefetch, s.workers);
  // This rank's samples per epoch (all of them without a shard).
  const int64_t all = s.dataset->size(), w = shard.world;
  const int64_t n = w <= 1      ? all
                    : shard.pad ? (all + w - 1) / w
                                : (all > shard.rank ? (all - shard.rank + w - 1) / w : 0);
  s.per_epoch = drop_last ? n / batch_size : (n + batch_size - 1) / batch_size;
  s.sample_floats = s.dataset->channels() * s.dataset->height() * s.dataset->width();
  s.threads.reserve(static_cast<size_t>(s.workers));
  try {
    for (int i = 0; i < s.workers; ++i) s.threads.emplace_back([&s] { s.WorkerLoop(); });
  } catch (...) {
    Close();
    throw;
  }
}

BatchLoader::~BatchLoader() { Close(); }

int64_t BatchLoader::batches_per_epoch() const { return impl_->per_epoch; }
int64_t BatchLoader::batch_size() const { return impl_->batch_size; }
int BatchLoader::workers() const { return impl_->workers; }
const std::shared_ptr<Dataset>& BatchLoader::dataset() const { return impl_->dataset; }

void BatchLoader::StartEpoch(int64_t epoch, int64_t start_batch) {
  Impl& s = *impl_;
  if (epoch < 0) throw RangeFailure("epoch must be >= 0, got " + std::to_string(epoch));
  if (start_batch < 0 || start_batch > s.per_epoch)
    throw RangeFailure("start batch must be in [0, " + std::to_string(s.per_epoch) + "], got " +
                       std::to_string(start_batch));
  auto order = s.OrderFor(epoch);
  std::map<int64_t, Impl::Slot> stale;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.closed) throw std::runtime_error("the data loader is closed");
    stale.swap(s.ready);  // freed after the lock is released
    s.StartLocked(epoch, start_batch, std::move(order));
  }
}

bool BatchLoader::Next(Batch& out) {
  Impl& s = *impl_;
  std::unique_lock<std::mutex> lock(s.mu);
  if (s.closed) throw std::runtime_error("the data loader is closed");
  if (!s.started) {
    lock.unlock();
    auto order = s.OrderFor(0);
    lock.lock();
    if (!s.started && !s.closed) s.StartLocked(0, 0, std::move(order));
  }
  s.ready_cv.wait(lock, [&] { return s.closed || s.next_deliver >= s.per_epoch || s.ready.count(s.next_deliver) > 0; });
  if (s.closed) throw std::runtime_error("the data loader is closed");
  if (s.next_deliver >= s.per_epoch) return false;
  auto node = s.ready.extract(s.next_deliver);
  ++s.next_deliver;
  s.work_cv.notify_all();
  lock.unlock();
  if (node.mapped().error) std::rethrow_exception(node.mapped().error);
  out = std::move(node.mapped().batch);
  return true;
}

void BatchLoader::Close() {
  Impl& s = *impl_;
  std::map<int64_t, Impl::Slot> stale;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.closed = true;
    s.stopping.store(true);
    stale.swap(s.ready);
    s.work_cv.notify_all();
    s.ready_cv.notify_all();
  }
  for (auto& t : s.threads)
    if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
  s.threads.clear();
}

}  // namespace sgdr

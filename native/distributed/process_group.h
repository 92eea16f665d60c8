// Data parallelism on LibTorch's own c10d (no home-made all-reduce): a rendezvous through
// c10d::TCPStore with torchrun's conventions (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), a Gloo
// (CPU) or NCCL (CUDA) backend, and the few collectives the trainer needs. LibTorch only, no N-API.
//
// Failure: every collective has the group's timeout, and a failed one is rethrown as a
// DistributedFailure that names the ranks that are gone. Each rank keeps a heartbeat key in the
// store (one write a second from a thread of its own), so a survivor can tell which peer stopped:
// the one whose heartbeat is stale, or rank 0 itself when the store it hosts no longer answers.
#pragma once

#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "distributed/c10d_types.h"

namespace sgdr {

// A collective that failed because a peer is gone or did not answer in time.
struct DistributedFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ProcessGroupOptions {
  int rank = 0, world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  // How long a collective (and the rendezvous) may wait for the other ranks before the job fails.
  std::chrono::milliseconds timeout{std::chrono::seconds(300)};
  std::string backend = "gloo";  // "gloo" (CPU tensors) or "nccl" (CUDA tensors)
  int local_rank = 0;            // for NCCL: the CUDA device this rank drives
};

// Which backends this build of the addon compiled in (native/distributed/*_backend.cc).
bool GlooAvailable();
bool NcclAvailable();

class ProcessGroup {
 public:
  // Rendezvous: rank 0 hosts the TCPStore; every rank waits (up to the timeout) for all to join.
  explicit ProcessGroup(const ProcessGroupOptions& options);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return options_.rank; }
  int world_size() const { return options_.world_size; }
  const ProcessGroupOptions& options() const { return options_; }
  const std::string& backend_name() const { return options_.backend; }

  // Collectives, in place, waited for. Every rank must call them in the same order.
  void AllReduceSum(std::vector<torch::Tensor>& tensors);
  void Broadcast(std::vector<torch::Tensor>& tensors, int root);
  void Barrier();
  // Starts an all-reduce (sum) and returns its work, for overlap with other computation; Wait()
  // it with the group's failure naming.
  c10::intrusive_ptr<c10d::Work> AllReduceSumAsync(std::vector<torch::Tensor>& tensors);
  void Wait(const c10::intrusive_ptr<c10d::Work>& work, const char* what);

  // Rethrows the current failure of a collective as a DistributedFailure naming the lost ranks.
  [[noreturn]] void RethrowNamed(std::exception_ptr failure, const std::string& during);

  // The job's last collective is behind it: rank 0 leaving from now on is the normal end, not a loss.
  static void MarkFinished();
  static bool IsFinished();

  // Stops the heartbeat and releases the backend and the store. Idempotent.
  void Close();

 private:
  std::string LostRanks();
  // Starts a collective; a failure to start it is rethrown named, as a failed wait is.
  c10::intrusive_ptr<c10d::Work> Start(const char* what, const std::function<c10::intrusive_ptr<c10d::Work>()>& launch);
  void HeartbeatLoop();

  ProcessGroupOptions options_;
  c10::intrusive_ptr<c10d::TCPStore> store_;
  c10::intrusive_ptr<C10dBackend> backend_;
  std::thread heartbeat_;
  std::mutex heartbeat_mu_;
  std::condition_variable heartbeat_cv_;
  bool closing_ = false;
  bool guarded_ = false;
  bool reported_ = false;  // this rank has posted a failure: its heartbeat stops reading reports
};

// c10d backends, each in a translation unit of its own (the only files that include Gloo's or
// NCCL's headers). They throw a std::runtime_error saying how to get them where the build has none.
c10::intrusive_ptr<C10dBackend> MakeGlooBackend(const c10::intrusive_ptr<c10d::Store>& store,
                                                const ProcessGroupOptions& options);
c10::intrusive_ptr<C10dBackend> MakeNcclBackend(const c10::intrusive_ptr<c10d::Store>& store,
                                                const ProcessGroupOptions& options);

}  // namespace sgdr

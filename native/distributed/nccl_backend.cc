// The NCCL backend (CUDA tensors): the only translation unit that includes ProcessGroupNCCL.hpp.
// Compiled in when the LibTorch is a CUDA build with c10d's NCCL support and nccl.h is found (the
// CUDA wheel's nvidia-nccl package ships it); CI compiles and links it in the CUDA build step.
#include "distributed/process_group.h"

#ifdef SGDR_WITH_NCCL
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace sgdr {

#ifdef SGDR_WITH_NCCL

bool NcclAvailable() { return true; }

c10::intrusive_ptr<C10dBackend> MakeNcclBackend(const c10::intrusive_ptr<c10d::Store>& store,
                                                const ProcessGroupOptions& o) {
  // One GPU per rank, as torchrun lays them out: LOCAL_RANK picks the device.
  c10::cuda::set_device(static_cast<c10::DeviceIndex>(o.local_rank));
  auto nccl = c10d::ProcessGroupNCCL::Options::create();
  nccl->timeout = o.timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, o.rank, o.world_size, nccl);
}

#else

bool NcclAvailable() { return false; }

c10::intrusive_ptr<C10dBackend> MakeNcclBackend(const c10::intrusive_ptr<c10d::Store>&, const ProcessGroupOptions&) {
  throw std::runtime_error(
      "this build of the addon has no NCCL backend: it needs a CUDA LibTorch built with NCCL and nccl.h "
      "at compile time (use --backend gloo, or build against the CUDA wheel: scripts/setup-torch2.sh cuda)");
}

#endif

}  // namespace sgdr

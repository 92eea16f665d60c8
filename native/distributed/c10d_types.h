// The c10d names the distributed layer uses, on both LibTorch lines. A backend (Gloo, NCCL) is a
// c10d::ProcessGroup in 1.13 and a c10d::Backend from 2.0, where ProcessGroup became the
// dispatcher over backends; the collectives used here (allreduce, broadcast, barrier) have the same
// signatures on both.
#pragma once

#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>

#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
namespace sgdr {
using C10dBackend = c10d::Backend;
}
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
namespace sgdr {
using C10dBackend = c10d::ProcessGroup;
}
#endif

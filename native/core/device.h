// Device strings as users write them: 'auto' | 'cpu' | 'cuda' | 'cuda:N'.
// The CUDA path is the same code as the CPU path; only the device value differs, so this compiles
// against a CPU-only LibTorch and chooses at run time.
#pragma once

#include <torch/cuda.h>
#include <torch/types.h>

#include <string>

#include "core/failure.h"

namespace sgdr {

inline torch::Device ResolveDevice(const std::string& spec) {
  if (spec == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (spec == "cpu") return torch::Device(torch::kCPU);
  if (spec == "cuda" || spec.rfind("cuda:", 0) == 0) {
    int index = 0;
    if (spec.size() > 5) {
      const std::string digits = spec.substr(5);
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 4)
        throw RangeFailure("device '" + spec + "' is not a valid device (use 'auto', 'cpu', 'cuda' or 'cuda:N')");
      index = std::stoi(digits);
    }
    if (!torch::cuda::is_available())
      throw RangeFailure("device '" + spec +
                         "' requested but CUDA is not available (this LibTorch is a CPU build or no GPU is visible); "
                         "use device 'cpu' or 'auto'");
    if (index >= static_cast<int>(torch::cuda::device_count()))
      throw RangeFailure("device '" + spec + "' does not exist: " + std::to_string(torch::cuda::device_count()) +
                         " CUDA device(s) visible");
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw RangeFailure("device '" + spec + "' is not a valid device (use 'auto', 'cpu', 'cuda' or 'cuda:N')");
}

inline std::string DeviceName(const torch::Device& d) { return d.str(); }

}  // namespace sgdr

// The differences between the LibTorch lines this addon supports (1.13 and 2.x), in one place.
// Everything else in native/ is written once, against these names; no other file tests
// TORCH_VERSION_*. Each entry says which release changed what, so a new line is added here only.
#pragma once

#include <c10/core/Allocator.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <cstring>
#include <sstream>
#include <string>
#include <type_traits>
#include <variant>

namespace sgdr::compat {

#define SGDR_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

// Options such as Conv2dOptions::padding hold a variant: c10::variant up to 2.0, std::variant from 2.1.
#if SGDR_TORCH_AT_LEAST(2, 1)
namespace variant_ns = std;
#else
namespace variant_ns = c10;
#endif

// The optimizer's per-parameter state map is keyed by the TensorImpl's address printed as a string
// (1.x: c10::guts::to_string, which 2.x removed) or by the address itself (void*, 2.x). The key type
// is read off the map, so this is right on any line without naming a version.
template <typename Optimizer>
auto OptimizerStateKey(Optimizer& optimizer, const torch::Tensor& p) {
  using Map = std::remove_reference_t<decltype(optimizer.state())>;
  using Key = typename Map::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream s;
    s << p.unsafeGetTensorImpl();
    return Key(s.str());
  } else {
    return static_cast<Key>(p.unsafeGetTensorImpl());
  }
}

// c10::Allocator: allocate() is const in 1.x and not in 2.x, and 2.x adds the pure virtual
// copy_data(). An allocator derives from this and implements Allocate(); the base supplies the
// override each line expects (copy_data as a plain memcpy, as c10's own CPU allocator does).
class AllocatorBase : public c10::Allocator {
 public:
  virtual c10::DataPtr Allocate(size_t nbytes) const = 0;

#if SGDR_TORCH_AT_LEAST(2, 3)
  c10::DataPtr allocate(size_t nbytes) override { return Allocate(nbytes); }
  void copy_data(void* dest, const void* src, std::size_t count) const override { std::memcpy(dest, src, count); }
#else
  c10::DataPtr allocate(size_t nbytes) const override { return Allocate(nbytes); }
#endif
};

}  // namespace sgdr::compat

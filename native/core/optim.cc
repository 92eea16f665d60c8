#include "core/optim.h"

#include <cmath>
#include <sstream>

#include "core/failure.h"

namespace sgdr {

std::string NumberText(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

void ZeroGradToNone(torch::optim::Optimizer& optimizer) {
  for (auto& group : optimizer.param_groups())
    for (auto& p : group.params()) p.mutable_grad().reset();
}

void CheckNonNegative(double v, const std::string& name) {
  if (!std::isfinite(v) || v < 0) throw RangeFailure(name + " must be a finite number >= 0, got " + NumberText(v));
}

}  // namespace sgdr

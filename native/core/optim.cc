#include "core/optim.h"

#include <cmath>
#include <sstream>

#include "core/failure.h"

namespace sgdr {

namespace {

std::string Num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace

void ZeroGradToNone(torch::optim::Optimizer& optimizer) {
  for (auto& group : optimizer.param_groups())
    for (auto& p : group.params()) p.mutable_grad().reset();
}

void CheckLr(double lr, const std::string& name) {
  if (!std::isfinite(lr) || lr < 0) throw RangeFailure(name + " must be a finite number >= 0, got " + Num(lr));
}

}  // namespace sgdr

// The process-wide lever switches (levers.h) and the step-time counter, set once from the
// environment at first use.
#include "perf/levers.h"

#include <cstdlib>
#include <sstream>
#include <string>

namespace sgdr {

namespace {

// $SGDR_EXACT=1: only levers that leave every result bit for bit as PyTorch computes it (the
// convolution-as-matmul and channels_last levers round differently). $SGDR_LEVERS="name=on|off,...": any lever.
void LeversFromEnvironment(PerfLevers& levers) {
  if (const char* exact = std::getenv("SGDR_EXACT"); exact && std::string(exact) != "0" && std::string(exact) != "") {
    levers.conv_as_matmul = false;
    levers.channels_last_input = false;
  }
  const char* spec = std::getenv("SGDR_LEVERS");
  if (!spec) return;
  std::stringstream list(spec);
  std::string item;
  while (std::getline(list, item, ',')) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos) continue;
    const std::string name = item.substr(0, eq), value = item.substr(eq + 1);
    const bool on = value == "on" || value == "1" || value == "true";
    for (const LeverName& lever : kLeverNames)
      if (name == lever.name) (levers.*lever.field) = on;
  }
}

}  // namespace

LeverUses& LeverUseCounts() {
  static LeverUses uses;
  return uses;
}

std::atomic<int64_t>& StepNanoseconds() {
  static std::atomic<int64_t> ns{0};
  return ns;
}

PerfLevers& Levers() {
  static PerfLevers* levers = [] {
    auto* l = new PerfLevers();
    LeversFromEnvironment(*l);
    return l;
  }();
  return *levers;
}

}  // namespace sgdr

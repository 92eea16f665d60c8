// The Gloo backend (CPU tensors): the only translation unit that includes ProcessGroupGloo.hpp,
// and with it Gloo's own headers.
//
// Why Debian's libgloo-dev headers are sound on both LibTorch lines: LibTorch 1.13 (Debian) is
// built against that very package and links its libgloo.so. The PyTorch 2.x wheel ships the c10d
// headers but not Gloo's, and links its own Gloo statically, exporting no Gloo symbol. Here Gloo's
// headers only let ProcessGroupGloo.hpp parse: the class holds Gloo objects through shared_ptrs
// only (its size and layout do not depend on Gloo's), and this file calls nothing of Gloo's, only
// c10d's exported constructor and device factory. test/distributed-build.test.ts proves the second
// half on every build it runs against: the addon's undefined symbols hold no gloo:: name (the wheel
// exports none, so one would fail to load).
#include "distributed/process_group.h"

#ifdef SGDR_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

#include <cstdlib>
#endif

namespace sgdr {

#ifdef SGDR_WITH_GLOO

bool GlooAvailable() { return true; }

c10::intrusive_ptr<C10dBackend> MakeGlooBackend(const c10::intrusive_ptr<c10d::Store>& store,
                                                const ProcessGroupOptions& o) {
  auto gloo = c10d::ProcessGroupGloo::Options::create(o.timeout);
  // torchrun's GLOO_SOCKET_IFNAME names the interface; otherwise a loopback master means a
  // single-machine job (bind to 127.0.0.1), and any other master the address this host resolves to.
  const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
  const bool loopback = o.master_addr == "localhost" || o.master_addr.rfind("127.", 0) == 0;
  if (ifname && *ifname)
    gloo->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
  else if (loopback)
    gloo->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  else
    gloo->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  // Two threads run Gloo's collectives (c10d's default); the trainer waits on each bucket.
  gloo->threads = 2;
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, o.rank, o.world_size, gloo);
}

#else

bool GlooAvailable() { return false; }

c10::intrusive_ptr<C10dBackend> MakeGlooBackend(const c10::intrusive_ptr<c10d::Store>&, const ProcessGroupOptions&) {
  throw std::runtime_error(
      "this build of the addon has no Gloo backend: Gloo's headers were not found when it was compiled "
      "(Debian/Ubuntu: sudo apt-get install libgloo-dev, then npm run build:native)");
}

#endif

}  // namespace sgdr

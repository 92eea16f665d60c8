#include "distributed/process_group.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <sstream>
#include <system_error>

#include "core/failure.h"

namespace sgdr {

namespace {

constexpr const char* kHeartbeatPrefix = "sgdr/heartbeat/";
// Where a rank that closed normally says so, so its watcher does not count its silence as a loss.
constexpr const char* kDonePrefix = "sgdr/done/";
// How often a rank reads the heartbeat of the rank it watches (rank + 1 mod world).
constexpr int kWatchEveryBeats = 4;
// Where the first rank to name a failure posts it for the others.
constexpr const char* kAbortKey = "sgdr/abort";
// How long that rank waits after posting, so the others read the report before it leaves (and, if
// it is rank 0, takes the store with it).
constexpr auto kReportGrace = std::chrono::milliseconds(1500);
constexpr auto kHeartbeatEvery = std::chrono::milliseconds(500);
// How long a survivor watches the heartbeats before it names the ranks that stopped beating.
constexpr auto kLostRankWatch = std::chrono::milliseconds(2500);

std::string HeartbeatKey(int rank) { return kHeartbeatPrefix + std::to_string(rank); }

std::vector<uint8_t> Bytes(uint64_t v) {
  std::string s = std::to_string(v);
  return {s.begin(), s.end()};
}

std::string Describe(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const c10::Error& f) {
    return MessageOf(f);
  } catch (const std::exception& f) {
    return f.what();
  } catch (...) {
    return "unknown error";
  }
}

// One line: Gloo's and the store's messages carry file paths and several lines.
std::string FirstLine(std::string s) {
  auto pos = s.find('\n');
  if (pos != std::string::npos) s.erase(pos);
  return s;
}

c10::intrusive_ptr<c10d::TCPStore> Connect(const ProcessGroupOptions& o, bool server,
                                           std::chrono::milliseconds timeout) {
  c10d::TCPStoreOptions so;
  so.port = static_cast<std::uint16_t>(o.master_port);
  so.isServer = server;
  // No waitWorkers: LibTorch 1.13's server, waiting for its workers, sat out its whole timeout
  // (measured: 30 s of a 30 s timeout) although every rank had connected. Gloo's full-mesh connect
  // is the rendezvous anyway: each rank waits, up to the timeout, for every other rank's address.
  so.waitWorkers = false;
  so.timeout = timeout;
  return c10::make_intrusive<c10d::TCPStore>(o.master_addr, so);
}

// LibTorch 1.13's TCPStore runs a callback thread per client that throws, uncaught, when the store's
// host (rank 0) goes away: std::terminate, "terminate called ... Connection reset by peer", an
// abort. 2.x has no such thread. While a group lives, a terminate handler turns that into what the
// job needs: a line naming the lost rank and exit status 1, or, once the job has said it finished
// (ProcessGroup::MarkFinished, after its last collective), a quiet exit 0, since rank 0 leaving
// then is the normal end.
struct TerminateGuard {
  std::mutex mu;
  int groups = 0;
  std::string who, store;
  bool finished = false;
  std::terminate_handler previous = nullptr;
};
TerminateGuard& Guard() {
  static TerminateGuard* g = new TerminateGuard();  // never destroyed: a handler may run at exit
  return *g;
}

[[noreturn]] void OnTerminate() {
  TerminateGuard& g = Guard();
  std::string what = "unknown";
  if (auto e = std::current_exception()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& f) {
      what = f.what();
    } catch (...) {
    }
  }
  if (g.finished) std::_Exit(0);
  std::fprintf(stderr,
               "%s: lost rank 0 (the rendezvous store it hosts at %s closed the connection: %s); stopping this "
               "rank\n",
               g.who.c_str(), g.store.c_str(), what.c_str());
  std::fflush(nullptr);
  std::_Exit(1);
}

void InstallTerminateGuard(const ProcessGroupOptions& o) {
  TerminateGuard& g = Guard();
  std::lock_guard<std::mutex> lock(g.mu);
  g.who = "rank " + std::to_string(o.rank) + " of " + std::to_string(o.world_size);
  g.store = o.master_addr + ":" + std::to_string(o.master_port);
  g.finished = false;
  if (g.groups++ == 0) g.previous = std::set_terminate(OnTerminate);
}

void RemoveTerminateGuard() {
  TerminateGuard& g = Guard();
  std::lock_guard<std::mutex> lock(g.mu);
  if (--g.groups == 0) std::set_terminate(g.previous);
}

}  // namespace

void ProcessGroup::MarkFinished() {
  std::lock_guard<std::mutex> lock(Guard().mu);
  Guard().finished = true;
}

bool ProcessGroup::IsFinished() {
  std::lock_guard<std::mutex> lock(Guard().mu);
  return Guard().finished;
}

ProcessGroup::ProcessGroup(const ProcessGroupOptions& options) : options_(options) {
  const ProcessGroupOptions& o = options_;
  if (o.world_size < 1) throw RangeFailure("world size must be >= 1, got " + std::to_string(o.world_size));
  if (o.rank < 0 || o.rank >= o.world_size)
    throw RangeFailure("rank must be in [0, " + std::to_string(o.world_size - 1) + "], got " + std::to_string(o.rank));
  if (o.master_port < 1 || o.master_port > 65535)
    throw RangeFailure("master port must be in [1, 65535], got " + std::to_string(o.master_port));
  if (o.backend != "gloo" && o.backend != "nccl")
    throw RangeFailure("backend must be 'gloo' or 'nccl', got '" + o.backend + "'");
  const std::string where = o.master_addr + ":" + std::to_string(o.master_port);
  InstallTerminateGuard(o);
  guarded_ = true;
  try {
    try {
      // Rank 0 hosts the store and waits for the other ranks to connect; the others connect to it.
      store_ = Connect(o, o.rank == 0, o.timeout);
    } catch (...) {
      throw DistributedFailure(
          "rank " + std::to_string(o.rank) + " of " + std::to_string(o.world_size) + ": rendezvous at " + where +
          " failed within " + std::to_string(o.timeout.count() / 1000) +
          " s: " + FirstLine(Describe(std::current_exception())) +
          (o.rank == 0 ? " (is the port in use, or did a rank not start?)"
                       : " (is rank 0 running, and are MASTER_ADDR/MASTER_PORT the same on every rank?)"));
    }
    store_->set(HeartbeatKey(o.rank), Bytes(0));
    try {
      backend_ = o.backend == "gloo" ? MakeGlooBackend(store_, o) : MakeNcclBackend(store_, o);
    } catch (const std::exception& e) {
      throw DistributedFailure("rank " + std::to_string(o.rank) + ": could not create the " + o.backend +
                               " process group at " + where + ": " + FirstLine(e.what()));
    }
    // The heartbeat has a store connection of its own, so it never shares a socket with a caller.
    heartbeat_ = std::thread([this] { HeartbeatLoop(); });
  } catch (...) {
    guarded_ = false;
    RemoveTerminateGuard();
    throw;
  }
}

// Every half second: this rank's beat, and a look for another rank's report of a failure. A rank
// blocked in a collective cannot be interrupted (c10d 1.13 has no abort), and in a ring only the
// ranks next to a dead one see its connections close; the others would wait out the whole
// timeout. So the rank that names a loss posts it (kAbortKey), and every other rank, on reading it,
// prints it and ends its process at once. A store that stops answering means rank 0, its host, is
// gone: the same. After MarkFinished neither counts (rank 0 leaving is then the normal end).
void ProcessGroup::HeartbeatLoop() {
  c10::intrusive_ptr<c10d::TCPStore> client;
  try {
    client = Connect(options_, false, std::chrono::milliseconds(5000));
  } catch (...) {
    return;  // no store: a collective will fail and say so
  }
  const std::string who = "rank " + std::to_string(options_.rank) + " of " + std::to_string(options_.world_size);
  // Each rank watches the next one's heartbeat: a rank that was killed (or stopped) is noticed
  // within stale_after even where the backend would only time out (PyTorch 2.x's Gloo waits out
  // its timeout on a peer that vanished; 1.13's sees the connection close).
  const int watched = (options_.rank + 1) % options_.world_size;
  const auto stale_after = std::min<std::chrono::milliseconds>(options_.timeout / 2, std::chrono::seconds(15));
  std::string last_seen;
  auto last_change = std::chrono::steady_clock::now();
  uint64_t beat = 0;
  std::unique_lock<std::mutex> lock(heartbeat_mu_);
  while (!heartbeat_cv_.wait_for(lock, kHeartbeatEvery, [this] { return closing_; })) {
    std::string report;
    try {
      client->set(HeartbeatKey(options_.rank), Bytes(++beat));
      // A rank that posted a failure goes on beating (it is alive) but reads no reports.
      if (!reported_ && client->check({kAbortKey})) {
        auto v = client->get(kAbortKey);
        report = "stopping: " + std::string(v.begin(), v.end());
      } else if (!reported_ && watched != options_.rank && beat % kWatchEveryBeats == 0 &&
                 !client->check({kDonePrefix + std::to_string(watched)})) {
        auto v = client->get(HeartbeatKey(watched));
        std::string now(v.begin(), v.end());
        const auto t = std::chrono::steady_clock::now();
        if (now != last_seen) {
          last_seen = now;
          last_change = t;
        } else if (t - last_change > stale_after) {
          const std::string lost =
              "lost rank " + std::to_string(watched) + " of " + std::to_string(options_.world_size) +
              " (no heartbeat for " +
              std::to_string(std::chrono::duration_cast<std::chrono::seconds>(t - last_change).count()) +
              " s; noticed by " + who + ")";
          client->set(kAbortKey, std::vector<uint8_t>(lost.begin(), lost.end()));
          // The others read the report before this rank leaves (if it is rank 0, with the store).
          std::this_thread::sleep_for(kReportGrace);
          report = "stopping: " + lost;
        }
      }
    } catch (...) {
      if (reported_) continue;
      report = "lost rank 0 (the rendezvous store it hosts at " + options_.master_addr + ":" +
               std::to_string(options_.master_port) + " stopped answering)";
    }
    if (report.empty() || IsFinished()) continue;
    std::fprintf(stderr, "%s: %s\n", who.c_str(), report.c_str());
    std::fflush(nullptr);
    std::_Exit(1);
  }
  try {
    client->set(kDonePrefix + std::to_string(options_.rank), Bytes(1));  // a normal close, not a loss
  } catch (...) {
  }
}

ProcessGroup::~ProcessGroup() { Close(); }

void ProcessGroup::Close() {
  {
    std::lock_guard<std::mutex> lock(heartbeat_mu_);
    closing_ = true;
  }
  heartbeat_cv_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
  backend_.reset();
  store_.reset();
  if (guarded_) {
    guarded_ = false;
    RemoveTerminateGuard();
  }
}

std::string ProcessGroup::LostRanks() {
  const ProcessGroupOptions& o = options_;
  std::map<int, std::string> first;
  c10::intrusive_ptr<c10d::TCPStore> client;
  try {
    client = Connect(o, false, std::chrono::milliseconds(2000));
    for (int r = 0; r < o.world_size; ++r)
      if (r != o.rank) {
        auto v = client->get(HeartbeatKey(r));
        first[r] = std::string(v.begin(), v.end());
      }
  } catch (...) {
    return "rank 0 (it hosts the rendezvous store at " + o.master_addr + ":" + std::to_string(o.master_port) +
           ", which no longer answers)";
  }
  std::this_thread::sleep_for(kLostRankWatch);
  std::vector<int> lost;
  try {
    for (auto& [r, before] : first) {
      auto v = client->get(HeartbeatKey(r));
      if (std::string(v.begin(), v.end()) == before) lost.push_back(r);
    }
  } catch (...) {
    return "rank 0 (it hosts the rendezvous store at " + o.master_addr + ":" + std::to_string(o.master_port) +
           ", which stopped answering)";
  }
  if (lost.empty()) return "";
  std::ostringstream s;
  s << (lost.size() == 1 ? "rank " : "ranks ");
  for (size_t i = 0; i < lost.size(); ++i) s << (i ? ", " : "") << lost[i];
  s << " (no heartbeat for " << kLostRankWatch.count() / 1000.0 << " s)";
  return s.str();
}

void ProcessGroup::RethrowNamed(std::exception_ptr failure, const std::string& during) {
  const std::string cause = FirstLine(Describe(failure));
  const std::string lost = LostRanks();
  std::string msg = "rank " + std::to_string(options_.rank) + " of " + std::to_string(options_.world_size) + ": " +
                    during + " failed: ";
  msg += lost.empty() ? "a peer did not answer within " + std::to_string(options_.timeout.count() / 1000) +
                            " s (all heartbeats are alive: a rank is stuck)"
                      : "lost " + lost;
  msg += " [" + options_.backend + ": " + cause + "]";
  // Posted for the ranks that are still waiting on a healthy peer (see HeartbeatLoop).
  {
    std::lock_guard<std::mutex> lock(heartbeat_mu_);
    reported_ = true;
  }
  try {
    auto client = Connect(options_, false, std::chrono::milliseconds(2000));
    const std::string post = msg.substr(0, msg.find(" ["));
    client->set(kAbortKey, std::vector<uint8_t>(post.begin(), post.end()));
    std::this_thread::sleep_for(kReportGrace);
  } catch (...) {
    // the store is gone with rank 0: the others notice that themselves
  }
  throw DistributedFailure(msg);
}

c10::intrusive_ptr<c10d::Work> ProcessGroup::Start(const char* what,
                                                   const std::function<c10::intrusive_ptr<c10d::Work>()>& launch) {
  try {
    return launch();
  } catch (...) {
    RethrowNamed(std::current_exception(), what);
  }
}

c10::intrusive_ptr<c10d::Work> ProcessGroup::AllReduceSumAsync(std::vector<torch::Tensor>& tensors) {
  return Start("all-reduce", [&] { return backend_->allreduce(tensors, c10d::AllreduceOptions()); });
}

void ProcessGroup::Wait(const c10::intrusive_ptr<c10d::Work>& work, const char* what) {
  try {
    work->wait(options_.timeout);
  } catch (...) {
    RethrowNamed(std::current_exception(), what);
  }
}

void ProcessGroup::AllReduceSum(std::vector<torch::Tensor>& tensors) { Wait(AllReduceSumAsync(tensors), "all-reduce"); }

void ProcessGroup::Broadcast(std::vector<torch::Tensor>& tensors, int root) {
  c10d::BroadcastOptions bo;
  bo.rootRank = root;
  Wait(Start("broadcast", [&] { return backend_->broadcast(tensors, bo); }), "broadcast");
}

void ProcessGroup::Barrier() {
  Wait(Start("barrier", [&] { return backend_->barrier(c10d::BarrierOptions()); }), "barrier");
}

}  // namespace sgdr

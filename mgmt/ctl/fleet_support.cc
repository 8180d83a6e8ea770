#include "mgmt/ctl/fleet_support.h"

#include <algorithm>
#include <atomic>
#include <thread>

namespace muzzle::ctl {

std::optional<fleet::FleetDir> loadFleet(const std::string& dir, std::ostream& err) {
  auto fleet = fleet::FleetDir::load(dir);
  if (!fleet.ok()) {
    err << fleet.status().message() << "\n";
    return std::nullopt;
  }
  return std::move(*fleet);
}

TlsFiles fleetTls(const fleet::FleetDir& fleet, const GlobalOptions& options) {
  const v1::FleetTls file = fleet.tls();
  TlsFiles tls = options.tls;
  if (tls.ca.empty()) tls.ca = file.ca();
  if (tls.cert.empty()) tls.cert = file.cert();
  if (tls.key.empty()) tls.key = file.key();
  if (tls.server_name.empty()) tls.server_name = file.server_name();
  return tls;
}

Box boxOf(const fleet::Member& member) { return Box{member.name, member.target}; }

void forEachBounded(size_t count, size_t parallel, const std::function<void(size_t)>& work) {
  const size_t threads = std::min(count, std::max<size_t>(parallel, 1));
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (size_t i = next++; i < count; i = next++) work(i);
    });
  }
  for (auto& t : pool) t.join();
}

StopSignals::StopSignals() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set_, &old_);
}

StopSignals::~StopSignals() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

int StopSignals::wait(std::chrono::milliseconds wait) const {
  timespec ts{static_cast<time_t>(wait.count() / 1000),
              static_cast<long>(wait.count() % 1000) * 1'000'000};
  const int sig = sigtimedwait(&set_, nullptr, &ts);
  return sig > 0 ? sig : 0;
}

}  // namespace muzzle::ctl

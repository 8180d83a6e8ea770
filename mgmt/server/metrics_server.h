// MetricsServer: the Prometheus scrape endpoint (management.metrics), plain HTTP/1.1 with
// Boost.Beast on its own thread and io_context. It never touches engine state: for each scrape
// it asks `collect` for a MetricsSnapshot (muzzled posts that to the engine thread, which copies
// what the gRPC status call copies) and renders it with renderMetrics on its own thread.
//
// Everything a client can drive is bounded:
//  - peers outside `allow` are closed as soon as they are accepted, before a byte is read;
//  - at most `max_connections` connections at once (others are closed at accept);
//  - the request line and headers at most `max_header_bytes` (431 past it), no body;
//  - one request per connection (answered with `Connection: close`), and one deadline per
//    connection (`deadline`, from accept to the last byte written), so a slowloris client, a
//    silent one or one that does not read the answer is cut when it passes;
//  - only `GET /metrics` (a query string is ignored): 404 for another path, 405 for another
//    method.
// Every outcome is counted (MetricsHttpCounters) and exported in the next scrape.
//
// Plain HTTP is a choice for a management network, documented in README's security section:
// the counters are read-only and carry device names and MACs, hence the allow list.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fw/common/net.h"
#include "fw/common/status.h"
#include "fw/config/daemon_config.h"
#include "mgmt/server/metrics_text.h"

namespace muzzle {

struct MetricsOptions {
  std::string listen;  // canonical "198.51.100.1:9464" / "[2001:db8::1]:9464" (port 0: any)
  AddressSet allow;    // never empty for a configured endpoint
  size_t max_connections = 8;
  size_t max_header_bytes = 8192;
  std::chrono::milliseconds deadline{5000};
};

// management.metrics of `config` checked: nullopt-like empty `listen` when it is off. The
// listen address is refused as management.tcp.listen is (checkListenAddress: a wildcard or
// one of `segment_addresses`, in any spelling), its error naming the config file, line and
// field; allow must parse (parseDaemonConfig already said where, this repeats the check).
Result<MetricsOptions> metricsOptionsOf(const DaemonConfig& config,
                                        const std::vector<std::string>& segment_addresses);

class MetricsServer {
 public:
  // Called on the server's thread once per scrape; must call `done` exactly once, on any
  // thread, or never (when muzzled stops first: the connection is then cut at its deadline or
  // at stop()). `done` may outlive the server (it then does nothing).
  using Done = std::function<void(MetricsSnapshot)>;
  using Collect = std::function<void(Done done)>;

  // Binds and starts the thread. kUnavailable naming the address when it cannot bind.
  static Result<std::unique_ptr<MetricsServer>> start(MetricsOptions options, Collect collect);
  ~MetricsServer();  // stop()
  // Closes the listener and every connection and joins the thread. Idempotent.
  void stop();

  uint16_t port() const { return port_; }
  MetricsHttpCounters counters() const;

  class Impl;  // metrics_server.cc

 private:
  MetricsServer() = default;
  std::shared_ptr<Impl> impl_;
  std::thread thread_;
  uint16_t port_ = 0;
};

}  // namespace muzzle

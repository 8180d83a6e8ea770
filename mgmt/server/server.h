// ManagementServer: the gRPC server of muzzled. Serves the management services, the health
// service (HealthService) and server reflection on
//  - the unix socket, which muzzled binds and accepts on itself (UnixListener): mode 0660,
//    group `muzzle` when it exists, and each peer's credentials checked before gRPC sees the
//    connection (management.socket_access);
//  - optionally TCP with TLS, where every call, health and reflection included, needs a client
//    certificate that chains to the client CA and has a role (TcpCallGate, Authorizer).
// Sets the message size limit, keepalive, and a bound on gRPC's own threads (reflection is the
// one synchronous service; every other handler is a callback that never blocks a thread).
#pragma once

#include <grpcpp/server.h>

#include <memory>
#include <string>
#include <vector>

#include "fw/common/clock.h"
#include "fw/common/status.h"
#include "fw/config/daemon_config.h"
#include "fw/engine/event_log.h"
#include "mgmt/server/auth.h"
#include "mgmt/server/listen_address.h"
#include "mgmt/server/services.h"
#include "mgmt/server/unix_listener.h"

namespace muzzle {

inline constexpr char kDefaultSocket[] = "/run/muzzle/muzzled.sock";
inline constexpr uint32_t kDefaultMaxMessageBytes = 4u << 20;
inline constexpr uint32_t kDefaultKeepaliveSeconds = 30;
// Threads gRPC may run synchronous handlers on (server reflection streams): beyond them a new
// reflection stream is refused (RESOURCE_EXHAUSTED) instead of costing another thread.
inline constexpr int kMaxSyncThreads = 8;

class ManagementServer {
 public:
  // "*services", "*log" and "*clock" must outlive the server. gRPC's threads run as background
  // threads (fw/common/thread_priority.h), whichever thread calls this.
  static Result<std::unique_ptr<ManagementServer>> start(const DaemonConfig& config,
                                                         ManagementServices& services,
                                                         EventLog& log, const Clock& clock);
  ~ManagementServer();
  // Stops accepting, ends streams, waits up to `grace` for calls in flight.
  void shutdown(std::chrono::milliseconds grace);
  const std::string& socketPath() const { return socket_; }
  const std::string& socketAccess() const { return socket_access_; }
  int tcpPort() const { return tcp_port_; }
  // A channel to this server inside the process (the web console's): no socket, no TLS; its
  // calls are told apart by the console's key (Authorizer::identifyCall).
  std::shared_ptr<grpc::Channel> inProcessChannel();

 private:
  // start(), on the background thread it makes.
  static Result<std::unique_ptr<ManagementServer>> startHere(const DaemonConfig& config,
                                                             ManagementServices& services,
                                                             EventLog& log, const Clock& clock);

  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<UnixListener> unix_;
  ManagementServices* services_ = nullptr;
  std::string socket_;
  std::string socket_access_;
  int tcp_port_ = 0;
};

}  // namespace muzzle

// ManagementServer: the gRPC server of muzzled. Listens on the unix socket (mode 0660, group
// `muzzle` when it exists) and, when configured, on TCP with TLS that requires a client
// certificate (checked by Authorizer). Registers the management services, the standard health
// service and server reflection, and sets the message size limit and keepalive.
#pragma once

#include <grpcpp/server.h>

#include <memory>
#include <string>
#include <vector>

#include "fw/common/status.h"
#include "fw/config/daemon_config.h"
#include "mgmt/server/auth.h"
#include "mgmt/server/services.h"

namespace muzzle {

inline constexpr char kDefaultSocket[] = "/run/muzzle/muzzled.sock";
inline constexpr uint32_t kDefaultMaxMessageBytes = 4u << 20;
inline constexpr uint32_t kDefaultKeepaliveSeconds = 30;

// Refuses a TCP listen address that a managed segment's interface carries, or a wildcard
// (which would include them). `segment_addresses` are the segments' interface addresses.
Status checkListenAddress(const std::string& listen, const std::vector<std::string>& segment_addresses);
// The addresses of the given interfaces (getifaddrs).
std::vector<std::string> interfaceAddresses(const std::vector<std::string>& ifnames);

class ManagementServer {
 public:
  // "*services" must outlive the server.
  static Result<std::unique_ptr<ManagementServer>> start(const DaemonConfig& config,
                                                         ManagementServices& services);
  ~ManagementServer();
  // Stops accepting, ends streams, waits up to `grace` for calls in flight.
  void shutdown(std::chrono::milliseconds grace);
  const std::string& socketPath() const { return socket_; }
  int tcpPort() const { return tcp_port_; }

 private:
  std::unique_ptr<grpc::Server> server_;
  ManagementServices* services_ = nullptr;
  std::string socket_;
  int tcp_port_ = 0;
};

}  // namespace muzzle

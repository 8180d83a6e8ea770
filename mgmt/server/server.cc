#include "mgmt/server/server.h"

#include <arpa/inet.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "fw/common/net.h"

namespace muzzle {
namespace {

std::string relativeTo(const std::string& dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || dir.empty()) return path;
  return dir + "/" + path;
}

Status listenError(const std::string& field, const std::string& listen, const std::string& why) {
  return Status::error(StatusCode::kInvalidArgument, field + ": \"" + listen + "\" " + why);
}

// A numeric address as the C library reads it (every spelling getaddrinfo accepts, no name
// lookups), with an IPv4-mapped IPv6 address reduced to its IPv4 address. `scope` gets an IPv6
// zone ("%eth0") when there is one.
std::optional<IpAddress> numericAddress(const std::string& host, std::string* scope = nullptr) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
  addrinfo* list = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &list) != 0 || list == nullptr)
    return std::nullopt;
  std::optional<IpAddress> ip;
  if (list->ai_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(list->ai_addr);
    ip = IpAddress::fromBytes(reinterpret_cast<const uint8_t*>(&sin->sin_addr), false);
  } else if (list->ai_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(list->ai_addr);
    const auto* b = reinterpret_cast<const uint8_t*>(&sin6->sin6_addr);
    ip = IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) ? IpAddress::fromBytes(b + 12, false)
                                                : IpAddress::fromBytes(b, true);
    char name[IF_NAMESIZE] = {0};
    if (scope != nullptr && sin6->sin6_scope_id != 0 &&
        ::if_indextoname(sin6->sin6_scope_id, name) != nullptr) {
      *scope = std::string("%") + name;
    } else if (scope != nullptr && sin6->sin6_scope_id != 0) {
      *scope = "%" + std::to_string(sin6->sin6_scope_id);
    }
  }
  ::freeaddrinfo(list);
  return ip;
}

}  // namespace

Result<std::string> checkListenAddress(const std::string& listen,
                                       const std::vector<std::string>& segment_addresses,
                                       const std::string& field) {
  // "host:port" or "[v6]:port", split the way gRPC splits it; anything else is refused rather
  // than guessed at (gRPC would take a bare IPv6 address as a host on port 443).
  std::string host, port;
  if (!listen.empty() && listen[0] == '[') {
    const size_t close = listen.find(']');
    if (close == std::string::npos || listen.compare(close + 1, 1, ":") != 0) {
      return listenError(field, listen, "is not [IPv6]:port");
    }
    host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
  } else {
    const size_t colon = listen.find(':');
    if (colon == std::string::npos || listen.find(':', colon + 1) != std::string::npos) {
      return listenError(field, listen,
                         "is not address:port (an IPv6 address goes in brackets: [fd00::1]:7443)");
    }
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) > 65535) {
    return listenError(field, listen, "has no port number (0-65535) after the colon");
  }
  std::string scope;
  auto ip = numericAddress(host, &scope);
  if (!ip) {
    return listenError(field, listen,
                       "is not address:port with a literal IP (names are refused: the address "
                       "decides which interface listens)");
  }
  if (ip->isUnspecified()) {
    return listenError(field, listen, "listens on every interface (it means " + ip->toString() +
                                   "), managed segments included; give the address of a management "
                                   "interface");
  }
  for (const auto& seg : segment_addresses) {
    auto s = numericAddress(seg);
    if (s && *s == *ip) {
      return listenError(field, listen,
                         "is " + ip->toString() +
                             ", an address of a managed segment's "
                             "interface; management never listens where the IoT devices are");
    }
  }
  return ip->v6 ? "[" + ip->toString() + scope + "]:" + std::to_string(std::stoul(port))
                : ip->toString() + ":" + std::to_string(std::stoul(port));
}

std::vector<std::string> interfaceAddresses(const std::vector<std::string>& ifnames) {
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr) continue;
    bool managed = false;
    for (const auto& n : ifnames) managed = managed || n == a->ifa_name;
    if (!managed) continue;
    char buf[INET6_ADDRSTRLEN] = {0};
    if (a->ifa_addr->sa_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, buf, sizeof(buf));
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr, buf,
                sizeof(buf));
    } else {
      continue;
    }
    out.emplace_back(buf);
  }
  freeifaddrs(list);
  return out;
}

Result<std::unique_ptr<ManagementServer>> ManagementServer::start(const DaemonConfig& config,
                                                                  ManagementServices& services,
                                                                  EventLog& log,
                                                                  const Clock& clock) {
  const v1::Management& m = config.management;
  auto server = std::unique_ptr<ManagementServer>(new ManagementServer());
  server->services_ = &services;
  server->socket_ = m.socket().empty() ? kDefaultSocket : relativeTo(config.config_dir, m.socket());

  auto access = socketAccessOf(m, ::geteuid());
  if (!access.ok()) return access.status();
  server->socket_access_ = access->describe();
  // The socket first: when another server answers on it, nothing else is set up.
  auto unix_listener = UnixListener::bind(server->socket_, std::move(access).value(), log, clock);
  if (!unix_listener.ok()) return unix_listener.status();
  server->unix_ = std::move(unix_listener).value();

  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  const int max_bytes =
      static_cast<int>(m.has_max_message_bytes() ? m.max_message_bytes() : kDefaultMaxMessageBytes);
  builder.SetMaxReceiveMessageSize(max_bytes);
  builder.SetMaxSendMessageSize(max_bytes);
  const int keepalive_ms =
      1000 * static_cast<int>(m.has_keepalive_seconds() ? m.keepalive_seconds()
                                                        : kDefaultKeepaliveSeconds);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, keepalive_ms);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Clients may ping idle streams (event watchers) every 10 s without being told off.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  grpc::ResourceQuota quota("muzzled-management");
  quota.SetMaxThreads(kMaxSyncThreads);
  builder.SetResourceQuota(quota);

  auto acceptor = builder.experimental().AddExternalConnectionAcceptor(
      grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD,
      grpc::InsecureServerCredentials());

  std::string listen;
  if (!m.tcp().listen().empty()) {
    std::vector<std::string> seg_ifnames;
    for (const auto& s : config.segments) seg_ifnames.push_back(s.ifname);
    auto checked = checkListenAddress(m.tcp().listen(), interfaceAddresses(seg_ifnames));
    if (!checked.ok()) return checked.status();
    listen = *checked;
    const std::string cert = relativeTo(config.config_dir, m.tcp().cert());
    const std::string key = relativeTo(config.config_dir, m.tcp().key());
    const std::string ca = relativeTo(config.config_dir, m.tcp().client_ca());
    if (cert.empty() || key.empty() || ca.empty()) {
      return Status::error(
          StatusCode::kInvalidArgument,
          "management.tcp: listen needs cert, key and client_ca (mutual TLS only)");
    }
    // Re-reads the files every 10 s: renewed certificates take effect without a restart.
    auto provider =
        std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(key, cert, ca, 10);
    grpc::experimental::TlsServerCredentialsOptions options(provider);
    options.watch_root_certs();
    options.watch_identity_key_cert_pairs();
    // Ask for the client certificate; the TcpCallGate verifies it on every call, so a missing or
    // foreign certificate gets UNAUTHENTICATED with a reason rather than a bare handshake failure.
    options.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
    auto credentials = grpc::experimental::TlsServerCredentials(options);
    credentials->SetAuthMetadataProcessor(std::make_shared<TcpCallGate>(services.authorizer()));
    builder.AddListeningPort(listen, credentials, &server->tcp_port_);
  }
  for (grpc::Service* s : services.services()) builder.RegisterService(s);

  server->server_ = builder.BuildAndStart();
  if (!server->server_) {
    return Status::error(
        "management: cannot start the gRPC server" +
        (listen.empty() ? std::string() : " on " + listen + " (in use, or no such address here?)"));
  }
  if (!listen.empty() && server->tcp_port_ == 0) {
    return Status::error("management: cannot listen on " + listen +
                         " (in use, or no such address here?)");
  }
  server->unix_->serve(std::move(acceptor));
  return server;
}

void ManagementServer::shutdown(std::chrono::milliseconds grace) {
  if (!server_) return;
  unix_->stop();  // no new local connections while the rest drains
  services_->stopWatchers();
  server_->Shutdown(std::chrono::system_clock::now() + grace);
  server_->Wait();
  server_.reset();
}

ManagementServer::~ManagementServer() {
  if (server_) shutdown(std::chrono::milliseconds(0));
}

std::shared_ptr<grpc::Channel> ManagementServer::inProcessChannel() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);  // the server's own limits apply to what it sends
  return server_->InProcessChannel(args);
}

}  // namespace muzzle

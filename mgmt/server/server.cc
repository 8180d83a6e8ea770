#include "mgmt/server/server.h"

#include <arpa/inet.h>
#include <grp.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "fw/common/net.h"

namespace muzzle {
namespace {

std::string relativeTo(const std::string& dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || dir.empty()) return path;
  return dir + "/" + path;
}

// "host:port" / "[v6]:port" -> host.
std::string hostOf(const std::string& listen) {
  if (!listen.empty() && listen[0] == '[') {
    size_t close = listen.find(']');
    return close == std::string::npos ? listen : listen.substr(1, close - 1);
  }
  size_t colon = listen.rfind(':');
  return colon == std::string::npos ? listen : listen.substr(0, colon);
}

}  // namespace

Status checkListenAddress(const std::string& listen, const std::vector<std::string>& segment_addresses) {
  const std::string host = hostOf(listen);
  auto ip = IpAddress::parse(host);
  if (!ip) {
    return Status::error(StatusCode::kInvalidArgument,
                         "management.tcp.listen: \"" + listen + "\" is not address:port with a literal IP "
                         "(names are refused: the address decides which interface listens)");
  }
  if (*ip == IpAddress{} || *ip == *IpAddress::parse("::")) {
    return Status::error(StatusCode::kInvalidArgument,
                         "management.tcp.listen: " + listen + " listens on every interface, managed "
                         "segments included; give the address of a management interface");
  }
  for (const auto& seg : segment_addresses) {
    auto s = IpAddress::parse(seg);
    if (s && *s == *ip) {
      return Status::error(StatusCode::kInvalidArgument,
                           "management.tcp.listen: " + listen + " is on a managed segment's interface; "
                           "management never listens where the IoT devices are");
    }
  }
  return Status();
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
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr, buf, sizeof(buf));
    } else {
      continue;
    }
    out.emplace_back(buf);
  }
  freeifaddrs(list);
  return out;
}

Result<std::unique_ptr<ManagementServer>> ManagementServer::start(const DaemonConfig& config,
                                                                  ManagementServices& services) {
  const v1::Management& m = config.management;
  auto server = std::unique_ptr<ManagementServer>(new ManagementServer());
  server->services_ = &services;
  server->socket_ = m.socket().empty() ? kDefaultSocket : relativeTo(config.config_dir, m.socket());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  const int max_bytes = static_cast<int>(m.has_max_message_bytes() ? m.max_message_bytes() : kDefaultMaxMessageBytes);
  builder.SetMaxReceiveMessageSize(max_bytes);
  builder.SetMaxSendMessageSize(max_bytes);
  const int keepalive_ms = 1000 * static_cast<int>(m.has_keepalive_seconds() ? m.keepalive_seconds() : kDefaultKeepaliveSeconds);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, keepalive_ms);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Clients may ping idle streams (event watchers) every 10 s without being told off.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);

  // The socket's folder; a stale socket from a crash is replaced.
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(server->socket_).parent_path(), ec);
  struct stat st{};
  if (::lstat(server->socket_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(server->socket_.c_str());
  builder.AddListeningPort("unix:" + server->socket_, grpc::InsecureServerCredentials());

  if (!m.tcp().listen().empty()) {
    std::vector<std::string> seg_ifnames;
    for (const auto& s : config.segments) seg_ifnames.push_back(s.ifname);
    if (Status s = checkListenAddress(m.tcp().listen(), interfaceAddresses(seg_ifnames)); !s.ok()) return s;
    const std::string cert = relativeTo(config.config_dir, m.tcp().cert());
    const std::string key = relativeTo(config.config_dir, m.tcp().key());
    const std::string ca = relativeTo(config.config_dir, m.tcp().client_ca());
    if (cert.empty() || key.empty() || ca.empty()) {
      return Status::error(StatusCode::kInvalidArgument,
                           "management.tcp: listen needs cert, key and client_ca (mutual TLS only)");
    }
    // Re-reads the files every 10 s: renewed certificates take effect without a restart.
    auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(key, cert, ca, 10);
    grpc::experimental::TlsServerCredentialsOptions options(provider);
    options.watch_root_certs();
    options.watch_identity_key_cert_pairs();
    // Ask for the client certificate; Authorizer verifies it per call, so a missing or foreign
    // certificate gets UNAUTHENTICATED with a reason rather than a bare handshake failure.
    options.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
    builder.AddListeningPort(m.tcp().listen(), grpc::experimental::TlsServerCredentials(options),
                             &server->tcp_port_);
  }
  for (grpc::Service* s : services.services()) builder.RegisterService(s);

  // The socket is created by BuildAndStart: the umask makes it 0660 from the first moment.
  const mode_t old_mask = ::umask(0117);
  server->server_ = builder.BuildAndStart();
  ::umask(old_mask);
  if (!server->server_) {
    return Status::error("management: cannot listen on unix:" + server->socket_ +
                         (m.tcp().listen().empty() ? "" : " or " + m.tcp().listen()) +
                         " (in use, or no permission)");
  }
  if (!m.tcp().listen().empty() && server->tcp_port_ == 0) {
    return Status::error("management: cannot listen on " + m.tcp().listen());
  }
  // Under the shipped unit (Group=muzzle) the socket is born in the right group, and the
  // unit's syscall filter refuses chown: only hand the socket over when it is not.
  if (const group* g = ::getgrnam("muzzle"); g != nullptr && ::getegid() != g->gr_gid) {
    if (::chown(server->socket_.c_str(), static_cast<uid_t>(-1), g->gr_gid) != 0) {
      return Status::error("management: cannot give " + server->socket_ + " to group muzzle: " + std::strerror(errno));
    }
  }
  return server;
}

void ManagementServer::shutdown(std::chrono::milliseconds grace) {
  if (!server_) return;
  services_->stopWatchers();
  server_->Shutdown(std::chrono::system_clock::now() + grace);
  server_->Wait();
  server_.reset();
  ::unlink(socket_.c_str());
}

ManagementServer::~ManagementServer() {
  if (server_) shutdown(std::chrono::milliseconds(0));
}

}  // namespace muzzle

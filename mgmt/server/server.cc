#include "mgmt/server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <unistd.h>

#include <optional>
#include <thread>

#include "fw/common/thread_priority.h"
#include "mgmt/server/callback_queue.h"

namespace muzzle {
namespace {

std::string relativeTo(const std::string& dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || dir.empty()) return path;
  return dir + "/" + path;
}

}  // namespace


Result<std::unique_ptr<ManagementServer>> ManagementServer::start(const DaemonConfig& config,
                                                                  ManagementServices& services,
                                                                  EventLog& log,
                                                                  const Clock& clock) {
  // gRPC's threads (its executors, timers and event engine, the callback queue's and the
  // server's) inherit the nice value of the thread that makes them, and gRPC makes them as the
  // first server starts, and later from its own threads: started from a background thread, they
  // are all background threads. A client, a viewer's too, then never takes a core from the queue
  // threads with what gRPC does for it (TLS handshakes, parsing a 4 MiB message).
  std::optional<Result<std::unique_ptr<ManagementServer>>> started;
  std::thread starter([&] {
    runAsBackgroundThread();
    started.emplace(startHere(config, services, log, clock));
  });
  starter.join();
  return std::move(*started);
}

Result<std::unique_ptr<ManagementServer>> ManagementServer::startHere(const DaemonConfig& config,
                                                                      ManagementServices& services,
                                                                      EventLog& log,
                                                                      const Clock& clock) {
  holdCallbackQueue();  // before the first server makes gRPC's callback queue (callback_queue.h)
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

// Who is calling and what they may do. The unix socket is the local admin: only peers whose
// credentials the UnixListener accepted get that far. TCP callers must present a client
// certificate that chains to the configured client CA; its subject CN or one of its SAN URIs
// maps to a role in muzzled.yaml.
//
// The TLS handshake requests a client certificate but does not itself verify it: verification
// happens here, per call, so that a missing or foreign certificate is answered UNAUTHENTICATED
// with a reason instead of a bare handshake failure. The handshake still proves the client owns
// the certificate's key. The CA file is re-read when it changes. TcpCallGate runs the same check
// on every TCP call before any handler sees it, so services muzzled does not write itself
// (server reflection) are closed to callers without a certificate too.
#pragma once

#include <grpcpp/security/auth_context.h>
#include <grpcpp/security/auth_metadata_processor.h>
#include <grpcpp/server_context.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fw/common/net.h"
#include "fw/common/status.h"
#include "mgmt/server/role.h"
#include "muzzle/v1/config.pb.h"

namespace muzzle {


struct Principal {
  Role role = Role::kNone;
  std::string who;   // "local" or the certificate identity that matched
  std::string peer;  // "unix" or the TCP peer
};

// Checks PEM certificates against a CA file, re-reading it when its mtime changes.
class ClientCertVerifier {
 public:
  explicit ClientCertVerifier(std::string ca_path);
  ~ClientCertVerifier();
  // Status kUnauthenticated with OpenSSL's reason when `pem` does not chain to the CA.
  Status verify(const std::string& pem);

 private:
  std::string ca_path_;
  std::mutex mu_;
  long long loaded_mtime_ = -1;
  void* store_ = nullptr;  // X509_STORE*, kept out of the header
};

// The web console's calls (mgmt/web/console.h) come over gRPC's in-process channel, which no
// client outside muzzled can reach, each with the console's key (random, made at start, never
// written anywhere) and the signed-in web user's name, role and address in these headers.
inline constexpr char kConsoleKeyHeader[] = "x-muzzle-console-key";
inline constexpr char kConsoleUserHeader[] = "x-muzzle-console-user";
inline constexpr char kConsoleRoleHeader[] = "x-muzzle-console-role";
inline constexpr char kConsolePeerHeader[] = "x-muzzle-console-peer";

class Authorizer {
 public:
  // Validates the role bindings of `tcp` (unknown role names are errors) and its allow list.
  // A TCP caller whose address is not in a non-empty `tcp.allow` is refused before its
  // certificate is looked at.
  static Result<std::unique_ptr<Authorizer>> create(const v1::TcpListener& tcp,
                                                    const std::string& config_dir);

  // `peer` is ServerContext::peer(): "unix:..." for the socket. For TCP: the allow list, then
  // the certificate and its role.
  Result<Principal> identify(const std::string& peer, const grpc::AuthContext* auth);
  // Who makes a call: a console call (kConsoleKeyHeader present: it must be this muzzled's key)
  // as "web:NAME" with the role the console vouches for, else identify(peer, auth). Every
  // handler starts here.
  Result<Principal> identifyCall(const grpc::ServerContextBase& ctx);
  // The console's key; set before the server starts (empty: console calls are refused).
  void setConsoleKey(std::string key);
  // The certificate and its role alone, for a check that does not know the caller's address
  // (TcpCallGate: gRPC gives its metadata processor no peer address).
  Result<Principal> identifyCertificate(const grpc::AuthContext* auth);

 private:
  std::map<std::string, Role> roles_;
  AddressSet tcp_allow_;  // empty: any address
  std::unique_ptr<ClientCertVerifier> verifier_;
  std::string console_key_;
};

// Refuses a TCP call, whatever its method (health and reflection included), unless its
// connection's client certificate chains to the client CA and has a role; the status says why
// (UNAUTHENTICATED or PERMISSION_DENIED). Installed on the TLS credentials; runs on a gRPC
// thread for each call, without blocking (it reads the CA file only when it changed). gRPC does
// not tell it the caller's address, so `management.tcp.allow` is left to the handlers.
// "*auth" must outlive the server.
class TcpCallGate final : public grpc::AuthMetadataProcessor {
 public:
  explicit TcpCallGate(Authorizer& auth) : auth_(auth) {}
  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed, OutputMetadata* response) override;

 private:
  Authorizer& auth_;
};

// The identities in a PEM certificate: subject CN first, then SAN URIs.
std::vector<std::string> certificateIdentities(const std::string& pem);

}  // namespace muzzle

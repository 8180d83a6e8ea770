#include "mgmt/server/auth.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <optional>

#include "mgmt/server/convert.h"
#include "mgmt/server/sandbox.h"

namespace muzzle {

namespace {

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

X509Ptr parsePem(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

}  // namespace

std::vector<std::string> certificateIdentities(const std::string& pem) {
  std::vector<std::string> out;
  X509Ptr cert = parsePem(pem);
  if (!cert) return out;
  char cn[256];
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof(cn)) >
      0) {
    out.emplace_back(cn);
  }
  auto* sans = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
      if (name->type != GEN_URI) continue;
      const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
      out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                       ASN1_STRING_length(uri));
    }
    GENERAL_NAMES_free(sans);
  }
  return out;
}

ClientCertVerifier::ClientCertVerifier(std::string ca_path) : ca_path_(std::move(ca_path)) {}

ClientCertVerifier::~ClientCertVerifier() {
  if (store_ != nullptr) X509_STORE_free(static_cast<X509_STORE*>(store_));
}

Status ClientCertVerifier::verify(const std::string& pem) {
  std::lock_guard<std::mutex> lock(mu_);
  struct stat st {};
  if (::stat(ca_path_.c_str(), &st) != 0) {
    return Status::error(StatusCode::kUnavailable,
                         "client CA " + ca_path_ + " is missing on the box");
  }
  const long long mtime =
      static_cast<long long>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  if (mtime != loaded_mtime_ || store_ == nullptr) {
    X509_STORE* store = X509_STORE_new();
    if (X509_STORE_load_file(store, ca_path_.c_str()) != 1) {
      X509_STORE_free(store);
      ERR_clear_error();
      return Status::error(StatusCode::kUnavailable, "client CA " + ca_path_ + " cannot be loaded");
    }
    if (store_ != nullptr) X509_STORE_free(static_cast<X509_STORE*>(store_));
    store_ = store;
    loaded_mtime_ = mtime;
  }
  X509Ptr cert = parsePem(pem);
  if (!cert)
    return Status::error(StatusCode::kUnauthenticated, "the client certificate cannot be parsed");
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, static_cast<X509_STORE*>(store_), cert.get(), nullptr);
  X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
  const int ok = X509_verify_cert(ctx);
  const int err = X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  ERR_clear_error();
  if (ok != 1) {
    return Status::error(StatusCode::kUnauthenticated,
                         std::string("client certificate rejected: ") +
                             X509_verify_cert_error_string(err) +
                             " (it must be signed by the box's client CA)");
  }
  return Status();
}

Result<std::unique_ptr<Authorizer>> Authorizer::create(const v1::TcpListener& tcp,
                                                       const std::string& config_dir) {
  auto a = std::make_unique<Authorizer>();
  for (int i = 0; i < tcp.roles_size(); ++i) {
    auto role = parseRole(tcp.roles(i).role());
    if (!role.ok())
      return role.status().withContext("management.tcp.roles[" + std::to_string(i) + "].role: ");
    if (tcp.roles(i).identity().empty()) {
      return Status::error(StatusCode::kInvalidArgument,
                           "management.tcp.roles[" + std::to_string(i) + "].identity: required");
    }
    a->roles_[tcp.roles(i).identity()] = *role;
  }
  auto allow = tcpAllowList(tcp);
  if (!allow.ok()) return allow.status();
  a->tcp_allow_ = std::move(allow).value();
  if (!tcp.listen().empty()) {
    std::string ca = tcp.client_ca();
    if (!ca.empty() && ca[0] != '/' && !config_dir.empty()) ca = config_dir + "/" + ca;
    a->verifier_ = std::make_unique<ClientCertVerifier>(ca);
  }
  return a;
}

void Authorizer::setConsoleKey(std::string key) { console_key_ = std::move(key); }

Result<Principal> Authorizer::identifyCall(const grpc::ServerContextBase& ctx) {
  const auto& meta = ctx.client_metadata();
  auto header = [&meta](const char* name) -> std::optional<std::string> {
    auto it = meta.find(name);
    if (it == meta.end()) return std::nullopt;
    return std::string(it->second.data(), it->second.size());
  };
  const auto key = header(kConsoleKeyHeader);
  if (!key) return identify(ctx.peer(), ctx.auth_context().get());
  // Only muzzled's own console knows the key: it is made at start and never leaves the process.
  if (console_key_.empty() || key->size() != console_key_.size() ||
      CRYPTO_memcmp(key->data(), console_key_.data(), key->size()) != 0) {
    return Status::error(StatusCode::kUnauthenticated,
                         "a console call with a key that is not this muzzled's");
  }
  auto role = parseRole(header(kConsoleRoleHeader).value_or(""));
  const std::string user = header(kConsoleUserHeader).value_or("");
  if (!role.ok() || user.empty()) {
    return Status::error(StatusCode::kUnauthenticated, "a console call without its user and role");
  }
  Principal p;
  p.role = *role;
  p.who = "web:" + user;
  p.peer = "web " + header(kConsolePeerHeader).value_or("?");
  return p;
}

Result<Principal> Authorizer::identify(const std::string& peer, const grpc::AuthContext* auth) {
  if (peer.rfind("unix:", 0) == 0) {
    Principal local;
    local.role = Role::kAdmin;
    local.who = "local";
    local.peer = "unix";
    return local;
  }
  if (!tcp_allow_.empty()) {
    auto ip = peerAddress(peer);
    if (!ip || !tcp_allow_.contains(*ip)) {
      return Status::error(StatusCode::kPermissionDenied, "peer " + (ip ? ip->toString() : peer) +
                                                              " is not in management.tcp.allow");
    }
  }
  auto p = identifyCertificate(auth);
  if (p.ok()) p->peer = peer;
  return p;
}

Result<Principal> Authorizer::identifyCertificate(const grpc::AuthContext* auth) {
  Principal p;
  p.peer = "tcp";
  std::string pem;
  if (auth != nullptr) {
    for (const auto& v : auth->FindPropertyValues("x509_pem_cert")) pem.assign(v.data(), v.size());
  }
  if (pem.empty() || !verifier_) {
    return Status::error(
        StatusCode::kUnauthenticated,
        "no client certificate: connect with --cert/--key signed by the box's client CA");
  }
  if (Status s = verifier_->verify(pem); !s.ok()) return s;
  const auto identities = certificateIdentities(pem);
  for (const auto& id : identities) {
    auto it = roles_.find(id);
    if (it != roles_.end()) {
      p.role = it->second;
      p.who = id;
      return p;
    }
  }
  return Status::error(StatusCode::kPermissionDenied,
                       "certificate " +
                           (identities.empty() ? std::string("(no CN)") : identities[0]) +
                           " has no role on this box (management.tcp.roles)");
}

grpc::Status TcpCallGate::Process(const InputMetadata&, grpc::AuthContext* context, OutputMetadata*,
                                  OutputMetadata*) {
  // Only TLS connections carry this gate. It has no peer address: the allow list is checked by
  // every service's handler (identify), the certificate and its role here, before any handler.
  auto principal = auth_.identifyCertificate(context);
  return principal.ok() ? grpc::Status::OK : toGrpc(principal.status());
}

}  // namespace muzzle

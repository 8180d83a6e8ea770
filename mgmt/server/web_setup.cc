#include "mgmt/server/web_setup.h"

#include "mgmt/server/server.h"
#include "mgmt/web/tls_identity.h"

namespace muzzle {
namespace {

// "198.18.0.1:8443" -> "198.18.0.1", "[fd00::1]:8443" -> "fd00::1" (a canonical listen address).
std::string hostOf(const std::string& listen) {
  if (!listen.empty() && listen.front() == '[') return listen.substr(1, listen.find(']') - 1);
  return listen.substr(0, listen.rfind(':'));
}

std::string inConfigDir(const DaemonConfig& config, const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  return config.config_dir + "/" + path;
}

}  // namespace

Result<WebSetup> webSetupOf(const DaemonConfig& config,
                            const std::vector<std::string>& segment_addresses) {
  const v1::WebConsole& w = config.management.web();
  WebSetup setup;
  if (w.listen().empty()) return setup;
  setup.on = true;
  const std::string field =
      config.web_listen_at.empty() ? "management.web.listen" : config.web_listen_at;
  auto listen = checkListenAddress(w.listen(), segment_addresses, field);
  if (!listen.ok()) return listen.status();
  setup.server.listen = *listen;
  for (int i = 0; i < w.allow_size(); ++i) {
    auto cidr = Cidr::parse(w.allow(i));
    if (!cidr) {
      return Status::error(StatusCode::kInvalidArgument,
                           "management.web.allow[" + std::to_string(i) + "]: \"" + w.allow(i) +
                               "\" is not an address or a CIDR");
    }
    setup.console.allow.add(*cidr);
  }
  setup.console.allow.finalize();
  if (w.has_session_idle_minutes()) {
    setup.console.session_idle = std::chrono::minutes(w.session_idle_minutes());
  }
  auto identity =
      web::loadOrMakeTlsIdentity(inConfigDir(config, w.cert()), inConfigDir(config, w.key()),
                                 config.state_dir, hostOf(*listen));
  if (!identity.ok()) return identity.status().withContext("management.web: ");
  setup.server.cert_pem = identity->cert_pem;
  setup.server.key_pem = identity->key_pem;
  setup.console.fingerprint = identity->fingerprint;
  setup.console.certificate_made_here = identity->made_here;
  setup.console.url = "https://" + *listen + "/";
  return setup;
}

}  // namespace muzzle

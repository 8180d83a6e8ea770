// management.web of muzzled.yaml made ready to start: the listen address checked like
// management.tcp's (checkListenAddress), the browsers' allow list, the session idle time, and
// the certificate the console presents (configured, or made and kept in state_dir/web/).
#pragma once

#include <string>
#include <vector>

#include "fw/common/status.h"
#include "fw/config/daemon_config.h"
#include "mgmt/web/console.h"
#include "mgmt/web/https_server.h"

namespace muzzle {

struct WebSetup {
  bool on = false;  // management.web.listen is set
  web::ServerOptions server;
  web::ConsoleOptions console;
};

// Errors name the config file and line (DaemonConfig::web_listen_at) or the certificate file.
Result<WebSetup> webSetupOf(const DaemonConfig& config,
                            const std::vector<std::string>& segment_addresses);

}  // namespace muzzle

// muzzlectl fleet apply: mgmt/fleet/rollout.h over gRPC.
#include <CLI/CLI.hpp>

#include "mgmt/ctl/commands/commands.h"

namespace muzzle::ctl {

void addFleetApplyCommand(CLI::App& fleet, Invocation& invocation) {
  (void)fleet;
  (void)invocation;
}

}  // namespace muzzle::ctl

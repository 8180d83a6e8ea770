// muzzlectl fleet: a fleet directory's boxes (mgmt/fleet/fleet_dir.h) checked, planned, rolled
// out to (fleet_apply.cc), their devices and events merged.
#include <CLI/CLI.hpp>

#include "mgmt/ctl/commands/commands.h"

namespace muzzle::ctl {

void addFleetCommands(CLI::App& app, Invocation& invocation) {
  CLI::App* fleet = app.add_subcommand("fleet", "manage a fleet of boxes from a fleet directory");
  fleet->require_subcommand(1);
  addFleetApplyCommand(*fleet, invocation);
}

}  // namespace muzzle::ctl

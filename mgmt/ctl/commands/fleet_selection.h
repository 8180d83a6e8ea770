// What `fleet plan`, `fleet devices` and `fleet events` share on their command lines: the fleet
// directory, --select LABEL=VALUE (repeatable) and --parallel N; and the boxes these pick, read
// when the command runs (fleet.cc).
#pragma once

#include <CLI/CLI.hpp>

#include <cstddef>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "mgmt/ctl/client.h"
#include "mgmt/ctl/invocation.h"
#include "mgmt/fleet/fleet_dir.h"

namespace muzzle::ctl {

struct FleetSelectArgs {
  std::string dir;
  std::vector<std::string> select;  // checked while parsing (a bad one is a usage error)
  size_t parallel = 0;              // 0: fleet.yaml's rollout.parallel, else kDefaultFleetParallel
};

// Adds DIR, --select and --parallel to `sub`; `args` must outlive parsing.
void addFleetSelectOptions(CLI::App& sub, FleetSelectArgs& args);

struct SelectedFleet {
  fleet::FleetDir fleet;
  std::vector<const fleet::Member*> members;  // into `fleet`, in fleet.yaml's order
  TlsFiles tls;
  size_t parallel = 1;
};

// Reads the fleet directory and picks the boxes, or prints why not to `err` and sets `*exit`
// (kExitInvalid for a directory with errors, kExitUsage for a --select no box matches).
std::unique_ptr<SelectedFleet> selectFleet(const FleetSelectArgs& args,
                                           const GlobalOptions& options, std::ostream& err,
                                           int* exit);

}  // namespace muzzle::ctl

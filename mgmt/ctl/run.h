// Carries out a parsed Invocation: on the local box, one --target, or every box of a --targets
// fleet file (concurrently, one thread per box), then prints the result and gives the exit code
// (output.h's Exit; README.md, "Managing boxes").
#pragma once

#include <ostream>
#include <string>

#include "mgmt/ctl/invocation.h"

namespace muzzle::ctl {

// Writes results to `out` and failures to `err`; returns the exit code. The boxes are reached
// through connect() (client.h); a fleet file that cannot be read is a usage error (exit 2).
int run(const Invocation& invocation, std::ostream& out, std::ostream& err);

// One box's line of the fleet's --json output (a FleetRow, fleet_output.proto), with the newline.
std::string fleetRowJson(const Box& box, int exit, const Outcome& outcome);

}  // namespace muzzle::ctl

// muzzlectl's commands, one file per concept. Each add* function registers its subcommand(s) on
// `app`; a subcommand's callback (run by CLI11 once the whole command line is parsed) stores the
// Command to run in `invocation`, with its own arguments copied in. The arguments live in storage
// owned by the callbacks, so `app` and `invocation` are all the state there is; both must outlive
// parsing.
#pragma once

#include <CLI/CLI.hpp>

#include "mgmt/ctl/invocation.h"

namespace muzzle::ctl {

void addStatusCommand(CLI::App& app, Invocation& invocation);  // status
void addSetupCommand(CLI::App& app, Invocation& invocation);   // setup (setup.cc)
void addDeviceCommands(CLI::App& app,
                       Invocation& invocation);  // devices, device set, quarantine, release
void addPolicyCommands(CLI::App& app, Invocation& invocation);  // policy ...
// policy explain, on `policy` (the subcommand addPolicyCommands made)
void addPolicyExplainCommand(CLI::App& policy, Invocation& invocation);
void addEventsCommand(CLI::App& app, Invocation& invocation);   // events
void addAuditCommand(CLI::App& app, Invocation& invocation);    // audit
void addMudCommands(CLI::App& app, Invocation& invocation);     // mud import
void addLearnCommands(CLI::App& app, Invocation& invocation);   // learn start/stop/show/propose
void addWebCommands(CLI::App& app, Invocation& invocation);     // web users, web user add/remove
// fleet check/plan/devices/events (fleet.cc), and fleet apply on the `fleet` subcommand
// (fleet_apply.cc)
void addFleetCommands(CLI::App& app, Invocation& invocation);
void addFleetApplyCommand(CLI::App& fleet, Invocation& invocation);
// fleet plan (fleet_plan.cc), fleet devices (fleet_devices.cc), fleet events (fleet_events.cc),
// each on the `fleet` subcommand
void addFleetPlanCommand(CLI::App& fleet, Invocation& invocation);
void addFleetDevicesCommand(CLI::App& fleet, Invocation& invocation);
void addFleetEventsCommand(CLI::App& fleet, Invocation& invocation);
// completion bash: a completion script made from `app` (every command and option it has).
void addCompletionCommand(CLI::App& app, Invocation& invocation);
std::string bashCompletion(const CLI::App& app);

}  // namespace muzzle::ctl

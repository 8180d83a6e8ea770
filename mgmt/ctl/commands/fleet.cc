// muzzlectl fleet: a fleet directory's boxes (mgmt/fleet/fleet_dir.h) checked (here), planned
// (fleet_plan.cc), rolled out to (fleet_apply.cc), their devices (fleet_devices.cc) and events
// (fleet_events.cc) merged. Every fleet command reaches its boxes itself (Invocation::whole).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <set>

#include "ctl/fleet_output.pb.h"  // generated from mgmt/ctl/fleet_output.proto
#include "mgmt/ctl/commands/commands.h"
#include "mgmt/ctl/commands/fleet_selection.h"
#include "mgmt/ctl/fleet_reads.h"
#include "mgmt/ctl/fleet_support.h"
#include "mgmt/ctl/output.h"

namespace muzzle::ctl {
namespace {

// Where muzzled looks for the shipped presets and lists: fw/config/daemon_config.h's
// kShippedPoliciesDir, which muzzlectl may not include (it reaches muzzled's parts only through
// the API); the package installs both from the same place.
constexpr char kShippedPolicies[] = "/usr/share/muzzle/policies";

struct CheckArgs {
  std::string dir;
  std::string shipped = kShippedPolicies;
  std::vector<std::string> presets;
};

int check(const CheckArgs& a, const GlobalOptions& options, std::ostream& out, std::ostream& err) {
  auto fleet = loadFleet(a.dir, err);
  if (!fleet) return kExitInvalid;
  fleet::CheckOptions check_options;
  check_options.preset_dirs = a.presets;
  check_options.shipped_dir = a.shipped;
  const std::vector<fleet::BoxDiagnostic> problems = fleet::check(*fleet, check_options);
  if (options.json) {
    for (const fleet::BoxDiagnostic& p : problems) {
      FleetCheckRow row;
      row.set_box(p.box);
      v1::Violation* v = row.mutable_violation();
      v->set_file(p.diagnostic.file);
      v->set_line(static_cast<uint32_t>(std::max(p.diagnostic.line, 0)));
      v->set_field(p.diagnostic.field);
      v->set_message(p.diagnostic.message);
      out << toJson(row, false);
    }
  } else {
    for (const fleet::BoxDiagnostic& p : problems) err << p.text() << "\n";
  }
  std::set<std::string> texts;
  for (const fleet::Member& m : fleet->members()) texts.insert(m.sha256);
  const std::string counts = std::to_string(fleet->members().size()) + " boxes, " +
                             std::to_string(texts.size()) + " distinct desired policies";
  if (!problems.empty()) {
    err << counts << ": " << problems.size() << " problem(s)\n";
    return kExitInvalid;
  }
  if (!options.json) out << counts << ": every box's policy compiles\n";
  return kExitOk;
}

}  // namespace

void addFleetSelectOptions(CLI::App& sub, FleetSelectArgs& args) {
  sub.add_option("DIR", args.dir, "the fleet directory (fleet.yaml)")->required();
  sub.add_option("--select", args.select,
                 "only boxes with this label, LABEL=VALUE (repeatable: all of them)")
      ->check(CLI::Validator(
          [](std::string& text) {
            auto parsed = parseSelectors({text});
            return parsed.ok() ? std::string() : parsed.status().message();
          },
          "LABEL=VALUE"));
  sub.add_option("--parallel", args.parallel,
                 "boxes asked at once (default: fleet.yaml's rollout.parallel, else " +
                     std::to_string(kDefaultFleetParallel) + ")")
      ->check(CLI::Range(size_t{1}, fleet::kMaxBoxes));
}

std::unique_ptr<SelectedFleet> selectFleet(const FleetSelectArgs& args,
                                           const GlobalOptions& options, std::ostream& err,
                                           int* exit) {
  auto fleet = loadFleet(args.dir, err);
  if (!fleet) {
    *exit = kExitInvalid;
    return nullptr;
  }
  auto selected = std::unique_ptr<SelectedFleet>(new SelectedFleet{std::move(*fleet), {}, {}, 1});
  // Each --select was checked alone while parsing; together they may still contradict.
  auto selector = parseSelectors(args.select);
  auto members = selector.ok() ? selectMembers(selected->fleet, *selector)
                               : Result<std::vector<const fleet::Member*>>(selector.status());
  if (!members.ok()) {
    err << "muzzlectl: " << members.status().message() << "\n";
    *exit = kExitUsage;
    return nullptr;
  }
  selected->members = std::move(*members);
  selected->tls = fleetTls(selected->fleet, options);
  const uint32_t from_file = selected->fleet.file().rollout().parallel();
  selected->parallel = args.parallel > 0 ? args.parallel
                       : from_file > 0   ? from_file
                                         : kDefaultFleetParallel;
  return selected;
}

void addFleetCommands(CLI::App& app, Invocation& invocation) {
  CLI::App* fleet = app.add_subcommand(
      "fleet",
      "manage a fleet of boxes from a fleet directory (fleet.yaml: boxes, groups, policies).\n"
      "Exit codes: 0 ok, 2 usage, 3 the fleet directory (or the events state file) is "
      "invalid,\n"
      "10 some boxes failed (unreachable, refused), 11 a rollout halted (apply), 12 drift\n"
      "(plan --fail-on-drift). An interrupted `fleet events` exits 130 (SIGINT) or 143 "
      "(SIGTERM).");
  fleet->require_subcommand(1);

  auto check_args = std::make_shared<CheckArgs>();
  auto* check_cmd = fleet->add_subcommand(
      "check", "offline: compile every box's desired policy; errors name file, line and box");
  check_cmd->add_option("DIR", check_args->dir, "the fleet directory (fleet.yaml)")->required();
  check_cmd->add_option("--shipped-policies", check_args->shipped,
                        "the shipped presets and lists, as on the boxes")
      ->capture_default_str();
  check_cmd->add_option("--presets", check_args->presets,
                        "more preset folders, after DIR/presets (repeatable)");
  check_cmd->callback([&invocation, check_args] {
    invocation.whole = [a = *check_args](const GlobalOptions& options, std::ostream& out,
                                         std::ostream& err) {
      return check(a, options, out, err);
    };
  });

  addFleetPlanCommand(*fleet, invocation);
  addFleetDevicesCommand(*fleet, invocation);
  addFleetEventsCommand(*fleet, invocation);
  // Last: it adds its exit codes to `fleet`'s footer, which subcommands added after it would
  // inherit (CLI11 copies a parent's footer into each new subcommand).
  addFleetApplyCommand(*fleet, invocation);
}

}  // namespace muzzle::ctl

// muzzlectl fleet plan DIR: every box's running policy (GetPolicy) against its desired one, at
// most --parallel boxes asked at once; a row per box (fleet_reads.h, planRow), the unified diffs
// with --diff.
#include <chrono>
#include <cstdio>

#include "mgmt/ctl/commands/commands.h"
#include "mgmt/ctl/commands/fleet_selection.h"
#include "mgmt/ctl/fleet_reads.h"
#include "mgmt/ctl/fleet_support.h"
#include "mgmt/ctl/output.h"
#include "muzzle/v1/management.grpc.pb.h"

namespace muzzle::ctl {
namespace {

struct PlanArgs {
  FleetSelectArgs select;
  bool diff = false;
  bool fail_on_drift = false;
};

// One box: its running policy, or how reaching it failed.
FleetPlanRow planBox(const fleet::Member& member, const SelectedFleet& fleet, bool diff,
                     int timeout_s) {
  v1::GetPolicyResponse running;
  auto channel = connect(boxOf(member), fleet.tls);
  if (!channel.ok()) {
    return planRow(member,
                   grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, channel.status().message()),
                   running, diff);
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout_s));
  v1::PolicyService::Stub stub(*channel);
  const grpc::Status status = stub.GetPolicy(&ctx, v1::GetPolicyRequest(), &running);
  return planRow(member, status, running, diff);
}

int plan(const PlanArgs& a, const GlobalOptions& options, std::ostream& out, std::ostream& err) {
  const auto start = std::chrono::steady_clock::now();
  int exit = kExitOk;
  auto fleet = selectFleet(a.select, options, err, &exit);
  if (!fleet) return exit;
  std::vector<FleetPlanRow> rows(fleet->members.size());
  forEachBounded(rows.size(), fleet->parallel, [&](size_t i) {
    rows[i] = planBox(*fleet->members[i], *fleet, a.diff, options.timeout_s);
  });
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (options.json) {
    for (const FleetPlanRow& r : rows) out << toJson(r, false);
  } else {
    out << planTable(rows);
    char took[32];
    std::snprintf(took, sizeof(took), " (%.2f s)", seconds);
    out << planSummary(rows) << took << "\n";
    if (a.diff) {
      for (const FleetPlanRow& r : rows) {
        if (!r.diff().empty()) out << "\n" << r.diff();
      }
    }
  }
  for (const FleetPlanRow& r : rows) {
    if (r.state() == kPlanUnreachable || r.state() == kPlanError) {
      err << "muzzlectl: " << r.box() << " (" << r.target() << "): " << r.state() << ": "
          << r.detail() << "\n";
    }
  }
  return planExit(rows, a.fail_on_drift);
}

}  // namespace

void addFleetPlanCommand(CLI::App& fleet, Invocation& invocation) {
  auto args = std::make_shared<PlanArgs>();
  auto* sub = fleet.add_subcommand(
      "plan",
      "each box's running policy against its desired one: in-sync, drift, pending (a commit "
      "awaits confirmation), unreachable, error");
  addFleetSelectOptions(*sub, args->select);
  sub->add_flag("--diff", args->diff,
                "print the unified diffs (running -> desired; with --json in each row)");
  sub->add_flag("--fail-on-drift", args->fail_on_drift,
                "exit 12 when a box drifts or has a pending commit (10 wins: a box failed)");
  sub->callback([&invocation, args] {
    invocation.whole = [a = *args](const GlobalOptions& options, std::ostream& out,
                                   std::ostream& err) { return plan(a, options, out, err); };
  });
}

}  // namespace muzzle::ctl

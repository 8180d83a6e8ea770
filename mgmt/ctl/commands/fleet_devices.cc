// muzzlectl fleet devices DIR: every box's inventory (ListDevices) merged into one list, each
// device with its box (and the box's site), filtered by box labels and device traits.
#include <chrono>

#include "mgmt/ctl/commands/commands.h"
#include "mgmt/ctl/commands/fleet_selection.h"
#include "mgmt/ctl/fleet_reads.h"
#include "mgmt/ctl/fleet_support.h"
#include "mgmt/ctl/invocation.h"
#include "mgmt/ctl/output.h"
#include "muzzle/v1/management.grpc.pb.h"

namespace muzzle::ctl {
namespace {

struct DevicesArgs {
  FleetSelectArgs select;
  DeviceFilter filter;
};

grpc::Status listDevices(const fleet::Member& member, const TlsFiles& tls, int timeout_s,
                         v1::ListDevicesResponse* devices) {
  auto channel = connect(boxOf(member), tls);
  if (!channel.ok()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, channel.status().message());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout_s));
  v1::DeviceService::Stub stub(*channel);
  return stub.ListDevices(&ctx, v1::ListDevicesRequest(), devices);
}

int devices(const DevicesArgs& a, const GlobalOptions& options, std::ostream& out,
            std::ostream& err) {
  int exit = kExitOk;
  auto fleet = selectFleet(a.select, options, err, &exit);
  if (!fleet) return exit;
  const size_t n = fleet->members.size();
  std::vector<std::vector<FleetDeviceRow>> per_box(n);
  std::vector<grpc::Status> statuses(n);
  forEachBounded(n, fleet->parallel, [&](size_t i) {
    const fleet::Member& member = *fleet->members[i];
    v1::ListDevicesResponse answer;
    statuses[i] = listDevices(member, fleet->tls, options.timeout_s, &answer);
    for (v1::DeviceInfo& d : *answer.mutable_devices()) {
      if (!matches(a.filter, d)) continue;
      FleetDeviceRow row;
      row.set_box(member.name);
      row.mutable_labels()->insert(member.labels.begin(), member.labels.end());
      *row.mutable_device() = std::move(d);
      per_box[i].push_back(std::move(row));
    }
  });

  std::vector<FleetDeviceRow> rows;
  for (auto& box_rows : per_box) {
    for (auto& r : box_rows) rows.push_back(std::move(r));
  }
  if (options.json) {
    for (const FleetDeviceRow& r : rows) out << toJson(r, false);
  } else {
    bool site = false;
    for (const fleet::Member* m : fleet->members) site = site || m->labels.contains("site");
    out << devicesTable(rows, site);
  }
  int failures = 0;
  for (size_t i = 0; i < n; ++i) {
    if (statuses[i].ok()) continue;
    ++failures;
    err << "muzzlectl: " << fleet->members[i]->name << " (" << fleet->members[i]->target
        << "): not listed: " << failed(statuses[i]).summary << "\n";
  }
  if (failures > 0) {
    err << "muzzlectl: " << failures << " of " << n << " boxes did not answer; their devices are missing above\n";
    return kExitFleetFailed;
  }
  return kExitOk;
}

}  // namespace

void addFleetDevicesCommand(CLI::App& fleet, Invocation& invocation) {
  auto args = std::make_shared<DevicesArgs>();
  auto* sub = fleet.add_subcommand(
      "devices", "every device of every box (or of the --select'ed ones), with its box");
  addFleetSelectOptions(*sub, args->select);
  sub->add_option("--vendor", args->filter.vendor, "vendor contains TEXT (any case)");
  sub->add_option("--profile", args->filter.profile, "the profile that applies is P");
  sub->add_option("--not-profile", args->filter.not_profile,
                  "the profile that applies is not P (e.g. quarantine)");
  sub->add_flag("--new", args->filter.only_new,
                "only devices the box's policy does not list (assignment default or classified)");
  sub->add_flag("--quarantined", args->filter.only_quarantined, "only quarantined devices");
  sub->callback([&invocation, args] {
    invocation.whole = [a = *args](const GlobalOptions& options, std::ostream& out,
                                   std::ostream& err) { return devices(a, options, out, err); };
  });
}

}  // namespace muzzle::ctl

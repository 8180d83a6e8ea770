#include "mgmt/ctl/run.h"

#include <google/protobuf/any.pb.h>


#include "ctl/fleet_output.pb.h"  // generated from mgmt/ctl/fleet_output.proto
#include "mgmt/ctl/fleet_support.h"
#include "mgmt/ctl/output.h"

namespace muzzle::ctl {
namespace {

int exitOf(const Outcome& o) { return o.exit >= 0 ? o.exit : exitCodeOf(o.status); }

// The boxes named on the command line, or an error for a fleet file that cannot be used.
Result<std::vector<Box>> boxesOf(const GlobalOptions& opt) {
  if (opt.fleet()) return readTargets(opt.targets_file);
  if (!opt.target.empty()) return std::vector<Box>{Box{opt.target, opt.target}};
  return std::vector<Box>{Box{"local", "unix:" + opt.socket}};
}

std::vector<Outcome> runOnEach(const Invocation& invocation, const std::vector<Box>& boxes,
                               std::ostream& out) {
  std::vector<Outcome> outcomes(boxes.size());
  std::mutex out_mu;
  // A streaming command (events --follow) holds every box's stream open at once; any other
  // command works on kDefaultFleetParallel boxes at a time (a thread per box over 1,000 boxes
  // held over 200 MB).
  const size_t parallel = invocation.streams ? boxes.size() : kDefaultFleetParallel;
  forEachBounded(boxes.size(), parallel, [&](size_t i) {
    auto ch = connect(boxes[i], invocation.options.tls);
    if (!ch.ok()) {
      outcomes[i] = failed(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, ch.status().message()));
      return;
    }
    outcomes[i] = invocation.command(Call{*ch, boxes[i], invocation.options, out, out_mu});
  });
  return outcomes;
}

int printOne(const Invocation& invocation, const Outcome& o, std::ostream& out, std::ostream& err) {
  if (!invocation.streams || !o.status.ok()) {
    if (invocation.options.json && o.result) {
      out << toJson(*o.result);
    } else {
      (o.status.ok() && o.exit <= 0 ? out : err) << o.human;
    }
  }
  return exitOf(o);
}

int printFleet(const Invocation& invocation, const std::vector<Box>& boxes,
               const std::vector<Outcome>& outcomes, std::ostream& out) {
  std::vector<std::vector<std::string>> rows;
  int failures = 0;
  for (size_t i = 0; i < boxes.size(); ++i) {
    const int code = exitOf(outcomes[i]);
    if (code != 0) ++failures;
    if (invocation.options.json) {
      out << fleetRowJson(boxes[i], code, outcomes[i]);
    } else {
      rows.push_back({boxes[i].name, boxes[i].target,
                      code == 0 ? "ok" : "FAILED(" + std::to_string(code) + ")",
                      outcomes[i].summary});
    }
  }
  if (!invocation.options.json) out << table({"box", "target", "result", "detail"}, rows);
  return failures ? kExitFleetFailed : kExitOk;
}

}  // namespace

std::string fleetRowJson(const Box& box, int exit, const Outcome& outcome) {
  FleetRow row;
  row.set_box(box.name);
  row.set_exit(exit);
  row.set_code(codeName(outcome.status.error_code()));
  if (outcome.result) row.mutable_result()->PackFrom(*outcome.result);
  row.set_detail(outcome.summary);
  return toJson(row, false);
}

int run(const Invocation& invocation, std::ostream& out, std::ostream& err) {
  if (invocation.whole) return invocation.whole(invocation.options, out, err);
  auto boxes = boxesOf(invocation.options);
  if (!boxes.ok()) {
    err << "muzzlectl: " << boxes.status().message() << "\n";
    return kExitUsage;
  }
  const std::vector<Outcome> outcomes = runOnEach(invocation, *boxes, out);
  if (!invocation.options.fleet()) return printOne(invocation, outcomes[0], out, err);
  return printFleet(invocation, *boxes, outcomes, out);
}

}  // namespace muzzle::ctl

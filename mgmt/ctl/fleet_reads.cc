#include "mgmt/ctl/fleet_reads.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cctype>
#include <string_view>

#include "fw/common/atomic_file.h"
#include "fw/common/confined_file.h"
#include "mgmt/ctl/invocation.h"
#include "mgmt/ctl/output.h"
#include "mgmt/fleet/drift.h"

namespace muzzle::ctl {
namespace {

Status invalid(std::string message) {
  return Status::error(StatusCode::kInvalidArgument, std::move(message));
}

std::string selectorText(const LabelSelector& selector) {
  std::string text;
  for (const auto& [label, value] : selector) {
    text += (text.empty() ? "" : " ") + std::string("--select ") + label + "=" + value;
  }
  return text;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

Result<LabelSelector> parseSelectors(const std::vector<std::string>& texts) {
  LabelSelector selector;
  for (const std::string& text : texts) {
    const size_t eq = text.find('=');
    if (eq == std::string::npos || eq == 0) {
      return invalid("--select \"" + text +
                     "\": expected LABEL=VALUE, a label of fleet.yaml's boxes and its value "
                     "(e.g. --select site=north)");
    }
    const std::string label = text.substr(0, eq), value = text.substr(eq + 1);
    auto [it, added] = selector.emplace(label, value);
    if (!added && it->second != value) {
      return invalid("--select " + label + "=" + it->second + " and --select " + text +
                     ": a box has one value per label, so no box can match both");
    }
  }
  return selector;
}

Result<std::vector<const fleet::Member*>> selectMembers(const fleet::FleetDir& fleet,
                                                        const LabelSelector& selector) {
  std::vector<const fleet::Member*> members;
  for (const fleet::Member& m : fleet.members()) {
    const bool all = std::all_of(selector.begin(), selector.end(), [&](const auto& wanted) {
      auto it = m.labels.find(wanted.first);
      return it != m.labels.end() && it->second == wanted.second;
    });
    if (all) members.push_back(&m);
  }
  if (members.empty()) {
    return invalid(selector.empty() ? fleet.dir() + "/fleet.yaml lists no boxes"
                                    : "no box of " + fleet.dir() + "/fleet.yaml has " +
                                          selectorText(selector) +
                                          ": check the labels' spelling in fleet.yaml");
  }
  return members;
}

// ---- fleet plan

FleetPlanRow planRow(const fleet::Member& member, const grpc::Status& status,
                     const v1::GetPolicyResponse& running, bool with_diff) {
  FleetPlanRow row;
  row.set_box(member.name);
  row.set_target(member.target);
  row.set_group(member.group);
  row.set_desired_sha256(member.sha256);
  if (!status.ok()) {
    const bool unreachable = status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                             status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
    row.set_state(unreachable ? kPlanUnreachable : kPlanError);
    row.set_detail(failed(status).summary);
    return row;
  }
  row.set_running_revision(running.revision().number());
  row.set_running_sha256(running.revision().sha256());
  const std::string& desired = member.text ? *member.text : std::string();
  const fleet::Drift drift =
      fleet::driftOf(member.name, running.revision().number(), running.content(), desired);
  row.set_added(drift.added);
  row.set_removed(drift.removed);
  row.set_counted(drift.counted);
  if (with_diff) row.set_diff(drift.diff);
  if (running.has_pending()) {
    row.set_state(kPlanPending);
    row.set_pending_revision(running.pending().revision());
    row.set_detail("r" + std::to_string(running.pending().revision()) + " awaits confirmation until " +
                   timeText(running.pending().deadline()) + ", else back to r" +
                   std::to_string(running.pending().rollback_to()));
  } else {
    row.set_state(drift.same ? kPlanInSync : kPlanDrift);
  }
  return row;
}

std::string planTable(const std::vector<FleetPlanRow>& rows) {
  std::vector<std::vector<std::string>> cells;
  for (const FleetPlanRow& r : rows) {
    const bool answered = r.state() != kPlanUnreachable && r.state() != kPlanError;
    std::string changes = "-";
    if (answered && !r.counted()) {
      changes = "(too large to diff)";
    } else if (answered) {
      changes = "+" + std::to_string(r.added()) + " -" + std::to_string(r.removed());
    }
    cells.push_back({r.box(), r.target(), r.group().empty() ? "-" : r.group(), r.state(),
                     answered ? "r" + std::to_string(r.running_revision()) : "-", changes,
                     r.detail().empty() ? "-" : r.detail()});
  }
  return table({"box", "target", "group", "state", "running", "changes", "detail"}, cells);
}

std::string planSummary(const std::vector<FleetPlanRow>& rows) {
  std::string text = std::to_string(rows.size()) + (rows.size() == 1 ? " box:" : " boxes:");
  bool first = true;
  for (const char* state : {kPlanInSync, kPlanDrift, kPlanPending, kPlanUnreachable, kPlanError}) {
    const auto n = std::count_if(rows.begin(), rows.end(),
                                 [&](const FleetPlanRow& r) { return r.state() == state; });
    text += (first ? " " : ", ") + std::to_string(n) + " " + state;
    first = false;
  }
  return text;
}

int planExit(const std::vector<FleetPlanRow>& rows, bool fail_on_drift) {
  auto any = [&](std::initializer_list<std::string_view> states) {
    return std::any_of(rows.begin(), rows.end(), [&](const FleetPlanRow& r) {
      return std::find(states.begin(), states.end(), r.state()) != states.end();
    });
  };
  if (any({kPlanUnreachable, kPlanError})) return kExitFleetFailed;
  if (fail_on_drift && any({kPlanDrift, kPlanPending})) return kExitDrift;
  return kExitOk;
}

// ---- fleet devices

bool matches(const DeviceFilter& filter, const v1::DeviceInfo& device) {
  if (!filter.vendor.empty() &&
      lower(device.vendor()).find(lower(filter.vendor)) == std::string::npos) {
    return false;
  }
  if (!filter.profile.empty() && device.profile() != filter.profile) return false;
  if (!filter.not_profile.empty() && device.profile() == filter.not_profile) return false;
  if (filter.only_new && device.listed()) return false;
  if (filter.only_quarantined && !device.quarantined()) return false;
  return true;
}

std::string devicesTable(const std::vector<FleetDeviceRow>& rows, bool site_column) {
  std::vector<std::string> header = {"box"};
  if (site_column) header.push_back("site");
  for (const char* h : {"mac", "name", "vendor", "profile", "assignment", "last seen", "ips"}) {
    header.push_back(h);
  }
  std::vector<std::vector<std::string>> cells;
  for (const FleetDeviceRow& r : rows) {
    const v1::DeviceInfo& d = r.device();
    std::vector<std::string> row = {r.box()};
    if (site_column) {
      auto site = r.labels().find("site");
      row.push_back(site == r.labels().end() ? "-" : site->second);
    }
    std::string ips;
    for (const auto& ip : d.ips()) ips += (ips.empty() ? "" : ",") + ip;
    std::string vendor = d.randomised_mac()   ? "(randomised MAC)"
                         : d.vendor().empty() ? "-"
                                              : d.vendor();
    if (vendor.size() > 28) vendor = vendor.substr(0, 25) + "...";
    std::string assignment = d.assignment().empty() ? "-" : d.assignment();
    if (d.assignment() == "classified" && !d.assigned_by().empty()) {
      assignment += " (" + d.assigned_by() + ")";
    }
    for (std::string cell : {d.mac(), d.name().empty() ? "(unlisted)" : d.name(), vendor,
                             d.profile() + (d.quarantined() ? " (q)" : ""), assignment,
                             timeText(d.last_seen()), ips.empty() ? "-" : ips}) {
      row.push_back(std::move(cell));
    }
    cells.push_back(std::move(row));
  }
  return table(header, cells);
}

// ---- fleet events

ResumePoint resumeAfter(const v1::Event& event) {
  if (event.has_gap()) {
    // first_available is in the numbering of the run that sent the gap (the event's epoch).
    const uint64_t first = event.gap().first_available();
    return ResumePoint{event.epoch(), first > 0 ? first - 1 : 0};
  }
  return ResumePoint{event.epoch(), event.sequence()};
}

std::chrono::seconds retryDelay(unsigned failures) {
  if (failures <= 1) return std::chrono::seconds(1);
  if (failures > 6) return kMaxRetryDelay;  // 2^5 = 32 s is past the cap already
  return std::min(kMaxRetryDelay, std::chrono::seconds(1 << (failures - 1)));
}

Result<FleetEventsState> readEventsState(const std::string& path) {
  const std::string what_to_do =
      ": fix or delete it, or run with --from-start (which replaces it)";
  auto text = readRegularFile(path, kMaxEventsStateBytes);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) return FleetEventsState{};
    return invalid("the fleet events state file: " + text.status().message() + what_to_do);
  }
  FleetEventsState state;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto parsed = google::protobuf::util::JsonStringToMessage(*text, &state, options);
  if (!parsed.ok()) {
    // protobuf's message names the key or offset; it quotes at most a key of the file.
    return invalid(path + ": not a fleet events state file (" + std::string(parsed.message()) +
                   ")" + what_to_do);
  }
  if (state.version() != 1) {
    return invalid(path + ": version " + std::to_string(state.version()) +
                   ", this muzzlectl reads version 1" + what_to_do);
  }
  if (state.boxes_size() > static_cast<int>(fleet::kMaxBoxes)) {
    return invalid(path + ": " + std::to_string(state.boxes_size()) + " boxes, more than a fleet has (" +
                   std::to_string(fleet::kMaxBoxes) + ")" + what_to_do);
  }
  return state;
}

Status writeEventsState(const std::string& path, const FleetEventsState& state) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  return writeFileAtomically(dir, name, toJson(state, true), 0644);
}

}  // namespace muzzle::ctl

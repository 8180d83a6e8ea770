// The parts of `muzzlectl fleet plan|devices|events` that need no box: which boxes --select
// picks, a box's plan row from its answer, the device filters and rows, and the events state
// file. Plain functions of values, tested without a network (tests/unit/mgmt/ctl/); the
// commands in commands/fleet_*.cc fetch the answers and print what these make. Any thread may
// call them; they keep no state.
#pragma once

#include <grpcpp/support/status.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ctl/fleet_output.pb.h"  // generated from mgmt/ctl/fleet_output.proto
#include "fw/common/status.h"
#include "mgmt/fleet/fleet_dir.h"
#include "muzzle/v1/management.pb.h"

namespace muzzle::ctl {

// ---- Selecting boxes (--select LABEL=VALUE, repeatable: a box must have all of them).

using LabelSelector = std::map<std::string, std::string>;

// The selectors as given on the command line, each "LABEL=VALUE" (the value may be empty, the
// label may not; a label given twice must have the same value). kInvalidArgument naming the
// bad text and the expected form.
Result<LabelSelector> parseSelectors(const std::vector<std::string>& texts);

// The members that have every label of `selector`, in fleet.yaml's order (all of them for an
// empty selector). None is an error (kInvalidArgument naming the selector): a mistyped label
// would otherwise read as "no such device anywhere". Pointers into `fleet`.
Result<std::vector<const fleet::Member*>> selectMembers(const fleet::FleetDir& fleet,
                                                        const LabelSelector& selector);

// ---- fleet plan

inline constexpr char kPlanInSync[] = "in-sync";
inline constexpr char kPlanDrift[] = "drift";
inline constexpr char kPlanPending[] = "pending";
inline constexpr char kPlanUnreachable[] = "unreachable";
inline constexpr char kPlanError[] = "error";

// One box's row. `status` is how reaching it went (connect() or GetPolicy); `running` its answer
// when `status` is OK. State: unreachable for UNAVAILABLE and DEADLINE_EXCEEDED, error for any
// other failure; pending when a commit awaits confirmation (whatever the texts: the box may
// still roll back); else in-sync or drift by the texts, byte for byte. `with_diff` keeps the
// unified diff in the row.
FleetPlanRow planRow(const fleet::Member& member, const grpc::Status& status,
                     const v1::GetPolicyResponse& running, bool with_diff);

// The table people read: box, target, group, state, running, changes, detail.
std::string planTable(const std::vector<FleetPlanRow>& rows);
// "3 boxes: 1 in-sync, 1 drift, 0 pending, 1 unreachable, 0 error"
std::string planSummary(const std::vector<FleetPlanRow>& rows);
// kExitFleetFailed when any box is unreachable or in error; else, with `fail_on_drift`,
// kExitDrift when any box drifts or has a pending commit; else kExitOk.
int planExit(const std::vector<FleetPlanRow>& rows, bool fail_on_drift);

// ---- fleet devices

struct DeviceFilter {
  std::string vendor;       // case-insensitive substring of the vendor; "" for any
  std::string profile;      // the profile that applies, exactly; "" for any
  std::string not_profile;  // ...is not this one; "" for none
  bool only_new = false;    // not listed in the policy (assignment "default" or "classified")
  bool only_quarantined = false;
};

bool matches(const DeviceFilter& filter, const v1::DeviceInfo& device);

// The table: box, `site` when `site_column`, mac, name, vendor, profile, assignment, last seen,
// ips.
std::string devicesTable(const std::vector<FleetDeviceRow>& rows, bool site_column);

// ---- fleet events

// Where a box's stream stands: the last event printed (0:0 before any).
struct ResumePoint {
  uint64_t epoch = 0;
  uint64_t sequence = 0;
  bool operator==(const ResumePoint&) const = default;
};

// The point once `event` was printed: the event itself; for a gap, just before the first event
// the box still holds (in the gap's run), so a stream resumed from it does not report the gap
// again.
ResumePoint resumeAfter(const v1::Event& event);

// How long `fleet events --follow` waits before it reaches a box again after `failures` tries in a
// row (1 or more) that ended without an event: 1 s, doubling, at most kMaxRetryDelay.
inline constexpr std::chrono::seconds kMaxRetryDelay{30};
std::chrono::seconds retryDelay(unsigned failures);

// The state file is read as untrusted input: a regular file of at most this many bytes.
inline constexpr size_t kMaxEventsStateBytes = size_t{4} << 20;

// Reads the state file at `path`: an empty state when there is none; otherwise a file that is
// not a regular file, too large, not the JSON of a FleetEventsState (unknown keys included), of
// another version or with more than fleet::kMaxBoxes boxes is refused with an error that names
// `path`, says what is wrong and what to do (kInvalidArgument).
Result<FleetEventsState> readEventsState(const std::string& path);

// Replaces the file at `path` atomically (fw/common/atomic_file.h); errors name the path.
Status writeEventsState(const std::string& path, const FleetEventsState& state);

}  // namespace muzzle::ctl

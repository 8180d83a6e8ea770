// A fleet directory: the desired state of many boxes, kept by a central admin in files (in git).
//
//   fleet/fleet.yaml             boxes (name, target, labels), groups by label selector, TLS,
//                                rollout and health gate settings
//   fleet/policies/cameras.yaml  the policy a group's boxes run (any path the group names)
//   fleet/presets/               (optional) presets by name, looked up before the shipped ones
//
// A box's desired policy is its group's policy file (or the box's own `policy`) with the group's
// and then the box's `addresses` overrides written into the text's `addresses:` section (each
// replacing the entry of that name, or added), every other line kept byte for byte: so what a
// box runs, and the drift `fleet plan` shows, is the admin's text. Each line of the result knows
// where it came from (the policy file's line, or fleet.yaml's line of the override), so an error
// in a box's policy names the file and line the admin edits, and the box.
//
// Reads files only (no network, no gRPC); pure apart from that. Not thread-safe while loading;
// a loaded FleetDir is read-only and may be shared between threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fw/common/status.h"
#include "fw/config/diagnostics.h"
#include "muzzle/v1/fleet.pb.h"

namespace muzzle::fleet {

// fleet.yaml and the files it names are read as regular files of at most this many bytes.
inline constexpr size_t kMaxFleetFileBytes = 4u << 20;
// Bounds on what one directory may hold: well above the largest fleets we know of.
inline constexpr size_t kMaxBoxes = 10'000;
inline constexpr size_t kMaxGroups = 1'000;

// Where a line of a box's desired policy came from.
struct LineOrigin {
  std::string file;  // relative to the fleet directory: "fleet.yaml", or a policy file's path
  int line = 0;
};

// One box of the fleet, with what it should run.
struct Member {
  std::string name;
  std::string target;
  std::map<std::string, std::string> labels;
  std::string group;        // the group it matched; empty when it names its own policy
  std::string policy_file;  // relative to the fleet directory
  int line = 0;             // fleet.yaml's line of its entry
  // The desired policy text, overrides applied; shared between boxes with the same text.
  std::shared_ptr<const std::string> text;
  std::string sha256;                                     // of *text
  std::shared_ptr<const std::vector<LineOrigin>> origins;  // one per line of *text
};

class FleetDir {
 public:
  // Reads DIR/fleet.yaml and every policy file it names, and composes each box's desired policy.
  // An error lists every problem found, one per line, "fleet.yaml:12: boxes[3].labels: ..." (a
  // box that matches no group or two, a duplicate name, a policy file that cannot be read, an
  // override that cannot be written into its policy's text); kInvalidArgument.
  static Result<FleetDir> load(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const v1::Fleet& file() const { return file_; }
  // In fleet.yaml's order.
  const std::vector<Member>& members() const { return members_; }
  // The member named `name`, or null.
  const Member* find(const std::string& name) const;

  // The fleet's TLS files with paths made absolute (fleet.yaml's folder), "" where unset.
  v1::FleetTls tls() const;

 private:
  friend class FleetLoader;

  std::string dir_;
  v1::Fleet file_;
  std::vector<Member> members_;
};

// A problem in one box's desired policy, located in the file the admin edits.
struct BoxDiagnostic {
  std::string box;
  Diagnostic diagnostic;  // file relative to the fleet directory, line from LineOrigin

  // "north-01: fleet.yaml:14: addresses.nvr[0]: ..." or the policy file's path and line
  std::string text() const;
};

struct CheckOptions {
  // Where presets are looked up, in order: DIR/presets when it exists is put first by check().
  std::vector<std::string> preset_dirs;
  std::string shipped_dir;  // the shipped policies folder (lists, presets); "" for none
};

// Compiles every member's desired policy without a box (as `muzzled --check-policy` does: no
// segment addresses), each distinct text once however many boxes share it. Lists files relative
// to the policy file's folder. Empty: every box's policy compiles.
std::vector<BoxDiagnostic> check(const FleetDir& fleet, const CheckOptions& options);

}  // namespace muzzle::fleet

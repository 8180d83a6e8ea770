// A MUD file (RFC 8520) turned into a Muzzle profile. Input: the file's bytes (untrusted: read
// by parseMudJson under its bounds). Output: a v1::Profile (egress and inbound rules, first
// match wins, everything else rejected as MUD intends), the metadata worth showing
// (`mud-url`, `cache-validity`, `is-supported`, `systeminfo`, `mfg-name`, ...), the address
// groups the rules name that the site policy must fill, and one MudReport for every part of the
// file the profile does not say exactly as the file does: nothing is dropped silently.
//
// Dialects: RFC 8520 with RFC 8519 ACLs (`ietf-access-control-list:acls`, `aces`, `ipv4`,
// `ipv6`, `tcp`, `udp`, `icmp`), and the older draft format osMUD reads
// (`ietf-access-control-list:access-lists`, `access-list-entries`, `acl-name`, `rule-name`,
// `ipv4-acl`, `ipv6-acl`, `*-port-range`, `*-port-range-or-operator`, `ietf-mud:mud-acl`).
// How each part maps, and why, is fw/mud/README.md's table.
//
// Errors (kInvalidArgument, naming the JSON path): not JSON or over a bound (mud_json.h), more
// than kMaxMudAcls ACLs or kMaxMudAces entries, a value of the wrong type, an unknown ACL type,
// a port or protocol out of range, a policy naming an ACL the file does not define, no
// `ietf-mud:mud` container. Pure; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fw/common/status.h"
#include "muzzle/v1/policy.pb.h"

namespace muzzle {

inline constexpr size_t kMaxMudAcls = 64;
// Entries over all ACLs, and entries the two policies name (an ACL named twice counts twice):
// so a profile never holds more rules than a policy may (kMaxRulesPerProfile, 1,000).
inline constexpr size_t kMaxMudAces = 500;

struct MudMetadata {
  std::string mud_url;
  std::optional<int64_t> mud_version;
  std::string last_update;
  std::optional<int64_t> cache_validity_hours;  // RFC 8520: 1..168, default 48
  std::optional<bool> is_supported;
  std::string systeminfo, mfg_name, model_name, firmware_rev, software_rev, documentation,
      mud_signature;
  std::vector<std::string> extensions;
};

enum class MudReportKind {
  kNotImported,  // the file allows (or denies) this and the profile does not say it at all
  kWidened,      // imported, but a condition Muzzle cannot state was left out: the rule is broader
  kImplied,      // replies of connections another rule allows: Muzzle tracks connections
};
const char* mudReportKindName(MudReportKind kind);  // "not-imported", "widened", "implied"

struct MudReport {
  MudReportKind kind;
  std::string path;  // JSON path: `ietf-access-control-list:acls.acl[1].aces.ace[0]`
  std::string message;
};

// Where a rule came from: the ACE's name and JSON path (shown as a comment beside the rule).
struct MudRuleSource {
  std::string ace;
  std::string path;
};

struct MudImport {
  std::string dialect;  // "rfc8520" or "draft"
  std::string profile_name;
  v1::Profile profile;
  std::vector<MudRuleSource> egress_sources, inbound_sources;  // one per rule, same order
  MudMetadata metadata;
  // Address groups the rules name whose contents only the site knows (controllers, the
  // manufacturer's other devices), in first-use order. See fw/mud/README.md for the names.
  std::vector<std::string> site_groups;
  std::vector<MudReport> reports;
};

// `profile_name` names the `my-controller` group (`mud-my-controller-<profile_name>`); empty:
// defaultMudProfileName().
Result<MudImport> importMud(std::string_view bytes, std::string_view profile_name);

// A profile name for the file when the user gives none: its `model-name`, else the last part of
// its `mud-url`'s path, else "mud-device"; made a valid policy name.
std::string defaultMudProfileName(const MudMetadata& metadata);

}  // namespace muzzle

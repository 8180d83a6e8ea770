// Internal to fw/mud: one access-control entry (ACE) of a MUD file as a Muzzle rule, or a
// report saying why not (mud_ace.cc). importMud (mud_import.cc) walks the file and feeds it the
// entries of each ACL in policy order.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fw/mud/mud_import.h"

namespace muzzle::mud {

// Adds the rules and reports of the entries it is given to `out`. `out` must outlive it.
class AceMapper {
 public:
  // `own_authority`: the host of the file's mud-url (the `same-manufacturer` group's name);
  // `profile_name`: the profile's name (the `my-controller` group's name).
  AceMapper(MudImport& out, std::string own_authority, std::string profile_name);

  // `from_device`: the ACL is in from-device-policy; `family`: 4, 6 or 0 (both, or not said).
  Status map(const nlohmann::json& ace, const std::string& path, bool from_device, int family);
  // After the last entry: checks that every reply entry has the rule it is the reply of.
  void finish();

 private:
  struct Peer {
    std::string target;
    bool is_name = false;
  };
  // A reply entry, checked against the rules in finish().
  struct Reply {
    size_t report;  // index in out_.reports
    bool egress;    // the connection it replies to is the device's own
    std::string target, proto;
  };

  void report(MudReportKind kind, const std::string& path, std::string message);
  const std::string& group(std::string name);
  // The targets an `ietf-mud:mud` container names, added to `peers`. An abstraction it does not
  // know is reported (not-imported) and answered kNotFound: the caller skips the entry.
  Status abstractions(const nlohmann::json& mud, const std::string& path, std::vector<Peer>* peers);
  void addRule(bool egress, v1::Rule rule, MudRuleSource source);

  MudImport& out_;
  std::string own_authority_, profile_name_;
  std::vector<Reply> replies_;
};

}  // namespace muzzle::mud

// A profile written into policy text, the admin's text kept: `muzzlectl mud import` (and later
// any proposal) adds or replaces one profile and adds the address groups it needs, and the
// revision's diff shows exactly that.
//
// How: the text is parsed with yaml-cpp only to find where things are. In a block-style
// document, the profile's entry under `profiles:` (from its key's line to the next key's, less
// the comment and blank lines just before that key, which belong to it) is replaced by the new
// entry, or the new entry goes at the end of `profiles:`; comments and spelling elsewhere stay
// as they were. Each missing group becomes `NAME: []` at the end of `addresses:` (an empty
// group matches nothing until the site fills it); a group already there is never touched. A
// flow-style (JSON) document — muzzled wrote device edits so before they kept the text — has
// no comments to keep: it is emitted again, whole, as block YAML. The line machinery is shared
// with the device edits' (fw/config/yaml_sections.h). Pure; any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "fw/common/status.h"
#include "muzzle/v1/policy.pb.h"

namespace muzzle {

// A comment line above an entry that starts with this ("# from MUD file https://...") is the
// entry's own: replacing the entry replaces it too.
inline constexpr std::string_view kImportComment = "from MUD file ";

struct ProfileText {
  const v1::Profile* profile = nullptr;
  std::string name;
  std::string comment;                     // above the entry: kImportComment + the URL
  std::vector<std::string> rule_comments;  // beside each rule, egress then inbound; may be empty
  std::vector<std::string> groups;         // address groups to add when missing
  std::string group_comment;               // beside each added group: "fill with ..."
};

struct ProfileTextResult {
  std::string text;
  bool replaced = false;                   // the policy had a profile of that name
  std::vector<std::string> groups_added;
  bool reformatted = false;                // flow-style input, emitted again whole
};

// kInvalidArgument when `policy_text` is not a YAML mapping (the current revision always is).
Result<ProfileTextResult> withProfile(std::string_view policy_text, const ProfileText& edit);

}  // namespace muzzle

// The policy compiler's shared state, for the files that compile each part of a policy:
// address groups and the list files they name (compile_addresses.cc), profiles and their rules
// (compile_rules.cc), their traffic classes and volume limits (compile_traffic.cc), the presets
// profiles are built on (compile_presets.cc), DNS
// (compile_dns.cc), devices and classification (compile_devices.cc).
// They all report to one DiagnosticSink, with the line the SourceMap knows for the field path,
// and spend the same budgets (policy_limits.h). Internal to fw/policy: the interface is
// policy_loader.h.
//
// One compiler per compile, on one thread; it keeps pointers into the map, the site facts and
// the sink, which must outlive it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "fw/config/diagnostics.h"
#include "fw/config/source_map.h"
#include "fw/policy/compiled_policy.h"
#include "fw/policy/list_cache.h"
#include "fw/policy/policy_limits.h"
#include "muzzle/v1/policy.pb.h"

namespace muzzle {

// A list file the policy names, as read for this compile.
struct IncludedFile {
  std::string name;  // as the policy names it
  std::string text;
};

// A rule's or limit's `when` as written, on one line: "mon-fri 07:00-19:00".
std::string scheduleText(const v1::Schedule& when);

class PolicyCompiler {
 public:
  // `folders`: where named files may be (PolicyFolders, in lookup order); `preset_folders`:
  // where presets are, in lookup order (PolicyFolders::preset_dirs, then the shipped ones);
  // `lists`: sets earlier compiles made of list files (null: none), which must outlive it.
  PolicyCompiler(const SourceMap& map, const SiteFacts& site, std::vector<std::string> folders,
                 std::vector<std::string> preset_folders, DiagnosticSink* sink,
                 ListCache* lists = nullptr)
      : folders_(std::move(folders)),
        preset_folders_(std::move(preset_folders)),
        map_(map),
        site_(site),
        sink_(sink),
        lists_(lists) {}

  // Fills `*out`; what is wrong goes to the sink (the sink bounds how many are kept). `*out` is
  // complete only when the sink stayed empty.
  void compile(const v1::Policy& policy, CompiledPolicy* out);

  // Text of the files the policy pulled in, so the digest changes when they do.
  const std::vector<IncludedFile>& groupFiles() const { return group_files_; }
  // Device list files (`devices: [{file: ...}]`), in the order the policy names them.
  const std::vector<IncludedFile>& deviceFiles() const { return device_files_; }
  const std::string& dohText() const { return doh_text_; }
  const std::string& mudTrustText() const { return mud_trust_text_; }
  // The presets the policy's profiles named (name: as named; text: as read), first use first.
  const std::vector<IncludedFile>& presetFiles() const { return preset_files_; }

 private:
  // A bound on something counted after expansion (addresses, names, bytes of named files).
  struct Budget {
    size_t limit;
    const char* what;  // "the policy's addresses"
    const char* fix;   // what to do about it
    size_t used = 0;
    bool reported = false;
  };

  // An address group's addresses: the entries written in the policy, or a list file's. `set` is
  // made from `cidrs` on first use (groupSet); a list file's is made as the file is read (or is
  // the one an earlier compile made of the same text: ListCache), with `cidrs` left empty.
  struct GroupAddresses {
    std::vector<Cidr> cidrs;
    std::shared_ptr<const AddressSet> set;
    size_t count = 0;  // the addresses it lists, either way; 0: the group lists only names
  };

  // A preset file a profile names (Profile.preset), read and parsed once per compile.
  struct Preset {
    std::string name;
    std::string file;  // where it was read, for errors and rule origins
    std::shared_ptr<const RuleOrigin::File> origin;  // its rules' origin (file and name)
    v1::Policy policy;
    SourceMap map;
    const v1::Profile* profile = nullptr;  // its profile of its own name
  };

  // `path` is a field of the file being compiled: the site's, or the preset's whose rules are
  // being compiled (in_preset_).
  void fail(const std::string& path, std::string message) {
    if (in_preset_ != nullptr) {
      // Once, though every profile built on the preset compiles its rules again.
      if (!preset_errors_.insert(in_preset_->name + "\n" + path + "\n" + message).second) return;
      sink_->addIn(in_preset_->file, in_preset_->map.lineOf(path), path, std::move(message));
    } else {
      sink_->add(map_.lineOf(path), path, std::move(message));
    }
  }
  // Counts `n` more against `budget`. Past it: false, so the caller stops adding, and one error,
  // at the first place that passed it.
  bool spend(Budget& budget, size_t n, const std::string& path);

  // Where a compiled device is listed: the policy's entry `devices[entry]` (line 0), or line
  // `line` of the file that entry names.
  struct DevicePlace {
    int entry = 0;
    int line = 0;
  };

  // compile_addresses.cc
  void compileGroups(const v1::Policy& policy);
  // Reads the file `name` a policy names in `field`, confined to the policy's folders
  // (confined_file.h) and counted against the bytes all named files may hold, into `*text`.
  // False, with the error reported at `field`, when it cannot be read or is past the bound.
  bool readNamedFile(const std::string& name, const std::string& field, std::string* text);
  // Reads a list file the policy names in `field` (address_list.h: one IP or CIDR a line),
  // confined to the policy's folders (confined_file.h). Returns its addresses (none when it
  // could not be read or passes a bound) and keeps the raw text in `*text` for the digest.
  // Errors sit where `field` does in the policy and name the list file's lines by number only:
  // the file is not the caller's text.
  std::vector<Cidr> readListFile(const std::string& name, const std::string& field,
                                 size_t max_entries, std::string* text);
  // readNamedFile for a list file, its last line newline-terminated.
  bool readListText(const std::string& name, const std::string& field, std::string* text);
  // The addresses of list file `name`, read as `text`, its errors reported (readListFile).
  // `*clean` (when given): no line was bad and no bound was passed.
  std::vector<Cidr> parseListText(const std::string& name, const std::string& field,
                                  size_t max_entries, const std::string& text,
                                  bool* clean = nullptr);
  // readListFile for an address group's `file` (at `field`), made a set at once, or the set an
  // earlier compile made of the same text (lists_); into `*group`.
  void readGroupFile(const std::string& name, const std::string& field, std::string* text,
                     GroupAddresses* group);

  // compile_rules.cc
  CompiledProfile compileProfile(const std::string& name, const v1::Profile& profile);
  CompiledRule compileRule(const v1::Rule& rule, const std::string& path, Action otherwise,
                           bool egress);
  Action compileOtherwise(const std::string& text, const std::string& path);
  // A rule's or limit's `when` (field `path`.when) as an index into schedules_ (shared by all
  // with the same window), or -1: none (`has_when` false), or wrong (reported).
  int16_t compileSchedule(bool has_when, const v1::Schedule& when, const std::string& path);
  // Compiles `rules` (field `from` of the site's file, or of `preset`'s) onto the end of the
  // profile's egress or inbound list, labelled by their place there, with their origin.
  void appendRules(const google::protobuf::RepeatedPtrField<v1::Rule>& rules,
                   const std::string& from, const Preset* preset, bool egress,
                   CompiledProfile* out);
  // The group's finalized set, built on first use and shared afterwards.
  std::shared_ptr<const AddressSet> groupSet(GroupAddresses& group);
  void addTarget(const std::string& target, const std::string& path, bool egress,
                 std::unordered_set<const AddressSet*>* groups, CompiledRule* rule);

  // compile_traffic.cc
  // The traffic class of address group `group` (compiled_policy.h), given on first use; none
  // past kMaxTrafficClasses.
  std::optional<uint8_t> groupClass(const std::string& group);
  // Adds `group` to the profile's class groups (once), when it has a class.
  void addClassGroup(const std::string& group, CompiledProfile* out);
  // A limit's `to` that is an IP, CIDR or DNS name rather than a group: a class of its own,
  // named as written; nullopt (reported at `field`) when it is none of those or no class is left.
  std::optional<ClassGroup> literalClass(const std::string& to, const std::string& field);
  // `profile.limits` (field `path`.limits) onto out->limits; the groups they name become the
  // profile's first class groups.
  void compileLimits(const v1::Profile& profile, const std::string& path, CompiledProfile* out);
  // The groups the profile's rules named (rule_groups_), after those of its limits.
  void compileTrafficClasses(CompiledProfile* out);

  // compile_presets.cc
  // The preset `name` names in `field` (profiles.X.preset), read on first use; null, with the
  // error reported once, when it is not a preset name, cannot be found or read, or is not a
  // preset file (a policy file holding a profile of its own name, not built on another preset).
  const Preset* preset(const std::string& name, const std::string& field);
  Result<std::string> readPreset(const std::string& file_name, std::string* folder);
  // A group a preset's rule names that the site's `addresses` lacks: reported at the site's
  // `preset:` line, once per profile and group.
  void missingPresetGroup(const std::string& group, const std::string& rule_path);

  // compile_dns.cc
  void compileDns(const v1::Policy& policy, CompiledPolicy* out);
  void loadDohList(const std::string& name, CompiledDns* dns);

  // compile_mud.cc
  void compileMud(const v1::Policy& policy, CompiledPolicy* out);

  // compile_devices.cc
  void compileDevices(const v1::Policy& policy, CompiledPolicy* out);
  // The devices of the files `devices` entries name, after the entries the policy lists itself
  // (`names`: the names taken so far, views into the policy and the files' texts).
  void compileDeviceFiles(const v1::Policy& policy,
                          std::unordered_map<std::string_view, uint32_t>* names,
                          CompiledPolicy* out);
  // "devices[3]" or "lists/devices.csv line 17", for errors about compiled device `device`.
  std::string devicePlace(const v1::Policy& policy, uint32_t device) const;
  void compileClassify(const v1::Policy& policy, CompiledPolicy* out);

  void compileSite(CompiledPolicy* out);

  std::vector<std::string> folders_;  // where named files may be (PolicyFolders)
  std::vector<std::string> preset_folders_;
  const SourceMap& map_;
  const SiteFacts& site_;
  DiagnosticSink* sink_;
  ListCache* lists_;
  Budget addresses_{kMaxAddresses, "the policy's addresses (groups, lists, rules, resolvers)",
                    "use fewer or wider CIDRs"};
  Budget rule_names_{kMaxRuleNames,
                     "the DNS names over all rules (a rule naming a group of names holds a copy)",
                     "name fewer groups of names, or in fewer rules"};
  Budget file_bytes_{kMaxNamedFilesBytes, "the bytes of the files this policy names",
                     "merge or trim the lists"};
  std::unordered_map<std::string, GroupAddresses> groups_;
  std::unordered_map<std::string, std::vector<NamePattern>> group_names_;  // groups' DNS names
  std::unordered_map<std::string, std::shared_ptr<const NameSet>> group_name_sets_;
  std::vector<std::string> traffic_classes_{"gateway", "local", "internet"};
  std::unordered_map<std::string, uint8_t> class_index_;  // group name -> traffic class
  std::vector<std::string> rule_groups_;  // groups the current profile's rules name, first first
  std::unordered_map<std::string, uint32_t> profile_index_;
  std::vector<CompiledSchedule> schedules_;  // moved into the compiled policy at the end
  std::vector<DevicePlace> device_places_;   // compiled device -> where it is listed
  std::vector<IncludedFile> group_files_;    // in group name order
  std::vector<IncludedFile> device_files_;   // in `devices` order
  std::string doh_text_;
  std::string mud_trust_text_;
  // Presets by name: null for one that failed (reported once).
  std::unordered_map<std::string, std::unique_ptr<Preset>> presets_;
  std::vector<IncludedFile> preset_files_;
  const Preset* in_preset_ = nullptr;  // whose rules are being compiled; null: the site's
  std::shared_ptr<const RuleOrigin::File> site_origin_;  // the site's rules' origin, made once
  std::string preset_field_;           // the site's field naming it ("profiles.X.preset")
  std::unordered_set<std::string> preset_errors_;   // reported already
  std::unordered_set<std::string> missing_groups_;  // "profiles.X.preset\ngroup", reported
  size_t preset_rules_ = 0;                         // rules presets added, against kMaxRules
  size_t site_rules_ = 0;                           // the site's own rules
  bool rules_over_reported_ = false;
};

}  // namespace muzzle

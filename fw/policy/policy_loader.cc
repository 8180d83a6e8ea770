#include "fw/policy/policy_loader.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstring>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "fw/common/confined_file.h"
#include "fw/common/excerpt.h"
#include "fw/common/sha256.h"
#include "fw/config/yaml_proto.h"
#include "fw/policy/address_list.h"
#include "fw/policy/policy_limits.h"

namespace muzzle {
namespace {

constexpr uint32_t kPolicyVersion = 1;
constexpr char kDefaultProfile[] = "quarantine";

// Length-prefixed, so no two different inputs render the same.
void digestField(Sha256* sha, std::string_view text) {
  sha->update(std::to_string(text.size()));
  sha->update(":");
  sha->update(text);
}

// A list file the policy names, as read for this compile.
struct IncludedFile {
  std::string name;  // as the policy names it
  std::string text;
};

std::string policyDigest(std::string_view text, const std::vector<IncludedFile>& group_files,
                         std::string_view doh_text, const SiteFacts& site) {
  Sha256 sha;
  digestField(&sha, "muzzle-policy-v1");
  digestField(&sha, text);
  // Files the policy names: address groups, then the DoH list (digested as before group files
  // existed, so an upgrade keeps the generation of a policy without them).
  for (const IncludedFile& file : group_files) {
    digestField(&sha, "addresses-file=" + file.name);
    digestField(&sha, file.text);
  }
  if (!doh_text.empty()) digestField(&sha, doh_text);
  digestField(&sha, "segments=" + std::to_string(site.segments.size()));
  for (const SegmentFacts& segment : site.segments) {
    digestField(&sha, segment.name);
    digestField(&sha, segment.ifname);
    digestField(&sha, std::to_string(segment.ifindex));
    digestField(&sha, "gateway=" + std::to_string(segment.gateway_addresses.size()));
    for (const IpAddress& ip : segment.gateway_addresses) digestField(&sha, ip.toString());
    digestField(&sha, "subnets=" + std::to_string(segment.subnets.size()));
    for (const Cidr& cidr : segment.subnets) digestField(&sha, cidr.toString());
  }
  digestField(&sha, "box=" + std::to_string(site.box_addresses.size()));
  for (const IpAddress& ip : site.box_addresses) digestField(&sha, ip.toString());
  return sha.hexDigest();
}

// The user's own text in an error: escaped and short.
std::string inQuotes(std::string_view text) { return quotedExcerpt(text); }

bool isValidName(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

bool isReservedGroupName(std::string_view name) {
  return name == "gateway" || name == "local" || name == "internet" || name == "any";
}

// Looks like a DNS name rather than a typo of a group: "*.vendor.com", "cloud.vendor.com".
bool looksLikeDomain(std::string_view target) {
  if (target.starts_with("*.")) return true;
  const bool has_dot = target.find('.') != std::string_view::npos;
  const bool has_letter = std::any_of(target.begin(), target.end(), [](char c) {
    return std::isalpha(static_cast<unsigned char>(c));
  });
  return has_dot && has_letter;
}

// A DNS name target as users write it: `host.example.com` or `*.example.com`. Labels of
// letters, digits, '-' and '_' (1-63 characters), at most 253 characters; `*` only as the whole
// first label of a wildcard.
std::optional<NamePattern> parseNamePattern(std::string_view target) {
  NamePattern pattern;
  std::string_view rest = target;
  if (rest.starts_with("*.")) {
    pattern.wildcard = true;
    rest.remove_prefix(2);
  }
  if (rest.empty() || rest.size() > 253 || rest.back() == '.') return std::nullopt;
  std::string lower;
  size_t label = 0;
  for (const char c : rest) {
    if (c == '.') {
      if (label == 0) return std::nullopt;
      label = 0;
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') {
      if (++label > 63) return std::nullopt;
    } else {
      return std::nullopt;
    }
    lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  pattern.suffix = pattern.wildcard ? "." + lower : lower;
  return pattern;
}

// The folder of `path`, or "." when it names none.
std::string directoryOf(std::string_view path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

std::optional<uint16_t> parsePort(std::string_view text) {
  unsigned value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  if (value < 1 || value > 65535) return std::nullopt;
  return static_cast<uint16_t>(value);
}

struct ProfileRef {
  std::string name;
  const v1::Profile* proto;
};

class Compiler {
 public:
  Compiler(std::string_view file_label, const SourceMap& map, const SiteFacts& site,
           std::vector<std::string> folders)
      : file_label_(file_label), folders_(std::move(folders)), map_(map), site_(site) {}

  // Past kMaxReportedErrors, errors are only counted: a policy of nothing but mistakes still
  // makes a message of bounded size.
  void fail(const std::string& path, const std::string& message) {
    if (errors_.size() >= kMaxReportedErrors) {
      ++more_errors_;
      return;
    }
    errors_.push_back({map_.lineOf(path), located(file_label_, map_, path, message)});
  }

  // In file order, so a user can fix them top to bottom; errors with no line (a missing key)
  // come first.
  std::vector<std::string> errors() const {
    std::vector<std::pair<int, std::string>> sorted = errors_;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::string> texts;
    for (auto& [line, text] : sorted) texts.push_back(std::move(text));
    if (more_errors_ > 0) {
      texts.push_back(std::string(file_label_) + ": " + std::to_string(more_errors_) +
                      " more errors not shown; fix these first");
    }
    return texts;
  }

  void compile(const v1::Policy& policy, CompiledPolicy* out) {
    // Counts first: a policy past one of them is not compiled further.
    if (const auto problems = countProblems(policy); !problems.empty()) {
      for (const auto& [path, message] : problems) fail(path, message);
      return;
    }
    if (policy.version() != kPolicyVersion) {
      if (policy.version() == 0 && map_.lineOf("version") == 0) {
        fail("version", "missing; start the file with \"version: 1\"");
      } else {
        fail("version", std::to_string(policy.version()) + " is not a supported version (1)");
      }
    }
    compileGroups(policy);

    // Sorted, so profile indices are the same for the same file.
    std::vector<std::string> names;
    for (const auto& [name, profile] : policy.profiles()) names.push_back(name);
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      if (!isValidName(name)) {
        fail("profiles." + name,
             inQuotes(name) + " is not a valid profile name (use letters, digits, _ . -)");
      }
      profile_index_.emplace(name, static_cast<uint32_t>(out->profiles.size()));
      out->profiles.push_back(compileProfile(name, policy.profiles().at(name)));
    }

    const std::string default_name =
        policy.defaults().profile().empty() ? kDefaultProfile : policy.defaults().profile();
    if (auto it = profile_index_.find(default_name); it != profile_index_.end()) {
      out->default_profile = it->second;
    } else if (policy.defaults().profile().empty()) {
      fail("defaults.profile",
           "no profile \"" + default_name +
               "\" (the default for devices not listed); define it or set defaults.profile");
    } else {
      fail("defaults.profile", inQuotes(default_name) + " is not a defined profile");
    }

    compileDevices(policy, out);
    compileClassify(policy, out);
    compileSite(out);
    compileDns(policy, out);
  }

  // Text of the files the policy pulled in, so the digest changes when they do.
  const std::vector<IncludedFile>& groupFiles() const { return group_files_; }
  const std::string& dohText() const { return doh_text_; }

 private:
  // A bound on something counted after expansion (addresses, names, bytes of named files).
  struct Budget {
    size_t limit;
    const char* what;  // "the policy's addresses"
    const char* fix;   // what to do about it
    size_t used = 0;
    bool reported = false;
  };

  // Counts `n` more against `budget`. Past it: false, so the caller stops adding, and one error,
  // at the first place that passed it.
  bool spend(Budget& budget, size_t n, const std::string& path) {
    if (n <= budget.limit - budget.used) {
      budget.used += n;
      return true;
    }
    if (!budget.reported) {
      budget.reported = true;
      fail(path, std::string("with this, ") + budget.what + " would be more than " +
                     std::to_string(budget.limit) + "; " + budget.fix);
    }
    return false;
  }

  void compileGroups(const v1::Policy& policy) {
    // Sorted, so errors come out in the same order every run; pointers, as a group can hold a
    // long list.
    std::vector<std::pair<std::string_view, const v1::AddressGroup*>> sorted;
    sorted.reserve(policy.addresses().size());
    for (const auto& [name, group] : policy.addresses()) sorted.emplace_back(name, &group);
    std::sort(sorted.begin(), sorted.end());
    for (const auto& [name_view, group] : sorted) {
      const std::string name(name_view);
      const std::string path = "addresses." + name;
      if (!isValidName(name)) {
        fail(path,
             inQuotes(name) + " is not a valid address group name (use letters, digits, _ . -)");
        continue;
      }
      if (isReservedGroupName(name)) {
        fail(path, inQuotes(name) +
                       " is a built-in target and cannot name an address group; choose another "
                       "name");
        continue;
      }
      std::vector<Cidr>& cidrs = groups_[name];
      if (!group->file().empty()) {
        if (group->entries_size() > 0) {
          fail(path,
               "a group lists its entries or names a file, not both; move the entries "
               "into the file");
          continue;
        }
        IncludedFile& included = group_files_.emplace_back();
        included.name = group->file();
        readListFile(group->file(), path + ".file", kMaxGroupEntries, &included.text,
                     [&](const Cidr& cidr) { cidrs.push_back(cidr); });
        continue;
      }
      cidrs.reserve(group->entries_size());
      for (int i = 0; i < group->entries_size(); ++i) {
        const std::string& text = group->entries(i);
        const std::string entry_path = path + "[" + std::to_string(i) + "]";
        if (auto cidr = Cidr::parse(text)) {
          if (!spend(addresses_, 1, entry_path)) break;
          cidrs.push_back(*cidr);
        } else if (text.find('/') == std::string::npos && looksLikeDomain(text)) {
          // A group of names: a vendor's cloud hosts, named once and used by many profiles.
          if (auto pattern = parseNamePattern(text)) {
            group_names_[name].push_back(std::move(*pattern));
          } else {
            fail(entry_path, inQuotes(text) +
                                 " is not a valid DNS name (host.example.com or "
                                 "*.example.com; letters, digits, - and _)");
          }
        } else {
          fail(entry_path, cidrProblem(text));
        }
      }
    }
  }

  // Reads a list file the policy names in `field` (address_list.h: one IP or CIDR a line),
  // confined to the policy's folders (confined_file.h). Calls `add` for each address and keeps
  // the raw text in `*text` for the digest. Errors sit where `field` does in the policy and
  // name the list file's lines by number only: the file is not the caller's text.
  template <typename Add>
  void readListFile(const std::string& name, const std::string& field, size_t max_entries,
                    std::string* text, Add&& add) {
    auto contents = readConfinedFile(folders_, name);
    if (!contents.ok()) {
      fail(field, contents.status().message());
      return;
    }
    if (!spend(file_bytes_, contents->size(), field)) return;
    *text = std::move(contents).value();
    // The digest has always seen every line newline-terminated (the DoH list was read by lines).
    if (!text->empty() && text->back() != '\n') text->push_back('\n');
    const AddressList list = parseAddressList(*text, max_entries);
    const std::string shown = excerpt(name);
    for (const int line : list.bad_lines) {
      fail(field, shown + ":" + std::to_string(line) +
                      ": not an IP address or CIDR (one a line, e.g. 198.18.1.4 or "
                      "198.18.1.0/24 with no host bits set; # starts a comment)");
    }
    if (list.bad_count > kMaxListErrors) {
      fail(field, shown + ": " + std::to_string(list.bad_count - kMaxListErrors) +
                      " more lines are not an IP address or CIDR; is it a list of addresses, one "
                      "a line?");
    }
    if (list.over_limit) {
      fail(field, shown + " lists more than " + std::to_string(max_entries) +
                      " addresses, the most one list may hold; split it");
    }
    if (!spend(addresses_, list.cidrs.size(), field)) return;
    for (const Cidr& cidr : list.cidrs) add(cidr);
  }

  static std::string cidrProblem(const std::string& text) {
    if (text.find('/') != std::string::npos) {
      return inQuotes(text) +
             " is not a valid CIDR (a network address with no host bits set, e.g. 198.18.1.0/24)";
    }
    return inQuotes(text) + " is not an IP address or CIDR";
  }

  void compileDns(const v1::Policy& policy, CompiledPolicy* out) {
    if (!policy.has_dns()) return;
    const v1::Dns& dns = policy.dns();
    CompiledDns& compiled = out->dns;
    compiled.enabled = true;
    if (dns.resolvers_size() == 0) {
      fail("dns.resolvers", "list the resolvers devices may use, e.g. [gateway]");
    }
    for (int i = 0; i < dns.resolvers_size(); ++i) {
      const std::string& target = dns.resolvers(i);
      const std::string path = "dns.resolvers[" + std::to_string(i) + "]";
      if (target == "gateway") {
        compiled.resolver_builtins |= kTargetGateway;
      } else if (target == "local" || target == "internet") {
        fail(path,
             inQuotes(target) + " is too wide for a resolver; name gateway, a group or an IP");
      } else if (auto group = groups_.find(target); group != groups_.end()) {
        if (group_names_.count(target) != 0) {
          fail(path, "address group " + inQuotes(target) +
                         " holds DNS names; a resolver is reached by address: name its IPs");
        }
        if (spend(addresses_, group->second.size(), path)) {
          for (const Cidr& cidr : group->second) compiled.resolvers.add(cidr);
        }
      } else if (auto cidr = Cidr::parse(target)) {
        if (spend(addresses_, 1, path)) compiled.resolvers.add(*cidr);
      } else {
        fail(path, inQuotes(target) + " is not gateway, an address group, an IP or a CIDR");
      }
    }
    compiled.resolvers.finalize();
    if (dns.has_cache_per_device()) {
      if (dns.cache_per_device() < 16 || dns.cache_per_device() > 1000000) {
        fail("dns.cache_per_device",
             std::to_string(dns.cache_per_device()) + " is not in 16..1000000");
      }
      compiled.cache_per_device = dns.cache_per_device();
    }
    if (dns.has_ttl_grace_seconds()) {
      if (dns.ttl_grace_seconds() > 3600) {
        fail("dns.ttl_grace_seconds",
             std::to_string(dns.ttl_grace_seconds()) + " is more than an hour");
      }
      compiled.ttl_grace_seconds = dns.ttl_grace_seconds();
    }
    if (!dns.doh_list().empty()) loadDohList(dns.doh_list(), &compiled);
    compiled.doh.finalize();
  }

  void loadDohList(const std::string& name, CompiledDns* dns) {
    readListFile(name, "dns.doh_list", kMaxDohEntries, &doh_text_, [&](const Cidr& cidr) {
      dns->doh.add(cidr);
      dns->doh_cidrs.push_back(cidr);
    });
  }

  CompiledProfile compileProfile(const std::string& name, const v1::Profile& profile) {
    CompiledProfile compiled;
    compiled.name = name;
    const std::string path = "profiles." + name;
    if (profile.otherwise().empty() || profile.otherwise() == "reject") {
      compiled.otherwise = Action::kReject;
    } else if (profile.otherwise() == "drop") {
      compiled.otherwise = Action::kDrop;
    } else {
      fail(path + ".otherwise",
           inQuotes(profile.otherwise()) + " is not an action (reject or drop)");
    }
    for (int i = 0; i < profile.egress_size(); ++i) {
      compiled.egress.push_back(compileRule(profile.egress(i),
                                            path + ".egress[" + std::to_string(i) + "]",
                                            compiled.otherwise, true));
    }
    for (int i = 0; i < profile.inbound_size(); ++i) {
      compiled.inbound.push_back(compileRule(profile.inbound(i),
                                             path + ".inbound[" + std::to_string(i) + "]",
                                             compiled.otherwise, false));
    }
    return compiled;
  }

  CompiledRule compileRule(const v1::Rule& rule, const std::string& path, Action otherwise,
                           bool egress) {
    CompiledRule compiled;
    compiled.label = path;
    compiled.log = rule.log();

    const bool has_allow = rule.allow_size() > 0;
    const bool has_deny = rule.deny_size() > 0;
    if (has_allow && has_deny) {
      fail(path, "a rule has allow or deny, not both; split it into two rules");
    } else if (!has_allow && !has_deny) {
      fail(path, "a rule needs allow or deny (a list of targets)");
    }
    compiled.action = has_allow ? Action::kAllow : otherwise;
    const char* key = has_allow ? "allow" : "deny";
    const auto& targets = has_allow ? rule.allow() : rule.deny();
    std::unordered_set<const AddressSet*> groups;  // named already by this rule
    for (int i = 0; i < targets.size(); ++i) {
      addTarget(targets[i], path + "." + key + "[" + std::to_string(i) + "]", egress, &groups,
                &compiled);
    }
    compiled.addresses.finalize();

    const std::string& proto = rule.proto();
    if (proto.empty() || proto == "any") {
      compiled.proto = ProtoMatch::kAny;
    } else if (proto == "tcp") {
      compiled.proto = ProtoMatch::kTcp;
    } else if (proto == "udp") {
      compiled.proto = ProtoMatch::kUdp;
    } else if (proto == "icmp") {
      compiled.proto = ProtoMatch::kIcmp;
    } else {
      fail(path + ".proto", inQuotes(proto) + " is not a protocol (tcp, udp, icmp or any)");
    }

    if (rule.ports_size() > 0 && compiled.proto != ProtoMatch::kTcp &&
        compiled.proto != ProtoMatch::kUdp) {
      fail(path + ".ports", "ports need proto: tcp or proto: udp");
    }
    for (int i = 0; i < rule.ports_size(); ++i) {
      const std::string& text = rule.ports(i);
      const std::string port_path = path + ".ports[" + std::to_string(i) + "]";
      const size_t dash = text.find('-');
      if (dash == std::string::npos) {
        if (auto port = parsePort(text)) {
          compiled.ports.push_back(PortRange{*port, *port});
        } else {
          fail(port_path, excerpt(text) + " is not a port");
        }
        continue;
      }
      const auto lo = parsePort(std::string_view(text).substr(0, dash));
      const auto hi = parsePort(std::string_view(text).substr(dash + 1));
      if (!lo || !hi) {
        fail(port_path, excerpt(text) + " is not a port range (e.g. 8000-8010)");
      } else if (*lo > *hi) {
        fail(port_path, excerpt(text) + " is not a port range (the low port comes first)");
      } else {
        compiled.ports.push_back(PortRange{*lo, *hi});
      }
    }
    return compiled;
  }

  // The finalized set for address group `name`, built on first use and shared afterwards.
  std::shared_ptr<const AddressSet> groupSet(const std::string& name,
                                             const std::vector<Cidr>& cidrs) {
    auto& set = group_sets_[name];
    if (!set) {
      auto built = std::make_shared<AddressSet>();
      for (const Cidr& cidr : cidrs) built->add(cidr);
      built->finalize();
      set = std::move(built);
    }
    return set;
  }

  void addTarget(const std::string& target, const std::string& path, bool egress,
                 std::unordered_set<const AddressSet*>* groups, CompiledRule* rule) {
    if (target == "gateway") {
      rule->builtins |= kTargetGateway;
    } else if (target == "local") {
      rule->builtins |= kTargetLocal;
    } else if (target == "internet") {
      rule->builtins |= kTargetInternet;
    } else if (auto group = groups_.find(target); group != groups_.end()) {
      if (!group->second.empty()) {
        auto set = groupSet(target, group->second);
        if (groups->insert(set.get()).second) rule->groups.push_back(std::move(set));
      }
      if (auto names = group_names_.find(target); names != group_names_.end()) {
        if (!egress) {
          fail(path, "address group " + inQuotes(target) +
                         " holds DNS names; names only apply to egress rules (where a device "
                         "goes), use a group of addresses for inbound");
        } else if (spend(rule_names_, names->second.size(), path)) {
          for (const NamePattern& pattern : names->second) rule->names.add(pattern);
        }
      }
    } else if (auto cidr = Cidr::parse(target)) {
      if (spend(addresses_, 1, path)) rule->addresses.add(*cidr);
    } else if (target.find('/') != std::string::npos) {
      fail(path, cidrProblem(target));
    } else if (looksLikeDomain(target)) {
      auto pattern = parseNamePattern(target);
      if (!pattern) {
        fail(path, inQuotes(target) +
                       " is not a valid DNS name target (host.example.com or *.example.com; "
                       "letters, digits, - and _)");
      } else if (!egress) {
        fail(path, inQuotes(target) +
                       " is a DNS name; names only apply to egress rules (where a device goes), "
                       "use addresses for inbound");
      } else if (spend(rule_names_, 1, path)) {
        rule->names.add(*pattern);
      }
    } else {
      fail(path, inQuotes(target) +
                     " is not an address group, IP, CIDR or built-in (gateway, local, internet)");
    }
  }

  void compileDevices(const v1::Policy& policy, CompiledPolicy* out) {
    std::unordered_map<std::string, int> names;
    for (int i = 0; i < policy.devices_size(); ++i) {
      const v1::Device& device = policy.devices(i);
      const std::string path = "devices[" + std::to_string(i) + "]";
      bool ok = true;
      if (device.name().empty()) {
        fail(path + ".name", "a device needs a name");
        ok = false;
      } else if (auto [it, inserted] = names.emplace(device.name(), i); !inserted) {
        fail(path + ".name", inQuotes(device.name()) + " is already the name of devices[" +
                                 std::to_string(it->second) + "]");
        ok = false;
      }

      std::optional<MacAddress> mac;
      if (device.mac().empty()) {
        fail(path + ".mac", "a device needs a mac (e.g. \"44:47:cc:12:34:56\")");
        ok = false;
      } else if (mac = MacAddress::parse(device.mac()); !mac) {
        fail(path + ".mac",
             inQuotes(device.mac()) + " is not an Ethernet address (e.g. \"44:47:cc:12:34:56\")");
        ok = false;
      } else if (auto it = out->device_by_mac.find(mac->value); it != out->device_by_mac.end()) {
        fail(path + ".mac", inQuotes(device.mac()) + " is already the mac of devices[" +
                                std::to_string(device_index_[it->second]) + "] (" +
                                out->devices[it->second].name + ")");
        ok = false;
      }

      // A listed device without a profile gets the default one, like an unlisted device.
      uint32_t profile = out->default_profile;
      if (!device.profile().empty()) {
        if (auto it = profile_index_.find(device.profile()); it != profile_index_.end()) {
          profile = it->second;
        } else {
          fail(path + ".profile", inQuotes(device.profile()) + " is not a defined profile");
          ok = false;
        }
      }

      if (!ok) continue;
      const auto index = static_cast<uint32_t>(out->devices.size());
      out->devices.push_back(CompiledDevice{device.name(), *mac, profile});
      out->device_by_mac.emplace(mac->value, index);
      device_index_.push_back(i);
    }
  }

  void compileClassify(const v1::Policy& policy, CompiledPolicy* out) {
    using Field = ClassifyRule::Field;
    for (int i = 0; i < policy.classify_size(); ++i) {
      const v1::ClassifyRule& rule = policy.classify(i);
      const std::string path = "classify[" + std::to_string(i) + "]";
      const std::pair<Field, const std::string*> matchers[] = {
          {Field::kVendor, &rule.vendor()},
          {Field::kVendorPrefix, &rule.vendor_prefix()},
          {Field::kDhcpHostname, &rule.dhcp_hostname()},
          {Field::kDhcpVendorClass, &rule.dhcp_vendor_class()},
          {Field::kMudUrl, &rule.mud_url()}};
      ClassifyRule compiled;
      compiled.label = path;
      int set = 0;
      for (const auto& [field, value] : matchers) {
        if (value->empty()) continue;
        ++set;
        compiled.field = field;
        compiled.pattern = *value;
      }
      bool ok = true;
      if (set != 1) {
        fail(path,
             "needs exactly one of vendor, vendor_prefix, dhcp_hostname, dhcp_vendor_class, "
             "mud_url (" +
                 std::to_string(set) + " given)");
        ok = false;
      }
      if (rule.profile().empty()) {
        fail(path + ".profile", "missing; name the profile devices matching this rule get");
        ok = false;
      } else if (auto it = profile_index_.find(rule.profile()); it == profile_index_.end()) {
        fail(path + ".profile", inQuotes(rule.profile()) + " is not a defined profile");
        ok = false;
      } else {
        compiled.profile = it->second;
      }
      if (ok) out->classify.push_back(std::move(compiled));
    }
  }

  void compileSite(CompiledPolicy* out) {
    for (const SegmentFacts& facts : site_.segments) {
      CompiledSegment segment;
      segment.name = facts.name;
      segment.ifindex = facts.ifindex;
      for (const IpAddress& ip : facts.gateway_addresses) segment.gateway.add(Cidr::host(ip));
      for (const Cidr& cidr : facts.subnets) segment.local.add(cidr);
      segment.gateway.finalize();
      segment.local.finalize();
      out->segments.push_back(std::move(segment));
    }
    for (const IpAddress& ip : site_.box_addresses) out->box_addresses.add(Cidr::host(ip));
    out->box_addresses.finalize();
  }

  std::string_view file_label_;
  std::vector<std::string> folders_;  // where named files may be (PolicyFolders)
  const SourceMap& map_;
  const SiteFacts& site_;
  std::vector<std::pair<int, std::string>> errors_;  // (line, message)
  size_t more_errors_ = 0;                           // past kMaxReportedErrors
  Budget addresses_{kMaxAddresses, "the policy's addresses (groups, lists, rules, resolvers)",
                    "use fewer or wider CIDRs"};
  Budget rule_names_{kMaxRuleNames,
                     "the DNS names over all rules (a rule naming a group of names holds a copy)",
                     "name fewer groups of names, or in fewer rules"};
  Budget file_bytes_{kMaxNamedFilesBytes, "the bytes of the files this policy names",
                     "merge or trim the lists"};
  std::unordered_map<std::string, std::vector<Cidr>> groups_;
  std::unordered_map<std::string, std::vector<NamePattern>> group_names_;  // groups' DNS names
  std::unordered_map<std::string, std::shared_ptr<const AddressSet>> group_sets_;
  std::unordered_map<std::string, uint32_t> profile_index_;
  std::vector<int> device_index_;          // compiled device -> index in the file's devices list
  std::vector<IncludedFile> group_files_;  // in group name order
  std::string doh_text_;
};

}  // namespace

Result<std::shared_ptr<const CompiledPolicy>> compilePolicyText(std::string_view yaml_text,
                                                                std::string_view file_label,
                                                                const SiteFacts& site,
                                                                const PolicyFolders& folders) {
  v1::Policy proto;
  SourceMap map;
  if (Status s = yamlToProto(yaml_text, file_label, &proto, &map); !s.ok()) return s;

  auto policy = std::make_shared<CompiledPolicy>();
  Compiler compiler(file_label, map, site,
                    {folders.policy_dir.empty() ? directoryOf(file_label) : folders.policy_dir,
                     folders.shipped_dir});
  compiler.compile(proto, policy.get());
  if (const std::vector<std::string> errors = compiler.errors(); !errors.empty()) {
    std::string joined;
    for (const std::string& e : errors) {
      if (!joined.empty()) joined += '\n';
      joined += e;
    }
    return Status::error(std::move(joined));
  }
  policy->digest = policyDigest(yaml_text, compiler.groupFiles(), compiler.dohText(), site);
  return std::shared_ptr<const CompiledPolicy>(std::move(policy));
}

Result<std::shared_ptr<const CompiledPolicy>> compilePolicyFile(const std::string& path,
                                                                const SiteFacts& site,
                                                                const std::string& shipped_dir) {
  auto text = readRegularFile(path);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) {
      return Status::error(path + ": cannot read the policy file (missing or unreadable)");
    }
    return Status::error(text.status().message());
  }
  return compilePolicyText(*text, path, site, PolicyFolders{directoryOf(path), shipped_dir});
}

}  // namespace muzzle

// Traffic classes and volume limits: which address groups a profile's traffic is split by
// (compiled_policy.h, ClassGroup), and its `limits:` (CompiledLimit).
#include <charconv>
#include <cmath>

#include "fw/common/excerpt.h"
#include "fw/policy/policy_compiler.h"
#include "fw/policy/policy_syntax.h"

namespace muzzle {
namespace {

constexpr std::chrono::seconds kMinLimitWindow{60};
constexpr std::chrono::seconds kMaxLimitWindow{7 * 24 * 3600};
constexpr uint64_t kMaxLimitBytes = uint64_t{1} << 50;  // 1 PiB: beyond any device's window

struct ByteUnit {
  std::string_view name;
  uint64_t bytes;
};
constexpr ByteUnit kByteUnits[] = {
    {"B", 1},           {"kB", 1'000},       {"KB", 1'000},         {"MB", 1'000'000},
    {"GB", 1'000'000'000}, {"TB", 1'000'000'000'000}, {"KiB", 1ull << 10}, {"MiB", 1ull << 20},
    {"GiB", 1ull << 30},   {"TiB", 1ull << 40}};

// "200MB", "1.5GB", "512KiB": a decimal number, then a unit. Nothing else (no spaces, no sign).
std::optional<uint64_t> parseAmount(std::string_view text) {
  const size_t unit_at = text.find_first_not_of("0123456789.");
  if (unit_at == 0 || unit_at == std::string_view::npos) return std::nullopt;
  const std::string_view number = text.substr(0, unit_at);
  const std::string_view unit = text.substr(unit_at);
  if (number.find('.') != number.rfind('.') || number.front() == '.' || number.back() == '.') {
    return std::nullopt;
  }
  double value = 0;
  auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (error != std::errc() || end != number.data() + number.size()) return std::nullopt;
  for (const ByteUnit& u : kByteUnits) {
    if (u.name != unit) continue;
    const double bytes = std::floor(value * static_cast<double>(u.bytes));
    if (!(bytes >= 1) || bytes > static_cast<double>(kMaxLimitBytes)) return std::nullopt;
    return static_cast<uint64_t>(bytes);
  }
  return std::nullopt;
}

// "90s", "10m", "1h", "1d": whole number and one unit.
std::optional<std::chrono::seconds> parseWindow(std::string_view text) {
  if (text.size() < 2 || text.size() > 8) return std::nullopt;
  const char unit = text.back();
  const int64_t scale = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : unit == 'd' ? 86400 : 0;
  if (scale == 0) return std::nullopt;
  int64_t n = 0;
  const std::string_view digits = text.substr(0, text.size() - 1);
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (error != std::errc() || end != digits.data() + digits.size() || n <= 0) return std::nullopt;
  return std::chrono::seconds(n * scale);
}

// Adds `group` to a profile's class groups unless its class is there already.
void addOnce(std::vector<ClassGroup>* groups, ClassGroup group) {
  for (const ClassGroup& known : *groups) {
    if (known.traffic_class == group.traffic_class) return;
  }
  groups->push_back(std::move(group));
}

std::optional<uint8_t> builtinClass(std::string_view target) {
  if (target == "gateway") return kClassGateway;
  if (target == "local") return kClassLocal;
  if (target == "internet") return kClassInternet;
  return std::nullopt;
}

}  // namespace

std::optional<uint8_t> PolicyCompiler::groupClass(const std::string& group) {
  if (auto it = class_index_.find(group); it != class_index_.end()) return it->second;
  if (traffic_classes_.size() >= kMaxTrafficClasses) return std::nullopt;
  const auto index = static_cast<uint8_t>(traffic_classes_.size());
  traffic_classes_.push_back(group);
  class_index_.emplace(group, index);
  return index;
}

void PolicyCompiler::addClassGroup(const std::string& group, CompiledProfile* out) {
  const auto index = groupClass(group);
  if (!index) return;  // past kMaxTrafficClasses: counted as the built-in it falls under
  ClassGroup entry;
  entry.traffic_class = *index;
  if (auto addresses = groups_.find(group);
      addresses != groups_.end() && addresses->second.count != 0) {
    entry.addresses = groupSet(addresses->second);
  }
  if (auto names = group_names_.find(group); names != group_names_.end()) {
    auto& set = group_name_sets_[group];
    if (!set) {
      auto built = std::make_shared<NameSet>();
      for (const NamePattern& pattern : names->second) built->add(pattern);
      set = std::move(built);
    }
    entry.names = set;
  }
  if (entry.addresses || entry.names) addOnce(&out->class_groups, std::move(entry));
}

void PolicyCompiler::compileLimits(const v1::Profile& profile, const std::string& path,
                                   CompiledProfile* out) {
  for (int i = 0; i < profile.limits_size(); ++i) {
    const v1::Limit& limit = profile.limits(i);
    const std::string at = path + ".limits[" + std::to_string(i) + "]";
    CompiledLimit compiled;
    compiled.label = "profiles." + out->name + ".limits[" + std::to_string(i) + "]";
    const std::string& to = limit.to();
    if (to.empty()) {
      compiled.all_classes = true;
    } else if (auto builtin = builtinClass(to)) {
      compiled.traffic_class = *builtin;
    } else if (groups_.count(to) != 0 || group_names_.count(to) != 0) {
      if (auto index = groupClass(to)) {
        compiled.traffic_class = *index;
        addClassGroup(to, out);
      } else {
        fail(at + ".to", "the policy's profiles already name " +
                             std::to_string(kMaxTrafficClasses - kFirstGroupClass) +
                             " address groups in limits, more than the box can count apart; "
                             "limit a built-in target (internet) or fewer groups");
      }
    } else if (auto literal = literalClass(to, at + ".to")) {
      compiled.traffic_class = literal->traffic_class;
      addOnce(&out->class_groups, std::move(*literal));
    }
    bool amounts_ok = true;
    for (const auto& [field, text, bytes] :
         {std::tuple{"upload", &limit.upload(), &compiled.upload_bytes},
          std::tuple{"download", &limit.download(), &compiled.download_bytes}}) {
      if (text->empty()) continue;
      if (auto amount = parseAmount(*text)) {
        *bytes = *amount;
      } else {
        amounts_ok = false;
        fail(at + "." + field, excerpt(*text) +
                                   " is not an amount: a number and a unit (B, kB, MB, GB, TB, "
                                   "KiB, MiB, GiB, TiB), like 200MB or 1.5GB");
      }
    }
    if (amounts_ok && compiled.upload_bytes == 0 && compiled.download_bytes == 0) {
      fail(at, "a limit needs upload, download or both (like upload: 200MB)");
    }
    if (auto window = parseWindow(limit.per());
        window && *window >= kMinLimitWindow && *window <= kMaxLimitWindow) {
      compiled.per = *window;
    } else if (limit.per().empty()) {
      fail(at, "a limit needs per: the window it counts in (like per: 1h)");
    } else {
      fail(at + ".per", excerpt(limit.per()) +
                            " is not a window from 1 minute to 7 days: a whole number and s, m, h "
                            "or d, like 10m, 1h or 1d");
    }
    if (limit.action().empty() || limit.action() == "alert") {
      compiled.block = false;
    } else if (limit.action() == "block") {
      compiled.block = true;
    } else {
      fail(at + ".action", inQuotes(limit.action()) + " is not a limit action (alert or block)");
    }
    compiled.source = (to.empty() ? std::string("all") : excerpt(to));
    if (!limit.upload().empty()) compiled.source += " upload " + excerpt(limit.upload());
    if (!limit.download().empty()) compiled.source += " download " + excerpt(limit.download());
    compiled.source += " per " + excerpt(limit.per()) + (compiled.block ? " block" : " alert");
    compiled.schedule = compileSchedule(limit.has_when(), limit.when(), at);
    if (limit.has_when()) compiled.source += " when " + scheduleText(limit.when());
    out->limits.push_back(std::move(compiled));
  }
}

std::optional<ClassGroup> PolicyCompiler::literalClass(const std::string& to,
                                                       const std::string& field) {
  ClassGroup entry;
  if (auto cidr = Cidr::parse(to)) {
    auto set = std::make_shared<AddressSet>();
    set->add(*cidr);
    set->finalize();
    entry.addresses = std::move(set);
  } else if (auto pattern = looksLikeDomain(to) ? parseNamePattern(to) : std::nullopt) {
    auto names = std::make_shared<NameSet>();
    names->add(*pattern);
    entry.names = std::move(names);
  } else {
    fail(field, inQuotes(to) +
                    " is not a target a limit can name: gateway, local, internet, an address "
                    "group, an IP or CIDR, or a DNS name (host.example.com, *.example.com)");
    return std::nullopt;
  }
  // Named as written: the class shows as "203.0.113.0/28" or "*.vendor.example".
  const auto index = groupClass(to);
  if (!index) {
    fail(field, "the policy already counts " + std::to_string(kMaxTrafficClasses) +
                    " traffic classes, more than the box can count apart; limit a built-in "
                    "target (internet) or an address group other limits name");
    return std::nullopt;
  }
  entry.traffic_class = *index;
  return entry;
}

void PolicyCompiler::compileTrafficClasses(CompiledProfile* out) {
  for (const std::string& group : rule_groups_) addClassGroup(group, out);
  rule_groups_.clear();
}

}  // namespace muzzle

#include "fw/mud/mud_values.h"

#include <algorithm>

#include "fw/common/excerpt.h"
#include "fw/mud/mud_json.h"

namespace muzzle::mud {

using nlohmann::json;

Status bad(const std::string& path, const std::string& message) {
  return Status::error(StatusCode::kInvalidArgument, path + ": " + message);
}

std::string_view withoutModule(std::string_view s) {
  auto colon = s.find(':');
  return colon == std::string_view::npos ? s : s.substr(colon + 1);
}

std::string groupSafe(std::string_view text) {
  std::string out;
  for (char c : text) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (keep) {
      out += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.substr(0, 80);
}

std::string_view withoutScheme(std::string_view uri) {
  if (auto s = uri.find("://"); s != std::string_view::npos) return uri.substr(s + 3);
  return uri;
}

Result<int64_t> integer(const json& j, const std::string& path, int64_t lo, int64_t hi,
                        const char* what) {
  if (!j.is_number_integer() && !j.is_number_unsigned()) return bad(path, "expected a number");
  if (j.is_number_unsigned() && j.get<uint64_t>() > static_cast<uint64_t>(hi)) {
    return bad(path, std::to_string(j.get<uint64_t>()) + " is not " + what);
  }
  const int64_t v = j.get<int64_t>();
  if (v < lo || v > hi) return bad(path, std::to_string(v) + " is not " + what);
  return v;
}

Result<std::string> text(const json& j, const std::string& path) {
  if (!j.is_string()) return bad(path, "expected a string");
  return j.get<std::string>();
}

Result<std::vector<std::string>> ports(const json& j, const std::string& path) {
  if (!j.is_object()) return bad(path, "expected an object (operator and port, or a range)");
  auto range = [](int64_t lo, int64_t hi) {
    lo = std::max<int64_t>(lo, 1);
    return lo == hi ? std::to_string(lo) : std::to_string(lo) + "-" + std::to_string(hi);
  };
  if (j.contains("lower-port") || j.contains("upper-port")) {
    if (!j.contains("lower-port") || !j.contains("upper-port"))
      return bad(path, "a port range needs both lower-port and upper-port");
    auto lo = integer(j["lower-port"], joinPath(path, "lower-port"), 0, 65535, "a port");
    if (!lo.ok()) return lo.status();
    auto hi = integer(j["upper-port"], joinPath(path, "upper-port"), 0, 65535, "a port");
    if (!hi.ok()) return hi.status();
    if (*lo > *hi) return bad(path, "lower-port is above upper-port");
    if (*hi == 0) return bad(joinPath(path, "upper-port"), "port 0 is not a port connections use");
    return std::vector<std::string>{range(*lo, *hi)};
  }
  if (!j.contains("port")) return bad(path, "expected operator and port, or lower-port and upper-port");
  auto port = integer(j["port"], joinPath(path, "port"), 0, 65535, "a port");
  if (!port.ok()) return port.status();
  std::string op = "eq";
  if (j.contains("operator")) {
    auto o = text(j["operator"], joinPath(path, "operator"));
    if (!o.ok()) return o.status();
    op = std::string(withoutModule(*o));
  }
  const int64_t p = *port;
  if (op == "eq") {
    if (p == 0) return bad(joinPath(path, "port"), "port 0 is not a port connections use");
    return std::vector<std::string>{std::to_string(p)};
  }
  if (op == "lte") {
    if (p == 0) return bad(joinPath(path, "port"), "port 0 is not a port connections use");
    return std::vector<std::string>{range(1, p)};
  }
  if (op == "gte") return std::vector<std::string>{range(p, 65535)};
  if (op == "neq") {
    std::vector<std::string> out;
    if (p > 1) out.push_back(range(1, p - 1));
    if (p < 65535) out.push_back(range(p + 1, 65535));
    return out;
  }
  return bad(joinPath(path, "operator"),
             quotedExcerpt(op) + " is not a port operator (eq, lte, gte, neq)");
}

}  // namespace muzzle::mud

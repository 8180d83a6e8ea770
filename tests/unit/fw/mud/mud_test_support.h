// Shared by the fw/mud tests: reading the MUD test files and rules as one line each.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include "fw/mud/mud_import.h"

namespace muzzle::test {

inline std::string mudFile(const std::string& name) {
  std::ifstream f(std::string(MUZZLE_SOURCE_DIR) + "/tests/data/mud/" + name);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// "allow a,b tcp 80,443" (proto and ports left out when any).
inline std::string ruleLines(const google::protobuf::RepeatedPtrField<v1::Rule>& rules) {
  std::string out;
  for (const v1::Rule& r : rules) {
    const bool allow = r.allow_size() > 0;
    out += allow ? "allow " : "deny ";
    std::string sep;
    for (const std::string& t : allow ? r.allow() : r.deny()) {
      out += sep + t;
      sep = ",";
    }
    if (!r.proto().empty()) out += " " + r.proto();
    sep = " ";
    for (const std::string& p : r.ports()) {
      out += sep + p;
      sep = ",";
    }
    out += "\n";
  }
  return out;
}

// "kind path: message" a line each.
inline std::string reportLines(const MudImport& m) {
  std::string out;
  for (const MudReport& r : m.reports)
    out += std::string(mudReportKindName(r.kind)) + " " + r.path + ": " + r.message + "\n";
  return out;
}

}  // namespace muzzle::test

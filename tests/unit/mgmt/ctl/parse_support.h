// Runs muzzlectl's command line in a test, without a box: what parse() returned and what it
// printed.
#pragma once

#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "mgmt/ctl/command_line.h"

namespace muzzle::ctl::testing {

struct Parsed {
  std::optional<int> exit;  // what parse() returned: set when muzzlectl is to exit at once
  std::string out, err;
};

// Parses `args` (without the program's name).
inline Parsed parse(CommandLine& cli, std::vector<std::string> args) {
  args.insert(args.begin(), "muzzlectl");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  Parsed p;
  p.exit = cli.parse(static_cast<int>(argv.size()), argv.data(), out, err);
  p.out = out.str();
  p.err = err.str();
  return p;
}

}  // namespace muzzle::ctl::testing

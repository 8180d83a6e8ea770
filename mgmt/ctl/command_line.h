// muzzlectl's command line: the global options and every command, parsed into an Invocation
// without touching any box (run.h carries it out).
//
// Global options (--socket, --target, --targets, --cert, --key, --ca, --server-name, --json,
// --timeout) are accepted before and after the command's name, at any depth, as kubectl, gh and
// docker do: `muzzlectl --json devices` and `muzzlectl devices --json` are the same.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <ostream>

#include "mgmt/ctl/invocation.h"

namespace muzzle::ctl {

class CommandLine {
 public:
  CommandLine();
  CommandLine(const CommandLine&) = delete;  // the parser's callbacks point into this object
  CommandLine& operator=(const CommandLine&) = delete;

  // Parses argv (argv[0] is the program). Returns nothing when there is a command to run (see
  // invocation()); otherwise the exit code, the help or the usage error already written to
  // `out`/`err`: 0 after --help, kExitUsage after a bad command line (also a policy FILE that
  // cannot be read or a bad --confirm duration).
  std::optional<int> parse(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

  const Invocation& invocation() const { return invocation_; }

 private:
  Invocation invocation_;
  CLI::App app_;
};

}  // namespace muzzle::ctl

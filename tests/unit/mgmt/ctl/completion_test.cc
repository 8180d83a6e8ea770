// muzzlectl completion bash: the script is made from the command line itself, and bash really
// completes with it (run here in a bash child, as a user's shell would).
#include <doctest/doctest.h>
#include <stdio.h>

#include <fstream>
#include <sstream>
#include <string>

#include "mgmt/ctl/output.h"
#include "tests/unit/mgmt/ctl/parse_support.h"
#include "tests/unit/support/temp_dir.h"

namespace muzzle::ctl {
namespace MUZZLE_UNITY_ID {

std::string script() {
  CommandLine cli;
  testing::Parsed p = testing::parse(cli, {"completion", "bash"});
  REQUIRE_FALSE(p.exit.has_value());
  REQUIRE(cli.invocation().whole);
  std::ostringstream out, err;
  CHECK(cli.invocation().whole(cli.invocation().options, out, err) == kExitOk);
  return out.str();
}

// What bash offers for the words of `line` (the last one being completed), one per line.
std::string complete(const std::string& path, const std::string& line) {
  const std::string command = "bash -c 'source " + path + " && COMP_WORDS=(" + line +
                              ") && COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) && _muzzlectl && "
                              "for w in \"${COMPREPLY[@]}\"; do echo \"$w\"; done' 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  ::pclose(pipe);
  return out;
}

TEST_CASE("the completion script completes commands, subcommands and options at their depth") {
  muzzle::testing::TempDir dir("completion");
  const std::string path = dir.path + "/muzzlectl.bash";
  std::ofstream(path) << script();

  CHECK(complete(path, "muzzlectl pol") == "policy\n");
  CHECK(complete(path, "muzzlectl fle") == "fleet\n");
  // A subcommand's own options, and the global ones.
  const std::string apply = complete(path, "muzzlectl policy apply --co");
  CHECK(apply.find("--confirm\n") != std::string::npos);
  CHECK(apply.find("--comment\n") != std::string::npos);
  CHECK(complete(path, "muzzlectl devices --js") == "--json\n");
  // The value of an option that takes one is not a command: `--socket status` then `po`.
  CHECK(complete(path, "muzzlectl --socket /run/x.sock pol") == "policy\n");
  CHECK(complete(path, "muzzlectl --socket pol") == "");
  // A flag takes no value: the word after it is a command.
  CHECK(complete(path, "muzzlectl --json pol") == "policy\n");
  // Nothing made up: an unknown prefix offers nothing.
  CHECK(complete(path, "muzzlectl zz") == "");
}

TEST_CASE("completion takes bash only") {
  CommandLine cli;
  testing::Parsed p = testing::parse(cli, {"completion", "fish"});
  REQUIRE(p.exit.has_value());
  CHECK(*p.exit == kExitUsage);
}

}  // namespace
}  // namespace muzzle::ctl

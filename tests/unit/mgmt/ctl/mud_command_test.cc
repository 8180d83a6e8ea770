// `muzzlectl mud import`, parsed without a box: the file is read while parsing (a missing or
// oversized one is a usage error before any box is asked), --confirm only with --apply.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "mgmt/ctl/command_line.h"
#include "mgmt/ctl/output.h"
#include "tests/unit/mgmt/ctl/parse_support.h"
#include "tests/unit/support/temp_dir.h"

namespace muzzle::ctl {
namespace MUZZLE_UNITY_ID {

const std::string kMud = std::string(MUZZLE_SOURCE_DIR) + "/tests/data/mud/cisco-Luminaire_150.json";

using testing::parse;
using testing::Parsed;

TEST_CASE("mud import: a preview, an apply with its options, the global options after it") {
  CommandLine preview;
  CHECK_FALSE(parse(preview, {"mud", "import", kMud}).exit.has_value());
  CHECK(preview.invocation().command);
  CommandLine apply;
  CHECK_FALSE(parse(apply, {"mud", "import", kMud, "--profile", "lamp", "--apply", "--confirm",
                            "10m", "--expect", "3", "--json"})
                  .exit.has_value());
  CHECK(apply.invocation().options.json);
}

TEST_CASE("mud import: usage errors before any box is asked") {
  CommandLine no_apply;
  Parsed p = parse(no_apply, {"mud", "import", kMud, "--confirm", "10m"});
  CHECK(p.exit == kExitUsage);
  CHECK(p.err.find("only with --apply") != std::string::npos);
  CommandLine missing;
  CHECK(parse(missing, {"mud", "import", "/nonexistent/mud.json"}).exit == kExitUsage);
  muzzle::testing::TempDir dir("mud_command_test");  // its own folder: never another run's file
  const std::string big = (dir / "big.json").string();
  std::ofstream(big) << std::string(256 * 1024 + 1, ' ');
  CommandLine oversized;
  p = parse(oversized, {"mud", "import", big});
  CHECK(p.exit == kExitUsage);
  CHECK(p.err.find("262144") != std::string::npos);
}

TEST_CASE("mud proposals and mud apply MAC: --confirm without --apply, a MAC required") {
  CommandLine list;
  CHECK_FALSE(parse(list, {"mud", "proposals", "--json"}).exit.has_value());
  CHECK(list.invocation().command);
  CommandLine apply;
  CHECK_FALSE(parse(apply, {"mud", "apply", "44:47:cc:00:00:11", "--confirm", "10m", "--expect",
                            "3", "--comment", "camera from its maker"})
                  .exit.has_value());
  CHECK(apply.invocation().command);
  CommandLine no_mac;
  CHECK(parse(no_mac, {"mud", "apply"}).exit == kExitUsage);
  CommandLine bad_confirm;
  CHECK(parse(bad_confirm, {"mud", "apply", "44:47:cc:00:00:11", "--confirm", "soon"}).exit ==
        kExitUsage);
  CommandLine no_apply_flag;  // `mud apply` always applies: it has no --apply
  CHECK(parse(no_apply_flag, {"mud", "apply", "44:47:cc:00:00:11", "--apply"}).exit == kExitUsage);
}

}  // namespace
}  // namespace muzzle::ctl

#include "fw/common/atomic_file.h"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include "fw/common/confined_file.h"
#include "tests/unit/support/temp_dir.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using testing::TempDir;

TEST_CASE("a file is replaced whole and no temp file is left behind") {
  TempDir dir;
  REQUIRE(writeFileAtomically(dir.path, "state", "one\n").ok());
  REQUIRE(writeFileAtomically(dir.path, "state", "two\n").ok());
  auto text = readRegularFile(dir.path + "/state");
  REQUIRE(text.ok());
  CHECK(*text == "two\n");
  CHECK_FALSE(std::filesystem::exists(dir.path + "/state.tmp"));
}

TEST_CASE("errors name the path") {
  auto s = writeFileAtomically("/nonexistent-muzzle-dir", "state", "x");
  CHECK_FALSE(s.ok());
  CHECK(s.message().find("/nonexistent-muzzle-dir/state.tmp") != std::string::npos);
  auto r = readRegularFile("/nonexistent-muzzle-dir/state");
  CHECK_FALSE(r.ok());
  CHECK(r.status().message() == "/nonexistent-muzzle-dir/state: no such file");
  CHECK(r.status().code() == StatusCode::kNotFound);
}

}  // namespace
}  // namespace muzzle

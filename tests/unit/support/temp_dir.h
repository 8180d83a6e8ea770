// A scratch folder for one test: /tmp/PREFIX.XXXXXX, made fresh and removed with everything in
// it when the TempDir goes out of scope, also when the test fails. The prefix names the test
// that made a folder a killed run left behind.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace muzzle::testing {

class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "muzzle-test") {
    std::string tmpl = "/tmp/" + std::string(prefix) + ".XXXXXX";
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    // A test may have taken the folder's permissions away (privileges_test): give them back,
    // or nothing in it could be removed.
    std::filesystem::permissions(path, std::filesystem::perms::owner_all, ec);
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // `name` inside the folder.
  std::filesystem::path operator/(std::string_view name) const {
    return std::filesystem::path(path) / name;
  }

  std::string path;
};

}  // namespace muzzle::testing

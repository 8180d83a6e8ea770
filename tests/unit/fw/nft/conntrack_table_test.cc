// The kernel's connection table as a whole (fw/nft/conntrack_table.h): /proc/net/stat/nf_conntrack
// parsed from text as the kernel prints it (a header naming the columns, a row of hex per CPU),
// every way that text can surprise refused with the file and line, and the reader over a /proc
// of a test's own (the stat file, nf_conntrack_count and nf_conntrack_max).
#include "fw/nft/conntrack_table.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/unit/support/temp_dir.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

// Kernel 6.x's header; the rows below have drop 0x10 + 0x1 and early_drop 0x2 + 0xff.
constexpr const char* kHeader =
    "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop "
    "early_drop icmp_error  expect_new expect_create expect_delete search_restart\n";
constexpr const char* kTwoCpus =
    "00000101  00000000 00000003 00000000 00000000 00000000 00000000 00000000 00000000 00000000 "
    "00000010 00000002 00000000  00000000 00000000 00000000 00000000\n"
    "00000101  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 "
    "00000001 000000ff 00000000  00000000 00000000 00000000 00000000\n";

TEST_CASE("early_drop and drop are summed over the CPUs' rows, found by the header's names") {
  const Result<ConntrackTableStats> s = parseConntrackStat(std::string(kHeader) + kTwoCpus);
  REQUIRE(s.ok());
  CHECK(s->drops == 0x11);
  CHECK(s->early_drops == 0x101);
  CHECK(s->entries == 0);  // not the stat file's: nf_conntrack_count says it
}

TEST_CASE("the columns are found by name wherever the kernel puts them") {
  const Result<ConntrackTableStats> s = parseConntrackStat(
      "early_drop entries drop\n0000000a 00000001 00000003\n"
      "00000001 00000001 00000000");  // no newline at the end
  REQUIRE(s.ok());
  CHECK(s->early_drops == 11);
  CHECK(s->drops == 3);
}

TEST_CASE("a header without a drop or an early_drop column is refused, naming the file and line") {
  const Result<ConntrackTableStats> s =
      parseConntrackStat("entries found drop\n00000001 00000002 00000003\n", "stat");
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().code() == StatusCode::kInvalidArgument);
  CHECK(s.status().message().find("stat:1: the header names no early_drop") != std::string::npos);
}

TEST_CASE("a row of another width, or a counter that is not hex, is refused with its line") {
  const std::string header = "drop early_drop\n";
  Result<ConntrackTableStats> s = parseConntrackStat(header + "00000001\n", "stat");
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().message().find("stat:2: a row of another width") != std::string::npos);
  s = parseConntrackStat(header + "00000001 00000002\n0000000g 00000001\n", "stat");
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().message().find("stat:3: a counter that is not hex: \"0000000g") !=
        std::string::npos);
  // More than 64 bits of hex is not a counter either.
  s = parseConntrackStat(header + "1ffffffffffffffff 0\n", "stat");
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().message().find("not hex") != std::string::npos);
}

TEST_CASE("an empty file is refused; blank lines are no rows") {
  CHECK_FALSE(parseConntrackStat("").ok());
  CHECK_FALSE(parseConntrackStat("\n\n").ok());
  const Result<ConntrackTableStats> s = parseConntrackStat("\ndrop early_drop\n\n00000002 1\n\n");
  REQUIRE(s.ok());
  CHECK(s->drops == 2);
  CHECK(s->early_drops == 1);
}

TEST_CASE("more rows than CPUs could be are refused: the parse's cost is bounded") {
  std::string text = "drop early_drop\n";
  for (int i = 0; i < 1025; ++i) text += "1 1\n";
  const Result<ConntrackTableStats> s = parseConntrackStat(text, "stat");
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().message().find("stat:1026: more rows than CPUs") != std::string::npos);
  text.resize(text.size() - 4);
  CHECK(parseConntrackStat(text).ok());
}

void writeFile(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

TEST_CASE("the table read from a /proc: entries and max from the sysctls, drops from the stat") {
  testing::TempDir proc("conntrack-table");
  writeFile(proc / "net/stat/nf_conntrack", std::string(kHeader) + kTwoCpus);
  writeFile(proc / "sys/net/netfilter/nf_conntrack_count", "1234\n");
  writeFile(proc / "sys/net/netfilter/nf_conntrack_max", "262144\n");
  Result<ConntrackTableStats> s = readConntrackTable(proc.path);
  REQUIRE(s.ok());
  CHECK(s->entries == 1234);
  CHECK(s->max == 262144);
  CHECK(s->drops == 0x11);
  CHECK(s->early_drops == 0x101);

  // A sysctl that is not a number, or a missing file, is an error naming the file.
  writeFile(proc / "sys/net/netfilter/nf_conntrack_max", "lots\n");
  s = readConntrackTable(proc.path);
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().message().find("nf_conntrack_max: not a number") != std::string::npos);
  std::filesystem::remove(proc / "net/stat/nf_conntrack");
  s = readConntrackTable(proc.path);
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().code() == StatusCode::kNotFound);
  CHECK(s.status().message().find("net/stat/nf_conntrack") != std::string::npos);
  CHECK(s.status().message().find("is the nf_conntrack module loaded?") != std::string::npos);
}

}  // namespace MUZZLE_UNITY_ID
}  // namespace muzzle

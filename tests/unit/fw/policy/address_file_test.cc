// Address groups read from a list file: `threats: {file: lists/threats.txt}`.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "fw/common/excerpt.h"
#include "fw/policy/policy_loader.h"
#include "tests/unit/support/temp_dir.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

bool inGroup(const CompiledRule& rule, const char* address) {
  for (const auto& group : rule.groups) {
    if (group->contains(ip(address))) return true;
  }
  return false;
}

// A scratch folder with a policy naming lists/threats.txt; removed with everything in it.
class ListDir {
 public:
  ListDir() { std::filesystem::create_directory(base_ + "/lists"); }

  void writeList(const std::string& text) const {
    std::ofstream(base_ + "/lists/threats.txt", std::ios::binary | std::ios::trunc) << text;
  }
  std::string listPath() const { return base_ + "/lists/threats.txt"; }
  std::string policyPath() const { return base_ + "/policy.yaml"; }
  const std::string& base() const { return base_; }

  Result<std::shared_ptr<const CompiledPolicy>> compile(const std::string& policy,
                                                        ListCache* lists = nullptr) const {
    return compilePolicyText(policy, policyPath(), SiteFacts{}, {}, lists);
  }

 private:
  testing::TempDir dir_{"muzzle-list-test"};
  const std::string base_ = dir_.path;
};

// Line 3 names the list file.
constexpr char kPolicy[] = R"(version: 1
addresses:
  threats: {file: lists/threats.txt}
profiles:
  quarantine:
    egress:
      - {deny: [threats]}
      - {allow: [internet]}
)";

TEST_CASE("address file: entries, comments, blank lines, both families") {
  ListDir dir;
  dir.writeList(
      "# threat feed, 2026-11-26\n"
      "198.19.128.4\n"
      "\n"
      "   198.19.200.0/24   # a whole block\n"
      "2001:db8:bad::/48\r\n"
      "198.19.129.8");  // no newline at the end
  auto p = dir.compile(kPolicy);
  REQUIRE_MESSAGE(p.ok(), p.status().message());
  const CompiledRule& deny = (*p)->profiles[0].egress[0];
  CHECK(inGroup(deny, "198.19.128.4"));
  CHECK(inGroup(deny, "198.19.200.77"));
  CHECK(inGroup(deny, "2001:db8:bad:1::1"));
  CHECK(inGroup(deny, "198.19.129.8"));
  CHECK_FALSE(inGroup(deny, "198.19.128.5"));
}

TEST_CASE("address file: the same addresses inline and from a file decide the same") {
  ListDir dir;
  dir.writeList("198.19.128.4\n2001:db8:bad::/48\n");
  auto from_file = dir.compile(kPolicy);
  auto inline_list = dir.compile(R"(version: 1
addresses:
  threats: [198.19.128.4, "2001:db8:bad::/48"]
profiles:
  quarantine:
    egress:
      - {deny: [threats]}
      - {allow: [internet]}
)");
  REQUIRE(from_file.ok());
  REQUIRE(inline_list.ok());
  for (const char* a : {"198.19.128.4", "198.19.128.5", "2001:db8:bad::9", "2001:db8::1"}) {
    CHECK(inGroup((*from_file)->profiles[0].egress[0], a) ==
          inGroup((*inline_list)->profiles[0].egress[0], a));
  }
  // The long form of the inline list is the same group.
  auto long_form = dir.compile(R"(version: 1
addresses:
  threats: {entries: [198.19.128.4]}
profiles: {quarantine: {egress: [{deny: [threats]}]}}
)");
  REQUIRE_MESSAGE(long_form.ok(), long_form.status().message());
  CHECK(inGroup((*long_form)->profiles[0].egress[0], "198.19.128.4"));
}

TEST_CASE("address file: an empty file, or only comments, is an empty group") {
  ListDir dir;
  for (const char* text : {"", "# nothing listed today\n\n"}) {
    dir.writeList(text);
    auto p = dir.compile(kPolicy);
    REQUIRE_MESSAGE(p.ok(), p.status().message());
    CHECK_FALSE(inGroup((*p)->profiles[0].egress[0], "198.19.128.4"));
  }
}

TEST_CASE("address file: a missing file names the policy line and the folder it tried") {
  ListDir dir;
  CHECK(dir.compile(kPolicy).status().message() ==
        dir.policyPath() + ":3: addresses.threats.file: \"lists/threats.txt\" does not exist in " +
            dir.base() + "; check the name (relative to the policy's folder)");
}

TEST_CASE("address file: a folder is not an empty list") {
  ListDir dir;
  std::filesystem::create_directory(dir.listPath());
  CHECK(dir.compile(kPolicy).status().message() ==
        dir.policyPath() +
            ":3: addresses.threats.file: \"lists/threats.txt\" is a folder; name a file in it");
}

TEST_CASE("address file: bad lines name the list file and their line, never their text") {
  ListDir dir;
  dir.writeList(
      "198.19.128.4\n"
      "evil.example\n"
      "# fine\n"
      "198.19.128.0/16\n"
      "198.19.300.1  # typo\n");
  // The file is not the caller's text: every bad line gets the same words, whatever it holds.
  const std::string where = dir.policyPath() + ":3: addresses.threats.file: lists/threats.txt:";
  const std::string what =
      ": not an IP address or CIDR (one a line, e.g. 198.18.1.4 or 198.18.1.0/24 with no host "
      "bits set; # starts a comment)";
  CHECK(dir.compile(kPolicy).status().message() ==
        where + "2" + what + "\n" + where + "4" + what + "\n" + where + "5" + what);
}

TEST_CASE("address file: a file that is not a list stops after 20 lines with a summary") {
  ListDir dir;
  std::string text;
  for (int i = 0; i < 25; ++i) text += "<html>\n";
  dir.writeList(text);
  const std::string message = dir.compile(kPolicy).status().message();
  CHECK(message.find("lists/threats.txt:20: ") != std::string::npos);
  CHECK(message.find("lists/threats.txt:21: ") == std::string::npos);
  CHECK(message.find("html") == std::string::npos);
  CHECK(
      message.ends_with("addresses.threats.file: lists/threats.txt: 5 more lines are not an "
                        "IP address or CIDR; is it a list of addresses, one a line?"));
}

TEST_CASE("address file: entries and a file together are refused") {
  ListDir dir;
  dir.writeList("198.19.128.4\n");
  CHECK(dir.compile(R"(version: 1
addresses:
  threats: {file: lists/threats.txt, entries: [198.19.1.1]}
profiles: {quarantine: {}}
)")
            .status()
            .message() == dir.policyPath() +
                              ":3: addresses.threats: a group lists its entries or names a file, "
                              "not both; move the entries into the file");
}

TEST_CASE("address file: wrong shapes of a group are schema errors") {
  ListDir dir;
  CHECK(dir.compile("version: 1\naddresses:\n  threats: {fil: x.txt}\nprofiles: {quarantine: {}}\n")
            .status()
            .message() == dir.policyPath() +
                              ":3: addresses.threats: unknown field \"fil\" (did you mean "
                              "\"file\"?)");
  CHECK(dir.compile(
               "version: 1\naddresses:\n  threats: {file: [a.txt]}\nprofiles: {quarantine: {}}\n")
            .status()
            .message() ==
        dir.policyPath() + ":3: addresses.threats.file: expected a value, found a list");
}

TEST_CASE(
    "address file: an absolute path only inside the policy's folder; policy_dir for a "
    "policy stored elsewhere") {
  ListDir dir;
  dir.writeList("198.19.128.4\n");
  const std::string policy = "version: 1\naddresses:\n  threats: {file: " + dir.listPath() +
                             "}\nprofiles: {quarantine: {egress: [{deny: [threats]}]}}\n";
  auto inside = compilePolicyText(policy, dir.policyPath(), SiteFacts{});
  REQUIRE_MESSAGE(inside.ok(), inside.status().message());
  CHECK(inGroup((*inside)->profiles[0].egress[0], "198.19.128.4"));
  CHECK(compilePolicyText(policy, "/nowhere/policy.yaml", SiteFacts{}).status().message() ==
        "/nowhere/policy.yaml:3: addresses.threats.file: \"" + excerpt(dir.listPath()) +
            "\" is outside the folders a policy may name files in (/nowhere); put the file in one "
            "of them and name it relative to it");
  // A revision is compiled under another label; the lists still come from the policy's folder.
  auto revision = compilePolicyText(kPolicy, "revision 7", SiteFacts{}, {dir.base(), ""});
  REQUIRE_MESSAGE(revision.ok(), revision.status().message());
  CHECK(inGroup((*revision)->profiles[0].egress[0], "198.19.128.4"));
}

TEST_CASE("address file: the digest follows the file's contents") {
  ListDir dir;
  dir.writeList("198.19.128.4\n");
  auto first = dir.compile(kPolicy);
  auto same = dir.compile(kPolicy);
  dir.writeList("198.19.128.8\n");
  auto changed = dir.compile(kPolicy);
  dir.writeList("198.19.128.4\n# a comment is a change too\n");
  auto commented = dir.compile(kPolicy);
  REQUIRE(first.ok());
  REQUIRE(same.ok());
  REQUIRE(changed.ok());
  REQUIRE(commented.ok());
  CHECK((*first)->digest == (*same)->digest);
  CHECK((*first)->digest != (*changed)->digest);
  CHECK((*first)->digest != (*commented)->digest);
  // Moving a line from the group file to the DoH list is a different policy, not the same bytes.
  const std::string with_doh =
      std::string(kPolicy) + "dns: {resolvers: [gateway], doh_list: lists/doh.txt}\n";
  dir.writeList("198.19.128.4\n203.0.113.53\n");
  std::ofstream(dir.base() + "/lists/doh.txt") << "";
  auto a = dir.compile(with_doh);
  dir.writeList("198.19.128.4\n");
  std::ofstream(dir.base() + "/lists/doh.txt") << "203.0.113.53\n";
  auto b = dir.compile(with_doh);
  REQUIRE_MESSAGE(a.ok(), a.status().message());
  REQUIRE_MESSAGE(b.ok(), b.status().message());
  CHECK((*a)->digest != (*b)->digest);
}

// The set the policy's first rule denies with (the list's group).
const AddressSet* listSet(const CompiledPolicy& policy) {
  const auto& groups = policy.profiles[0].egress[0].groups;
  return groups.empty() ? nullptr : groups[0].get();
}

TEST_CASE("address file: a compile reuses the set an earlier one made of the same text") {
  ListDir dir;
  ListCache lists;
  dir.writeList("198.19.128.4\n2001:db8:bad::/48\n");
  auto first = dir.compile(kPolicy, &lists);
  auto again = dir.compile(kPolicy, &lists);
  REQUIRE_MESSAGE(first.ok(), first.status().message());
  REQUIRE_MESSAGE(again.ok(), again.status().message());
  CHECK(lists.hits() == 1);
  REQUIRE(listSet(**first) != nullptr);
  CHECK(listSet(**again) == listSet(**first));  // the same object, not parsed again
  CHECK((*again)->digest == (*first)->digest);
  CHECK(inGroup((*again)->profiles[0].egress[0], "2001:db8:bad:7::1"));

  // One byte more is another text: parsed anew, and what it says is what counts.
  dir.writeList("198.19.128.8\n2001:db8:bad::/48\n");
  auto changed = dir.compile(kPolicy, &lists);
  REQUIRE_MESSAGE(changed.ok(), changed.status().message());
  CHECK(lists.hits() == 1);
  CHECK(listSet(**changed) != listSet(**first));
  CHECK(inGroup((*changed)->profiles[0].egress[0], "198.19.128.8"));
  CHECK_FALSE(inGroup((*changed)->profiles[0].egress[0], "198.19.128.4"));
  CHECK((*changed)->digest != (*first)->digest);
  // Either set is the one a compile without a cache makes.
  auto plain = dir.compile(kPolicy);
  REQUIRE(plain.ok());
  CHECK(listSet(**changed)->describe() == listSet(**plain)->describe());

  // Once no policy holds a set, the cache has none to give: the text is parsed again.
  dir.writeList("198.19.128.4\n2001:db8:bad::/48\n");
  first = Result<std::shared_ptr<const CompiledPolicy>>(Status::error("dropped"));
  again = first;
  auto reparsed = dir.compile(kPolicy, &lists);
  REQUIRE(reparsed.ok());
  CHECK(lists.hits() == 1);
  CHECK(inGroup((*reparsed)->profiles[0].egress[0], "198.19.128.4"));
}

TEST_CASE("address file: a list with a bad line is never reused; its errors come every time") {
  ListDir dir;
  ListCache lists;
  dir.writeList("198.19.128.4\nnot an address\n");
  const std::string error = dir.policyPath() +
                            ":3: addresses.threats.file: lists/threats.txt:2: not an IP address "
                            "or CIDR (one a line, e.g. 198.18.1.4 or 198.18.1.0/24 with no host "
                            "bits set; # starts a comment)";
  for (int i = 0; i < 2; ++i) {
    auto p = dir.compile(kPolicy, &lists);
    REQUIRE_FALSE(p.ok());
    CHECK(p.status().message() == error);
  }
  CHECK(lists.hits() == 0);
}

TEST_CASE("address file: a reused group named as resolvers gives the same resolvers") {
  ListDir dir;
  ListCache lists;
  dir.writeList("203.0.113.53\n");
  const std::string policy = std::string(kPolicy) + "dns: {resolvers: [threats]}\n";
  auto first = dir.compile(policy, &lists);
  auto again = dir.compile(policy, &lists);
  REQUIRE_MESSAGE(first.ok(), first.status().message());
  REQUIRE_MESSAGE(again.ok(), again.status().message());
  CHECK(lists.hits() == 1);
  for (const auto* p : {&first, &again}) {
    CHECK((**p)->dns.resolvers.contains(ip("203.0.113.53")));
    CHECK_FALSE((**p)->dns.resolvers.contains(ip("203.0.113.54")));
  }
}

TEST_CASE("list cache: bounded, and forgets sets no policy holds") {
  ListCache lists;
  std::vector<std::shared_ptr<const AddressSet>> held;
  for (size_t i = 0; i <= ListCache::kMaxEntries; ++i) {
    held.push_back(std::make_shared<AddressSet>());
    lists.remember("digest-" + std::to_string(i), {held.back(), 1});
  }
  CHECK_FALSE(lists.find("digest-0").has_value());  // the oldest went to make room
  const auto kept = lists.find("digest-1");
  REQUIRE(kept.has_value());
  CHECK(kept->set == held[1]);
  CHECK(kept->entries == 1);
  held[2].reset();
  CHECK_FALSE(lists.find("digest-2").has_value());  // its policy is gone
  CHECK(lists.hits() == 1);
}

}  // namespace
}  // namespace muzzle

// The YAML document builder's budget: aliases count as copies of what they name, and a document
// over the budget is refused where it passes it, without reading the rest.
#include "fw/config/yaml_document.h"

#include <doctest/doctest.h>

#include <string>

#include "fw/config/yaml_proto.h"
#include "muzzle/v1/policy.pb.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

// "Billion laughs": line 2 is a list of `width` addresses, and every later line a list of
// `width` aliases to the line before it, so line k+2 expands to about width^(k+1) nodes.
std::string aliasBomb(int levels, int width) {
  std::string text = "version: 1\nl0: &l0 [";
  for (int i = 0; i < width; ++i) text += std::string(i ? ", " : "") + "198.18.1.1";
  text += "]\n";
  for (int level = 1; level <= levels; ++level) {
    const std::string name = "l" + std::to_string(level);
    text += name + ": &" + name + " [";
    for (int i = 0; i < width; ++i) {
      text += std::string(i ? ", " : "") + "*l" + std::to_string(level - 1);
    }
    text += "]\n";
  }
  return text;
}

TEST_CASE("an 11 KB alias bomb stops at the line that passes the node budget") {
  const std::string bomb = aliasBomb(19, 100);
  REQUIRE(bomb.size() > 10'000);
  REQUIRE(bomb.size() < 12'000);
  YamlDocument document;
  const Status s = document.parse(bomb, "p.yaml");
  // l1 expands to 10,101 nodes; the 50th alias to it on line 4 (l2) passes 500,000.
  CHECK(s.message() ==
        "p.yaml:4: with its aliases expanded, the document has more than 500000 values, lists "
        "and mappings; an alias counts as a copy of what it names, so use fewer or smaller ones");
  CHECK(document.root() < 0);
  // It stopped there: only the nodes of lines 1-4 were built (the root, each key and list, the
  // 100 addresses), not the ~2,000 of the whole text.
  CHECK(document.nodeCount() == 1 + 2 + (2 + 100) + 2 + 2);

  // Through the policy reader the same error comes back, and no walk over it ever starts.
  v1::Policy policy;
  CHECK(yamlToProto(bomb, "p.yaml", &policy, nullptr).message() == s.message());
}

TEST_CASE("the scalar byte budget counts aliased text as copies") {
  // Keys "a" and "b", 100 bytes under the anchor and ten copies through aliases: 1,102 bytes.
  const std::string text =
      "a: &a " + std::string(100, 'x') + "\nb: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n";
  YamlDocument within(YamlBudget{1000, 1102});
  CHECK(within.parse(text, "p.yaml").ok());
  YamlDocument over(YamlBudget{1000, 1101});
  CHECK(over.parse(text, "p.yaml")
            .message()
            .starts_with("p.yaml:2: with its aliases expanded, the document's values hold more "
                         "than 1101 bytes"));
}

TEST_CASE("the budget is checked exactly at its limit") {
  // The root map, key "a", the list and its ten items, key "b", and the alias to the list (11
  // more): 25 nodes.
  const std::string text = "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nb: *a\n";
  YamlDocument exact(YamlBudget{25, 1000});
  CHECK(exact.parse(text, "p.yaml").ok());
  YamlDocument under(YamlBudget{24, 1000});
  CHECK(under.parse(text, "p.yaml").message().starts_with("p.yaml:"));
  // Two 1-byte keys, ten items of 11 bytes together, and those 11 again through the alias.
  YamlDocument bytes(YamlBudget{1000, 24});
  CHECK(bytes.parse(text, "p.yaml").ok());
  YamlDocument tight(YamlBudget{1000, 23});
  CHECK(tight.parse(text, "p.yaml").message() ==
        "p.yaml:2: with its aliases expanded, the document's values hold more than 23 bytes; an "
        "alias counts as a copy of what it names, so use fewer or smaller ones");
}

TEST_CASE("raw nodes count against the budget as they arrive") {
  std::string text = "[";
  for (int i = 0; i < 50; ++i) text += "1,\n";
  text += "1]\n";
  YamlDocument document(YamlBudget{20, 1000});
  CHECK(document.parse(text, "p.yaml").message() ==
        "p.yaml:20: the document has more than 20 values, lists and mappings; move long lists "
        "of addresses into list files");
  CHECK(document.nodeCount() == 20);
}

TEST_CASE("a document within the budget keeps what the walk needs") {
  YamlDocument document;
  REQUIRE(document.parse("a: &x [1, 2]\nb: *x\n", "p.yaml").ok());
  const YamlNode root(document, static_cast<uint32_t>(document.root()));
  REQUIRE(root.IsMap());
  REQUIRE(root.size() == 2);
  CHECK(root.value(1).IsSequence());
  CHECK(root.value(1).item(1).Scalar() == "2");
  CHECK(document.node(static_cast<uint32_t>(document.root())).expanded_nodes == 1 + 2 + 3 + 3);
}

}  // namespace
}  // namespace muzzle

#include "fw/config/yaml_proto.h"

#include <doctest/doctest.h>
#include <google/protobuf/type.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/wrappers.pb.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "muzzle/v1/config.pb.h"
#include "muzzle/v1/policy.pb.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

// Lines in these snippets are numbered from 1 at the line that follows R"(.
Status load(std::string_view yaml, google::protobuf::Message* out, SourceMap* map = nullptr) {
  return yamlToProto(yaml, "p.yaml", out, map);
}

TEST_CASE("a nested policy maps onto the proto and every path gets its line") {
  v1::Policy policy;
  SourceMap map;
  const Status s = load(R"(version: 1
defaults: {profile: quarantine}
addresses:
  nvr: [198.18.1.10, fd00:1::10]
profiles:
  camera:
    egress:
      - {allow: [nvr], proto: tcp, ports: [554, 8000]}
      - allow: [gateway]
        proto: udp
        ports:
          - 53
          - 123
        log: true
devices:
  - {name: lobby-cam, mac: "44:47:cc:12:34:56", profile: camera}
  - name: vacuum
    mac: 44:47:cc:00:00:01
)",
                        &policy, &map);
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(policy.version() == 1);
  CHECK(policy.defaults().profile() == "quarantine");
  REQUIRE(policy.addresses().count("nvr") == 1);
  const auto& nvr = policy.addresses().at("nvr");
  REQUIRE(nvr.entries_size() == 2);
  CHECK(nvr.entries(0) == "198.18.1.10");
  CHECK(nvr.entries(1) == "fd00:1::10");
  const v1::Profile& camera = policy.profiles().at("camera");
  REQUIRE(camera.egress_size() == 2);
  CHECK(camera.egress(0).ports(1) == "8000");
  CHECK(camera.egress(1).log());
  CHECK(camera.egress(1).ports(1) == "123");
  REQUIRE(policy.devices_size() == 2);
  CHECK(policy.devices(1).mac() == "44:47:cc:00:00:01");

  CHECK(map.lineOf("version") == 1);
  CHECK(map.lineOf("defaults.profile") == 2);
  CHECK(map.lineOf("addresses.nvr") == 4);
  CHECK(map.lineOf("addresses.nvr[1]") == 4);
  CHECK(map.lineOf("profiles.camera") == 6);
  CHECK(map.lineOf("profiles.camera.egress") == 7);
  CHECK(map.lineOf("profiles.camera.egress[0]") == 8);
  CHECK(map.lineOf("profiles.camera.egress[0].ports[1]") == 8);
  CHECK(map.lineOf("profiles.camera.egress[1]") == 9);
  CHECK(map.lineOf("profiles.camera.egress[1].proto") == 10);
  CHECK(map.lineOf("profiles.camera.egress[1].ports[0]") == 12);
  CHECK(map.lineOf("profiles.camera.egress[1].ports[1]") == 13);
  CHECK(map.lineOf("devices[1]") == 17);
  CHECK(map.lineOf("devices[1].mac") == 18);
  // Unrecorded paths fall back to their nearest recorded ancestor.
  CHECK(map.lineOf("profiles.camera.egress[1].deny") == 9);
  CHECK(map.lineOf("profiles.camera.inbound") == 6);
  CHECK(map.lineOf("nothing") == 0);
  CHECK(map.lineOf("") == 0);
}

TEST_CASE("JSON input works, with camelCase or snake_case names") {
  v1::DaemonConfig config;
  SourceMap map;
  const Status s = load(R"({"segments": [{"name": "iot", "interface": "eth1"}],
 "failMode": "open", "queue": {"first": 7, "count": "2"}, "policy": "p.yaml"})",
                        &config, &map);
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(config.segments(0).interface() == "eth1");
  CHECK(config.fail_mode() == "open");
  CHECK(config.queue().first() == 7);
  CHECK(config.queue().count() == 2);
  CHECK(map.lineOf("fail_mode") == 2);
}

TEST_CASE("protobuf 3.21's JSON parser takes quoted integers and literal booleans") {
  // yamlToProto relies on this: integers are emitted as JSON strings.
  v1::QueueConfig queue;
  CHECK(google::protobuf::util::JsonStringToMessage(R"({"first": "42"})", &queue).ok());
  CHECK(queue.first() == 42);
  v1::Rule rule;
  CHECK(google::protobuf::util::JsonStringToMessage(R"({"log": true})", &rule).ok());
  CHECK(rule.log());
}

TEST_CASE("unknown fields are named with their line, at any depth") {
  v1::Policy policy;
  SUBCASE("top level, nothing close: the valid names are listed") {
    const Status s = load("version: 1\nzzz: 3\n", &policy);
    CHECK(s.message() ==
          "p.yaml:2: unknown field \"zzz\" (expected one of: version, defaults, addresses, "
          "profiles, devices, dns, classify, mud)");
  }
  SUBCASE("nested, with a suggestion") {
    const Status s = load(R"(version: 1
profiles:
  camera:
    egress:
      - allow: [nvr]
        protocol: tcp
)",
                          &policy);
    CHECK(s.message() ==
          "p.yaml:6: profiles.camera.egress[0]: unknown field \"protocol\" (did you mean "
          "\"proto\"?)");
  }
}

TEST_CASE("wrong shapes are errors with their line") {
  v1::Policy policy;
  SUBCASE("a list where a mapping is expected") {
    CHECK(load("version: 1\ndefaults: [quarantine]\n", &policy).message() ==
          "p.yaml:2: defaults: expected a mapping of fields, found a list");
  }
  SUBCASE("a mapping for a scalar") {
    CHECK(load("version: {major: 1}\n", &policy).message() ==
          "p.yaml:1: version: expected a value, found a mapping");
  }
  SUBCASE("a scalar for a repeated field") {
    CHECK(load("version: 1\nprofiles:\n  camera:\n    egress: {allow: nvr}\n", &policy).message() ==
          "p.yaml:4: profiles.camera.egress: expected a list, found a mapping");
    CHECK(
        load("version: 1\nprofiles:\n  camera:\n    egress: [{allow: nvr}]\n", &policy).message() ==
        "p.yaml:4: profiles.camera.egress[0].allow: expected a list, found \"nvr\"");
  }
  SUBCASE("a scalar where a map field is expected") {
    CHECK(load("profiles: camera\n", &policy).message() ==
          "p.yaml:1: profiles: expected a mapping, found \"camera\"");
  }
  SUBCASE("not a number for an integer") {
    CHECK(load("version: one\n", &policy).message() ==
          "p.yaml:1: version: expected a whole number, found \"one\"");
    CHECK(load("version: -1\n", &policy).message() ==
          "p.yaml:1: version: -1 is out of range (must not be negative)");
    CHECK(load("version: 99999999999\n", &policy).message() ==
          "p.yaml:1: version: 99999999999 is out of range (0..4294967295)");
  }
  SUBCASE("not true or false for a bool") {
    CHECK(load("profiles:\n  cam:\n    egress:\n      - {allow: [local], log: yes}\n", &policy)
              .message() ==
          "p.yaml:4: profiles.cam.egress[0].log: expected true or false, found \"yes\"");
  }
  SUBCASE("an address group must be a list of scalars") {
    // A group is a list or {entries, file}; the message names both forms.
    CHECK(load("addresses:\n  nvr: 198.18.1.10\n", &policy).message() ==
          "p.yaml:2: addresses.nvr: expected a list or a mapping of fields (entries, file), found "
          "\"198.18.1.10\"");
    CHECK(load("addresses:\n  nvr:\n    - 198.18.1.10\n    - {ip: 198.18.1.11}\n", &policy)
              .message() == "p.yaml:4: addresses.nvr[1]: expected a value, found a mapping");
  }
  SUBCASE("the document must be a mapping") {
    CHECK(load("- a\n- b\n", &policy).message() ==
          "p.yaml:1: expected a mapping of fields, found a list");
  }
}

TEST_CASE("every error is reported, one per line") {
  v1::Policy policy;
  const Status s = load(R"(version: x
defaults: {profil: camera}
devices:
  - {name: a, mac: 1, colour: red}
)",
                        &policy);
  CHECK(s.message() ==
        "p.yaml:1: version: expected a whole number, found \"x\"\n"
        "p.yaml:2: defaults: unknown field \"profil\" (did you mean \"profile\"?)\n"
        "p.yaml:4: devices[0]: unknown field \"colour\" (expected one of: name, mac, profile, "
        "quarantined_from, file)");
}

TEST_CASE("duplicate keys are errors naming both lines") {
  v1::Policy policy;
  CHECK(load("version: 1\nprofiles:\n  cam: {}\n  cam: {}\nversion: 1\n", &policy).message() ==
        "p.yaml:4: profiles: duplicate key \"cam\" (first at line 3)\n"
        "p.yaml:5: duplicate key \"version\" (first at line 1)");
  v1::DaemonConfig config;
  // The JSON name and the proto name are the same field.
  CHECK(load("fail_mode: open\nfailMode: closed\n", &config).message() ==
        "p.yaml:2: duplicate key \"failMode\" (first at line 1)");
}

TEST_CASE("YAML syntax errors and empty documents") {
  v1::Policy policy;
  CHECK(load("version: 1\nprofiles: [a\n", &policy)
            .message()
            .starts_with("p.yaml:3: YAML syntax error: "));
  CHECK(load("version: 1\n  bad: indent\n", &policy)
            .message()
            .starts_with("p.yaml:2: YAML syntax error: "));
  CHECK(load("", &policy).message() == "p.yaml: the file is empty (expected a mapping of fields)");
  CHECK(load("# just a comment\n", &policy).message() ==
        "p.yaml: the file is empty (expected a mapping of fields)");
}

TEST_CASE("empty values mean 'not set'") {
  v1::Policy policy;
  const Status s = load("version: 1\ndefaults:\nprofiles:\n  quarantine:\n", &policy);
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(policy.profiles().count("quarantine") == 1);
  CHECK(policy.defaults().profile().empty());
}

TEST_CASE("scalar_as_list accepts one scalar for a list, only where asked") {
  v1::DaemonConfig config;
  YamlToProtoOptions options;
  options.scalar_as_list = {"uplink"};
  REQUIRE(yamlToProto("uplink: eth0\n", "c.yaml", &config, nullptr, options).ok());
  REQUIRE(config.uplink_size() == 1);
  CHECK(config.uplink(0) == "eth0");
  CHECK(yamlToProto("uplink: eth0\n", "c.yaml", &config, nullptr).message() ==
        "c.yaml:1: uplink: expected a list, found \"eth0\"");
}

TEST_CASE("a bare list stands for a message that names a list_shorthand field") {
  v1::Policy policy;
  SourceMap map;
  const Status s = load(R"(addresses:
  nvr:
    - 198.18.1.10
    - fd00:1::10
  threats: {file: lists/threats.txt}
  both: {entries: [198.18.1.11]}
  none:
)",
                        &policy, &map);
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(policy.addresses().at("nvr").entries_size() == 2);
  CHECK(policy.addresses().at("threats").file() == "lists/threats.txt");
  CHECK(policy.addresses().at("threats").entries_size() == 0);
  CHECK(policy.addresses().at("both").entries(0) == "198.18.1.11");
  CHECK(policy.addresses().at("none").entries_size() == 0);
  // Elements of the short form keep the paths users see: addresses.nvr[1], not .entries[1].
  CHECK(map.lineOf("addresses.nvr[1]") == 4);
  CHECK(map.lineOf("addresses.threats.file") == 5);
  // Only messages that say so: a rule written as a bare list is still an error.
  CHECK(load("profiles:\n  cam:\n    egress: [[nvr]]\n", &policy).message() ==
        "p.yaml:3: profiles.cam.egress[0]: expected a mapping of fields, found a list");
}

// Reflection edge cases, on protobuf's own messages: what the JSON mapping used to decide.
TEST_CASE("enums by name, 32- and 64-bit ranges, lowerCamel names") {
  google::protobuf::Field field;
  const Status s = load(R"(kind: TYPE_STRING
cardinality: CARDINALITY_REPEATED
number: "+7"
oneofIndex: -3
json_name: fooBar
packed: TRUE
)",
                        &field);
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(field.kind() == google::protobuf::Field::TYPE_STRING);
  CHECK(field.cardinality() == google::protobuf::Field::CARDINALITY_REPEATED);
  CHECK(field.number() == 7);
  CHECK(field.oneof_index() == -3);
  CHECK(field.json_name() == "fooBar");
  CHECK(field.packed());
  CHECK(
      load("kind: TYPE_STRNG\n", &field)
          .message()
          .starts_with("p.yaml:1: kind: \"TYPE_STRNG\" is not one of TYPE_UNKNOWN, TYPE_DOUBLE, "));
  CHECK(load("kind: 9\n", &field).message().starts_with("p.yaml:1: kind: \"9\" is not one of"));
  CHECK(load("number: 2147483648\n", &field).message() ==
        "p.yaml:1: number: 2147483648 is out of range (-2147483648..2147483647)");
  CHECK(load("number: 1.5\n", &field).message() ==
        "p.yaml:1: number: expected a whole number, found \"1.5\"");

  google::protobuf::Int64Value big;
  REQUIRE(load("value: \"-9223372036854775808\"\n", &big).ok());
  CHECK(big.value() == std::numeric_limits<int64_t>::min());
  CHECK(load("value: 9223372036854775808\n", &big).message() ==
        "p.yaml:1: value: 9223372036854775808 is out of range "
        "(-9223372036854775808..9223372036854775807)");
  google::protobuf::UInt64Value ubig;
  REQUIRE(load("value: 18446744073709551615\n", &ubig).ok());
  CHECK(ubig.value() == std::numeric_limits<uint64_t>::max());
}

TEST_CASE("floating point, bytes and text that is not UTF-8") {
  google::protobuf::DoubleValue d;
  REQUIRE(load("value: 1.5e3\n", &d).ok());
  CHECK(d.value() == 1500.0);
  CHECK(load("value: .inf\n", &d).message() ==
        "p.yaml:1: value: expected a number, found \".inf\"");
  google::protobuf::FloatValue f;
  CHECK(load("value: 1e39\n", &f).message() ==
        "p.yaml:1: value: 1e39 is out of range for a 32-bit float");
  google::protobuf::BytesValue b;
  REQUIRE(load("value: aGVsbG8=\n", &b).ok());
  CHECK(b.value() == "hello");
  CHECK(load("value: \"not base64!\"\n", &b).message() ==
        "p.yaml:1: value: expected base64, found \"not base64!\"");
  v1::Device device;
  // Raw bytes are refused before parsing, naming the line and the byte in it.
  CHECK(load("version: 1\nname: \"cam\xff\xfe\"\n", &device).message() ==
        "p.yaml:2: byte 11 of this line (0xff) is not UTF-8; save the file as UTF-8");
  CHECK(load("\xff\xfev\0e\0r\0", &device).message() ==
        "p.yaml:1: byte 1 of this line (0xff) is not UTF-8; save the file as UTF-8");
  REQUIRE(load("name: \"caf\xc3\xa9 \xf0\x9f\x93\xb7\"\n", &device).ok());
  CHECK(device.name() == "caf\xc3\xa9 \xf0\x9f\x93\xb7");
}

TEST_CASE("a message is cleared first; repeated messages accept empty items") {
  v1::Policy policy;
  REQUIRE(load("version: 1\ndevices: [{name: a}]\n", &policy).ok());
  REQUIRE(load("devices:\n  -\n  - {name: b}\n", &policy).ok());
  CHECK(policy.version() == 0);
  REQUIRE(policy.devices_size() == 2);
  CHECK(policy.devices(0).name().empty());
  CHECK(policy.devices(1).name() == "b");
}

TEST_CASE("anchors and aliases share a node; a node that contains its own alias is refused") {
  v1::Policy policy;
  SourceMap map;
  const Status s = load(R"(profiles:
  cam: &camera
    egress: [{allow: [nvr], proto: tcp}]
  cam2: *camera
)",
                        &policy, &map);
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(policy.profiles().at("cam2").egress(0).allow(0) == "nvr");
  CHECK(policy.profiles().at("cam2").egress(0).proto() == "tcp");
  // yaml-cpp's own tree held such a cycle, and walking it never ended.
  CHECK(load("version: 1\naddresses: &all\n  nvr: *all\n", &policy).message() ==
        "p.yaml:3: an alias names a node that contains it; that never ends");
  CHECK(load("version: 1\ndefaults: *nowhere\n", &policy)
            .message()
            .starts_with("p.yaml:2: YAML syntax error: "));
}

TEST_CASE("a second document is refused with its line, not ignored") {
  v1::Policy policy;
  CHECK(load("version: 1\n---\nversion: 2\n", &policy).message() ==
        "p.yaml:2: a second YAML document starts here; a file holds one document (remove this "
        "\"---\" and what follows, or split the file)");
  CHECK(load("---\nversion: 1\nprofiles: {}\n---\n", &policy).message().starts_with("p.yaml:4: "));
  CHECK(load("version: 1\n---\n[a, b\n", &policy).message().starts_with("p.yaml:"));
  // One document, marked at its start or its end, is fine.
  REQUIRE(load("---\nversion: 1\n", &policy).ok());
  REQUIRE(load("version: 1\n...\n", &policy).ok());
  REQUIRE(load("---\nversion: 1\n...\n# done\n", &policy).ok());
  CHECK(policy.version() == 1);
}

TEST_CASE("errors quote the user's text escaped and at most 40 bytes of it") {
  v1::Policy policy;
  const std::string long_value(200, 'x');
  CHECK(load("version: " + long_value + "\n", &policy).message() ==
        "p.yaml:1: version: expected a whole number, found \"" + std::string(40, 'x') + "...\"");
  CHECK(load("version: \"1\\e[2J\\n\"\n", &policy).message() ==
        "p.yaml:1: version: expected a whole number, found \"1\\x1b[2J\\x0a\"");
  CHECK(load("profiles: {\"a\\nb\": {otherwise: [x]}}\n", &policy).message() ==
        "p.yaml:1: profiles.a\\x0ab.otherwise: expected a value, found a list");
  CHECK(load(long_value + ": 1\n", &policy).message() ==
        "p.yaml:1: unknown field \"" + std::string(40, 'x') +
            "...\" (expected one of: version, defaults, addresses, profiles, devices, dns, "
            "classify, mud)");
}

TEST_CASE("a key longer than 256 bytes is refused before it becomes a path") {
  v1::Policy policy;
  const std::string key(257, 'k');
  CHECK(load("profiles:\n  " + key + ": {}\n", &policy).message() ==
        "p.yaml:2: profiles: the key \"" + std::string(40, 'k') +
            "...\" is longer than 256 bytes; use a shorter name");
  REQUIRE(load("profiles:\n  " + std::string(256, 'k') + ": {}\n", &policy).ok());
}

TEST_CASE("past 100 errors, the rest are counted in one line") {
  v1::Policy policy;
  std::string text = "devices:\n";
  for (int i = 0; i < 150; ++i) text += "  - {nme: x}\n";
  const std::string message = load(text, &policy).message();
  CHECK(std::count(message.begin(), message.end(), '\n') == 100);
  CHECK(message.ends_with("\np.yaml: 50 more errors not shown; fix these first"));
}

TEST_CASE("located formats file, line and path") {
  SourceMap map;
  map.record("devices[0]", 7);
  CHECK(located("p.yaml", map, "devices[0].mac", "bad") == "p.yaml:7: devices[0].mac: bad");
  CHECK(located("p.yaml", map, "version", "missing") == "p.yaml: version: missing");
  CHECK(located("p.yaml", map, "", "empty") == "p.yaml: empty");
}

}  // namespace
}  // namespace muzzle

#include "fw/config/yaml_proto.h"

#include <doctest/doctest.h>
#include <google/protobuf/util/json_util.h>

#include <string>

#include "muzzle/v1/config.pb.h"
#include "muzzle/v1/policy.pb.h"

namespace muzzle {
namespace {

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
  REQUIRE(nvr.values_size() == 2);
  CHECK(nvr.values(0).string_value() == "198.18.1.10");
  CHECK(nvr.values(1).string_value() == "fd00:1::10");
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
          "profiles, devices, dns, classify)");
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
    CHECK(load("addresses:\n  nvr: 198.18.1.10\n", &policy).message() ==
          "p.yaml:2: addresses.nvr: expected a list, found \"198.18.1.10\"");
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
        "p.yaml:4: devices[0]: unknown field \"colour\" (expected one of: name, mac, profile)");
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

TEST_CASE("located formats file, line and path") {
  SourceMap map;
  map.record("devices[0]", 7);
  CHECK(located("p.yaml", map, "devices[0].mac", "bad") == "p.yaml:7: devices[0].mac: bad");
  CHECK(located("p.yaml", map, "version", "missing") == "p.yaml: version: missing");
  CHECK(located("p.yaml", map, "", "empty") == "p.yaml: empty");
}

}  // namespace
}  // namespace muzzle

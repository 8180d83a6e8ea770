#include "fw/config/daemon_config.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace muzzle {
namespace MUZZLE_UNITY_ID {

Result<DaemonConfig> parse(std::string_view yaml) {
  return parseDaemonConfig(yaml, "muzzled.yaml", "/etc/muzzle");
}

std::string errorOf(std::string_view yaml) {
  const Result<DaemonConfig> config = parse(yaml);
  return config.status().message();
}

TEST_CASE("a full daemon config") {
  const Result<DaemonConfig> config = parse(R"(segments:
  - {name: cameras, interface: br-cam}
  - name: home
    interface: eth1.20
uplink: [eth0, wlan0]
fail_mode: open
queue: {first: 0, count: 4}
policy: /srv/policy.yaml
state_dir: /tmp/muzzle-state
)");
  REQUIRE_MESSAGE(config.ok(), config.status().message());
  REQUIRE(config->segments.size() == 2);
  CHECK(config->segments[0].name == "cameras");
  CHECK(config->segments[0].ifname == "br-cam");
  CHECK(config->segments[1].name == "home");
  CHECK(config->segments[1].ifname == "eth1.20");
  CHECK(config->uplinks == std::vector<std::string>{"eth0", "wlan0"});
  CHECK(config->fail_mode == FailMode::kOpen);
  CHECK(config->queue_first == 0);  // 0 is a real queue number, not "unset"
  CHECK(config->queue_count == 4);
  CHECK(config->policy_path == "/srv/policy.yaml");
  CHECK(config->state_dir == "/tmp/muzzle-state");
}

TEST_CASE("defaults, a single uplink, and a relative policy path") {
  const Result<DaemonConfig> config = parse(R"(segments: [{name: iot, interface: eth1}]
uplink: eth0
policy: policies/site.yaml
)");
  REQUIRE_MESSAGE(config.ok(), config.status().message());
  CHECK(config->uplinks == std::vector<std::string>{"eth0"});
  CHECK(config->fail_mode == FailMode::kClosed);
  CHECK(config->queue_first == 100);
  CHECK(config->queue_count == 1);
  CHECK(config->policy_path == "/etc/muzzle/policies/site.yaml");
  CHECK(config->state_dir == "/var/lib/muzzle");
}

TEST_CASE("no segment is a valid config that manages nothing, and needs no policy") {
  for (const char* yaml :
       {"segments: []\n", "# only comments\nsegments: []\nfail_mode: open\n", "policy: p.yaml\n"}) {
    CAPTURE(yaml);
    const Result<DaemonConfig> config = parse(yaml);
    REQUIRE_MESSAGE(config.ok(), config.status().message());
    CHECK(config->segments.empty());
  }
}

TEST_CASE("the packaged default muzzled.yaml manages no segment") {
  const std::string path = std::string(MUZZLE_SOURCE_DIR) + "/image/muzzled.yaml";
  const Result<DaemonConfig> config = loadDaemonConfig(path);
  REQUIRE_MESSAGE(config.ok(), config.status().message());
  CHECK(config->segments.empty());
  CHECK(config->state_dir == "/var/lib/muzzle");
}

TEST_CASE("queue limits") {
  CHECK(parse("segments: [{name: a, interface: e}]\npolicy: p\nqueue: {first: 65519, count: 16}\n")
            .ok());
  // The inspection queue follows the flow queues and must be a queue number too.
  CHECK(errorOf("segments: [{name: a, interface: e}]\npolicy: p\nqueue: {first: 65520, "
                "count: 16}\n") ==
        "muzzled.yaml:3: queue: queues 65520..65536 (16 flow queues and the inspection queue) go "
        "past the last queue number 65535");
  CHECK(errorOf("segments: [{name: a, interface: e}]\npolicy: p\nqueue:\n  count: 0\n") ==
        "muzzled.yaml:4: queue.count: 0 is not a queue count (1..16)");
  CHECK(errorOf("segments: [{name: a, interface: e}]\npolicy: p\nqueue:\n  count: 17\n") ==
        "muzzled.yaml:4: queue.count: 17 is not a queue count (1..16)");
  CHECK(errorOf("segments: [{name: a, interface: e}]\npolicy: p\nqueue: {first: 70000}\n") ==
        "muzzled.yaml:3: queue.first: 70000 is not a queue number (0..65535)");
}

TEST_CASE("the address hold time: default, set, and bounded") {
  CHECK(parse("segments: [{name: a, interface: e}]\npolicy: p\n")->address_hold_seconds == 600);
  CHECK(parse("segments: [{name: a, interface: e}]\npolicy: p\ndevices: {address_hold_seconds: 30}\n")
            ->address_hold_seconds == 30);
  CHECK(errorOf("segments: [{name: a, interface: e}]\npolicy: p\ndevices:\n  address_hold_seconds: 5\n") ==
        "muzzled.yaml:4: devices.address_hold_seconds: 5 is out of range (10..86400 seconds)");
}

TEST_CASE("the accounting interval: default 10 s, set, off with 0, and bounded") {
  const std::string base = "segments: [{name: a, interface: e}]\npolicy: p\n";
  CHECK(parse(base)->accounting_interval_seconds == 10);
  CHECK(parse(base + "devices: {accounting_interval_seconds: 60}\n")->accounting_interval_seconds == 60);
  CHECK(parse(base + "devices: {accounting_interval_seconds: 0}\n")->accounting_interval_seconds == 0);
  CHECK(errorOf(base + "devices:\n  accounting_interval_seconds: 3601\n") ==
        "muzzled.yaml:4: devices.accounting_interval_seconds: 3601 is out of range (1..3600 seconds, "
        "or 0 to turn accounting off)");
}

TEST_CASE(
    "new-device admission: 60 a minute after 64 at once by default, set, off with 0, bounded") {
  const std::string base = "segments: [{name: a, interface: e}]\npolicy: p\n";
  CHECK(parse(base)->new_devices_per_minute == 60);
  CHECK(parse(base)->new_device_burst == 64);
  const auto set = parse(base + "devices: {new_per_minute: 6, new_burst: 5}\n");
  REQUIRE(set.ok());
  CHECK(set->new_devices_per_minute == 6);
  CHECK(set->new_device_burst == 5);
  CHECK(parse(base + "devices: {new_per_minute: 0}\n")->new_devices_per_minute == 0);
  CHECK(parse(base + "devices: {new_per_minute: 60000, new_burst: 65536}\n").ok());
  CHECK(errorOf(base + "devices:\n  new_per_minute: 60001\n") ==
        "muzzled.yaml:4: devices.new_per_minute: 60001 is out of range (1..60000 new devices a "
        "minute per segment, or 0 to turn admission off)");
  CHECK(errorOf(base + "devices:\n  address_hold_seconds: 600\n  new_burst: 0\n") ==
        "muzzled.yaml:5: devices.new_burst: 0 is out of range (1..65536 new devices at once per "
        "segment)");
  CHECK(errorOf(base + "devices: {new_burst: 65537}\n") ==
        "muzzled.yaml:3: devices.new_burst: 65537 is out of range (1..65536 new devices at once "
        "per segment)");
}

TEST_CASE("the flood guard: on by default, set, off with 0, and bounded") {
  const std::string base = "segments: [{name: a, interface: e}]\npolicy: p\n";
  CHECK(parse(base)->flood_rate == 500);
  CHECK(parse(base)->flood_burst == 1000);
  const auto set = parse(base + "flood_guard: {new_flows_per_second: 2000, burst: 50}\n");
  REQUIRE(set.ok());
  CHECK(set->flood_rate == 2000);
  CHECK(set->flood_burst == 50);
  CHECK(parse(base + "flood_guard: {new_flows_per_second: 0}\n")->flood_rate == 0);
  CHECK(errorOf(base + "flood_guard:\n  new_flows_per_second: 1000001\n") ==
        "muzzled.yaml:4: flood_guard.new_flows_per_second: 1000001 is out of range (1..1000000 new "
        "flows a second per device, or 0 to turn the guard off)");
  CHECK(errorOf(base + "flood_guard:\n  burst: 0\n") ==
        "muzzled.yaml:4: flood_guard.burst: 0 is out of range (1..10000000 new flows)");
  CHECK(errorOf(base + "flood_guard: {rate: 5}\n") ==
        "muzzled.yaml:3: flood_guard: unknown field \"rate\" (expected one of: "
        "new_flows_per_second, burst, connections, segment_new_flows_per_second, "
        "segment_burst)");
}

TEST_CASE("the segment guard: on by default, set, off with 0 apart from the device's, bounded") {
  const std::string base = "segments: [{name: a, interface: e}]\npolicy: p\n";
  CHECK(parse(base)->segment_rate == 2000);
  CHECK(parse(base)->segment_burst == 4000);
  const auto set =
      parse(base + "flood_guard: {segment_new_flows_per_second: 50, segment_burst: 100}\n");
  REQUIRE(set.ok());
  CHECK(set->segment_rate == 50);
  CHECK(set->segment_burst == 100);
  CHECK(set->flood_rate == 500);  // the device's guard untouched
  // The bench's: out of any cell's reach, at the bounds.
  const auto most = parse(base +
                          "flood_guard: {segment_new_flows_per_second: 10000000, segment_burst: "
                          "100000000}\n");
  REQUIRE(most.ok());
  CHECK(most->segment_rate == 10'000'000);
  CHECK(most->segment_burst == 100'000'000);
  const auto off = parse(base + "flood_guard: {segment_new_flows_per_second: 0}\n");
  REQUIRE(off.ok());
  CHECK(off->segment_rate == 0);
  CHECK(off->flood_rate == 500);  // the device's guard stays on
  const auto alone = parse(base + "flood_guard: {new_flows_per_second: 0}\n");
  REQUIRE(alone.ok());
  CHECK(alone->flood_rate == 0);
  CHECK(alone->segment_rate == 2000);  // and the segment's stays on without it
  CHECK(errorOf(base + "flood_guard:\n  segment_new_flows_per_second: 10000001\n") ==
        "muzzled.yaml:4: flood_guard.segment_new_flows_per_second: 10000001 is out of range "
        "(1..10000000 new flows a second per segment, or 0 to turn the segment guard off)");
  CHECK(errorOf(base + "flood_guard:\n  new_flows_per_second: 10\n  segment_burst: 0\n") ==
        "muzzled.yaml:5: flood_guard.segment_burst: 0 is out of range (1..100000000 new flows)");
  CHECK(errorOf(base + "flood_guard: {segment_burst: 100000001}\n") ==
        "muzzled.yaml:3: flood_guard.segment_burst: 100000001 is out of range (1..100000000 new "
        "flows)");
}

TEST_CASE("the connection limit: on by default, set, off with 0 apart from the rate, bounded") {
  const std::string base = "segments: [{name: a, interface: e}]\npolicy: p\n";
  CHECK(parse(base)->conn_limit == 1024);
  CHECK(parse(base + "flood_guard: {connections: 64}\n")->conn_limit == 64);
  const auto off = parse(base + "flood_guard: {connections: 0}\n");
  REQUIRE(off.ok());
  CHECK(off->conn_limit == 0);
  CHECK(off->flood_rate == 500);  // the guard stays on
  const auto no_guard = parse(base + "flood_guard: {new_flows_per_second: 0}\n");
  REQUIRE(no_guard.ok());
  CHECK(no_guard->conn_limit == 1024);  // and the limit stays on without the guard
  CHECK(errorOf(base + "flood_guard:\n  connections: 1000001\n") ==
        "muzzled.yaml:4: flood_guard.connections: 1000001 is out of range (1..1000000 connections "
        "per device, or 0 to turn the limit off)");
}

TEST_CASE("each config error names file, line and field") {
  SUBCASE("segment names") {
    CHECK(errorOf(R"(policy: p
segments:
  - {interface: eth1}
  - {name: iot, interface: eth2}
  - {name: iot, interface: eth3}
)") == "muzzled.yaml:3: segments[0].name: a segment needs a name\n"
       "muzzled.yaml:5: segments[2].name: \"iot\" is already the name of segments[1]");
  }
  SUBCASE("interfaces") {
    CHECK(errorOf(R"(policy: p
segments:
  - {name: a}
  - {name: b, interface: this-is-sixteen1}
  - {name: c, interface: eth1}
  - {name: d, interface: eth1}
)") == "muzzled.yaml:3: segments[0].interface: a segment needs an interface\n"
       "muzzled.yaml:4: segments[1].interface: \"this-is-sixteen1\" is longer than 15 "
       "characters, so it cannot be an interface name\n"
       "muzzled.yaml:6: segments[3].interface: \"eth1\" is already the interface of segments[2]");
  }
  SUBCASE("an uplink that is also a segment") {
    CHECK(errorOf(R"(policy: p
segments: [{name: a, interface: eth1}]
uplink:
  - eth0
  - eth1
)") == "muzzled.yaml:5: uplink[1]: \"eth1\" is the interface of segments[0]; an uplink cannot "
       "also be a managed segment");
  }
  SUBCASE("fail mode") {
    CHECK(errorOf("policy: p\nsegments: [{name: a, interface: e}]\nfail_mode: ajar\n") ==
          "muzzled.yaml:3: fail_mode: \"ajar\" is not a fail mode (closed or open)");
  }
  SUBCASE("policy is required") {
    CHECK(errorOf("segments: [{name: a, interface: e}]\n") ==
          "muzzled.yaml: policy: the policy file is required (policy: policy.yaml)");
  }
  SUBCASE("unknown key") {
    CHECK(errorOf("segments: [{name: a, interface: e}]\npolicy: p\nfailmode: open\n") ==
          "muzzled.yaml:3: unknown field \"failmode\" (did you mean \"fail_mode\"?)");
  }
  SUBCASE("several errors at once") {
    CHECK(errorOf("segments: [{name: a, interface: e}]\nfail_mode: x\nqueue: {count: 99}\n") ==
          "muzzled.yaml:2: fail_mode: \"x\" is not a fail mode (closed or open)\n"
          "muzzled.yaml:3: queue.count: 99 is not a queue count (1..16)\n"
          "muzzled.yaml: policy: the policy file is required (policy: policy.yaml)");
  }
}

TEST_CASE("loadDaemonConfig reads a file and resolves the policy next to it") {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("muzzle-config-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "muzzled.yaml").string();
  {
    std::ofstream out(path);
    out << "segments: [{name: a, interface: eth1}]\npolicy: policy.yaml\n";
  }
  const Result<DaemonConfig> config = loadDaemonConfig(path);
  REQUIRE_MESSAGE(config.ok(), config.status().message());
  CHECK(config->policy_path == (dir / "policy.yaml").string());

  const std::string missing = (dir / "nope.yaml").string();
  CHECK(loadDaemonConfig(missing).status().message() ==
        missing + ": cannot read the daemon config (missing or unreadable)");
  std::filesystem::remove_all(dir);
}

TEST_CASE("shipped_policies: the package's folder by default, or the config's") {
  CHECK(parse("segments: []\n")->shipped_policies_dir == "/usr/share/muzzle/policies");
  CHECK(parse("shipped_policies: /opt/muzzle/policies/\n")->shipped_policies_dir ==
        "/opt/muzzle/policies/");
  CHECK(parse("shipped_policies: presets\n")->shipped_policies_dir == "/etc/muzzle/presets");
}

TEST_CASE("preset_dirs: none by default; relative ones from the config's folder, in order") {
  CHECK(parse("segments: []\n")->preset_dirs.empty());
  CHECK(parse("preset_dirs: [/srv/presets/, local]\n")->preset_dirs ==
        std::vector<std::string>{"/srv/presets/", "/etc/muzzle/local"});
  CHECK(errorOf("preset_dirs: [\"\"]\n") ==
        "muzzled.yaml:1: preset_dirs[0]: a preset folder needs a path");
}

TEST_CASE("muzzled.yaml must be UTF-8 and a regular file") {
  CHECK(errorOf("segments: []\nfail_mode: \"op\xe9n\"\n") ==
        "muzzled.yaml:2: byte 15 of this line (0xe9) is not UTF-8; save the file as UTF-8");
  CHECK(loadDaemonConfig("/dev/zero").status().message() ==
        "/dev/zero: is a character device, not a regular file; name a file");
  CHECK(errorOf("fail_mode: \"" + std::string(100, 'x') + "\"\n") ==
        "muzzled.yaml:1: fail_mode: \"" + std::string(40, 'x') +
            "...\" is not a fail mode (closed or open)");
}

}  // namespace
}  // namespace muzzle

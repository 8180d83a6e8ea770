// state_dir/setup.yaml (fw/config/setup_file.h): what `muzzlectl setup` stored, read back as
// hostile input, and taken by the config loader only when muzzled.yaml names no segment.
#include "fw/config/setup_file.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "tests/unit/support/temp_dir.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

void write(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

TEST_CASE("what muzzled writes, it reads back the same") {
  SetupChoice choice{{{"cameras", "br-cam"}, {"eth2", "eth2"}}, {"eth0"}, "/var/lib/muzzle/p.yaml"};
  auto back = parseSetupFile(setupFileText(choice), "setup.yaml", "/var/lib/muzzle");
  REQUIRE_MESSAGE(back.ok(), back.status().message());
  REQUIRE(back->segments.size() == 2);
  CHECK(back->segments[0].name == "cameras");
  CHECK(back->segments[0].ifname == "br-cam");
  CHECK(back->segments[1].ifname == "eth2");
  CHECK(back->uplinks == std::vector<std::string>{"eth0"});
  CHECK(back->policy_path == "/var/lib/muzzle/p.yaml");
}

TEST_CASE("a relative policy is taken from the state folder") {
  auto c = parseSetupFile("segments: [{name: c, interface: eth1}]\nuplink: eth0\npolicy: p.yaml\n",
                          "setup.yaml", "/srv/state");
  REQUIRE_MESSAGE(c.ok(), c.status().message());
  CHECK(c->policy_path == "/srv/state/p.yaml");
  CHECK(c->uplinks == std::vector<std::string>{"eth0"});  // a scalar is a one-element list
}

TEST_CASE("a setup file of the wrong shape is refused, naming the file, line and field") {
  auto err = [](const std::string& text) {
    auto c = parseSetupFile(text, "/s/setup.yaml", "/s");
    REQUIRE_FALSE(c.ok());
    return c.status().message();
  };
  // Only the three keys: muzzled.yaml's other keys are the admin's alone.
  CHECK(err("segments: [{name: c, interface: eth1}]\npolicy: p.yaml\nfail_mode: open\n")
            .find("/s/setup.yaml:3") == 0);
  CHECK(err("segments: [{name: c, interface: eth1}]\npolicy: p.yaml\nstate_dir: /etc\n")
            .find("state_dir") != std::string::npos);
  CHECK(err("segments: {name: c}\n").find("/s/setup.yaml:1") == 0);
  CHECK(err("policy: p.yaml\n").find("segments: none named") != std::string::npos);
  CHECK(err("segments: [{name: c, interface: eth1}]\n").find("policy") != std::string::npos);
  CHECK(err("segments: [{name: c, interface: eth1}]\nuplink: [eth1]\npolicy: p\n")
            .find("uplink[0]") != std::string::npos);
  CHECK(err("segments: [{name: c, interface: an-interface-name-too-long}]\npolicy: p\n")
            .find("segments[0].interface") != std::string::npos);
  CHECK(err("segments: [{name: c, interface: eth1}, {name: c, interface: eth2}]\npolicy: p\n")
            .find("segments[1].name") != std::string::npos);
  CHECK(err("- a\n- b\n").find("/s/setup.yaml:1") == 0);
}

TEST_CASE("a hostile setup file: not UTF-8, huge, a symbolic link out, a FIFO") {
  testing::TempDir dir("muzzle-setup");
  CHECK(readSetupFile(dir.path).ok());
  CHECK_FALSE(readSetupFile(dir.path)->has_value());  // none: idle

  write(dir / "setup.yaml", "segments: [{name: \"c\xff\", interface: eth1}]\npolicy: p\n");
  auto bad = readSetupFile(dir.path);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("setup.yaml:1") != std::string::npos);
  CHECK(bad.status().message().find("UTF-8") != std::string::npos);

  write(dir / "setup.yaml", "# " + std::string(kMaxSetupFileBytes, 'x') + "\n");
  auto huge = readSetupFile(dir.path);
  REQUIRE_FALSE(huge.ok());
  CHECK(huge.status().message().find("setup.yaml") != std::string::npos);

  // A link out of the state folder: an attacker with the muzzle user's rights must not make
  // muzzled (root at start) read another file.
  testing::TempDir elsewhere("muzzle-setup-out");
  write(elsewhere / "secret.yaml", "segments: [{name: c, interface: eth1}]\npolicy: p\n");
  std::filesystem::remove(dir / "setup.yaml");
  std::filesystem::create_symlink(elsewhere / "secret.yaml", dir / "setup.yaml");
  auto linked = readSetupFile(dir.path);
  REQUIRE_FALSE(linked.ok());
  CHECK(linked.status().message().find("setup.yaml") != std::string::npos);

  std::filesystem::remove(dir / "setup.yaml");
  REQUIRE(mkfifo((dir / "setup.yaml").c_str(), 0600) == 0);
  auto fifo = readSetupFile(dir.path);  // refused by what it is, without blocking
  REQUIRE_FALSE(fifo.ok());
  CHECK(fifo.status().message().find("regular file") != std::string::npos);
}

TEST_CASE("the config loader takes the setup file only when muzzled.yaml names no segment") {
  testing::TempDir dir("muzzle-setup-config");
  const std::string state = dir.path + "/state";
  std::filesystem::create_directory(state);
  write(dir / "muzzled.yaml", "state_dir: " + state + "\n");
  auto idle = loadDaemonConfig(dir.path + "/muzzled.yaml");
  REQUIRE_MESSAGE(idle.ok(), idle.status().message());
  CHECK(idle->segments.empty());
  CHECK(idle->segments_from.empty());
  CHECK(idle->setup_problem.empty());

  write(state + "/setup.yaml",
        setupFileText({{{"cameras", "br-cam"}}, {"eth0"}, state + "/setup-policy.yaml"}));
  auto set_up = loadDaemonConfig(dir.path + "/muzzled.yaml");
  REQUIRE_MESSAGE(set_up.ok(), set_up.status().message());
  REQUIRE(set_up->segments.size() == 1);
  CHECK(set_up->segments[0].ifname == "br-cam");
  CHECK(set_up->uplinks == std::vector<std::string>{"eth0"});
  CHECK(set_up->policy_path == state + "/setup-policy.yaml");
  CHECK(set_up->segments_from == state + "/setup.yaml");

  // The admin's file wins.
  write(dir / "muzzled.yaml", "state_dir: " + state +
                                  "\nsegments: [{name: lab, interface: eth5}]\npolicy: p.yaml\n");
  auto admin = loadDaemonConfig(dir.path + "/muzzled.yaml");
  REQUIRE_MESSAGE(admin.ok(), admin.status().message());
  CHECK(admin->segments[0].ifname == "eth5");
  CHECK(admin->segments_from == dir.path + "/muzzled.yaml");

  // A damaged setup file: the box idles and says why, the config itself is fine.
  write(dir / "muzzled.yaml", "state_dir: " + state + "\n");
  write(state + "/setup.yaml", "segments: 7\n");
  auto damaged = loadDaemonConfig(dir.path + "/muzzled.yaml");
  REQUIRE_MESSAGE(damaged.ok(), damaged.status().message());
  CHECK(damaged->segments.empty());
  CHECK(damaged->setup_problem.find(state + "/setup.yaml:1") == 0);
}

}  // namespace
}  // namespace muzzle

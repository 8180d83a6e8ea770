// muzzled.yaml's `syslog:` collectors: what is accepted, the defaults, and every refusal with
// its file, line and field.
#include "fw/config/syslog_config.h"

#include <doctest/doctest.h>

#include <string>

#include "fw/config/daemon_config.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

Result<DaemonConfig> parse(const std::string& syslog_section) {
  return parseDaemonConfig(
      "segments: [{name: c, interface: br-cam}]\npolicy: p.yaml\n" + syslog_section, "muzzled.yaml",
      "/etc/muzzle");
}

std::string errorOf(const std::string& syslog_section) {
  auto config = parse(syslog_section);
  return config.ok() ? std::string("(accepted)") : config.status().message();
}

TEST_CASE("syslog collectors: udp, tcp and tls, with the defaults filled in") {
  auto config = parse(R"(syslog:
  - target: udp://198.51.100.2:514
  - target: "tcp://[2001:db8:1::2]:601"
    facility: auth
    events: [deny, new-device]
    queue: 16
  - target: tls://203.0.113.5:6514
    ca: certs/siem-ca.pem
    cert: /etc/muzzle/box.pem
    key: box.key
)");
  REQUIRE_MESSAGE(config.ok(), config.status().message());
  REQUIRE(config->syslog.size() == 3);
  const SyslogCollectorConfig& udp = config->syslog[0];
  CHECK(udp.target == "udp://198.51.100.2:514");
  CHECK(udp.transport == SyslogTransport::kUdp);
  CHECK(udp.address.toString() == "198.51.100.2");
  CHECK(udp.port == 514);
  CHECK(udp.facility == 16);  // local0
  CHECK(udp.queue == 1024);
  CHECK(udp.events.empty());
  CHECK(udp.wants("deny"));
  CHECK(udp.wants("policy-applied"));

  const SyslogCollectorConfig& tcp = config->syslog[1];
  CHECK(tcp.transport == SyslogTransport::kTcp);
  CHECK(tcp.address.v6);
  CHECK(tcp.address.toString() == "2001:db8:1::2");
  CHECK(tcp.port == 601);
  CHECK(tcp.facility == 4);
  CHECK(tcp.queue == 16);
  CHECK(tcp.wants("deny"));
  CHECK_FALSE(tcp.wants("allow"));

  const SyslogCollectorConfig& tls = config->syslog[2];
  CHECK(tls.transport == SyslogTransport::kTls);
  CHECK(tls.ca == "/etc/muzzle/certs/siem-ca.pem");  // relative to the config's folder
  CHECK(tls.cert == "/etc/muzzle/box.pem");
  CHECK(tls.key == "/etc/muzzle/box.key");
}

TEST_CASE("no syslog: no collectors") {
  auto config = parse("");
  REQUIRE(config.ok());
  CHECK(config->syslog.empty());
}

TEST_CASE("every facility name maps to its number") {
  CHECK(syslogFacility("kern") == 0);
  CHECK(syslogFacility("daemon") == 3);
  CHECK(syslogFacility("authpriv") == 10);
  CHECK(syslogFacility("local0") == 16);
  CHECK(syslogFacility("local7") == 23);
  CHECK(syslogFacility("local8") == -1);
  CHECK(syslogFacility("LOCAL0") == -1);
  CHECK(syslogFacilityName(16) == "local0");
  CHECK(syslogFacilityName(10) == "authpriv");
  CHECK(syslogFacilityName(13) == "13");
}

TEST_CASE("bad targets are refused with the line and field") {
  struct Case {
    const char* target;
    const char* says;
  };
  for (const Case& c : {
           Case{"198.51.100.2:514", "is not a collector (udp://HOST:PORT"},
           Case{"http://198.51.100.2:514", "has the scheme \"http\"; use udp://, tcp:// or tls://"},
           Case{"tcp://siem.example:601", "is not an IPv4 or IPv6 address; a DNS name is refused"},
           Case{"tcp://198.51.100.2", "needs a port"},
           Case{"tcp://198.51.100.2:0", "not in 1..65535"},
           Case{"tcp://198.51.100.2:70000", "not in 1..65535"},
           Case{"tcp://198.51.100.2:http", "is not a number 1..65535"},
           Case{"tcp://2001:db8::5:601", "an IPv6 address without brackets"},
           Case{"tcp://[2001:db8::5:601", "'[' without its ']'"},
           Case{"udp://0.0.0.0:514", "unspecified address"},
           Case{"udp://[::]:514", "unspecified address"},
       }) {
    const std::string target = c.target;
    CAPTURE(target);
    const std::string error = errorOf(std::string("syslog:\n  - target: \"") + c.target + "\"\n");
    CHECK(error.find("muzzled.yaml:4: syslog[0].target") != std::string::npos);
    CHECK(error.find(c.says) != std::string::npos);
  }
  CHECK(errorOf("syslog:\n  - facility: local1\n")
            .find("muzzled.yaml:4: syslog[0].target: a collector needs a target") !=
        std::string::npos);
}

TEST_CASE("a DNS name is refused: the reason is said") {
  const std::string error =
      errorOf("syslog: [{target: \"tls://siem.example:6514\", ca: ca.pem}]\n");
  CHECK(error.find("\"siem.example\"") != std::string::npos);
  CHECK(error.find("a resolver must not stall or redirect it") != std::string::npos);
}

TEST_CASE("tls needs a ca; ca, cert and key are tls's only; cert and key go together") {
  CHECK(errorOf("syslog:\n  - target: tls://198.51.100.2:6514\n")
            .find("muzzled.yaml:4: syslog[0].ca: a tls:// collector needs `ca`") !=
        std::string::npos);
  CHECK(errorOf("syslog:\n  - target: tcp://198.51.100.2:601\n    ca: ca.pem\n")
            .find("muzzled.yaml:5: syslog[0].ca: is for tls:// collectors only") !=
        std::string::npos);
  CHECK(errorOf("syslog:\n  - target: udp://198.51.100.2:514\n    cert: c.pem\n    key: k.pem\n")
            .find("syslog[0].cert: is for tls:// collectors only") != std::string::npos);
  CHECK(errorOf("syslog:\n  - target: tls://198.51.100.2:6514\n    ca: ca.pem\n    cert: c.pem\n")
            .find("syslog[0].key: a client certificate needs both `cert` and `key`") !=
        std::string::npos);
}

TEST_CASE("at most 4 collectors, none twice") {
  std::string five = "syslog:\n";
  for (int i = 1; i <= 5; ++i)
    five += "  - target: udp://198.51.100." + std::to_string(i) + ":514\n";
  CHECK(errorOf(five).find("muzzled.yaml:3: syslog: 5 collectors; at most 4") != std::string::npos);
  CHECK(errorOf(five.substr(0, five.rfind("  - "))) == "(accepted)");

  CHECK(errorOf("syslog:\n  - target: udp://198.51.100.2:514\n  - target: udp://198.51.100.2:514\n")
            .find("muzzled.yaml:5: syslog[1].target: \"udp://198.51.100.2:514\" is listed twice") !=
        std::string::npos);
  // The same address over another transport or port is another collector.
  CHECK(errorOf(
            "syslog:\n  - target: udp://198.51.100.2:514\n  - target: tcp://198.51.100.2:514\n") ==
        "(accepted)");
}

TEST_CASE("facility, events and queue are checked") {
  CHECK(errorOf("syslog: [{target: \"udp://198.51.100.2:514\", facility: local9}]\n")
            .find("syslog[0].facility: \"local9\" is not a facility") != std::string::npos);
  CHECK(errorOf("syslog: [{target: \"udp://198.51.100.2:514\", events: [deny, Deny]}]\n")
            .find("syslog[0].events[1]: \"Deny\" is not an event name") != std::string::npos);
  CHECK(errorOf("syslog: [{target: \"udp://198.51.100.2:514\", events: [deny, deny]}]\n")
            .find("syslog[0].events[1]: \"deny\" is listed twice") != std::string::npos);
  CHECK(errorOf("syslog: [{target: \"udp://198.51.100.2:514\", queue: 0}]\n")
            .find("syslog[0].queue: 0 is out of range (1..65536 lines)") != std::string::npos);
  CHECK(errorOf("syslog: [{target: \"udp://198.51.100.2:514\", queue: 65537}]\n")
            .find("syslog[0].queue: 65537 is out of range") != std::string::npos);
  CHECK(errorOf("syslog: [{target: \"udp://198.51.100.2:514\", queue: 65536}]\n") == "(accepted)");
  CHECK(errorOf("syslog: [{target: \"udp://198.51.100.2:514\", port: 514}]\n").find("port") !=
        std::string::npos);  // unknown keys are errors
}

TEST_CASE("journal: off unless the section is there; its events are checked like syslog's") {
  auto none = parse("");
  REQUIRE(none.ok());
  CHECK_FALSE(none->journal.enabled);

  auto all = parse("journal: {}\n");
  REQUIRE_MESSAGE(all.ok(), all.status().message());
  CHECK(all->journal.enabled);
  CHECK(all->journal.wants("policy-applied"));

  auto some = parse("journal: {events: [deny, new-device]}\n");
  REQUIRE_MESSAGE(some.ok(), some.status().message());
  CHECK(some->journal.wants("new-device"));
  CHECK_FALSE(some->journal.wants("allow"));

  CHECK(errorOf("journal: {events: [deny, Deny]}\n")
            .find("muzzled.yaml:3: journal.events[1]: \"Deny\" is not an event name") !=
        std::string::npos);
  CHECK(errorOf("journal: {events: [deny, deny]}\n")
            .find("journal.events[1]: \"deny\" is listed twice") != std::string::npos);
}

}  // namespace
}  // namespace muzzle

// The management plane's side of the sandbox: management.tcp.allow (parsed, and enforced by
// Authorizer per call), gRPC peer strings, the systemd drop-in muzzle-generator writes, the
// paths checked after dropping root, and the IP socket probe.
#include "mgmt/server/sandbox.h"

#include <doctest/doctest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <cstddef>
#include <functional>

#include "fw/config/daemon_config.h"
#include "mgmt/server/auth.h"
#include "tests/unit/support/child_process.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

DaemonConfig config(const std::string& yaml) {
  auto c = parseDaemonConfig(yaml, "muzzled.yaml", "/etc/muzzle");
  REQUIRE_MESSAGE(c.ok(), c.status().message());
  return *c;
}

const char kTcp[] =
    "segments: [{name: cameras, interface: br-cam}]\n"
    "policy: policy.yaml\n"
    "management:\n"
    "  tcp:\n"
    "    listen: 198.18.1.1:7443\n"
    "    cert: box.pem\n"
    "    key: /etc/muzzle/tls/box.key\n"
    "    client_ca: ca.pem\n";

TEST_CASE("management.tcp.allow: CIDRs and single addresses; anything else names the entry") {
  v1::TcpListener tcp;
  tcp.set_listen("198.18.1.1:7443");
  tcp.add_allow("198.18.1.0/24");
  tcp.add_allow("fd00:1::10");
  auto set = tcpAllowList(tcp);
  REQUIRE(set.ok());
  CHECK(set->contains(*IpAddress::parse("198.18.1.77")));
  CHECK(set->contains(*IpAddress::parse("fd00:1::10")));
  CHECK_FALSE(set->contains(*IpAddress::parse("203.0.113.5")));
  CHECK_FALSE(set->contains(*IpAddress::parse("fd00:1::11")));

  tcp.add_allow("lan");
  auto bad = tcpAllowList(tcp);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  CHECK(bad.status().message() ==
        "management.tcp.allow[2]: \"lan\" is not an address or a CIDR (e.g. 198.18.1.0/24, "
        "fd00:1::/64)");

  v1::TcpListener no_listen;
  no_listen.add_allow("198.18.1.0/24");
  CHECK(tcpAllowList(no_listen).status().message().find("management.tcp.listen is not") !=
        std::string::npos);
  CHECK(tcpAllowList(v1::TcpListener{}).ok());
}

TEST_CASE("gRPC peer strings: IPv4, IPv6 (bracketed, percent-encoded, zoned), v4-mapped") {
  CHECK(peerAddress("ipv4:198.18.1.10:43210")->toString() == "198.18.1.10");
  CHECK(peerAddress("ipv6:[fd00:1::10]:43210")->toString() == "fd00:1::10");
  CHECK(peerAddress("ipv6:%5Bfd00:1::10%5D:43210")->toString() == "fd00:1::10");
  CHECK(peerAddress("ipv6:[fe80::1%25eth0]:43210")->toString() == "fe80::1");
  auto mapped = peerAddress("ipv6:[::ffff:198.18.1.10]:43210");
  REQUIRE(mapped.has_value());
  CHECK_FALSE(mapped->v6);
  CHECK(mapped->toString() == "198.18.1.10");
  CHECK_FALSE(peerAddress("unix:/run/muzzle/muzzled.sock").has_value());
  CHECK_FALSE(peerAddress("ipv4:nonsense").has_value());
  CHECK_FALSE(peerAddress("ipv6:fd00::1:80").has_value());
  CHECK_FALSE(peerAddress("").has_value());
}

TEST_CASE("a TCP caller outside management.tcp.allow is refused before its certificate is read") {
  v1::TcpListener tcp;
  tcp.set_listen("198.18.1.1:7443");
  tcp.set_client_ca("/nonexistent/ca.pem");
  tcp.add_allow("198.18.1.0/24");
  auto a = Authorizer::create(tcp, "");
  REQUIRE(a.ok());
  auto outside = (*a)->identify("ipv4:203.0.113.5:5000", nullptr);
  REQUIRE_FALSE(outside.ok());
  CHECK(outside.status().code() == StatusCode::kPermissionDenied);
  CHECK(outside.status().message() == "peer 203.0.113.5 is not in management.tcp.allow");
  // An unreadable peer string is outside too.
  CHECK((*a)->identify("weird:peer", nullptr).status().code() == StatusCode::kPermissionDenied);
  // Inside: on to the certificate check (none here).
  auto inside = (*a)->identify("ipv6:[::ffff:198.18.1.10]:5000", nullptr);
  REQUIRE_FALSE(inside.ok());
  CHECK(inside.status().code() == StatusCode::kUnauthenticated);
  // The unix socket is not subject to the TCP allow list.
  CHECK((*a)->identify("unix:/run/muzzle/muzzled.sock", nullptr).ok());
  // Without an allow list every address gets as far as the certificate.
  auto open = Authorizer::create(v1::TcpListener{}, "");
  REQUIRE(open.ok());
  CHECK((*open)->identify("ipv4:203.0.113.5:5000", nullptr).status().code() ==
        StatusCode::kUnauthenticated);
  // A bad entry stops start-up.
  tcp.add_allow("198.18.1.5/24");
  CHECK(Authorizer::create(tcp, "").status().message().find("management.tcp.allow[1]") == 0);
}

TEST_CASE("the unit drop-in: nothing to change without TCP") {
  auto text = unitDropIn(config("segments: [{name: c, interface: br-cam}]\npolicy: p.yaml\n"),
                         "/etc/muzzle/muzzled.yaml");
  REQUIRE(text.ok());
  CHECK(text->find("from /etc/muzzle/muzzled.yaml") != std::string::npos);
  CHECK(text->find("management.tcp, management.metrics and management.web are off") !=
        std::string::npos);
  CHECK(text->find("[Service]") == std::string::npos);
  // An idle box (no segment yet) serves management as configured, so `muzzlectl setup` can
  // reach it over TCP too: the same drop-in as an enforcing box's.
  auto idle = unitDropIn(config("management: {tcp: {listen: \"198.18.1.1:7443\"}}\n"), "m.yaml");
  REQUIRE(idle.ok());
  CHECK(idle->find("[Service]\nRestrictAddressFamilies=AF_NETLINK AF_UNIX AF_INET AF_INET6\n") !=
        std::string::npos);
}

TEST_CASE("the unit drop-in with TCP: IP families, and the allow list (or any)") {
  auto any = unitDropIn(config(kTcp), "/etc/muzzle/muzzled.yaml");
  REQUIRE(any.ok());
  CHECK(any->find("[Service]\nRestrictAddressFamilies=AF_NETLINK AF_UNIX AF_INET AF_INET6\n"
                  "IPAddressAllow=any\n") != std::string::npos);
  CHECK(any->find("every address may reach it") != std::string::npos);

  auto some = unitDropIn(config(std::string(kTcp) + "    allow: [198.18.1.0/24, fd00:1::10]\n"),
                         "/etc/muzzle/muzzled.yaml");
  REQUIRE(some.ok());
  CHECK(some->find("\nIPAddressAllow=198.18.1.0/24 fd00:1::10/128\n") != std::string::npos);
  CHECK(some->find("only management.tcp.allow may reach it") != std::string::npos);

  auto bad = unitDropIn(config(std::string(kTcp) + "    allow: [everyone]\n"), "m.yaml");
  CHECK_FALSE(bad.ok());
}

TEST_CASE("the unit drop-in with metrics: IP families, and the scrapers added to IPAddressAllow") {
  const std::string metrics =
      "  metrics:\n    listen: 198.51.100.1:9464\n    allow: [198.51.100.7, \"2001:db8::/64\"]\n";
  // Metrics alone: the scrapers only.
  auto alone = unitDropIn(config("segments: [{name: cameras, interface: br-cam}]\n"
                                 "policy: policy.yaml\nmanagement:\n" + metrics),
                          "/etc/muzzle/muzzled.yaml");
  REQUIRE(alone.ok());
  CHECK(alone->find("# management.metrics listens on 198.51.100.1:9464: only "
                    "management.metrics.allow may reach it.\n") != std::string::npos);
  CHECK(alone->find("[Service]\nRestrictAddressFamilies=AF_NETLINK AF_UNIX AF_INET AF_INET6\n"
                    "IPAddressAllow=198.51.100.7/32 2001:db8::/64\n") != std::string::npos);
  // With TCP's allow list: the union, TCP's first.
  auto both = unitDropIn(
      config(std::string(kTcp) + "    allow: [198.18.1.0/24]\n" + metrics), "m.yaml");
  REQUIRE(both.ok());
  CHECK(both->find("\nIPAddressAllow=198.18.1.0/24 198.51.100.7/32 2001:db8::/64\n") !=
        std::string::npos);
  // TCP open to any address keeps `any` (muzzled still closes scrapers outside metrics.allow).
  auto any = unitDropIn(config(std::string(kTcp) + metrics), "m.yaml");
  REQUIRE(any.ok());
  CHECK(any->find("\nIPAddressAllow=any\n") != std::string::npos);
  // Idle: the same, so metrics work as soon as `muzzlectl setup` makes the box enforce.
  auto idle = unitDropIn(config("management:\n" + metrics), "m.yaml");
  REQUIRE(idle.ok());
  CHECK(idle->find("\nIPAddressAllow=198.51.100.7/32 2001:db8::/64\n") != std::string::npos);
}

TEST_CASE("the unit drop-in with the web console: its browsers, or any address without a list") {
  const std::string box = "segments: [{name: cameras, interface: br-cam}]\npolicy: policy.yaml\n";
  auto listed = unitDropIn(config(box + "management:\n  web:\n    listen: 198.51.100.1:8443\n"
                                        "    allow: [198.51.100.2]\n"),
                           "m.yaml");
  REQUIRE(listed.ok());
  CHECK(listed->find("# management.web listens on 198.51.100.1:8443: only management.web.allow "
                     "may reach it.\n") != std::string::npos);
  CHECK(listed->find("\nIPAddressAllow=198.51.100.2/32\n") != std::string::npos);
  // No list: every address reaches the login page.
  auto open = unitDropIn(config(box + "management:\n  web:\n    listen: 198.51.100.1:8443\n"),
                         "m.yaml");
  REQUIRE(open.ok());
  CHECK(open->find("\nIPAddressAllow=any\n") != std::string::npos);
  CHECK(open->find("a login is still required") != std::string::npos);
  // Configured certificate files are among the paths checked after dropping root.
  auto needs = sandboxPaths(config(box + "management:\n  web:\n    listen: 198.51.100.1:8443\n"
                                         "    cert: web.pem\n    key: web.key\n"));
  bool cert = false, key = false;
  for (const auto& n : needs) {
    cert = cert || (n.what == "management.web.cert" && n.path == "/etc/muzzle/web.pem");
    key = key || (n.what == "management.web.key" && n.path == "/etc/muzzle/web.key");
  }
  CHECK(cert);
  CHECK(key);
}

TEST_CASE("the paths checked after dropping root: state, socket folder, policy, certificates") {
  auto needs = sandboxPaths(config(kTcp));
  REQUIRE(needs.size() == 6);
  CHECK(needs[0].path == "/var/lib/muzzle");
  CHECK(needs[0].kind == PathNeed::Kind::kOwnTree);
  CHECK(needs[1].path == "/run/muzzle");
  CHECK(needs[1].kind == PathNeed::Kind::kCreateIn);
  CHECK(needs[2].path == "/etc/muzzle/policy.yaml");
  CHECK(needs[3].path == "/etc/muzzle/box.pem");
  CHECK(needs[4].path == "/etc/muzzle/tls/box.key");
  CHECK(needs[4].what == "management.tcp.key");
  CHECK(needs[5].path == "/etc/muzzle/ca.pem");
  // Idle: no policy yet, but the state folder (where `muzzlectl setup` keeps its choice) and
  // the socket's folder.
  auto idle = sandboxPaths(config("state_dir: /srv/m\n"));
  REQUIRE(idle.size() == 2);
  CHECK(idle[0].path == "/srv/m");
  CHECK(idle[0].kind == PathNeed::Kind::kOwnTree);
  CHECK(idle[1].path == "/run/muzzle");
}

// In a child: a seccomp filter answering socket(AF_INET, ...) with EAFNOSUPPORT, as systemd's
// RestrictAddressFamilies= does, then the probe. Returns its message ("" when it passed).
std::string underAddressFamilyFilter(const std::function<std::string()>& probe) {
  return testing::outputOfChild([&] {
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EAFNOSUPPORT),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(sizeof(filter) / sizeof(filter[0])), filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
      return std::string("filter not installed");
    return probe();
  });
}

std::string probeUnderAddressFamilyFilter(const std::string& listen) {
  return underAddressFamilyFilter([&] { return probeIpSocket(listen).message(); });
}

TEST_CASE("the IP socket probe says what to run when the unit forbids IP sockets") {
  // Where IP sockets work, the probe passes; a name instead of an address is the server's to
  // report.
  CHECK(probeIpSocket("127.0.0.1:7443").ok());
  CHECK(probeIpSocket("box.example:7443").ok());
  const std::string m = probeUnderAddressFamilyFilter("198.18.1.1:7443");
  CHECK(m.find("management.tcp.listen 198.18.1.1:7443: muzzled may not open an IPv4 socket "
               "(Address family not supported by protocol): its sandbox forbids IP sockets") == 0);
  CHECK(m.find("run `systemctl daemon-reload`, then `systemctl restart muzzled`") !=
        std::string::npos);
  // IPv6 is not filtered in that child: an IPv6 listener passes.
  CHECK(probeUnderAddressFamilyFilter("[fd00:1::1]:7443").empty());
}

const char kSyslog[] =
    "segments: [{name: cameras, interface: br-cam}]\n"
    "policy: policy.yaml\n"
    "syslog:\n"
    "  - target: udp://198.51.100.2:514\n"
    "  - target: tls://[2001:db8::5]:6514\n"
    "    ca: siem/ca.pem\n"
    "    cert: box.pem\n"
    "    key: box.key\n";

TEST_CASE("the unit drop-in with syslog alone: IP families, and exactly the collectors") {
  auto text = unitDropIn(config(kSyslog), "/etc/muzzle/muzzled.yaml");
  REQUIRE(text.ok());
  CHECK(text->find("# syslog: muzzled sends events to udp://198.51.100.2:514 "
                   "tls://[2001:db8::5]:6514;\n# their addresses are allowed.\n") !=
        std::string::npos);
  CHECK(text->find("[Service]\nRestrictAddressFamilies=AF_NETLINK AF_UNIX AF_INET AF_INET6\n"
                   "IPAddressAllow=198.51.100.2/32 2001:db8::5/128\n") != std::string::npos);
  CHECK(text->find("management.tcp listens") == std::string::npos);
  // Idle (no segment): allowed all the same, for the enforcing box `muzzlectl setup` makes of it
  // without a restart (and without a new drop-in).
  auto idle = unitDropIn(config("syslog: [{target: \"udp://198.51.100.2:514\"}]\n"), "m.yaml");
  REQUIRE(idle.ok());
  CHECK(idle->find("IPAddressAllow=198.51.100.2/32\n") != std::string::npos);
}

TEST_CASE("the unit drop-in with management.tcp and syslog: the allow list grows, `any` stays") {
  const std::string syslog =
      "syslog:\n  - target: tcp://198.51.100.2:601\n"
      "  - target: udp://198.18.1.20:514\n";
  auto some =
      unitDropIn(config(std::string(kTcp) + "    allow: [198.18.1.0/24]\n" + syslog), "m.yaml");
  REQUIRE(some.ok());
  CHECK(some->find("\nIPAddressAllow=198.18.1.0/24 198.51.100.2/32 198.18.1.20/32\n") !=
        std::string::npos);
  auto any = unitDropIn(config(std::string(kTcp) + syslog), "m.yaml");
  REQUIRE(any.ok());
  CHECK(any->find("\nIPAddressAllow=any\n") != std::string::npos);
  // The same address twice is listed once.
  auto twice =
      unitDropIn(config(std::string(kSyslog) + "  - target: tcp://198.51.100.2:601\n"), "m.yaml");
  REQUIRE(twice.ok());
  CHECK(twice->find("\nIPAddressAllow=198.51.100.2/32 2001:db8::5/128\n") != std::string::npos);
}

TEST_CASE("the paths checked after dropping root include the collectors' TLS files") {
  auto needs = sandboxPaths(config(kSyslog));
  REQUIRE(needs.size() == 6);
  CHECK(needs[3].path == "/etc/muzzle/siem/ca.pem");
  CHECK(needs[3].what == "syslog[1].ca");
  CHECK(needs[3].kind == PathNeed::Kind::kReadFile);
  CHECK(needs[4].path == "/etc/muzzle/box.pem");
  CHECK(needs[4].what == "syslog[1].cert");
  CHECK(needs[5].what == "syslog[1].key");
}

TEST_CASE("the syslog socket probe names the collector and what to run") {
  const DaemonConfig c = config(kSyslog);
  CHECK(probeSyslogSocket(c.syslog[0], 0).ok());
  const std::string m =
      underAddressFamilyFilter([&] { return probeSyslogSocket(c.syslog[0], 0).message(); });
  CHECK(m.find("syslog[0] udp://198.51.100.2:514: muzzled may not open an IPv4 socket "
               "(Address family not supported by protocol): its sandbox forbids IP sockets") == 0);
  CHECK(m.find("once it has seen `syslog`: run `systemctl daemon-reload`") != std::string::npos);
  // IPv6 is not filtered in that child.
  CHECK(underAddressFamilyFilter([&] {
          return probeSyslogSocket(c.syslog[1], 1).message();
        }).empty());
}

}  // namespace
}  // namespace muzzle

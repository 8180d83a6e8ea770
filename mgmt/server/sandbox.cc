#include "mgmt/server/sandbox.h"

#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "mgmt/server/server.h"

namespace muzzle {
namespace {

std::string relativeTo(const std::string& dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || dir.empty()) return path;
  return dir + "/" + path;
}

// The host part of "address:port" / "[v6]:port", if it is a literal address.
std::optional<IpAddress> listenAddress(const std::string& listen) {
  std::string host = listen;
  if (!host.empty() && host[0] == '[') {
    host = host.substr(
        1, host.find(']') == std::string::npos ? std::string::npos : host.find(']') - 1);
  } else if (size_t colon = host.rfind(':'); colon != std::string::npos) {
    host = host.substr(0, colon);
  }
  return IpAddress::parse(host);
}

}  // namespace

std::vector<PathNeed> sandboxPaths(const DaemonConfig& config) {
  using Kind = PathNeed::Kind;
  std::vector<PathNeed> needs;
  const v1::Management& m = config.management;
  const std::string socket =
      m.socket().empty() ? kDefaultSocket : relativeTo(config.config_dir, m.socket());
  needs.push_back({config.state_dir, Kind::kOwnTree, "state_dir"});
  needs.push_back(
      {std::filesystem::path(socket).parent_path().string(), Kind::kCreateIn, "management.socket"});
  // Idle (no segment yet): no policy to read, but the state folder is where `muzzlectl setup`
  // keeps its choice, and the management listeners serve as they do on an enforcing box.
  if (!config.policy_path.empty()) needs.push_back({config.policy_path, Kind::kReadFile, "policy"});
  if (!m.tcp().listen().empty()) {
    needs.push_back(
        {relativeTo(config.config_dir, m.tcp().cert()), Kind::kReadFile, "management.tcp.cert"});
    needs.push_back(
        {relativeTo(config.config_dir, m.tcp().key()), Kind::kReadFile, "management.tcp.key"});
    needs.push_back({relativeTo(config.config_dir, m.tcp().client_ca()), Kind::kReadFile,
                     "management.tcp.client_ca"});
  }
  if (!m.web().listen().empty() && !m.web().cert().empty()) {
    needs.push_back(
        {relativeTo(config.config_dir, m.web().cert()), Kind::kReadFile, "management.web.cert"});
    needs.push_back(
        {relativeTo(config.config_dir, m.web().key()), Kind::kReadFile, "management.web.key"});
  }
  for (size_t i = 0; i < config.syslog.size(); ++i) {
    const SyslogCollectorConfig& c = config.syslog[i];
    const std::string at = "syslog[" + std::to_string(i) + "].";
    for (const auto& [field, path] :
         {std::pair{"ca", &c.ca}, std::pair{"cert", &c.cert}, std::pair{"key", &c.key}}) {
      if (!path->empty()) needs.push_back({*path, Kind::kReadFile, at + field});
    }
  }
  return needs;
}

Status enterSandbox(const DaemonConfig& config, const std::string& requested_user,
                    std::vector<LogLine>* lines) {
  const std::string name = requested_user.empty() ? kDefaultRunAsUser : requested_user;
  // Nothing muzzled starts (the MUD fetch helper) inherits CAP_NET_ADMIN through the ambient
  // set systemd hands muzzled (AmbientCapabilities=); muzzled's own sets stay as they are. A
  // prctl, not capset: the unit's system call filter allows it. Per thread, so before any
  // thread exists (main calls this first).
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) {
    return Status::error(std::string("clearing the ambient capabilities: ") + strerror(errno));
  }
  auto plan = planRunAs(::geteuid(), requested_user, lookupUser(name));
  if (!plan.ok()) return plan.status();
  const std::vector<PathNeed> needs = sandboxPaths(config);
  switch (plan->action) {
    case RunAsPlan::Action::kKeep:
      break;
    case RunAsPlan::Action::kStayRoot:
      lines->push_back(LogLine("warning")
                    .add("problem", "running as root (--user " + name + ")")
                    .add("what", "muzzled keeps every privilege; without --user it runs as " +
                                     std::string(kDefaultRunAsUser) + " with CAP_NET_ADMIN alone"));
      return Status();
    case RunAsPlan::Action::kDrop:
      for (const PathNeed& need : needs) {
        if (need.kind == PathNeed::Kind::kReadFile) continue;
        if (Status s = prepareDirectory(need.path, plan->user); !s.ok()) {
          return s.withContext(need.what + ": ");
        }
      }
      if (Status s = dropPrivileges(plan->user); !s.ok()) return s;
      lines->push_back(LogLine("privileges")
                    .add("user", plan->user.name)
                    .add("uid", plan->user.uid)
                    .add("gid", plan->user.gid)
                    .add("capabilities", "cap_net_admin")
                    .add("from", "root"));
      break;
  }
  if (Status s = checkAccess(needs); !s.ok()) return s;
  if (!config.management.tcp().listen().empty()) {
    if (Status s = probeIpSocket(config.management.tcp().listen()); !s.ok()) return s;
  }
  if (!config.management.metrics().listen().empty()) {
    if (Status s = probeIpSocket(config.management.metrics().listen(), "management.metrics.listen");
        !s.ok()) {
      return s;
    }
  }
  if (!config.management.web().listen().empty()) {
    if (Status s = probeIpSocket(config.management.web().listen(), "management.web.listen");
        !s.ok()) {
      return s;
    }
  }
  for (size_t i = 0; i < config.syslog.size(); ++i) {
    if (Status s = probeSyslogSocket(config.syslog[i], i); !s.ok()) return s;
  }
  return Status();
}

Result<AddressSet> tcpAllowList(const v1::TcpListener& tcp) {
  AddressSet set;
  if (tcp.allow_size() > 0 && tcp.listen().empty()) {
    return Status::error(StatusCode::kInvalidArgument,
                         "management.tcp.allow: set, but management.tcp.listen is not (there is "
                         "no TCP listener to allow clients to)");
  }
  for (int i = 0; i < tcp.allow_size(); ++i) {
    auto cidr = Cidr::parse(tcp.allow(i));
    if (!cidr) {
      return Status::error(StatusCode::kInvalidArgument,
                           "management.tcp.allow[" + std::to_string(i) + "]: \"" + tcp.allow(i) +
                               "\" is not an address or a CIDR (e.g. 198.18.1.0/24, fd00:1::/64)");
    }
    set.add(*cidr);
  }
  set.finalize();
  return set;
}

std::optional<IpAddress> peerAddress(std::string_view peer) {
  std::string text;
  if (peer.substr(0, 5) == "ipv4:") {
    text = std::string(peer.substr(5));
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) return std::nullopt;
    text.resize(colon);
  } else if (peer.substr(0, 5) == "ipv6:") {
    text = std::string(peer.substr(5));
    // Newer gRPC percent-encodes the brackets; a zone ("%25eth0") is not part of the address.
    for (auto [from, to] : {std::pair{"%5B", "["}, std::pair{"%5D", "]"}}) {
      if (size_t at = text.find(from); at != std::string::npos) text.replace(at, 3, to);
    }
    if (text.empty() || text[0] != '[' || text.find(']') == std::string::npos) return std::nullopt;
    text = text.substr(1, text.find(']') - 1);
    if (size_t zone = text.find('%'); zone != std::string::npos) text.resize(zone);
  } else {
    return std::nullopt;
  }
  auto ip = IpAddress::parse(text);
  if (ip && ip->v6) {
    // ::ffff:a.b.c.d: gRPC serves an IPv4 listen address on a dual-stack IPv6 socket.
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(ip->bytes.data(), kMapped, sizeof(kMapped)) == 0) {
      return IpAddress::fromBytes(ip->bytes.data() + 12, false);
    }
  }
  return ip;
}

Result<std::string> unitDropIn(const DaemonConfig& config, const std::string& config_path) {
  const v1::TcpListener& tcp = config.management.tcp();
  auto allow = tcpAllowList(tcp);
  if (!allow.ok()) return allow.status();
  std::string text =
      "# Written by muzzle-generator (muzzled --print-unit-dropin) from " + config_path +
      ",\n# at boot and at every `systemctl daemon-reload`. Edit the config, not this file.\n";
  const v1::MetricsListener& metrics = config.management.metrics();
  const bool tcp_on = !tcp.listen().empty();
  const bool metrics_on = !metrics.listen().empty();
  const bool syslog_on = !config.syslog.empty();
  const v1::WebConsole& web = config.management.web();
  const bool web_on = !web.listen().empty();
  if (!tcp_on && !metrics_on && !syslog_on && !web_on) {
    return text +
           "# management.tcp, management.metrics and management.web are off and no syslog "
           "collector is set: the sandbox stays as shipped (no IP socket, no IP address).\n";
  }
  // IPAddressAllow= is one list for the whole unit: the union of both listeners' peers, or
  // `any` when management.tcp admits every address (its certificate check still applies; the
  // metrics endpoint checks its own allow list on every connection anyway).
  std::string allowed;
  auto add_allowed = [&allowed](const std::string& cidr) {
    if ((" " + allowed + " ").find(" " + cidr + " ") == std::string::npos) {
      allowed += (allowed.empty() ? "" : " ") + cidr;
    }
  };
  // Either open listener with an empty allow list admits every address (a client certificate,
  // or a console login, is still required).
  const bool any = (tcp_on && tcp.allow().empty()) || (web_on && web.allow().empty());
  if (tcp_on) {
    text += "# management.tcp listens on " + tcp.listen() + ": " +
            (any ? "every address may reach it (management.tcp.allow is empty; "
                   "a client certificate is still required).\n"
                 : "only management.tcp.allow may reach it.\n");
    for (const std::string& cidr : tcp.allow()) add_allowed(Cidr::parse(cidr)->toString());
  }
  if (metrics_on) {
    text += "# management.metrics listens on " + metrics.listen() +
            ": only management.metrics.allow may reach it.\n";
    for (const std::string& cidr : metrics.allow()) {
      auto parsed = Cidr::parse(cidr);
      if (!parsed) {
        return Status::error(StatusCode::kInvalidArgument,
                             "management.metrics.allow: \"" + cidr +
                                 "\" is not an address or a CIDR");
      }
      add_allowed(parsed->toString());
    }
  }
  if (web_on) {
    text += "# management.web listens on " + web.listen() + ": " +
            (web.allow().empty() ? "every address may reach it (management.web.allow is empty; "
                                   "a login is still required).\n"
                                 : "only management.web.allow may reach it.\n");
    for (const std::string& cidr : web.allow()) {
      auto parsed = Cidr::parse(cidr);
      if (!parsed) {
        return Status::error(StatusCode::kInvalidArgument,
                             "management.web.allow: \"" + cidr + "\" is not an address or a CIDR");
      }
      add_allowed(parsed->toString());
    }
  }
  if (syslog_on) {
    std::string targets;
    for (const SyslogCollectorConfig& c : config.syslog) {
      targets += (targets.empty() ? "" : " ") + c.target;
      add_allowed(Cidr::host(c.address).toString());
    }
    text += "# syslog: muzzled sends events to " + targets + ";\n# their addresses are allowed.\n";
  }
  text += "# So muzzled may open IP sockets.\n";
  text += "[Service]\nRestrictAddressFamilies=AF_NETLINK AF_UNIX AF_INET AF_INET6\n";
  text += "IPAddressAllow=" + (any ? std::string("any") : allowed) + "\n";
  return text;
}

namespace {

// Opens and closes a socket of `family` and `type`. Failing, names `what` ("FIELD VALUE") and,
// when the sandbox is why, says that muzzle-generator opens it once it has seen `configured`.
Status probeSocket(bool v6, int type, const std::string& what, const char* configured) {
  const int fd = ::socket(v6 ? AF_INET6 : AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    ::close(fd);
    return Status();
  }
  const int err = errno;
  std::string message = what + ": muzzled may not open an " + (v6 ? "IPv6" : "IPv4") +
                        " socket (" + std::strerror(err) + ")";
  if (err == EAFNOSUPPORT || err == EPERM || err == EACCES) {
    message += std::string(": its sandbox forbids IP sockets. Under systemd, muzzle-generator "
                           "allows them (and the addresses) once it has seen ") +
               configured + ": run `systemctl daemon-reload`, then `systemctl restart muzzled`";
  }
  return Status::error(StatusCode::kFailedPrecondition, message);
}

}  // namespace

Status probeSyslogSocket(const SyslogCollectorConfig& collector, size_t index) {
  return probeSocket(collector.address.v6,
                     collector.transport == SyslogTransport::kUdp ? SOCK_DGRAM : SOCK_STREAM,
                     "syslog[" + std::to_string(index) + "] " + collector.target, "`syslog`");
}

Status probeIpSocket(const std::string& listen, const std::string& field) {
  auto ip = listenAddress(listen);
  if (!ip) return Status();
  return probeSocket(ip->v6, SOCK_STREAM, field + " " + listen,
                     "management.tcp or management.metrics");
}

}  // namespace muzzle

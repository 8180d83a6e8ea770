// How muzzled fits the sandbox it runs in: the shipped systemd unit's, or the one it makes for
// itself when started as root.
//
// - enterSandbox(): once at start, after the config is read and before any thread starts or
//   any untrusted input (packets, API calls) is read. Started as root, muzzled becomes the
//   `muzzle` user with CAP_NET_ADMIN alone (fw/engine/privileges.h), creating its state and
//   socket folders for that user when they do not exist yet. Then, as whoever it now is, it
//   checks that the files it needs later (state, socket folder, policy, certificates) are
//   usable, and, when management.tcp or a syslog collector is on, that it may open an IP socket
//   at all: the shipped unit forbids IP sockets unless its generator saw them (unitDropIn()).
// - tcpAllowList(): management.tcp.allow, validated; Authorizer refuses calls from elsewhere.
// - unitDropIn(): what `muzzled --print-unit-dropin` prints and muzzle-generator writes as
//   muzzled.service.d/management.conf: with management.tcp or syslog on, the address families
//   and IPAddressAllow= that let the clients in and the events out; otherwise nothing to change.
// Every error names the config key or path and what to do.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fw/common/net.h"
#include "fw/common/status.h"
#include "fw/config/daemon_config.h"
#include "fw/engine/event_log.h"
#include "fw/engine/privileges.h"
#include "muzzle/v1/config.pb.h"

namespace muzzle {

// `requested_user`: muzzled's --user (empty: the default user). Adds `event=privileges` to
// `*lines` after a drop, and a warning when root stays root, for the caller to log. The process
// must have one thread: capabilities are per thread, so it runs before the EventLog starts its
// delivery thread (and before gRPC and the queues start theirs).
Status enterSandbox(const DaemonConfig& config, const std::string& requested_user,
                    std::vector<LogLine>* lines);

// The files and folders muzzled opens after start-up, with the config key naming each. Idle
// (no segment) it opens none of them.
std::vector<PathNeed> sandboxPaths(const DaemonConfig& config);

// management.tcp.allow as a set (empty: every address). kInvalidArgument naming the entry
// ("management.tcp.allow[1]: ...") for one that is not a CIDR, or when allow is set without
// listen.
Result<AddressSet> tcpAllowList(const v1::TcpListener& tcp);

// The client address in a gRPC peer string ("ipv4:198.18.1.10:43210",
// "ipv6:[fd00:1::10]:43210", percent-encoded brackets too); an IPv4-mapped IPv6 address comes
// back as IPv4. nullopt for anything else (unix sockets, unknown forms).
std::optional<IpAddress> peerAddress(std::string_view peer);

// The text of muzzled.service.d/management.conf for this config (`config_path` is named in its
// comment). With management.tcp.listen set: [Service] RestrictAddressFamilies= adding AF_INET
// and AF_INET6, and IPAddressAllow= management.tcp.allow (or `any` when it is empty, since the
// unit denies every address otherwise); with management.metrics.listen set too, or alone, the
// same with management.metrics.allow added to IPAddressAllow=. With `syslog` collectors: the same
// families, and each collector's address added to IPAddressAllow= (unless it is `any`). Without
// any of them: only a comment.
Result<std::string> unitDropIn(const DaemonConfig& config, const std::string& config_path);

// Opens and closes a socket of the collector's family and type (the syslog twin of
// probeIpSocket(), its error naming `syslog[index]`).
Status probeSyslogSocket(const SyslogCollectorConfig& collector, size_t index);

// Opens and closes a TCP socket of `listen`'s address family. Under the shipped unit without
// the generator's drop-in this fails (EAFNOSUPPORT from RestrictAddressFamilies=), and the
// error says to run `systemctl daemon-reload` and restart. OK when `listen` is no literal
// address (ManagementServer reports that).
Status probeIpSocket(const std::string& listen,
                     const std::string& field = "management.tcp.listen");

}  // namespace muzzle

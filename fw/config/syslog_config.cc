#include "fw/config/syslog_config.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <set>

#include "fw/common/excerpt.h"

namespace muzzle {
namespace {

// The facility names of <syslog.h> (and logger(1)), by number; 13..15 have no common name.
constexpr std::array<std::pair<std::string_view, int>, 20> kFacilities = {{
    {"kern", 0},      {"user", 1},    {"mail", 2},    {"daemon", 3},  {"auth", 4},
    {"syslog", 5},    {"lpr", 6},     {"news", 7},    {"uucp", 8},    {"cron", 9},
    {"authpriv", 10}, {"ftp", 11},    {"local0", 16}, {"local1", 17}, {"local2", 18},
    {"local3", 19},   {"local4", 20}, {"local5", 21}, {"local6", 22}, {"local7", 23},
}};

// Event names are the log's `event=` values: lowercase words joined by '-'. A bound on their
// count keeps a config's filter small; there are far fewer kinds of events.
constexpr size_t kMaxEventNames = 64;
constexpr size_t kMaxEventNameLength = 32;  // RFC 5424's MSGID, which carries it

bool isEventName(std::string_view name) {
  if (name.empty() || name.size() > kMaxEventNameLength) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

std::string absoluteFrom(std::string_view dir, const std::string& path) {
  std::filesystem::path p(path);
  if (p.is_relative() && !dir.empty()) p = std::filesystem::path(dir) / p;
  return p.lexically_normal().string();
}

// A list of event names (`events:`): each a valid name, none twice, at most kMaxEventNames.
std::vector<std::string> parseEventNames(
    const google::protobuf::RepeatedPtrField<std::string>& names, const std::string& path,
    const std::function<void(const std::string& path, const std::string& message)>& fail) {
  std::vector<std::string> out;
  if (static_cast<size_t>(names.size()) > kMaxEventNames) {
    fail(path, std::to_string(names.size()) + " names; at most " + std::to_string(kMaxEventNames));
    return out;
  }
  for (int e = 0; e < names.size(); ++e) {
    const std::string& name = names[e];
    const std::string at = path + "[" + std::to_string(e) + "]";
    if (!isEventName(name)) {
      fail(at, quotedExcerpt(name) +
                   " is not an event name (the log's event=, e.g. deny or new-device: "
                   "lowercase letters, digits and '-', at most 32)");
    } else if (std::find(out.begin(), out.end(), name) != out.end()) {
      fail(at, quotedExcerpt(name) + " is listed twice");
    } else {
      out.push_back(name);
    }
  }
  return out;
}

}  // namespace

bool SyslogCollectorConfig::wants(std::string_view event) const {
  return events.empty() || std::find(events.begin(), events.end(), event) != events.end();
}

int syslogFacility(std::string_view name) {
  for (const auto& [n, number] : kFacilities) {
    if (n == name) return number;
  }
  return -1;
}

std::string syslogFacilityName(int facility) {
  for (const auto& [n, number] : kFacilities) {
    if (number == facility) return std::string(n);
  }
  return std::to_string(facility);
}

bool parseSyslogTarget(std::string_view text, SyslogTransport* transport, IpAddress* address,
                       uint16_t* port, std::string* error) {
  const size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) {
    *error = "is not a collector (udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT)";
    return false;
  }
  const std::string_view scheme = text.substr(0, scheme_end);
  if (scheme == "udp") {
    *transport = SyslogTransport::kUdp;
  } else if (scheme == "tcp") {
    *transport = SyslogTransport::kTcp;
  } else if (scheme == "tls") {
    *transport = SyslogTransport::kTls;
  } else {
    *error = "has the scheme " + quotedExcerpt(scheme) + "; use udp://, tcp:// or tls://";
    return false;
  }
  std::string_view rest = text.substr(scheme_end + 3);
  std::string_view host;
  std::string_view port_text;
  bool has_port = false;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      *error = "has a '[' without its ']' (an IPv6 collector is written tls://[2001:db8::5]:6514)";
      return false;
    }
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') {
        *error = "has text after the ']' that is not :PORT";
        return false;
      }
      has_port = true;
      port_text = rest.substr(close + 2);
    }
  } else {
    const size_t colon = rest.find(':');
    if (colon != std::string_view::npos && rest.find(':', colon + 1) != std::string_view::npos) {
      *error = "has an IPv6 address without brackets (write tls://[2001:db8::5]:6514)";
      return false;
    }
    host = rest.substr(0, colon);
    if (colon != std::string_view::npos) {
      has_port = true;
      port_text = rest.substr(colon + 1);
    }
  }
  auto ip = IpAddress::parse(host);
  if (!ip) {
    *error = "names the host " + quotedExcerpt(host) +
             ", which is not an IPv4 or IPv6 address; a DNS name is refused, since muzzled "
             "resolves nothing for its audit trail (a resolver must not stall or redirect it)";
    return false;
  }
  if (ip->isUnspecified()) {
    *error = "names the unspecified address " + ip->toString() + ", which is no collector";
    return false;
  }
  if (!has_port) {
    *error = "needs a port (e.g. :514 for udp, :6514 for tls)";
    return false;
  }
  uint32_t value = 0;
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(),
                   [](char c) { return c >= '0' && c <= '9'; })) {
    *error = "has the port " + quotedExcerpt(port_text) + ", which is not a number 1..65535";
    return false;
  }
  for (char c : port_text) value = value * 10 + static_cast<uint32_t>(c - '0');
  if (value < 1 || value > 65535) {
    *error = "has the port " + std::to_string(value) + ", which is not in 1..65535";
    return false;
  }
  *address = *ip;
  *port = static_cast<uint16_t>(value);
  return true;
}

std::vector<SyslogCollectorConfig> parseSyslogCollectors(
    const google::protobuf::RepeatedPtrField<v1::SyslogCollector>& collectors,
    std::string_view config_dir,
    const std::function<void(const std::string& path, const std::string& message)>& fail) {
  std::vector<SyslogCollectorConfig> out;
  if (static_cast<size_t>(collectors.size()) > kMaxSyslogCollectors) {
    fail("syslog", std::to_string(collectors.size()) + " collectors; at most " +
                       std::to_string(kMaxSyslogCollectors) +
                       " (each has its own thread and queue; a relay such as rsyslog can fan "
                       "out further)");
    return out;
  }
  std::set<std::pair<IpAddress, uint32_t>> seen;  // address, transport and port
  for (int i = 0; i < collectors.size(); ++i) {
    const v1::SyslogCollector& c = collectors.Get(i);
    const std::string path = "syslog[" + std::to_string(i) + "]";
    SyslogCollectorConfig config;
    config.target = c.target();
    std::string error;
    bool target_ok = false;
    if (c.target().empty()) {
      fail(path + ".target", "a collector needs a target (e.g. tls://198.51.100.2:6514)");
    } else if (!parseSyslogTarget(c.target(), &config.transport, &config.address, &config.port,
                                  &error)) {
      fail(path + ".target", quotedExcerpt(c.target()) + " " + error);
    } else {
      target_ok = true;
      const uint32_t key = static_cast<uint32_t>(config.transport) << 16 | config.port;
      if (!seen.emplace(config.address, key).second) {
        fail(path + ".target", quotedExcerpt(c.target()) + " is listed twice");
      }
    }
    const bool tls = config.transport == SyslogTransport::kTls;
    if (target_ok && tls && c.ca().empty()) {
      fail(path + ".ca",
           "a tls:// collector needs `ca`: the PEM CA its certificate must chain to (without it "
           "anyone on the path could pose as the collector)");
    }
    if (target_ok && !tls) {
      for (const auto& [field, value] :
           {std::pair{"ca", &c.ca()}, std::pair{"cert", &c.cert()}, std::pair{"key", &c.key()}}) {
        if (!value->empty()) {
          fail(path + "." + field, std::string("is for tls:// collectors only; ") +
                                       quotedExcerpt(c.target()) + " sends in clear text");
        }
      }
    }
    if (c.cert().empty() != c.key().empty()) {
      fail(path + (c.cert().empty() ? ".cert" : ".key"),
           "a client certificate needs both `cert` and `key`");
    }
    if (!c.ca().empty()) config.ca = absoluteFrom(config_dir, c.ca());
    if (!c.cert().empty()) config.cert = absoluteFrom(config_dir, c.cert());
    if (!c.key().empty()) config.key = absoluteFrom(config_dir, c.key());
    if (!c.facility().empty()) {
      const int facility = syslogFacility(c.facility());
      if (facility < 0) {
        fail(path + ".facility",
             quotedExcerpt(c.facility()) +
                 " is not a facility (kern, user, mail, daemon, auth, "
                 "syslog, lpr, news, uucp, cron, authpriv, ftp, local0..local7)");
      } else {
        config.facility = static_cast<uint8_t>(facility);
      }
    }
    config.events = parseEventNames(c.events(), path + ".events", fail);
    if (c.has_queue()) {
      if (c.queue() < 1 || c.queue() > SyslogCollectorConfig::kMaxQueue) {
        fail(path + ".queue", std::to_string(c.queue()) + " is out of range (1.." +
                                  std::to_string(SyslogCollectorConfig::kMaxQueue) + " lines)");
      } else {
        config.queue = c.queue();
      }
    }
    out.push_back(std::move(config));
  }
  return out;
}

bool JournalConfig::wants(std::string_view event) const {
  return events.empty() || std::find(events.begin(), events.end(), event) != events.end();
}

JournalConfig parseJournal(
    const v1::Journal& journal, bool present,
    const std::function<void(const std::string& path, const std::string& message)>& fail) {
  JournalConfig config;
  config.enabled = present;
  config.events = parseEventNames(journal.events(), "journal.events", fail);
  return config;
}

}  // namespace muzzle

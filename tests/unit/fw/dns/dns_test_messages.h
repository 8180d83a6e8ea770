// DNS messages built byte by byte for the tests of questions, TCP streams and the judge's DNS
// paths: queries, A answers, TXT answers (whose text can spell anything), TCP framing and
// segments, and the speaker's flow to the gateway's resolver.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "fw/dns/dns_flow.h"

namespace muzzle::testing {

inline void appendName(std::vector<uint8_t>& m, const std::string& name) {
  size_t start = 0;
  for (size_t dot = 0; dot <= name.size(); ++dot) {
    if (dot == name.size() || name[dot] == '.') {
      m.push_back(uint8_t(dot - start));
      m.insert(m.end(), name.begin() + long(start), name.begin() + long(dot));
      start = dot + 1;
    }
  }
  m.push_back(0);
}

inline void append16(std::vector<uint8_t>& m, uint16_t v) {
  m.push_back(uint8_t(v >> 8));
  m.push_back(uint8_t(v));
}

// A standard query (RD set) for `name`, type `qtype`, class IN.
inline std::vector<uint8_t> dnsQuery(uint16_t id, const std::string& name, uint16_t qtype = 1) {
  std::vector<uint8_t> m;
  append16(m, id);
  m.insert(m.end(), {0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0});
  appendName(m, name);
  append16(m, qtype);
  append16(m, 1);
  return m;
}

// An answer to (`id`, `name`, A): one A record, 203.0.113.`last`, TTL `ttl`.
inline std::vector<uint8_t> dnsAnswerA(uint16_t id, const std::string& name, uint8_t last,
                                       uint32_t ttl = 60) {
  std::vector<uint8_t> m;
  append16(m, id);
  m.insert(m.end(), {0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0});
  appendName(m, name);
  m.insert(m.end(), {0,
                     1,
                     0,
                     1,
                     0xC0,
                     12,
                     0,
                     1,
                     0,
                     1,
                     uint8_t(ttl >> 24),
                     uint8_t(ttl >> 16),
                     uint8_t(ttl >> 8),
                     uint8_t(ttl),
                     0,
                     4,
                     203,
                     0,
                     113,
                     last});
  return m;
}

// An answer to (`id`, `name`, TXT) whose one TXT record holds `text` (at most 255 bytes) as a
// single character-string: bytes a record's owner chooses.
inline std::vector<uint8_t> dnsAnswerTxt(uint16_t id, const std::string& name,
                                         const std::vector<uint8_t>& text) {
  std::vector<uint8_t> m;
  append16(m, id);
  m.insert(m.end(), {0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0});
  appendName(m, name);
  m.insert(m.end(), {0, 16, 0, 1, 0xC0, 12, 0, 16, 0, 1, 0, 0, 0, 60});
  append16(m, uint16_t(text.size() + 1));
  m.push_back(uint8_t(text.size()));
  m.insert(m.end(), text.begin(), text.end());
  return m;
}

// `message` with its TCP length prefix (RFC 1035 4.2.2).
inline std::vector<uint8_t> dnsFramed(const std::vector<uint8_t>& message) {
  std::vector<uint8_t> out;
  append16(out, uint16_t(message.size()));
  out.insert(out.end(), message.begin(), message.end());
  return out;
}

inline std::vector<uint8_t> slice(const std::vector<uint8_t>& v, size_t from, size_t to) {
  return std::vector<uint8_t>(v.begin() + long(from), v.begin() + long(to));
}

inline std::vector<uint8_t> concat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// `v` cut at the ascending offsets `cuts`: the segments a TCP stream carries it in.
inline std::vector<std::vector<uint8_t>> cutAt(const std::vector<uint8_t>& v,
                                               std::initializer_list<size_t> cuts) {
  std::vector<std::vector<uint8_t>> out;
  size_t from = 0;
  for (size_t to : cuts) {
    out.push_back(slice(v, from, to));
    from = to;
  }
  out.push_back(slice(v, from, v.size()));
  return out;
}

// An answer with another spelled inside it, as a device sets it up: it asks a TXT whose text
// (chosen by whoever owns bait.example) is a framed answer "avs.voice.example is 203.0.113.66",
// and asks avs.voice.example too, so the spelled message would even match a question. Then it
// makes the resolver cut its answer where the spelled message starts (a small window does that).
struct SpelledAnswer {
  std::vector<std::vector<uint8_t>> questions;  // framed: TXT bait.example (ID 1), A (ID 2)
  std::vector<std::vector<uint8_t>> segments;   // the framed TXT answer, cut before the spelling
};

inline SpelledAnswer spelledAnswer() {
  const auto spelled = dnsFramed(dnsAnswerA(2, "avs.voice.example", 66));
  const auto real = dnsFramed(dnsAnswerTxt(1, "bait.example", spelled));
  return {{dnsFramed(dnsQuery(1, "bait.example", 16)), dnsFramed(dnsQuery(2, "avs.voice.example"))},
          cutAt(real, {real.size() - spelled.size()})};
}

// The speaker's flow (68:54:00:00:00:31 at 198.18.10.31, from `port`) to the gateway's resolver
// 198.18.10.1:53 over `protocol` (17 UDP, 6 TCP); `mac` makes it another device's.
inline DnsFlowKey dnsFlow(uint8_t protocol, uint64_t mac = 0x685400000031, uint16_t port = 40000) {
  DnsFlowKey k;
  k.device = MacAddress{mac};
  k.client = *IpAddress::parse("198.18.10.31");
  k.server = *IpAddress::parse("198.18.10.1");
  k.client_port = port;
  k.server_port = 53;
  k.protocol = protocol;
  return k;
}

}  // namespace muzzle::testing

// DnsTcpStreams: DNS over TCP is read only at message boundaries proven from the SYN, whatever
// the segment boundaries; holes, retransmissions and overlaps never make it guess; it is bounded.
#include "fw/dns/dns_tcp_stream.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/unit/fw/dns/dns_test_messages.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using testing::concat;
using testing::dnsAnswerA;
using testing::dnsAnswerTxt;
using testing::dnsFramed;
using testing::slice;

struct Recorder : DnsMessageSink {
  void onDnsTcpMessage(const DnsFlowKey&, bool from_device, std::span<const uint8_t> m) override {
    messages.emplace_back(m.begin(), m.end());
    directions.push_back(from_device);
  }
  std::vector<std::vector<uint8_t>> messages;
  std::vector<bool> directions;
};

DnsFlowKey flow(uint64_t mac = 0x685400000031, uint16_t port = 40000) {
  return testing::dnsFlow(6, mac, port);
}

struct Fixture {
  ManualClock clock;
  DnsTcpStreams streams{clock};
  Recorder sink;
  DnsFlowKey key = flow();
  static constexpr uint32_t kIsn = 5000;

  DnsTcpResult syn(uint32_t isn = kIsn, bool from_device = false) {
    DnsTcpSegment s;
    s.seq = isn;
    s.syn = true;
    return streams.onSegment(key, from_device, s, sink);
  }
  // Data at `offset` bytes into the stream (0 = the byte after the SYN).
  DnsTcpResult data(uint32_t offset, const std::vector<uint8_t>& bytes, bool fin = false) {
    DnsTcpSegment s;
    s.seq = kIsn + 1 + offset;
    s.fin = fin;
    s.payload = bytes;
    return streams.onSegment(key, false, s, sink);
  }
};

TEST_CASE("a message split over three segments is read once it is whole") {
  Fixture f;
  const auto m = dnsAnswerA(1, "split.voice.example", 30);
  const auto wire = dnsFramed(m);
  f.syn();
  CHECK(f.data(0, slice(wire, 0, 1)) == DnsTcpResult::kOk);  // half of the length prefix
  CHECK(f.data(1, slice(wire, 1, 20)) == DnsTcpResult::kOk);
  CHECK(f.sink.messages.empty());
  CHECK(f.data(20, slice(wire, 20, wire.size())) == DnsTcpResult::kOk);
  REQUIRE(f.sink.messages.size() == 1);
  CHECK(f.sink.messages[0] == m);
  CHECK(f.streams.counters().reassembled == 1);
}

TEST_CASE("several messages in one segment, and one running into the next") {
  Fixture f;
  const auto a = dnsAnswerA(1, "a.example", 1), b = dnsAnswerA(2, "b.example", 2),
             c = dnsAnswerA(3, "c.example", 3);
  const auto wire = concat(concat(dnsFramed(a), dnsFramed(b)), dnsFramed(c));
  f.syn();
  const size_t cut = dnsFramed(a).size() + dnsFramed(b).size() + 5;
  f.data(0, slice(wire, 0, cut));
  CHECK(f.sink.messages.size() == 2);
  f.data(uint32_t(cut), slice(wire, cut, wire.size()));
  REQUIRE(f.sink.messages.size() == 3);
  CHECK(f.sink.messages[0] == a);
  CHECK(f.sink.messages[1] == b);
  CHECK(f.sink.messages[2] == c);
}

TEST_CASE(
    "segment boundaries never start a message: a message spelled inside a record is not one") {
  Fixture f;
  // The TXT text spells a framed answer "avs.voice.example is 203.0.113.66". Cut right where it
  // starts, the second segment begins with a length and a message: read per segment, that is a
  // message; read as a stream, it is the inside of the real answer.
  const auto fake = dnsFramed(dnsAnswerA(2, "avs.voice.example", 66));
  const auto real = dnsAnswerTxt(1, "bait.example", fake);
  const auto wire = dnsFramed(real);
  const size_t cut = wire.size() - fake.size();
  f.syn();
  f.data(0, slice(wire, 0, cut));
  f.data(uint32_t(cut), slice(wire, cut, wire.size()));
  REQUIRE(f.sink.messages.size() == 1);
  CHECK(f.sink.messages[0] == real);
}

TEST_CASE("data without a SYN seen is never read") {
  Fixture f;
  CHECK(f.data(0, dnsFramed(dnsAnswerA(1, "a.example", 1))) == DnsTcpResult::kUntracked);
  CHECK(f.sink.messages.empty());
  CHECK(f.streams.counters().untracked == 1);
  CHECK(f.streams.size() == 0);
}

TEST_CASE("retransmitted bytes are skipped; new bytes after them are read") {
  Fixture f;
  const auto a = dnsAnswerA(1, "a.example", 1), b = dnsAnswerA(2, "b.example", 2);
  const auto wa = dnsFramed(a), wb = dnsFramed(b);
  f.syn();
  f.data(0, wa);
  CHECK(f.data(0, wa) == DnsTcpResult::kOk);  // the same segment again
  CHECK(f.sink.messages.size() == 1);
  // A retransmission that carries the old bytes and the next message's.
  CHECK(f.data(0, concat(wa, wb)) == DnsTcpResult::kOk);
  REQUIRE(f.sink.messages.size() == 2);
  CHECK(f.sink.messages[1] == b);
  f.syn();  // a retransmitted SYN (same ISN) changes nothing
  f.data(uint32_t(wa.size() + wb.size()), wa);
  CHECK(f.sink.messages.size() == 3);
}

TEST_CASE("an overlap that differs from bytes held for a message loses the stream") {
  Fixture f;
  const auto wire = dnsFramed(dnsAnswerA(1, "a.example", 1));
  f.syn();
  f.data(0, slice(wire, 0, 20));
  auto changed = slice(wire, 10, 30);
  changed[5] ^= 0xFF;  // byte 15: held, and different
  CHECK(f.data(10, changed) == DnsTcpResult::kLost);
  CHECK(f.streams.counters().overlap_mismatch == 1);
  CHECK(f.streams.counters().lost == 1);
  // Nothing more is read from it, not even a well-formed message later.
  CHECK(f.data(uint32_t(wire.size()), dnsFramed(dnsAnswerA(2, "b.example", 2))) ==
        DnsTcpResult::kUntracked);
  f.data(20, slice(wire, 20, wire.size()));
  CHECK(f.sink.messages.empty());
}

TEST_CASE("a hole inside a message skips that message; the next boundary is known") {
  Fixture f;
  const auto a = dnsAnswerA(1, "a.example", 1), b = dnsAnswerA(2, "b.example", 2);
  const auto wa = dnsFramed(a), wb = dnsFramed(b);
  const auto wire = concat(wa, wb);
  f.syn();
  f.data(0, slice(wire, 0, 10));
  // Bytes 10..19 never seen (or still on their way): a is unreadable, b starts at wa.size().
  CHECK(f.data(20, slice(wire, 20, wire.size())) == DnsTcpResult::kMessageSkipped);
  REQUIRE(f.sink.messages.size() == 1);
  CHECK(f.sink.messages[0] == b);
  CHECK(f.streams.counters().messages_skipped == 1);
  // The missing segment arrives late: already passed, so skipped.
  CHECK(f.data(10, slice(wire, 10, 20)) == DnsTcpResult::kOk);
  CHECK(f.sink.messages.size() == 1);
}

TEST_CASE("out of order across a boundary: no later boundary can be proven") {
  Fixture f;
  const auto wa = dnsFramed(dnsAnswerA(1, "a.example", 1));
  const auto wb = dnsFramed(dnsAnswerA(2, "b.example", 2));
  f.syn();
  // The second message arrives before the first: its start cannot be told from the inside of a
  // message, since the first message's length was never seen.
  CHECK(f.data(uint32_t(wa.size()), wb) == DnsTcpResult::kLost);
  CHECK(f.data(0, wa) == DnsTcpResult::kUntracked);
  CHECK(f.sink.messages.empty());
  // A hole past the end of the current message is just as lost.
  Fixture g;
  g.syn();
  g.data(0, slice(wa, 0, 5));
  CHECK(g.data(uint32_t(wa.size() + 1), slice(wb, 1, wb.size())) == DnsTcpResult::kLost);
}

TEST_CASE("sequence numbers wrap around 2^32") {
  Fixture f;
  const auto m = dnsAnswerA(1, "wrap.example", 1);
  const auto wire = dnsFramed(m);
  DnsTcpSegment s;
  s.seq = 0xFFFFFFF0u;
  s.syn = true;
  f.streams.onSegment(f.key, false, s, f.sink);
  s.syn = false;
  const auto first = slice(wire, 0, 20), second = slice(wire, 20, wire.size());
  s.seq = 0xFFFFFFF1u;
  s.payload = first;
  f.streams.onSegment(f.key, false, s, f.sink);
  s.seq = 0xFFFFFFF1u + 20;  // wrapped
  s.payload = second;
  f.streams.onSegment(f.key, false, s, f.sink);
  REQUIRE(f.sink.messages.size() == 1);
  CHECK(f.sink.messages[0] == m);
}

TEST_CASE("the largest message is reassembled") {
  Fixture f;
  std::vector<uint8_t> big(65535, 0xAB);
  const auto wire = dnsFramed(big);
  f.syn();
  for (size_t at = 0; at < wire.size(); at += 1400) {
    f.data(uint32_t(at), slice(wire, at, std::min(wire.size(), at + 1400)));
  }
  REQUIRE(f.sink.messages.size() == 1);
  CHECK(f.sink.messages[0] == big);
}

TEST_CASE("FIN ends a direction, RST both; each direction is its own stream") {
  Fixture f;
  f.syn(1000, /*from_device=*/true);
  f.syn();
  CHECK(f.streams.size() == 2);
  f.data(0, dnsFramed(dnsAnswerA(1, "a.example", 1)), /*fin=*/true);
  CHECK(f.sink.messages.size() == 1);
  CHECK(f.streams.size() == 1);
  DnsTcpSegment rst;
  rst.seq = Fixture::kIsn + 1;
  rst.rst = true;
  f.streams.onSegment(f.key, false, rst, f.sink);
  CHECK(f.streams.size() == 0);
}

TEST_CASE("a SYN with another ISN starts the stream afresh") {
  Fixture f;
  const auto wire = dnsFramed(dnsAnswerA(1, "a.example", 1));
  f.syn();
  f.data(0, slice(wire, 0, 10));
  f.syn(9000);  // the ports reused by a new connection
  DnsTcpSegment s;
  s.seq = 9001;
  s.payload = wire;
  f.streams.onSegment(f.key, false, s, f.sink);
  CHECK(f.sink.messages.size() == 1);
}

TEST_CASE("streams are bounded per device and in all, least recently used out, counted") {
  ManualClock clock;
  DnsTcpStreams streams(clock);
  Recorder sink;
  DnsTcpSegment syn;
  syn.syn = true;
  // One device opening many connections keeps only its newest kDnsMaxTcpStreamsPerDevice.
  for (uint16_t port = 0; port < 20; ++port) streams.onSegment(flow(1, port), false, syn, sink);
  CHECK(streams.size() == kDnsMaxTcpStreamsPerDevice);
  CHECK(streams.counters().evictions == 20 - kDnsMaxTcpStreamsPerDevice);
  DnsTcpSegment data;
  data.seq = 1;
  const auto wire = dnsFramed(dnsAnswerA(1, "a.example", 1));
  data.payload = wire;
  CHECK(streams.onSegment(flow(1, 0), false, data, sink) == DnsTcpResult::kUntracked);
  CHECK(streams.onSegment(flow(1, 19), false, data, sink) == DnsTcpResult::kOk);
  // Many devices: the total bound holds, the least recently used goes.
  for (uint64_t mac = 100; mac < 100 + kDnsMaxTcpStreams; ++mac) {
    streams.onSegment(flow(mac), false, syn, sink);
  }
  CHECK(streams.size() == kDnsMaxTcpStreams);
  CHECK(streams.onSegment(flow(1, 19), false, data, sink) == DnsTcpResult::kUntracked);
  CHECK(streams.counters().evictions ==
        20 - kDnsMaxTcpStreamsPerDevice + kDnsMaxTcpStreamsPerDevice);
}

TEST_CASE("idle streams make room first, and are not counted as evictions") {
  ManualClock clock;
  DnsTcpStreams streams(clock, DnsTcpLimits{2, 2, kDnsTcpStreamIdle});
  Recorder sink;
  DnsTcpSegment syn;
  syn.syn = true;
  streams.onSegment(flow(1), false, syn, sink);
  streams.onSegment(flow(2), false, syn, sink);
  clock.advance(kDnsTcpStreamIdle);
  streams.onSegment(flow(3), false, syn, sink);
  CHECK(streams.size() == 1);
  CHECK(streams.counters().evictions == 0);
}

TEST_CASE("every result has a name") {
  for (auto r : {DnsTcpResult::kOk, DnsTcpResult::kUntracked, DnsTcpResult::kMessageSkipped,
                 DnsTcpResult::kLost}) {
    CHECK(std::string(dnsTcpResultName(r)) != "unknown");
  }
}

}  // namespace
}  // namespace muzzle

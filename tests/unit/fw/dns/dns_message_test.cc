// The DNS parsers: well-formed answers (A, AAAA, compression, CNAME chains, EDNS), the question
// of a query, and every way an untrusted message can be malformed.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fw/dns/dns_message.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

// Builds DNS messages byte by byte, so each test shows exactly what is on the wire.
struct Wire {
  std::vector<uint8_t> b;
  Wire& u8(uint8_t v) {
    b.push_back(v);
    return *this;
  }
  Wire& u16(uint16_t v) { return u8(uint8_t(v >> 8)).u8(uint8_t(v)); }
  Wire& u32(uint32_t v) { return u16(uint16_t(v >> 16)).u16(uint16_t(v)); }
  Wire& name(std::string_view dotted) {
    while (!dotted.empty()) {
      size_t dot = dotted.find('.');
      std::string_view label = dotted.substr(0, dot);
      u8(uint8_t(label.size()));
      for (char c : label) u8(uint8_t(c));
      dotted = dot == std::string_view::npos ? std::string_view() : dotted.substr(dot + 1);
    }
    return u8(0);
  }
  Wire& ptr(uint16_t offset) { return u16(uint16_t(0xC000 | offset)); }
  // Header of a response (QR, RD, RA) with the given counts.
  Wire& header(uint16_t qd, uint16_t an, uint16_t flags = 0x8180, uint16_t ar = 0) {
    return u16(0x1234).u16(flags).u16(qd).u16(an).u16(0).u16(ar);
  }
  Wire& question(std::string_view qname, uint16_t qtype = kDnsTypeA) {
    return name(qname).u16(qtype).u16(1);
  }
  // A record fixed part after the owner name.
  Wire& fixed(uint16_t type, uint32_t ttl, uint16_t rdlength, uint16_t klass = 1) {
    return u16(type).u16(klass).u32(ttl).u16(rdlength);
  }
  Wire& a(uint8_t last, uint32_t ttl = 60) { return fixed(kDnsTypeA, ttl, 4).u8(203).u8(0).u8(113).u8(last); }
  size_t size() const { return b.size(); }
};

struct Parsed {
  DnsError error;
  DnsMessage m;
};

// DnsMessage is large; keep it off the test's stack frame.
std::unique_ptr<Parsed> parse(const Wire& w) {
  auto p = std::make_unique<Parsed>();
  p->error = parseDnsMessage(w.b, &p->m);
  return p;
}

std::vector<std::string> bindings(const DnsMessage& m) {
  std::vector<std::string> out;
  forEachBinding(m, [&](const DnsBinding& b) {
    out.push_back(std::string(b.name) + "=" + b.address.toString() + "/" + std::to_string(b.ttl));
  });
  return out;
}

TEST_CASE("an A answer with the owner compressed onto the question") {
  Wire w;
  w.header(1, 1).question("avs.voice.example").ptr(12).a(30, 120);
  auto p = parse(w);
  REQUIRE(p->error == DnsError::kOk);
  CHECK(p->m.question.view() == "avs.voice.example");
  CHECK(p->m.record_count == 1);
  CHECK(bindings(p->m) == std::vector<std::string>{"avs.voice.example=203.0.113.30/120"});
}

TEST_CASE("an AAAA answer, names lowercased") {
  Wire w;
  w.header(1, 1).question("AVS.Voice.EXAMPLE", kDnsTypeAaaa).ptr(12).fixed(kDnsTypeAaaa, 30, 16);
  const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0xca, 0xfe, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x30};
  for (uint8_t c : v6) w.u8(c);
  auto p = parse(w);
  REQUIRE(p->error == DnsError::kOk);
  CHECK(bindings(p->m) == std::vector<std::string>{"avs.voice.example=2001:db8:cafe::30/30"});
}

TEST_CASE("a CNAME chain binds the address to every name from the question down, min TTL") {
  Wire w;
  w.header(1, 3).question("cdn.voice.example");
  const size_t edge_at = w.size() + 12;  // where the first CNAME's target name starts
  w.ptr(12).fixed(kDnsTypeCname, 300, 20).name("edge.cdnco.example");
  const size_t node_at = w.size() + 12;
  // Compressed target: "node7" + pointer to "cdnco.example" inside the previous target.
  w.ptr(uint16_t(edge_at)).fixed(kDnsTypeCname, 40, 8).u8(5).u8('n').u8('o').u8('d').u8('e').u8('7')
      .ptr(uint16_t(edge_at + 5));
  w.ptr(uint16_t(node_at)).a(33, 100);
  auto p = parse(w);
  REQUIRE(p->error == DnsError::kOk);
  CHECK(p->m.records[1].target.view() == "node7.cdnco.example");
  CHECK(bindings(p->m) == std::vector<std::string>{"cdn.voice.example=203.0.113.33/40",
                                                   "edge.cdnco.example=203.0.113.33/40",
                                                   "node7.cdnco.example=203.0.113.33/40"});
}

TEST_CASE("records about names off the chain teach nothing") {
  Wire w;
  w.header(1, 2).question("avs.voice.example").ptr(12).a(30).name("bank.example").a(66);
  auto p = parse(w);
  REQUIRE(p->error == DnsError::kOk);
  CHECK(p->m.record_count == 2);
  CHECK(bindings(p->m) == std::vector<std::string>{"avs.voice.example=203.0.113.30/60"});
}

TEST_CASE("a CNAME loop stops the chain") {
  Wire w;
  w.header(1, 3).question("a.example").ptr(12).fixed(kDnsTypeCname, 60, 11).name("b.example");
  w.name("b.example").fixed(kDnsTypeCname, 60, 2).ptr(12);
  w.name("b.example").a(1);
  auto p = parse(w);
  REQUIRE(p->error == DnsError::kOk);
  CHECK(bindings(p->m) == std::vector<std::string>{"a.example=203.0.113.1/60", "b.example=203.0.113.1/60"});
}

TEST_CASE("a TTL with the top bit set counts as zero; non-IN classes are skipped") {
  Wire w;
  w.header(1, 2).question("a.example").ptr(12).a(1, 0x80000001).ptr(12).fixed(kDnsTypeA, 60, 4, 3).u32(1);
  auto p = parse(w);
  REQUIRE(p->error == DnsError::kOk);
  CHECK(p->m.record_count == 1);
  CHECK(bindings(p->m) == std::vector<std::string>{"a.example=203.0.113.1/0"});
}

TEST_CASE("EDNS: an OPT record in the additional section is never read; one in answers is skipped") {
  Wire w;
  w.header(1, 2, 0x8180, 1).question("a.example").ptr(12).a(1);
  w.u8(0).fixed(41, 0, 0, 1232);  // OPT in the answer section: root owner, class = UDP size
  w.u8(0).fixed(41, 0, 4).u32(0xdeadbeef);  // the real OPT, additional section
  auto p = parse(w);
  REQUIRE(p->error == DnsError::kOk);
  CHECK(p->m.record_count == 1);
}

TEST_CASE("a huge answer keeps kDnsMaxRecords records and says it dropped the rest") {
  Wire w;
  w.header(1, 1000).question("a.example");
  for (int i = 0; i < 1000; ++i) w.ptr(12).a(uint8_t(i));
  auto p = parse(w);
  REQUIRE(p->error == DnsError::kOk);
  CHECK(p->m.record_count == kDnsMaxRecords);
  CHECK(p->m.records_dropped);
  CHECK(bindings(p->m).size() == kDnsMaxRecords);
}

TEST_CASE("malformed headers and questions") {
  SUBCASE("shorter than a header") {
    Wire w;
    w.u16(1).u16(0x8180);
    CHECK(parse(w)->error == DnsError::kTruncatedHeader);
  }
  SUBCASE("a query, not a response") {
    Wire w;
    w.header(1, 0, 0x0100).question("a.example");
    CHECK(parse(w)->error == DnsError::kNotResponse);
  }
  SUBCASE("no question") {
    Wire w;
    w.header(0, 1).name("a.example").a(1);
    CHECK(parse(w)->error == DnsError::kBadQuestionCount);
  }
  SUBCASE("two questions") {
    Wire w;
    w.header(2, 0).question("a.example").question("b.example");
    CHECK(parse(w)->error == DnsError::kBadQuestionCount);
  }
  SUBCASE("question type and class cut off") {
    Wire w;
    w.header(1, 0).name("a.example").u16(1);
    CHECK(parse(w)->error == DnsError::kTruncatedRecord);
  }
}

TEST_CASE("malformed names") {
  SUBCASE("a label runs past the end") {
    Wire w;
    w.header(1, 0).u8(10).u8('a').u8('b');
    CHECK(parse(w)->error == DnsError::kTruncatedName);
  }
  SUBCASE("no terminating root label") {
    Wire w;
    w.header(1, 0).u8(1).u8('a');
    CHECK(parse(w)->error == DnsError::kTruncatedName);
  }
  SUBCASE("a pointer cut in half") {
    Wire w;
    w.header(1, 0).u8(0xC0);
    CHECK(parse(w)->error == DnsError::kTruncatedName);
  }
  SUBCASE("a pointer to itself (the shortest loop)") {
    Wire w;
    w.header(1, 0).ptr(12);
    CHECK(parse(w)->error == DnsError::kPointerOutOfRange);
  }
  SUBCASE("a pointer past the end of the message") {
    Wire w;
    w.header(1, 1).question("a.example").ptr(0x3FFF).a(1);
    CHECK(parse(w)->error == DnsError::kPointerOutOfRange);
  }
  SUBCASE("a pointer forwards") {
    Wire w;
    w.header(1, 0).u8(1).u8('a').ptr(18).u16(1).u16(1).name("b");
    CHECK(parse(w)->error == DnsError::kPointerOutOfRange);
  }
  SUBCASE("two names pointing at each other (a loop through a pointer pair)") {
    // Question at 12 is a pointer to 14, which points back to 12.
    Wire w;
    w.header(1, 0).ptr(14).ptr(12);
    CHECK(parse(w)->error == DnsError::kPointerOutOfRange);
  }
  SUBCASE("a chain of more than kDnsMaxPointerJumps backward pointers") {
    Wire w;
    w.header(1, 2).question("a");  // "a" at 12
    // An unknown-type record whose RDATA is 20 pointers, each to the one before.
    w.ptr(12).fixed(16, 60, 40);
    size_t prev = 12;
    for (int i = 0; i < 20; ++i) {
      size_t here = w.size();
      w.ptr(uint16_t(prev));
      prev = here;
    }
    w.ptr(uint16_t(prev)).a(1);
    CHECK(parse(w)->error == DnsError::kPointerLoop);
  }
  SUBCASE("longer than 255 octets") {
    Wire w;
    w.header(1, 0);
    for (int l = 0; l < 5; ++l) {
      w.u8(63);
      for (int i = 0; i < 63; ++i) w.u8('x');
    }
    w.u8(0).u16(1).u16(1);
    CHECK(parse(w)->error == DnsError::kNameTooLong);
  }
  SUBCASE("a name of exactly 255 octets is fine") {
    Wire w;
    w.header(1, 0);
    for (int l = 0; l < 3; ++l) {
      w.u8(63);
      for (int i = 0; i < 63; ++i) w.u8('x');
    }
    w.u8(61);
    for (int i = 0; i < 61; ++i) w.u8('y');
    w.u8(0).u16(1).u16(1);
    auto p = parse(w);
    CHECK(p->error == DnsError::kOk);
    CHECK(p->m.question.length == 253);
  }
  SUBCASE("extended label type 0x40") {
    Wire w;
    w.header(1, 0).u8(0x41).u8('a').u8(0).u16(1).u16(1);
    CHECK(parse(w)->error == DnsError::kBadLabelType);
  }
  SUBCASE("a dot inside a label") {
    Wire w;
    w.header(1, 0).u8(3).u8('a').u8('.').u8('b').u8(0).u16(1).u16(1);
    CHECK(parse(w)->error == DnsError::kBadNameCharacter);
  }
  SUBCASE("a NUL byte inside a label") {
    Wire w;
    w.header(1, 0).u8(2).u8('a').u8(0).u8(0).u16(1).u16(1);
    CHECK(parse(w)->error == DnsError::kBadNameCharacter);
  }
}

TEST_CASE("malformed records") {
  SUBCASE("ANCOUNT promises more records than there are") {
    Wire w;
    w.header(1, 5).question("a.example").ptr(12).a(1);
    CHECK(parse(w)->error == DnsError::kCountMismatch);
  }
  SUBCASE("ANCOUNT 65535 with no records") {
    Wire w;
    w.header(1, 65535).question("a.example");
    CHECK(parse(w)->error == DnsError::kCountMismatch);
  }
  SUBCASE("with TC set, the complete records before the cut are kept") {
    Wire w;
    w.header(1, 5, 0x8380).question("a.example").ptr(12).a(1).ptr(12).u16(1);
    auto p = parse(w);
    CHECK(p->error == DnsError::kOk);
    CHECK(p->m.truncated);
    CHECK(p->m.record_count == 1);
  }
  SUBCASE("fixed part cut off") {
    Wire w;
    w.header(1, 1).question("a.example").ptr(12).u16(1).u16(1).u16(0);
    CHECK(parse(w)->error == DnsError::kTruncatedRecord);
  }
  SUBCASE("RDLENGTH past the end") {
    Wire w;
    w.header(1, 1).question("a.example").ptr(12).fixed(kDnsTypeA, 60, 400).u32(1);
    CHECK(parse(w)->error == DnsError::kTruncatedRecord);
  }
  SUBCASE("an A record of 5 bytes") {
    Wire w;
    w.header(1, 1).question("a.example").ptr(12).fixed(kDnsTypeA, 60, 5).u32(1).u8(1);
    CHECK(parse(w)->error == DnsError::kBadRdata);
  }
  SUBCASE("an AAAA record of 4 bytes") {
    Wire w;
    w.header(1, 1).question("a.example").ptr(12).fixed(kDnsTypeAaaa, 60, 4).u32(1);
    CHECK(parse(w)->error == DnsError::kBadRdata);
  }
  SUBCASE("a CNAME with bytes after its name") {
    Wire w;
    w.header(1, 1).question("a.example").ptr(12).fixed(kDnsTypeCname, 60, 5).name("b").u16(0);
    CHECK(parse(w)->error == DnsError::kBadRdata);
  }
  SUBCASE("a CNAME whose name runs past its RDATA") {
    Wire w;
    w.header(1, 1).question("a.example").ptr(12).fixed(kDnsTypeCname, 60, 2).name("bbbb");
    CHECK(parse(w)->error == DnsError::kBadRdata);
  }
}

TEST_CASE("a query's question: name lowercased, type and class; the rest is never read") {
  Wire w;
  w.u16(0xBEEF).u16(0x0100).u16(1).u16(0).u16(0).u16(1).question("A.Voice.Example", kDnsTypeAaaa);
  w.u8(0).fixed(41, 0, 3);  // an OPT record cut short: not read
  DnsQuestion q;
  REQUIRE(parseDnsQuery(w.b, &q) == DnsError::kOk);
  CHECK(q.id == 0xBEEF);
  CHECK(q.name.view() == "a.voice.example");
  CHECK(q.qtype == kDnsTypeAaaa);
  CHECK(q.qclass == 1);
}

TEST_CASE("what is not a standard query with one question records nothing") {
  DnsQuestion q;
  Wire response;
  response.header(1, 0).question("a.example");
  CHECK(parseDnsQuery(response.b, &q) == DnsError::kNotQuery);
  Wire notify;  // opcode 4
  notify.u16(1).u16(0x2000).u16(1).u16(0).u16(0).u16(0).question("a.example");
  CHECK(parseDnsQuery(notify.b, &q) == DnsError::kNotQuery);
  Wire two;
  two.u16(1).u16(0x0100).u16(2).u16(0).u16(0).u16(0).question("a.example").question("b.example");
  CHECK(parseDnsQuery(two.b, &q) == DnsError::kBadQuestionCount);
  Wire cut;
  cut.u16(1).u16(0x0100).u16(1).u16(0).u16(0).u16(0).name("a.example").u16(1);
  CHECK(parseDnsQuery(cut.b, &q) == DnsError::kTruncatedRecord);
  CHECK(parseDnsQuery(std::vector<uint8_t>{0, 1, 1}, &q) == DnsError::kTruncatedHeader);
  Wire looped;
  looped.u16(1).u16(0x0100).u16(1).u16(0).u16(0).u16(0).ptr(12);
  CHECK(parseDnsQuery(looped.b, &q) == DnsError::kPointerOutOfRange);
}

TEST_CASE("an answer's question keeps its class, for matching it to the query") {
  Wire w;
  w.header(1, 1).name("a.example").u16(kDnsTypeA).u16(3).ptr(12).a(7);
  auto p = parse(w);
  REQUIRE(p->error == DnsError::kOk);
  CHECK(p->m.qclass == 3);
}

TEST_CASE("every error has a name") {
  for (int e = 0; e < static_cast<int>(DnsError::kCount); ++e) {
    CHECK(dnsErrorName(static_cast<DnsError>(e)) != "unknown");
  }
}

}  // namespace
}  // namespace muzzle

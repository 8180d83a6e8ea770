#include "fw/common/net.h"

#include <doctest/doctest.h>

#include <string>

namespace muzzle {
namespace MUZZLE_UNITY_ID {

IpAddress ip(const char* text) {
  auto parsed = IpAddress::parse(text);
  REQUIRE_MESSAGE(parsed.has_value(), text);
  return *parsed;
}

Cidr cidr(const char* text) {
  auto parsed = Cidr::parse(text);
  REQUIRE_MESSAGE(parsed.has_value(), text);
  return *parsed;
}

TEST_CASE("IpAddress parses strict dotted quads") {
  IpAddress a = ip("198.18.1.5");
  CHECK_FALSE(a.v6);
  CHECK(a.v4HostOrder() == 0xc6120105u);
  CHECK(a.toString() == "198.18.1.5");
  CHECK(ip("0.0.0.0").v4HostOrder() == 0);
  CHECK(ip("255.255.255.255").v4HostOrder() == 0xffffffffu);
  CHECK(IpAddress::v4FromHostOrder(0xC6120001) == ip("198.18.0.1"));

  for (const char* bad : {"", "1", "198.51.100", "198.51.100.4.5", "198.018.1.1", "198.51.100.00", "198.256.1.1",
                          "198.51.100.4 ", " 198.51.100.4", "198.51.100.4x", "1..2.3", "198.51.100.", ".198.51.100",
                          "198.51.100.-4", "+198.51.100.4", "198.51.100.4/24", "198.1000.1.1", "0x198.51.100.4"}) {
    CHECK_MESSAGE(!IpAddress::parse(bad).has_value(), bad);
  }
}

TEST_CASE("IpAddress parses and formats IPv6") {
  IpAddress a = ip("fd00:1::5");
  CHECK(a.v6);
  CHECK(a.bytes[0] == 0xfd);
  CHECK(a.bytes[15] == 0x05);
  CHECK(a.toString() == "fd00:1::5");
  CHECK(ip("FD00:0001:0000::0005").toString() == "fd00:1::5");
  CHECK(ip("::").v6HostOrder() == 0);
  CHECK(ip("::1").v6HostOrder() == 1);
  CHECK(ip("::ffff:198.51.100.4").v6);
  CHECK(ip("::ffff:198.51.100.4").toString() == "::ffff:198.51.100.4");
  for (const char* bad :
       {":", ":::", "fd00::1::2", "fd00:1::5%eth0", "fd00:1::5 ", "g::1", "1:2:3:4:5:6:7:8:9"}) {
    CHECK_MESSAGE(!IpAddress::parse(bad).has_value(), bad);
  }
  // Longer than any valid address: must be refused, not overflow the inet_pton buffer.
  CHECK_FALSE(IpAddress::parse(std::string(200, ':')).has_value());
}

TEST_CASE("IpAddress v4 and v6 with equal bytes differ") {
  IpAddress v4 = ip("198.51.100.4");
  IpAddress v6 = IpAddress::fromBytes(v4.bytes.data(), true);
  CHECK(v4 != v6);
  uint8_t raw[4] = {198, 51, 100, 4};
  CHECK(IpAddress::fromBytes(raw, false) == v4);
}

TEST_CASE("Cidr parse edge cases") {
  CHECK(cidr("0.0.0.0/0").prefix_len == 0);
  CHECK(cidr("198.51.100.4/32").prefix_len == 32);
  CHECK(cidr("198.51.100.4").prefix_len == 32);
  CHECK(cidr("::/0").prefix_len == 0);
  CHECK(cidr("fd00::1/128").prefix_len == 128);
  CHECK(cidr("fd00::1").prefix_len == 128);
  CHECK(cidr("198.18.1.0/24").toString() == "198.18.1.0/24");
  CHECK(cidr("fd00:1::/64").toString() == "fd00:1::/64");

  for (const char* bad :
       {"198.51.100.4/33", "fd00::/129", "198.51.100.0/", "198.51.100.0/-1", "198.51.100.0/024", "198.51.100.0/24x",
        "198.51.100.0/ 24", "198.51.100.0/24/1", "/24", "junk", "198.18.1.5/24", "198.0.0.0/0", "fd00::1/64",
        "fd00:1::/8", "198.51.100.0/1000"}) {
    CHECK_MESSAGE(!Cidr::parse(bad).has_value(), bad);
  }
}

TEST_CASE("Cidr contains") {
  Cidr net = cidr("198.18.1.0/24");
  CHECK(net.contains(ip("198.18.1.0")));
  CHECK(net.contains(ip("198.18.1.255")));
  CHECK_FALSE(net.contains(ip("198.18.0.255")));
  CHECK_FALSE(net.contains(ip("198.18.2.0")));
  CHECK_FALSE(net.contains(ip("::ffff:198.18.1.1")));

  CHECK(cidr("0.0.0.0/0").contains(ip("255.255.255.255")));
  CHECK_FALSE(cidr("0.0.0.0/0").contains(ip("::1")));
  CHECK(cidr("::/0").contains(ip("ffff::1")));
  CHECK_FALSE(cidr("::/0").contains(ip("198.51.100.4")));

  Cidr v6 = cidr("fd00:1::/64");
  CHECK(v6.contains(ip("fd00:1::ffff:ffff:ffff:ffff")));
  CHECK_FALSE(v6.contains(ip("fd00:1:0:1::")));
  CHECK(Cidr::host(ip("fd00::1")).contains(ip("fd00::1")));
  CHECK_FALSE(Cidr::host(ip("fd00::1")).contains(ip("fd00::2")));
}

TEST_CASE("AddressSet merges overlapping, adjacent and nested blocks") {
  AddressSet set;
  set.add(cidr("198.18.0.0/24"));
  set.add(cidr("198.18.0.128/25"));  // nested
  set.add(cidr("198.18.1.0/24"));    // adjacent
  set.add(cidr("198.18.0.0/23"));    // overlapping both
  set.add(cidr("198.18.3.0/24"));    // a gap at 198.18.2.0/24
  set.finalize();
  CHECK(set.intervalCount() == 2);
  CHECK(set.contains(ip("198.18.0.0")));
  CHECK(set.contains(ip("198.18.1.255")));
  CHECK_FALSE(set.contains(ip("198.18.2.0")));
  CHECK_FALSE(set.contains(ip("198.18.2.255")));
  CHECK(set.contains(ip("198.18.3.0")));
  CHECK(set.contains(ip("198.18.3.255")));
  CHECK_FALSE(set.contains(ip("198.18.4.0")));
  CHECK_FALSE(set.contains(ip("198.17.255.255")));
}

TEST_CASE("AddressSet::describe: hosts, aligned blocks as CIDRs, other runs as ranges") {
  AddressSet set;
  for (const char* text : {"198.18.1.10", "198.18.2.0/24", "198.18.3.0/25", "198.18.3.128/26",
                           "fd00:1::/64", "::/0", "0.0.0.0/0"}) {
    set.add(*Cidr::parse(text));
  }
  set.finalize();
  CHECK(set.describe() == "0.0.0.0/0 ::/0");
  AddressSet parts;
  // 198.18.3.0/25 and .128/26 merge into a run no CIDR spells; .4.1 and .4.2 are not aligned.
  for (const char* text : {"198.18.1.10", "198.18.6.0/24", "198.18.3.0/25", "198.18.3.128/26",
                           "198.18.4.1", "198.18.4.2", "fd00:1::/64", "fd00:2::1"}) {
    parts.add(*Cidr::parse(text));
  }
  parts.finalize();
  CHECK(parts.describe() ==
        "198.18.1.10 198.18.3.0-198.18.3.191 198.18.4.1-198.18.4.2 198.18.6.0/24 fd00:1::/64 "
        "fd00:2::1");
  CHECK(AddressSet().describe().empty());
}

TEST_CASE("AddressSet boundaries of the address space") {
  AddressSet set;
  set.add(cidr("255.255.255.255"));
  set.add(cidr("0.0.0.0"));
  set.add(cidr("255.255.255.254"));
  set.add(cidr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"));
  set.add(cidr("::/128"));
  set.finalize();
  CHECK(set.intervalCount() == 4);
  CHECK(set.contains(ip("0.0.0.0")));
  CHECK_FALSE(set.contains(ip("0.0.0.1")));
  CHECK(set.contains(ip("255.255.255.254")));
  CHECK(set.contains(ip("255.255.255.255")));
  CHECK_FALSE(set.contains(ip("255.255.255.253")));
  CHECK(set.contains(ip("::")));
  CHECK(set.contains(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
  CHECK_FALSE(set.contains(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe")));

  AddressSet all;
  all.add(cidr("0.0.0.0/0"));
  all.add(cidr("128.0.0.0/1"));
  all.add(cidr("::/0"));
  all.finalize();
  CHECK(all.intervalCount() == 2);
  CHECK(all.contains(ip("0.0.0.0")));
  CHECK(all.contains(ip("255.255.255.255")));
  CHECK(all.contains(ip("::")));
}

TEST_CASE("AddressSet keeps v4 and v6 apart") {
  AddressSet set;
  CHECK(set.empty());
  set.add(cidr("::/96"));  // the bytes of every IPv4 address, read as IPv6, fall in here
  set.add(cidr("::ffff:0.0.0.0/96"));
  set.finalize();
  CHECK_FALSE(set.empty());
  CHECK_FALSE(set.contains(ip("198.51.100.4")));
  CHECK_FALSE(set.contains(ip("0.0.0.0")));
  CHECK(set.contains(ip("::198.51.100.4")));
  CHECK(set.contains(ip("::ffff:198.51.100.4")));

  AddressSet v4only;
  v4only.add(cidr("0.0.0.0/0"));
  v4only.finalize();
  CHECK_FALSE(v4only.contains(ip("::")));
  CHECK_FALSE(v4only.contains(ip("::1")));
  CHECK(v4only.contains(ip("0.0.0.1")));
}

TEST_CASE("AddressSet empty and finalize with nothing") {
  AddressSet set;
  set.finalize();
  CHECK(set.empty());
  CHECK(set.intervalCount() == 0);
  CHECK_FALSE(set.contains(ip("198.51.100.4")));
  CHECK_FALSE(set.contains(ip("::1")));
}

TEST_CASE("MacAddress parse and format") {
  auto mac = MacAddress::parse("44:47:cc:12:34:56");
  REQUIRE(mac.has_value());
  CHECK(mac->value == 0x4447cc123456ull);
  CHECK(mac->toString() == "44:47:cc:12:34:56");
  CHECK(MacAddress::parse("44-47-CC-12-34-56") == mac);
  CHECK(MacAddress::parse("44:47:Cc:12:34:56") == mac);
  CHECK(MacAddress::parse("00:00:00:00:00:00")->toString() == "00:00:00:00:00:00");
  CHECK(MacAddress::parse("FF:FF:FF:FF:FF:FF")->toString() == "ff:ff:ff:ff:ff:ff");
  uint8_t raw[6] = {0x44, 0x47, 0xcc, 0x12, 0x34, 0x56};
  CHECK(MacAddress::fromBytes(raw) == *mac);

  for (const char* bad :
       {"", "44:47:cc:12:34", "44:47:cc:12:34:56:78", "44:47:cc:12:34:5", "44:47:cc:12:34:5g",
        "44:47-cc:12:34:56", "44.47.cc.12.34.56", "4447cc123456", "44:47:cc:12:34:56 ",
        "4:47:cc:12:34:567", "44::7cc:12:34:56"}) {
    CHECK_MESSAGE(!MacAddress::parse(bad).has_value(), bad);
  }
}

TEST_CASE("MacAddress locallyAdministered") {
  CHECK(MacAddress::parse("02:00:00:00:00:01")->locallyAdministered());
  CHECK(MacAddress::parse("da:a1:19:00:00:01")->locallyAdministered());
  CHECK_FALSE(MacAddress::parse("44:47:cc:12:34:56")->locallyAdministered());
  // The multicast bit (0x01) is a different bit.
  CHECK_FALSE(MacAddress::parse("01:00:5e:00:00:01")->locallyAdministered());
  CHECK_FALSE(MacAddress::parse("fd:ff:ff:ff:ff:ff")->locallyAdministered());
}

}  // namespace
}  // namespace muzzle

#include <doctest/doctest.h>

#include <vector>

#include "fw/dhcp/dhcp.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

// A DHCPDISCOVER from 44:47:cc:00:00:11 with the given options appended after the cookie.
std::vector<uint8_t> discover(std::vector<uint8_t> options) {
  std::vector<uint8_t> m(240 + options.size(), 0);
  m[0] = 1;  // BOOTREQUEST
  m[1] = 1;  // Ethernet
  m[2] = 6;
  const uint8_t mac[6] = {0x44, 0x47, 0xcc, 0x00, 0x00, 0x11};
  for (size_t i = 0; i < 6; ++i) m[28 + i] = mac[i];
  const uint8_t cookie[4] = {99, 130, 83, 99};
  for (size_t i = 0; i < 4; ++i) m[236 + i] = cookie[i];
  for (size_t i = 0; i < options.size(); ++i) m[240 + i] = options[i];
  return m;
}

TEST_CASE("a camera's DISCOVER yields its fingerprint") {
  auto m = discover({53, 1, 1,                                   // DISCOVER
                     12, 8, 'I', 'P', 'C', 'a', 'm', '-', '0', '1',  // hostname
                     55, 4, 1, 3, 6, 15,                         // parameter request list
                     60, 4, 'u', 'd', 'h', 'c',                  // vendor class
                     61, 7, 1, 0x44, 0x47, 0xcc, 0, 0, 0x11,     // client id
                     50, 4, 198, 18, 10, 11,                     // requested IP
                     161, 8, 'h', 't', 't', 'p', 's', ':', '/', '/',
                     255});
  DhcpInfo info;
  REQUIRE(parseDhcp(m, &info) == DhcpError::kOk);
  CHECK(info.message_type == 1);
  CHECK(info.client_mac.toString() == "44:47:cc:00:00:11");
  CHECK(info.hostname == "IPCam-01");
  CHECK(parameterListText(info.parameter_request_list) == "1,3,6,15");
  CHECK(info.vendor_class == "udhc");
  CHECK(info.client_id.size() == 7);
  REQUIRE(info.requested_ip.has_value());
  CHECK(info.requested_ip->toString() == "198.18.10.11");
  CHECK(info.mud_url == "https://");
  CHECK_FALSE(info.missing_end);
}

TEST_CASE("a server's ACK yields the leased address and the lease time; each parser refuses the other direction") {
  auto m = discover({53, 1, 5,                 // ACK
                     51, 4, 0, 0, 0x0e, 0x10,  // 3600 s
                     255});
  m[0] = 2;  // BOOTREPLY
  const uint8_t yiaddr[4] = {198, 18, 10, 50};
  for (size_t i = 0; i < 4; ++i) m[16 + i] = yiaddr[i];
  DhcpInfo info;
  REQUIRE(parseDhcpReply(m, &info) == DhcpError::kOk);
  CHECK(info.message_type == kDhcpAck);
  CHECK(info.your_ip.toString() == "198.18.10.50");
  CHECK(info.client_mac.toString() == "44:47:cc:00:00:11");
  REQUIRE(info.lease_seconds.has_value());
  CHECK(*info.lease_seconds == 3600);
  CHECK(parseDhcp(m, &info) == DhcpError::kNotBootRequest);
  CHECK(parseDhcpReply(discover({53, 1, 1, 255}), &info) == DhcpError::kNotBootReply);
  CHECK(dhcpErrorName(DhcpError::kNotBootReply) == "not_boot_reply");
  // A lease time of the wrong length is not a lease time.
  auto odd = discover({53, 1, 5, 51, 2, 0, 1, 255});
  odd[0] = 2;
  REQUIRE(parseDhcpReply(odd, &info) == DhcpError::kOk);
  CHECK_FALSE(info.lease_seconds.has_value());
}

TEST_CASE("pad options are skipped; a missing end option is tolerated and reported") {
  DhcpInfo info;
  REQUIRE(parseDhcp(discover({0, 0, 53, 1, 3, 0}), &info) == DhcpError::kOk);
  CHECK(info.message_type == 3);
  CHECK(info.missing_end);
}

TEST_CASE("bad option lengths are errors, never reads past the end") {
  DhcpInfo info;
  CHECK(parseDhcp(discover({12, 200, 'x'}), &info) == DhcpError::kOptionOverrun);
  CHECK(parseDhcp(discover({12}), &info) == DhcpError::kOptionOverrun);  // code without length
  // Every prefix of a valid message: an error or a clean parse, nothing else.
  auto m = discover({53, 1, 1, 12, 3, 'c', 'a', 'm', 55, 2, 1, 3, 255});
  for (size_t n = 0; n <= m.size(); ++n) {
    std::span<const uint8_t> prefix(m.data(), n);
    DhcpError e = parseDhcp(prefix, &info);
    if (n < 240) {
      CHECK(e == DhcpError::kTruncated);
    } else {
      CHECK((e == DhcpError::kOk || e == DhcpError::kOptionOverrun));
    }
  }
}

TEST_CASE("non-client and non-DHCP messages are refused with a named error") {
  DhcpInfo info;
  auto m = discover({255});
  m[0] = 2;
  CHECK(parseDhcp(m, &info) == DhcpError::kNotBootRequest);
  m = discover({255});
  m[2] = 8;
  CHECK(parseDhcp(m, &info) == DhcpError::kBadHardware);
  m = discover({255});
  m[236] = 0;
  CHECK(parseDhcp(m, &info) == DhcpError::kBadCookie);
  CHECK(dhcpErrorName(DhcpError::kBadCookie) == "bad_cookie");
}

TEST_CASE("hostnames are made printable and bounded before anyone stores them") {
  CHECK(printableOption("IPCam-01") == "IPCam-01");
  CHECK(printableOption(std::string_view("cam\x01\xff\n", 6)) == "cam\\x01\\xff\\x0a");
  CHECK(printableOption("a\\b") == "a\\\\b");
  std::string overlong(255, 'h');
  auto cut = printableOption(overlong, 64);
  CHECK(cut.size() == 67);
  CHECK(cut.substr(64) == "...");
  // A multi-byte UTF-8 name is escaped byte by byte, not passed raw.
  CHECK(printableOption("caf\xc3\xa9") == "caf\\xc3\\xa9");
}

}  // namespace
}  // namespace muzzle

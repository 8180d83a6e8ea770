// DHCPv4 message parsing for device identification (RFC 2131/2132): the client's hardware
// address and the options that fingerprint a device — hostname (12), parameter request list
// (55), vendor class (60), client identifier (61) and MUD URL (161, RFC 8520) — and, in the
// server's replies, the address it leases (yiaddr) and for how long (51): the evidence the
// address bindings trust most (fw/device/address_bindings.h).
//
// The input comes from untrusted devices. Parsing never allocates and never throws: text options
// are views into the packet, to be copied (and made printable with printableOption) by whoever
// keeps them. Option lengths are checked against the buffer; a message whose options run past
// the end is an error, a missing end option is tolerated but reported.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "fw/common/net.h"

namespace muzzle {

enum class DhcpError : uint8_t {
  kOk = 0,
  kTruncated,       // shorter than the fixed BOOTP header plus the magic cookie
  kNotBootRequest,  // op is not BOOTREQUEST (1): only client messages identify devices
  kNotBootReply,    // op is not BOOTREPLY (2), where a server's reply was expected
  kBadHardware,     // htype/hlen are not Ethernet (1/6)
  kBadCookie,       // the DHCP magic cookie is missing: plain BOOTP
  kOptionOverrun,   // an option's length runs past the end of the message
};
std::string_view dhcpErrorName(DhcpError e);

enum DhcpMessageType : uint8_t { kDhcpDiscover = 1, kDhcpOffer = 2, kDhcpRequest = 3, kDhcpAck = 5 };

struct DhcpInfo {
  uint8_t message_type = 0;  // option 53 (1 DISCOVER, 3 REQUEST, 5 ACK, 8 INFORM, ...), 0 if absent
  MacAddress client_mac;     // chaddr
  std::optional<IpAddress> requested_ip;  // option 50
  IpAddress client_ip;       // ciaddr (0.0.0.0 until the client has a lease)
  IpAddress your_ip;         // yiaddr: in a server's ACK, the address leased to chaddr
  std::optional<uint32_t> lease_seconds;  // option 51 (0xffffffff: infinite)
  std::string_view hostname;          // option 12
  std::span<const uint8_t> parameter_request_list;  // option 55
  std::string_view vendor_class;      // option 60
  std::span<const uint8_t> client_id; // option 61
  std::string_view mud_url;           // option 161
  bool missing_end = false;           // options ended without option 255
};

// Parses a client's DHCP message (BOOTREQUEST) starting at the BOOTP header (the UDP payload).
DhcpError parseDhcp(std::span<const uint8_t> udp_payload, DhcpInfo* out);
// The same for a server's reply (BOOTREPLY: OFFER, ACK, NAK).
DhcpError parseDhcpReply(std::span<const uint8_t> udp_payload, DhcpInfo* out);

// A text option made safe to log and store: printable ASCII kept, anything else as \xNN, cut
// to `max_bytes` of output (with "..." appended when cut). Devices send non-UTF-8 and control
// characters in hostnames; they must not reach a log line or a terminal raw.
std::string printableOption(std::string_view raw, size_t max_bytes = 64);
// The parameter request list as a fingerprint string, "1,3,6,15,28,51,58,59".
std::string parameterListText(std::span<const uint8_t> list);

}  // namespace muzzle

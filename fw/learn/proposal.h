// The proposal: from what a learning device attempted (fw/learn/flow_recorder.h) and its current
// profile, the profile it should get, and the findings a person must look at. Pure functions;
// any thread.
//
// Egress rules, one per destination set sharing a protocol and ports:
//   - names are preferred over addresses: a flow is kept by the name the device resolved;
//   - sibling names (two or more names with the same parent, `a.cam.example.com` and
//     `b.cam.example.com`) become `*.cam.example.com`, but only when that parent lies at or below
//     a registrable domain (the Public Suffix List through libpsl): never `*.co.uk`, `*.com` or
//     `*.s3.amazonaws.com`;
//   - the box itself (DNS, NTP on the gateway) is `gateway`, with its ports; DNS to one of the
//     policy's resolvers is allowed by its address.
// Findings, never made into an allow rule:
//   - hard-coded IP: an address contacted with no name the device resolved;
//   - DNS bypass: port 53 to a resolver other than the box or the policy's resolvers, and DNS
//     over TLS (853) anywhere;
//   - UPnP/SSDP (239.255.255.250 or ff02::c, udp 1900) and STUN (3478, 5349, 19302);
//   - lateral: a connection to another device on a managed segment.
// A flow a rule of the current policy allowed (not observe mode) is already decided by the site:
// it is neither added nor reported (flows_covered).
// Inbound flows (others connecting to the device) become inbound allow rules by address, ports
// grouped. The current profile's rules stay first, in their order, and the learned ones follow
// (one already there, word for word, is not added twice): nothing the site wrote is lost, and an
// explicit deny keeps winning over what was learned. Its preset and `otherwise` are kept.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fw/common/net.h"
#include "fw/learn/flow_recorder.h"
#include "fw/mud/policy_text.h"
#include "muzzle/v1/policy.pb.h"

namespace muzzle {

enum class FindingKind : uint8_t { kHardCodedIp, kDnsBypass, kUpnp, kStun, kLateral };
const char* findingKindName(FindingKind k);  // "hard-coded-ip", "dns-bypass", "upnp", "stun", "lateral"

struct Finding {
  FindingKind kind = FindingKind::kHardCodedIp;
  std::string target;  // the name or address
  std::string proto;   // "tcp", "udp", ...
  uint16_t port = 0;
  uint64_t count = 0;
  std::string why;  // one sentence for a person
};

struct ProposalContext {
  const AddressSet* box_addresses = nullptr;  // may be null: no flow is taken for the box's
  const AddressSet* resolvers = nullptr;      // the policy's dns.resolvers; may be null
};

struct Proposal {
  v1::Profile profile;
  std::vector<std::string> rule_comments;  // beside each rule, egress then inbound
  std::vector<Finding> findings;
  size_t flows_used = 0;     // flows that became (part of) a rule
  size_t flows_covered = 0;  // flows a rule of the current policy already allowed
};

// `current` may be null (a device on the default profile with no profile of its own yet).
Proposal proposeProfile(std::span<const LearnedFlow> flows, const v1::Profile* current,
                        const ProposalContext& context);

// The policy text with `profile_name` replaced by (or, when missing, added as) the proposed
// profile, the rest of the text kept as it is (fw/mud/policy_text.h): what `learn propose` shows
// as a diff and `--apply` commits. kInvalidArgument when `policy_text` is not a YAML mapping.
Result<ProfileTextResult> proposalText(std::string_view policy_text, std::string_view profile_name,
                                       const Proposal& proposal);

// The registrable domain of `name` ("example.co.uk" for "cam.example.co.uk"), or "" when it has
// none (a public suffix itself, or not a DNS name). Public Suffix List, built into libpsl.
std::string registrableDomain(std::string_view name);
// The `*.parent` pattern that covers `names` (two or more siblings), or "" when they do not share
// a parent at or below a registrable domain.
std::string siblingPattern(std::span<const std::string> names);

}  // namespace muzzle

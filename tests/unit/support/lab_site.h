// The lab's camera segment as policy tests compile against it: br-cam (ifindex 7), the box at
// 198.18.10.1 and fd00:10::1 on 198.18.10.0/24 and fd00:10::/64; with `uplink`, the box's
// uplink address 198.51.100.1 too.
#pragma once

#include "fw/policy/compiled_policy.h"

namespace muzzle::testing {

inline SiteFacts cameraSegmentSite(bool uplink = false) {
  SiteFacts site;
  SegmentFacts seg;
  seg.name = "cameras";
  seg.ifname = "br-cam";
  seg.ifindex = 7;
  seg.gateway_addresses = {*IpAddress::parse("198.18.10.1"), *IpAddress::parse("fd00:10::1")};
  seg.subnets = {*Cidr::parse("198.18.10.0/24"), *Cidr::parse("fd00:10::/64")};
  site.segments.push_back(seg);
  site.box_addresses = seg.gateway_addresses;
  if (uplink) site.box_addresses.push_back(*IpAddress::parse("198.51.100.1"));
  return site;
}

}  // namespace muzzle::testing

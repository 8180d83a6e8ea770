// The lab's camera segment as policy tests compile against it: br-cam (ifindex 7), the box at
// 198.18.10.1 and fd00:10::1 on 198.18.10.0/24 and fd00:10::/64. A test that needs another
// address of the box (its uplink, 198.51.100.1) adds it.
#pragma once

#include "fw/policy/compiled_policy.h"

namespace muzzle::testing {

inline SiteFacts cameraSegmentSite() {
  SiteFacts site;
  SegmentFacts seg;
  seg.name = "cameras";
  seg.ifname = "br-cam";
  seg.ifindex = 7;
  seg.gateway_addresses = {*IpAddress::parse("198.18.10.1"), *IpAddress::parse("fd00:10::1")};
  seg.subnets = {*Cidr::parse("198.18.10.0/24"), *Cidr::parse("fd00:10::/64")};
  site.segments.push_back(seg);
  site.box_addresses = seg.gateway_addresses;
  return site;
}

}  // namespace muzzle::testing

// What several fuzz targets share: a scratch folder for targets whose code under test reads and
// writes files (the audit log, the revision store), and the lab-like site the policy is compiled
// against. Header-only; each target is its own process.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "fw/policy/compiled_policy.h"

namespace muzzle::fuzz {

// Interface indexes of the lab's gateway as the targets see it (the kernel's own numbers do not
// matter: the policy is compiled against these).
constexpr uint32_t kBrCam = 7;   // segment "cameras", 198.18.10.0/24, fd00:10::/64
constexpr uint32_t kBrIot = 11;  // segment "iot", 198.18.20.0/24, fd00:20::/64
constexpr uint32_t kLanNvr = 8;  // the NVR's LAN, not a segment
constexpr uint32_t kUplink = 3;  // towards the simulated internet

// The lab's gateway (tests/lab/lab.sh) with a second segment, so flows between two managed
// segments are judged too.
inline SiteFacts labSite() {
  SiteFacts site;
  auto segment = [&](const char* name, const char* ifname, uint32_t ifindex, const char* v4,
                     const char* v6, const char* net4, const char* net6) {
    SegmentFacts seg;
    seg.name = name;
    seg.ifname = ifname;
    seg.ifindex = ifindex;
    seg.gateway_addresses = {*IpAddress::parse(v4), *IpAddress::parse(v6)};
    seg.subnets = {*Cidr::parse(net4), *Cidr::parse(net6)};
    seg.is_bridge = true;
    seg.bridged_traffic_filtered = true;
    site.segments.push_back(seg);
    site.box_addresses.insert(site.box_addresses.end(), seg.gateway_addresses.begin(),
                              seg.gateway_addresses.end());
  };
  segment("cameras", "br-cam", kBrCam, "198.18.10.1", "fd00:10::1", "198.18.10.0/24",
          "fd00:10::/64");
  segment("iot", "br-iot", kBrIot, "198.18.20.1", "fd00:20::1", "198.18.20.0/24", "fd00:20::/64");
  for (const char* a : {"198.18.1.1", "fd00:1::1", "198.51.100.1", "2001:db8:1::1"}) {
    site.box_addresses.push_back(*IpAddress::parse(a));
  }
  return site;
}

// A fresh folder for this process, removed at exit; on tmpfs when there is one, so a target
// that fsyncs does not wait for a disk.
inline const std::string& scratchDir() {
  static const std::string dir = [] {
    std::string base = "/dev/shm";
    if (access(base.c_str(), W_OK) != 0) {
      const char* tmp = std::getenv("TMPDIR");
      base = tmp != nullptr ? tmp : "/tmp";
    }
    std::string templ = base + "/muzzle-fuzz.XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) std::abort();
    static std::string remove_at_exit;
    remove_at_exit = templ;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(remove_at_exit, ec);
    });
    return templ;
  }();
  return dir;
}

// Empties `dir` (creating it if needed), so each input starts from nothing.
inline void resetDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir, ec);
  if (ec) std::abort();
}

inline void writeFile(const std::string& path, std::string_view bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) std::abort();
  if (::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) std::abort();
  ::close(fd);
}

}  // namespace muzzle::fuzz

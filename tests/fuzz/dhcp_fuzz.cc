// libFuzzer entry point for parseDhcp, parseDhcpReply and printableOption: any bytes, no crash, no
// out-of-bounds read (the sanitizers are the oracle), and every view stays inside the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "fw/dhcp/dhcp.h"

namespace {
bool inside(const void* p, size_t n, const uint8_t* data, size_t size) {
  auto* b = static_cast<const uint8_t*>(p);
  return n == 0 || (b >= data && b + n <= data + size);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  muzzle::DhcpInfo info;
  if (muzzle::parseDhcp(std::span<const uint8_t>(data, size), &info) == muzzle::DhcpError::kOk) {
    if (!inside(info.hostname.data(), info.hostname.size(), data, size)) std::abort();
    if (!inside(info.vendor_class.data(), info.vendor_class.size(), data, size)) std::abort();
    if (!inside(info.mud_url.data(), info.mud_url.size(), data, size)) std::abort();
    if (muzzle::printableOption(info.hostname).size() > 67) std::abort();
    (void)muzzle::parameterListText(info.parameter_request_list);
  }
  // The same bytes as a server's reply (the leases the box's own server hands out).
  if (muzzle::parseDhcpReply(std::span<const uint8_t>(data, size), &info) == muzzle::DhcpError::kOk) {
    if (!inside(info.hostname.data(), info.hostname.size(), data, size)) std::abort();
  }
  return 0;
}

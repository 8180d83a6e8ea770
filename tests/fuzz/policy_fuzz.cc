// libFuzzer target for the policy compiler: YAML text -> yamlToProto (the YAML -> protobuf
// walker, by reflection) -> validation -> CompiledPolicy, against the lab's gateway, with
// relative list files found next to the shipped policies. A policy that compiles is then asked
// to decide a few flows of each listed device, so what the compiler built is also used.
// Oracle: the sanitizers; an error is a non-empty message; a compiled policy's indexes point
// inside it, and compiling the same text again gives the same digest. One compiled input in
// four also gets a device edit written into its text (withDevice, as SetDevice and Quarantine
// do): refused with a message, or a text that reads back and that the same edit leaves alone.
//
// Files: `{file: PATH}` groups and `dns.doh_list` make the compiler read files, confined to the
// shipped policies folder (fw/common/confined_file.h): any other path is an error, so inputs
// naming /dev/zero or /etc/shadow exercise the confinement too.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fw/config/yaml_proto.h"
#include "fw/policy/device_text.h"
#include "fw/policy/policy_loader.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using muzzle::IpAddress;

const muzzle::SiteFacts& site() {
  static const auto* s = new muzzle::SiteFacts(muzzle::fuzz::labSite());
  return *s;
}

const muzzle::PolicyFolders& folders() {
  static const auto* f = new muzzle::PolicyFolders{std::string(MUZZLE_SOURCE_DIR) + "/policies",
                                                   std::string(MUZZLE_SOURCE_DIR) + "/policies"};
  return *f;
}

void checkIndexes(const muzzle::CompiledPolicy& p) {
  if (p.profiles.empty() || p.default_profile >= p.profiles.size()) std::abort();
  for (const muzzle::CompiledDevice& d : p.devices) {
    if (d.profile >= p.profiles.size()) std::abort();
    if (p.deviceByMac(d.mac) < 0) std::abort();
  }
  for (const muzzle::ClassifyRule& r : p.classify) {
    if (r.profile >= p.profiles.size()) std::abort();
  }
  if (p.segments.size() != site().segments.size()) std::abort();
}

// A flow from (egress) or to (inbound) a device on the camera segment.
void decideFlows(const muzzle::CompiledPolicy& p) {
  static const IpAddress device = *IpAddress::parse("198.18.10.11");
  static const IpAddress peers[] = {
      *IpAddress::parse("198.18.10.1"), *IpAddress::parse("198.18.1.10"),
      *IpAddress::parse("203.0.113.10"), *IpAddress::parse("2001:db8:cafe::10")};
  for (size_t i = 0; i < p.devices.size() && i < 4; ++i) {
    for (const IpAddress& peer : peers) {
      for (const auto& [proto, port] : {std::pair<uint8_t, uint16_t>{6, 443}, {17, 53}, {1, 0}}) {
        muzzle::PacketInfo flow;
        flow.src = device;
        flow.dst = peer;
        if (peer.v6) flow.src = *IpAddress::parse("fd00:10::11");
        flow.protocol = proto;
        flow.has_ports = proto != 1;
        flow.src_port = 40000;
        flow.dst_port = port;
        muzzle::FlowView view;
        view.packet = &flow;
        view.src.segment = 0;
        view.src.mac = p.devices[i].mac;
        const muzzle::Verdict egress = muzzle::decide(p, view);
        if (egress.profile >= static_cast<int>(p.profiles.size())) std::abort();
        std::swap(view.src, view.dst);
        std::swap(flow.src, flow.dst);
        const muzzle::Verdict inbound = muzzle::decide(p, view);
        if (inbound.device >= static_cast<int>(p.devices.size())) std::abort();
      }
    }
  }
}

// The first listed device moved to the first profile, or a new device when none is listed.
void editDevice(std::string_view text, const muzzle::CompiledPolicy& p) {
  muzzle::v1::Device device;
  device.set_mac(p.devices.empty() ? "02:00:5e:10:00:01" : p.devices[0].mac.toString());
  device.set_name(p.devices.empty() ? "fuzz-device" : p.devices[0].name);
  device.set_profile(p.profiles[0].name);
  device.set_quarantined_from("camera");
  auto edited = muzzle::withDevice(text, device);
  if (!edited.ok()) {
    if (edited.status().message().empty()) std::abort();
    return;
  }
  muzzle::v1::Policy policy;
  if (!muzzle::yamlToProto(edited->text, "edited.yaml", &policy, nullptr).ok()) std::abort();
  auto again = muzzle::withDevice(edited->text, device);
  if (!again.ok() || again->text != edited->text) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto compiled = muzzle::compilePolicyText(text, "policy.yaml", site(), folders());
  if (!compiled.ok()) {
    if (compiled.status().message().empty()) std::abort();
    return 0;
  }
  const muzzle::CompiledPolicy& p = **compiled;
  checkIndexes(p);
  decideFlows(p);
  // Compiling is most of the cost: the same text is compiled again for one input in eight
  // (chosen by the input, so a failure reproduces).
  if (data[size / 2] % 8 == 0) {
    auto again = muzzle::compilePolicyText(text, "policy.yaml", site(), folders());
    if (!again.ok() || (*again)->digest != p.digest) std::abort();
  }
  if (data[size / 3] % 4 == 1) editDevice(text, p);
  return 0;
}

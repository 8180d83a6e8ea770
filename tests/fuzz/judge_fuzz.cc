// libFuzzer target for Judge::onPacket: the whole packet path — parsing, direction, device
// identification, decide(), DNS learning (UDP and TCP answers), DHCP fingerprints, new-device
// and reassignment handling, logging — with a real compiled policy (policies/site-example.yaml
// and the speaker preset, compiled against the lab's gateway plus a second segment), an
// inventory loaded from a saved one, the real OUI registries when installed, and a ManualClock.
// Each input is several packets, so state (devices, learned names, rate limits) builds up.
//
// Input: records, each an 8-byte header and a payload:
//   [0] hook, modulo 5 (NF_INET_PRE_ROUTING .. NF_INET_POST_ROUTING)
//   [1] in-interface, [2] out-interface: modulo 6 (none, br-cam, br-iot, lan-nvr, uplink0,
//       an interface the policy does not know)
//   [3] source Ethernet address: 0 none, 1..kLabMacs a lab device, else 02:00:00:00:00:xx
//   [4] the ruleset's hint mark (DHCP reply 0x02, flow allowed 0x04, DNS query 0x08, reply 0x10,
//       a connection's first packet 0x20, DNS answer 0x40, DHCP request 0x80; any combination)
//   [5] bits 0-3: advance the clock by 0 or 2^(n-1) x 100 ms first; bit 4: switch policy
//       (a new generation, learned names survive); bit 5: a header-only copy of a packet
//       1000 bytes longer on the wire; bit 6: a volume limit blocks every class of the sender
//       (Judge::setVolumeBlocks)
//   [6..7] payload length, big-endian (cut to what is left): the packet from its IP header
// Oracle: the sanitizers, and the verdict contract checked after every packet.
#include <linux/netfilter.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>

#include "fw/common/clock.h"
#include "fw/device/inventory.h"
#include "fw/engine/judge.h"
#include "fw/nft/marks.h"
#include "fw/policy/policy_loader.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using muzzle::IpAddress;
using muzzle::MacAddress;

constexpr size_t kRecordHeader = 8;
constexpr size_t kInventoryCapacity = 12;  // small, so a few new MACs already evict

// Small tables, so a few records already evict, and so building a Judge for every input costs
// microseconds rather than the megabyte the box's DNS tables take.
muzzle::JudgeLimits judgeLimits() {
  muzzle::JudgeLimits limits;
  limits.devices = kInventoryCapacity;
  limits.dns_questions.total = 16;
  limits.dns_questions.per_device = 4;
  // One stream buffer (64 KB): a second device's stream, or the same device's second, pushes
  // the first out. Two would take the sanitizer's mmap path for every input.
  limits.dns_streams.total = 1;
  limits.dns_streams.per_device = 1;
  // A burst of 3 new devices: an input's fourth new MAC meets a refusal (dropped, DHCP
  // accepted unread, a neighbour entry skipped), as a forged-MAC flood does.
  limits.admission = {/*per_minute=*/6, /*burst=*/3};
  // A limit of 3 connections a device, as muzzled counts it: an input's fourth first packet of a
  // device allowed something meets a refusal.
  limits.connections = 3;
  return limits;
}
constexpr uint32_t kInterfaces[] = {
    0, muzzle::fuzz::kBrCam, muzzle::fuzz::kBrIot, muzzle::fuzz::kLanNvr, muzzle::fuzz::kUplink,
    99};
// The lab's devices (tests/lab/lab.sh), a second-segment device and the NVR.
constexpr const char* kLabMacs[] = {"44:47:cc:00:00:11", "44:47:cc:00:00:12", "44:47:cc:00:00:13",
                                    "50:ec:50:00:00:21", "02:5a:00:00:00:99", "68:54:fd:00:00:31",
                                    "68:54:fd:00:00:41", "52:54:00:00:01:10"};

class FakeHost : public muzzle::HostInfo {
 public:
  muzzle::Result<muzzle::SiteFacts> siteFacts(const std::vector<muzzle::DaemonSegment>&) override {
    return muzzle::fuzz::labSite();
  }
  std::vector<muzzle::NeighbourEntry> neighbours() override { return table; }
  muzzle::Result<std::vector<muzzle::KernelQueueStats>> kernelQueues(uint16_t, uint16_t) override {
    return std::vector<muzzle::KernelQueueStats>{};
  }
  muzzle::Result<muzzle::ConntrackTableStats> conntrackTable() override {
    return muzzle::ConntrackTableStats{};
  }
  std::vector<muzzle::NeighbourEntry> table;
};

struct World {
  std::shared_ptr<const muzzle::CompiledPolicy> policies[2];
  std::unique_ptr<muzzle::OuiDatabase> oui;
  std::string saved_inventory;  // a serialized inventory of the lab's devices
  FakeHost host;
  // One EventLog for the process: each has a delivery thread, and starting and stopping one per
  // input (an 8 MB stack mapped and unmapped) took most of the time. Its rate limit runs on its
  // own clock, which never advances, so after the first inputs limited lines are dropped and
  // counted; the judge's decisions do not depend on it.
  muzzle::ManualClock log_clock;
  std::unique_ptr<muzzle::EventLog> log;
};

std::shared_ptr<const muzzle::CompiledPolicy> compile(const std::string& file) {
  auto p = muzzle::compilePolicyFile(file, muzzle::fuzz::labSite(),
                                        std::string(MUZZLE_SOURCE_DIR) + "/policies");
  if (!p.ok()) {
    std::fprintf(stderr, "judge_fuzz: %s\n", p.status().message().c_str());
    std::abort();
  }
  return *p;
}

const World& world() {
  static World* w = [] {
    auto* w = new World();
    const std::string policies = std::string(MUZZLE_SOURCE_DIR) + "/policies/";
    w->policies[0] = compile(policies + "site-example.yaml");
    w->policies[1] = compile(policies + "presets/speaker.yaml");
    if (auto oui = muzzle::OuiDatabase::load(); oui.ok() && oui->size() > 0) {
      w->oui = std::make_unique<muzzle::OuiDatabase>(std::move(oui).value());
    }
    // The inventory a box saved: the lab devices with their addresses and one DHCP fingerprint.
    muzzle::ManualClock clock;
    muzzle::DeviceInventory inventory(kInventoryCapacity, w->oui.get(), clock);
    const char* addresses[][2] = {{"198.18.10.11", "fd00:10::11"}, {"198.18.10.12", "fd00:10::12"},
                                  {"198.18.10.13", "fd00:10::13"}, {"198.18.10.21", "fd00:10::21"},
                                  {"198.18.10.99", "fd00:10::99"}, {"198.18.10.31", "fd00:10::31"},
                                  {"198.18.20.41", "fd00:20::41"}};
    for (size_t i = 0; i < std::size(addresses); ++i) {
      const MacAddress mac = *MacAddress::parse(kLabMacs[i]);
      const std::string segment = i == 6 ? "iot" : "cameras";
      for (const char* a : addresses[i]) inventory.observe(mac, *IpAddress::parse(a), segment);
      clock.advance(std::chrono::seconds(1));
    }
    w->saved_inventory = inventory.serialize();
    // The kernel's neighbour table knows one device the inventory does not, and the NVR.
    w->host.table = {
        {muzzle::fuzz::kBrCam, *IpAddress::parse("198.18.10.77"),
         *MacAddress::parse("44:47:cc:00:00:77")},
        {muzzle::fuzz::kLanNvr, *IpAddress::parse("198.18.1.10"), *MacAddress::parse(kLabMacs[7])}};
    FILE* devnull = std::fopen("/dev/null", "w");
    if (devnull == nullptr) std::abort();
    w->log = std::make_unique<muzzle::EventLog>(devnull, w->log_clock);
    return w;
  }();
  return *w;
}

std::optional<MacAddress> macFor(uint8_t selector) {
  if (selector == 0) return std::nullopt;
  if (selector <= std::size(kLabMacs)) return MacAddress::parse(kLabMacs[selector - 1]);
  const uint8_t bytes[6] = {0x02, 0, 0, 0, 0, selector};
  return MacAddress::fromBytes(bytes);
}

// The verdict contract the kernel ruleset relies on (fw/nft/marks.h).
void check(const muzzle::PacketVerdict& v, uint32_t hint, uint32_t generation,
           size_t traffic_classes) {
  switch (v.verdict) {
    case NF_REPEAT: {
      // DNS answers and DHCP requests must never carry a verdict mark: the packet mark's map
      // stands ahead of the rules that queue them, so a repeat would pass them unread.
      if ((hint & (muzzle::kHintDnsAnswer | muzzle::kHintDhcpRequest)) != 0) std::abort();
      if (!v.mark || (*v.mark >> 8) != generation) std::abort();
      const uint32_t code = *v.mark & 0xff & ~muzzle::kTrafficClassBits;
      if (code < 1 || code > 3) std::abort();
      // Only an allowed flow carries a traffic class, and one its policy has.
      const uint32_t traffic_class = muzzle::trafficClassOf(*v.mark);
      if (code != static_cast<uint32_t>(muzzle::VerdictCode::kAllow) && traffic_class != 0) {
        std::abort();
      }
      if (traffic_class >= traffic_classes) std::abort();
      break;
    }
    case NF_ACCEPT:
    case NF_DROP:
      if (v.mark) std::abort();
      break;
    default:
      std::abort();
  }
}

}  // namespace

// The world is built before fuzzing starts: compiling two policies and reading the OUI registries
// under the sanitizers takes seconds, which must not count against the first input's timeout.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)world();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const World& w = world();
  muzzle::ManualClock clock;
  FakeHost host = w.host;
  muzzle::Judge judge(*w.log, clock, host, w.oui.get(), judgeLimits());
  (void)judge.devices().load(w.saved_inventory);
  int current = 0;
  uint32_t generation = 1;
  bool reassigned = false;
  judge.onReassigned([&] { reassigned = true; });
  judge.setPolicy(w.policies[current], generation);

  size_t at = 0;
  while (size - at >= kRecordHeader) {
    const uint8_t* h = data + at;
    size_t length = size_t{h[6]} << 8 | h[7];
    at += kRecordHeader;
    length = std::min(length, size - at);
    // A copy of exactly the payload's length, so a read past it is a heap overflow ASan sees.
    const std::vector<uint8_t> bytes(data + at, data + at + length);
    at += length;

    if (const unsigned step = h[5] & 0x0f; step > 0) {
      clock.advance(std::chrono::milliseconds(100) * (1u << (step - 1)));
    }
    if ((h[5] & 0x10) != 0) {
      current = 1 - current;
      judge.setPolicy(w.policies[current], ++generation);
    }
    muzzle::QueuedPacket q;
    q.hook = h[0] % 5;
    q.indev = kInterfaces[h[1] % std::size(kInterfaces)];
    q.outdev = kInterfaces[h[2] % std::size(kInterfaces)];
    q.hwaddr = macFor(h[3]);
    q.mark = h[4];
    q.payload = bytes;
    q.wire_length = static_cast<uint32_t>(bytes.size() + ((h[5] & 0x20) != 0 ? 1000 : 0));
    // A volume limit blocking every class of the sender, or none (the engine's two states).
    if ((h[5] & 0x40) != 0 && q.hwaddr) {
      judge.setVolumeBlocks({{q.hwaddr->value, ~uint64_t{0}}});
    } else {
      judge.setVolumeBlocks({});
    }
    check(judge.onPacket(q), q.mark, generation, w.policies[current]->traffic_classes.size());
    if (reassigned) {
      // As the Daemon does: a device changed profile, so every flow is judged again.
      reassigned = false;
      judge.setPolicy(w.policies[current], ++generation);
    }
    if (judge.devices().size() > kInventoryCapacity) std::abort();
  }
  // Every refusal a packet met is counted once, in the Judge and in its segment (or device).
  if (judge.counters().devices_refused != judge.admission().refused()) std::abort();
  if (judge.counters().connection_limited != judge.connections().refused()) std::abort();
  (void)judge.deviceFloodLines(/*all=*/true);
  const muzzle::NameCacheLimits& limits = judge.names().limits();
  if (judge.names().entryCount() > limits.total) std::abort();
  if (judge.names().deviceCount() > limits.devices) std::abort();
  return 0;
}

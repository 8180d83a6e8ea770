// What learning mode costs a new flow, in one process, without a lab (issue 18: muzzled-learn
// against muzzled). Drives the path the Judge takes on a first packet, with the bench's site
// (gen_policy.sh: 1,000 devices, all of them learning when asked), in two shapes of
// tests/bench/run.sh's traffic:
//   udp-churn  the camera (dev-0, 44:47:cc:00:00:11) opens one-datagram UDP flows to the 254
//              hosts of 203.0.113.0/24 on udp/9000, a new source port each;
//   mixed      the 999 other devices in turn (44:47:cc:10:00:01 ..., 198.19.0.2 + i), each to
//              the next host of 203.0.113.0/24 and one of 40 ports from 9000, so the recorder
//              sees many distinct flows per device and, past 65,536, fills its total bound.
// Every packet is built before the measured loop, which is only Judge::onPacket (or, with
// `recorder`, FlowRecorder::record): run it under callgrind with
//   valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measuredFlows*'
//     build/tests/bench/bench_learn judge policy.yaml udp-churn on 20000 70000
// (one command line)
// and divide the instructions by the flows (printed). With --cache-sim=yes --D1=32768,8,64
// --LL=1048576,16,64 it also counts the cache misses a Raspberry Pi 4 would take (32 KiB L1,
// 1 MiB L2 and no L3; left to itself valgrind takes the build machine's reported L3, 512 MiB,
// and sees no last-level miss at all). Without valgrind it prints the CPU nanoseconds per flow,
// which on a busy machine say less than the instruction count.
//
//   bench_learn judge POLICY.yaml udp-churn|mixed off|on FLOWS [PREFILL]
//     off: no session; on: every policy device learning. PREFILL mixed flows are judged first,
//     unmeasured (70,000 leaves the recorder at its total bound, as a second bench round that
//     loaded the first round's learn.state is).
//   bench_learn recorder FLOWS [PREFILL]
//     FlowRecorder::record alone: 1,000 devices learning; PREFILL attempts spread over them
//     first, then FLOWS attempts of one device (distinct hosts and ports, a name on every other
//     one), so its per-device bound of 1024 is reached and every new flow evicts.
//   bench_learn save PREFILL
//     FlowRecorder::serialize() of a recorder holding PREFILL flows (what the Daemon does every
//     minute under the Judge's lock); measure with --toggle-collect='*measuredSave*'.
#include <linux/netfilter.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fw/engine/event_log.h"
#include "fw/engine/judge.h"
#include "fw/learn/flow_recorder.h"
#include "fw/nft/marks.h"
#include "fw/policy/policy_loader.h"

namespace muzzle {
namespace {

constexpr uint32_t kSegmentIf = 7;  // br-cam
constexpr uint32_t kUplinkIf = 3;
const MacAddress kCamera = *MacAddress::parse("44:47:cc:00:00:11");
const IpAddress kCameraIp = *IpAddress::parse("198.18.10.11");
constexpr int kMixedDevices = 999;
constexpr int kMixedPorts = 40;

class QuietHost : public HostInfo {
 public:
  Result<SiteFacts> siteFacts(const std::vector<DaemonSegment>&) override { return SiteFacts{}; }
  std::vector<NeighbourEntry> neighbours() override { return {}; }
  Result<std::vector<KernelQueueStats>> kernelQueues(uint16_t, uint16_t) override {
    return std::vector<KernelQueueStats>{};
  }
  Result<ConntrackTableStats> conntrackTable() override { return ConntrackTableStats{}; }
};

// The lab's camera segment: cam1's /24 and the mixed site's 198.19.0.0/20.
SiteFacts benchSite() {
  SegmentFacts seg;
  seg.name = "cameras";
  seg.ifname = "br-cam";
  seg.ifindex = kSegmentIf;
  seg.gateway_addresses = {*IpAddress::parse("198.18.10.1"), *IpAddress::parse("198.19.0.1")};
  seg.subnets = {*Cidr::parse("198.18.10.0/24"), *Cidr::parse("198.19.0.0/20")};
  SiteFacts site;
  site.segments.push_back(seg);
  site.box_addresses = seg.gateway_addresses;
  return site;
}

MacAddress mixedMac(int i) {  // device i + 1 of gen_policy.sh
  const int n = i + 1;
  return MacAddress{0x4447cc100000ull | static_cast<uint64_t>(n / 256) << 8 |
                    static_cast<uint64_t>(n % 256)};
}
IpAddress mixedIp(int i) { return IpAddress::v4FromHostOrder(0xC6130002u + i); }  // 198.19.0.2 + i
IpAddress internetHost(uint64_t seq) { return IpAddress::v4FromHostOrder(0xCB007101u + seq % 254); }

std::vector<uint8_t> udpPacket(const IpAddress& src, const IpAddress& dst, uint16_t sport,
                               uint16_t dport) {
  std::vector<uint8_t> b = {0x45, 0, 0, 36, 0, 0, 0x40, 0, 64, 17, 0, 0};
  b.insert(b.end(), src.bytes.begin(), src.bytes.begin() + 4);
  b.insert(b.end(), dst.bytes.begin(), dst.bytes.begin() + 4);
  // UDP header (length 16, no checksum) and 8 bytes of payload.
  const uint8_t ports[4] = {uint8_t(sport >> 8), uint8_t(sport), uint8_t(dport >> 8),
                            uint8_t(dport)};
  b.insert(b.end(), ports, ports + sizeof ports);
  b.insert(b.end(), {0, 16, 0, 0, 'b', 'e', 'n', 'c', 'h', 'l', 'r', 'n'});
  return b;
}

struct Flow {
  std::vector<uint8_t> bytes;
  MacAddress mac;
};

// The `n` flows of `workload` from sequence number `seq0` on.
std::vector<Flow> flowsOf(const std::string& workload, uint64_t seq0, uint64_t n) {
  std::vector<Flow> out;
  out.reserve(n);
  for (uint64_t seq = seq0; seq < seq0 + n; ++seq) {
    const uint16_t sport = static_cast<uint16_t>(10000 + seq % 50000);
    if (workload == "udp-churn") {
      out.push_back({udpPacket(kCameraIp, internetHost(seq), sport, 9000), kCamera});
    } else {
      const int device = static_cast<int>(seq % kMixedDevices);
      const uint64_t turn = seq / kMixedDevices;  // this device's turn-th flow
      const auto port = static_cast<uint16_t>(9000 + (turn / 254) % kMixedPorts);
      out.push_back(
          {udpPacket(mixedIp(device), internetHost(turn), sport, port), mixedMac(device)});
    }
  }
  return out;
}

uint64_t judgeAll(Judge& judge, const std::vector<Flow>& flows) {
  uint64_t allowed = 0;
  for (const Flow& f : flows) {
    QueuedPacket q;
    q.hook = NF_INET_FORWARD;
    q.indev = kSegmentIf;
    q.outdev = kUplinkIf;
    q.hwaddr = f.mac;
    q.payload = f.bytes;
    q.wire_length = static_cast<uint32_t>(f.bytes.size());
    const PacketVerdict v = judge.onPacket(q);
    allowed += v.verdict == NF_REPEAT && v.mark &&
               (*v.mark & kVerdictCodeBits) == static_cast<uint32_t>(VerdictCode::kAllow);
  }
  return allowed;
}

// The measured loops: callgrind's --toggle-collect names them.
[[gnu::noinline]] uint64_t measuredFlows(Judge& judge, const std::vector<Flow>& flows) {
  return judgeAll(judge, flows);
}
[[gnu::noinline]] void measuredRecords(FlowRecorder& r, MacAddress mac,
                                       const std::vector<FlowAttempt>& attempts) {
  for (const FlowAttempt& a : attempts) r.record(mac, a);
}
[[gnu::noinline]] size_t measuredSave(const FlowRecorder& r) { return r.serialize().size(); }

double cpuNs() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e9 + static_cast<double>(t.tv_nsec);
}

int runJudge(const std::string& path, const std::string& workload, bool learn, uint64_t flows,
             uint64_t prefill) {
  auto policy = compilePolicyFile(path, benchSite(), "");
  if (!policy.ok()) {
    std::fprintf(stderr, "%s\n", policy.status().message().c_str());
    return 1;
  }
  SystemClock clock;
  QuietHost host;
  FILE* devnull = std::fopen("/dev/null", "w");
  EventLog log(devnull, clock);
  Judge judge(log, clock, host);
  judge.setPolicy(*policy, 1);
  if (learn) {
    for (const CompiledDevice& d : (*policy)->devices) {
      Status s = judge.learning().start(d.mac, std::chrono::hours(1), false);
      if (!s.ok()) {
        std::fprintf(stderr, "learn start: %s\n", s.message().c_str());
        return 1;
      }
    }
  }
  // Every device seen once first (the inventory's first sighting is not what is measured).
  judgeAll(judge, flowsOf("udp-churn", 0, 1));
  judgeAll(judge, flowsOf("mixed", 0, kMixedDevices));
  judgeAll(judge, flowsOf("mixed", kMixedDevices, prefill));
  const std::vector<Flow> measured = flowsOf(workload, 1u << 24, flows);
  const double t0 = cpuNs();
  const uint64_t allowed = measuredFlows(judge, measured);
  const double t1 = cpuNs();
  std::printf(
      "{\"mode\":\"judge\",\"workload\":\"%s\",\"learn\":%s,\"flows\":%llu,\"allowed\":%llu,"
      "\"prefill\":%llu,\"recorded\":%zu,\"evictions\":%llu,\"cpu_ns_per_flow\":%.0f}\n",
      workload.c_str(), learn ? "true" : "false", static_cast<unsigned long long>(flows),
      static_cast<unsigned long long>(allowed), static_cast<unsigned long long>(prefill),
      judge.learning().flowCount(), static_cast<unsigned long long>(judge.learning().evictions()),
      (t1 - t0) / static_cast<double>(flows));
  log.stop();
  std::fclose(devnull);
  return 0;
}

// 1,000 learning devices (the camera first); `prefill` attempts spread over the others.
void fillRecorder(FlowRecorder& r, uint64_t prefill) {
  r.start(kCamera, std::chrono::hours(1), false);
  for (int i = 0; i < kMixedDevices; ++i) r.start(mixedMac(i), std::chrono::hours(1), false);
  for (uint64_t seq = 0; seq < prefill; ++seq) {
    FlowAttempt a;
    const uint64_t turn = seq / kMixedDevices;
    a.address = internetHost(turn);
    a.protocol = 17;
    a.port = static_cast<uint16_t>(9000 + (turn / 254) % kMixedPorts);
    r.record(mixedMac(static_cast<int>(seq % kMixedDevices)), a);
  }
}

int runRecorder(uint64_t flows, uint64_t prefill) {
  SystemClock clock;
  FlowRecorder r(clock);
  fillRecorder(r, prefill);
  // Distinct (host, port) pairs, a name on every other one (names absent: by address).
  std::vector<std::string> names;
  names.reserve(flows);
  std::vector<FlowAttempt> attempts;
  attempts.reserve(flows);
  for (uint64_t i = 0; i < flows; ++i) {
    names.push_back(i % 2 == 0 ? "" : "edge" + std::to_string(i % 4000) + ".cdn7.example");
  }
  for (uint64_t i = 0; i < flows; ++i) {
    FlowAttempt a;
    a.name = names[i];
    a.address = internetHost(i);
    a.protocol = 17;
    a.port = static_cast<uint16_t>(9000 + (i / 254) % 64);
    a.verdict = Action::kAllow;
    a.allowed_by_rule = true;
    attempts.push_back(a);
  }
  const double t0 = cpuNs();
  measuredRecords(r, kCamera, attempts);
  const double t1 = cpuNs();
  std::printf(
      "{\"mode\":\"recorder\",\"flows\":%llu,\"prefill\":%llu,\"recorded\":%zu,\"evictions\":%llu,"
      "\"cpu_ns_per_flow\":%.0f}\n",
      static_cast<unsigned long long>(flows), static_cast<unsigned long long>(prefill),
      r.flowCount(), static_cast<unsigned long long>(r.evictions()),
      (t1 - t0) / static_cast<double>(flows));
  return 0;
}

int runSave(uint64_t prefill) {
  SystemClock clock;
  FlowRecorder r(clock);
  fillRecorder(r, prefill);
  const double t0 = cpuNs();
  const size_t bytes = measuredSave(r);
  const double t1 = cpuNs();
  std::printf("{\"mode\":\"save\",\"flows\":%zu,\"bytes\":%zu,\"cpu_ns_per_flow\":%.0f}\n",
              r.flowCount(), bytes, (t1 - t0) / static_cast<double>(r.flowCount()));
  return 0;
}

}  // namespace
}  // namespace muzzle

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  auto number = [&](int i, uint64_t fallback) {
    return argc > i ? std::strtoull(argv[i], nullptr, 10) : fallback;
  };
  if (mode == "judge" && (argc == 6 || argc == 7)) {
    const std::string workload = argv[3];
    const std::string learn = argv[4];
    if ((workload == "udp-churn" || workload == "mixed") && (learn == "on" || learn == "off"))
      return muzzle::runJudge(argv[2], workload, learn == "on", number(5, 20000), number(6, 0));
  }
  if (mode == "recorder" && (argc == 3 || argc == 4))
    return muzzle::runRecorder(number(2, 20000), number(3, 0));
  if (mode == "save" && argc == 3) return muzzle::runSave(number(2, 70000));
  std::fprintf(stderr,
               "usage: bench_learn judge POLICY.yaml udp-churn|mixed off|on FLOWS [PREFILL]\n"
               "       bench_learn recorder FLOWS [PREFILL]\n"
               "       bench_learn save PREFILL\n");
  return 2;
}

// accounting_check: drives one NftRulesetWriter (makeNftRulesetWriter, the real libmnl
// transport, and its conntrack counter) in the calling network namespace, a command per line on
// stdin, for tests/scenario/accounting.sh. One process for the whole run, because the counter's
// event thread must live between reads. Commands, each answered on stdout by lines ending with
// `end`:
//   start                        -> `ok` or `error MESSAGE` (RulesetWriter::startAccounting)
//   install GENERATION SEGMENT...  -> `ok` or `error MESSAGE`
//   udp-ends untouched|events|dumps  -> `ok`: RulesetSpec::udp_ends of the next installs
//   outlive SECONDS  -> `yes` or `no`: RulesetWriter::udpTimeoutsOutlive(SECONDS)
//   read   -> `SOURCE DESTINATION class C judged|box ORIG_BYTES ORIG_PACKETS REPLY_BYTES
//             REPLY_PACKETS` per group, sorted, or `error MESSAGE`
//   live   -> `complete yes|no`, then `DEVICE CONNECTIONS` per device its labels name, sorted
//             (RulesetWriter::takeLiveConnections: the connection limit's recount)
//   stats  -> `events N overruns N errors N uncounted N lost_bytes N`
//   remove -> `ok` or `error MESSAGE`
// Fail-open with the native queue when the kernel has it (probed at the first install), so that
// packets without a verdict mark pass (no muzzled listens).
#include <algorithm>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "fw/nft/ruleset.h"

namespace {

void answer(const muzzle::Status& s) {
  std::cout << (s.ok() ? "ok" : "error " + s.message()) << "\nend" << std::endl;
}

}  // namespace

int main() {
  auto writer = muzzle::makeNftRulesetWriter();
  std::optional<muzzle::QueueMode> mode;  // probed at the first install
  auto udp_ends = muzzle::RulesetSpec::UdpEnds::kUntouched;
  for (std::string line; std::getline(std::cin, line);) {
    std::istringstream in(line);
    std::string command;
    in >> command;
    if (command == "start") {
      answer(writer->startAccounting());
    } else if (command == "install") {
      if (!mode) {
        auto probed = writer->probeQueueMode();
        if (!probed.ok()) {
          answer(probed.status().withContext("probing the queue mode: "));
          continue;
        }
        mode = *probed;
      }
      muzzle::RulesetSpec spec;
      spec.fail_open = true;
      spec.queue_mode = *mode;
      spec.udp_ends = udp_ends;
      in >> spec.generation;
      for (std::string seg; in >> seg;) spec.segment_ifnames.push_back(seg);
      answer(writer->install(spec));
    } else if (command == "udp-ends") {
      std::string how;
      in >> how;
      using Ends = muzzle::RulesetSpec::UdpEnds;
      if (how != "untouched" && how != "events" && how != "dumps") {
        answer(muzzle::Status::error("udp-ends: untouched, events or dumps, not '" + how + "'"));
        continue;
      }
      udp_ends = how == "dumps" ? Ends::kDumps : how == "events" ? Ends::kEvents : Ends::kUntouched;
      answer(muzzle::Status());
    } else if (command == "outlive") {
      uint32_t seconds = 0;
      in >> seconds;
      std::cout << (writer->udpTimeoutsOutlive(seconds) ? "yes" : "no") << "\nend" << std::endl;
    } else if (command == "read") {
      auto counts = writer->readAccounting();
      if (!counts.ok()) {
        answer(counts.status());
        continue;
      }
      std::vector<std::string> lines;
      for (const muzzle::FlowGroupCount& g : *counts) {
        lines.push_back(g.source.toString() + " " + g.destination.toString() + " class " +
                        std::to_string(g.traffic_class) + (g.judged ? " judged " : " box ") +
                        std::to_string(g.orig_bytes) + " " + std::to_string(g.orig_packets) +
                        " " + std::to_string(g.reply_bytes) + " " +
                        std::to_string(g.reply_packets));
      }
      std::sort(lines.begin(), lines.end());
      for (const std::string& l : lines) std::cout << l << "\n";
      std::cout << "end" << std::endl;
    } else if (command == "live") {
      const muzzle::LiveConnections live = writer->takeLiveConnections();
      std::vector<std::string> lines;
      for (const muzzle::DeviceConnections& d : live.by_device) {
        lines.push_back(d.device.toString() + " " + std::to_string(d.connections));
      }
      std::sort(lines.begin(), lines.end());
      std::cout << "complete " << (live.complete ? "yes" : "no") << "\n";
      for (const std::string& l : lines) std::cout << l << "\n";
      std::cout << "end" << std::endl;
    } else if (command == "stats") {
      const muzzle::ConntrackCounter::Stats s = writer->accountingStats();
      std::cout << "events " << s.events << " overruns " << s.event_overruns << " errors "
                << s.event_errors << " uncounted " << s.uncounted << " lost_bytes "
                << s.lost_bytes << "\nend" << std::endl;
    } else if (command == "remove") {
      answer(writer->remove());
    } else {
      answer(muzzle::Status::error("unknown command: " + line));
    }
  }
  return 0;
}

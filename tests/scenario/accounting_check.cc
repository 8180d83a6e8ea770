// accounting_check: drives one NftRulesetWriter (makeNftRulesetWriter, the real libmnl
// transport) in the calling network namespace, a command per line on stdin, for
// tests/scenario/accounting.sh. One process for the whole run, because the writer remembers
// what it installed (a policy change is an update in place only for the writer that installed
// the table). Commands, each answered on stdout by lines ending with `end`:
//   install GENERATION ACCOUNTING_ADDRESSES SEGMENT...   -> `ok` or `error MESSAGE`
//   read                -> `up|down ADDRESS BYTES PACKETS` per element, sorted, or `error MESSAGE`
//   forget up|down ADDRESS...                             -> `ok` or `error MESSAGE`
//   remove                                                -> `ok` or `error MESSAGE`
// Fail-open with the native queue when the kernel has it, so that packets without a verdict
// mark pass (no muzzled listens).
#include <algorithm>
#include <iostream>
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
  auto mode = writer->probeQueueMode();
  if (!mode.ok()) {
    std::cerr << "probing the queue mode: " << mode.status().message() << "\n";
    return 1;
  }
  for (std::string line; std::getline(std::cin, line);) {
    std::istringstream in(line);
    std::string command;
    in >> command;
    if (command == "install") {
      muzzle::RulesetSpec spec;
      spec.fail_open = true;
      spec.queue_mode = *mode;
      in >> spec.generation >> spec.accounting_addresses;
      for (std::string seg; in >> seg;) spec.segment_ifnames.push_back(seg);
      answer(writer->install(spec));
    } else if (command == "read") {
      auto counts = writer->readAccounting();
      if (!counts.ok()) {
        answer(counts.status());
        continue;
      }
      std::vector<std::string> lines;
      for (const muzzle::AccountingCount& c : *counts) {
        lines.push_back(std::string(c.upload ? "up " : "down ") + c.address.toString() + " " +
                        std::to_string(c.bytes) + " " + std::to_string(c.packets));
      }
      std::sort(lines.begin(), lines.end());
      for (const std::string& l : lines) std::cout << l << "\n";
      std::cout << "end" << std::endl;
    } else if (command == "forget") {
      std::string direction;
      in >> direction;
      std::vector<muzzle::AccountingCount> elements;
      for (std::string text; in >> text;) {
        auto address = muzzle::IpAddress::parse(text);
        if (!address) {
          answer(muzzle::Status::error("not an address: " + text));
          elements.clear();
          break;
        }
        elements.push_back({*address, direction == "up", 0, 0});
      }
      if (!elements.empty()) answer(writer->forgetAccounting(elements));
    } else if (command == "remove") {
      answer(writer->remove());
    } else {
      answer(muzzle::Status::error("unknown command: " + line));
    }
  }
  return 0;
}

// bench_ruleset: installs muzzled's exact table `inet muzzle` (fw/nft, the same writer muzzled
// uses) for a chosen generation, without muzzled, so the bare queue loop runs behind the very
// rules muzzled runs behind.
//
//   bench_ruleset install --generation G --segment br-cam [--queue 100]
//   bench_ruleset remove
//   bench_ruleset add-queue --table T --chain C [--queue 100]
//
// add-queue appends one rule, "queue to N", to chain C of an existing table `inet T` that the
// bench wrote with nft -f (the minimal ruleset). nft(8) cannot write that rule here: this
// project's kernels lack the native queue expression, and nft cannot parse the xtables NFQUEUE
// target that replaces it. The rule is built as muzzled builds its own (fw/nft: native when the
// kernel has it, else the NFQUEUE target through nft_compat), so the minimal ruleset queues the
// same way muzzled's table does.
//
// Writes to the network namespace it runs in: the bench script runs it only inside the lab's
// gateway namespace (ip netns exec).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "fw/nft/marks.h"
#include "fw/nft/netlink_transport.h"
#include "fw/nft/nft_batch.h"
#include "fw/nft/ruleset.h"
#include "fw/nft/ruleset_layout.h"

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: bench_ruleset install --generation G --segment IFNAME [--queue N]\n"
               "       bench_ruleset remove\n"
               "       bench_ruleset add-queue --table T --chain C [--queue N]\n");
  return 64;
}

int addQueue(muzzle::RulesetWriter& writer, int argc, char** argv) {
  std::string table, chain;
  uint16_t queue = muzzle::RulesetSpec().queue_first;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    const char* value = argv[i + 1];
    if (key == "--table") {
      table = value;
    } else if (key == "--chain") {
      chain = value;
    } else if (key == "--queue") {
      queue = static_cast<uint16_t>(std::strtoul(value, nullptr, 0));
    } else {
      return usage();
    }
  }
  if (argc % 2 != 0 || table.empty() || chain.empty()) return usage();
  auto mode = writer.probeQueueMode();
  if (!mode.ok()) {
    std::fprintf(stderr, "bench_ruleset: %s\n", mode.status().message().c_str());
    return 1;
  }
  // Sequence numbers past the probe's batch: one transport, one socket, no answer mistaken.
  muzzle::NftBatch b(1u << 20);
  b.addRule(table, {chain, "queue rule", {muzzle::nftx::Queue{queue, 1, false, *mode}}});
  auto transport = muzzle::makeMnlTransport();
  muzzle::Status s = b.commit(*transport);
  if (!s.ok()) {
    std::fprintf(stderr, "bench_ruleset: adding the queue rule to inet %s %s: %s\n", table.c_str(),
                 chain.c_str(), s.message().c_str());
    return 1;
  }
  std::printf("table=%s chain=%s queue=%u queue_mode=%s\n", table.c_str(), chain.c_str(), queue,
              muzzle::queueModeName(*mode));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string command = argv[1];
  auto writer = muzzle::makeNftRulesetWriter();
  if (command == "remove") {
    muzzle::Status s = writer->remove();
    if (!s.ok()) {
      std::fprintf(stderr, "bench_ruleset: %s\n", s.message().c_str());
      return 1;
    }
    return 0;
  }
  if (command == "add-queue") return addQueue(*writer, argc, argv);
  if (command != "install") return usage();
  muzzle::RulesetSpec spec;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    const char* value = argv[i + 1];
    if (key == "--generation") {
      spec.generation = static_cast<uint32_t>(std::strtoul(value, nullptr, 0));
    } else if (key == "--segment") {
      spec.segment_ifnames.emplace_back(value);
    } else if (key == "--queue") {
      spec.queue_first = static_cast<uint16_t>(std::strtoul(value, nullptr, 0));
    } else {
      return usage();
    }
  }
  if (argc % 2 != 0 || spec.segment_ifnames.empty()) return usage();
  auto mode = writer->probeQueueMode();
  if (!mode.ok()) {
    std::fprintf(stderr, "bench_ruleset: %s\n", mode.status().message().c_str());
    return 1;
  }
  spec.queue_mode = *mode;
  muzzle::Status s = writer->install(spec);
  if (!s.ok()) {
    std::fprintf(stderr, "bench_ruleset: %s\n", s.message().c_str());
    return 1;
  }
  // The script hands this mark to bench_nfq_loop: the allow verdict of this generation.
  std::printf("generation=%u queue_mode=%s allow_mark=%u\n", spec.generation,
              muzzle::queueModeName(spec.queue_mode),
              muzzle::verdictMark(spec.generation, muzzle::VerdictCode::kAllow));
  return 0;
}

// One nftables transaction: the netlink messages of a batch (tables, chains, sets, elements,
// rules), serialized with libnftnl into one buffer and handed to a NetlinkTransport, which the
// kernel applies all or nothing. The batch remembers what each message was, so that a refusal
// reads "judge rule 3 (drop conntrack-invalid packets): Operation not supported".
//
// Bounded: the buffer is 1 MiB, far above the largest table (a few hundred rules); a batch is
// built and committed by one thread and used once.
#pragma once

#include <libmnl/libmnl.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fw/common/status.h"
#include "fw/nft/netlink_transport.h"
#include "fw/nft/nft_expressions.h"
#include "fw/nft/ruleset_layout.h"

namespace muzzle {

class NftBatch {
 public:
  // Messages are numbered from `first_seq` (the batch-begin message) on.
  explicit NftBatch(uint32_t first_seq);
  ~NftBatch();
  NftBatch(const NftBatch&) = delete;
  NftBatch& operator=(const NftBatch&) = delete;

  void addTable(const std::string& name);
  void deleteTable(const std::string& name);
  void addChain(const std::string& table, const ChainLayout& chain);
  // The set and, when it has any, its elements (addSetElements).
  void addIntervalSet(const std::string& table, const SetLayout& set);
  // Each interval is an element at its first address and an interval-end element after its
  // last (none when it runs to the family's last address), which is how nft(8) writes intervals.
  void addSetElements(const std::string& table, const SetLayout& set);
  // Deleting elements without naming any empties the set.
  void flushSet(const std::string& table, const std::string& name);
  // Deleting rules without a handle empties the chain; the chain and what jumps to it stay.
  void flushChain(const std::string& table, const std::string& name);
  void addRule(const std::string& table, const RuleLayout& rule);

  // Ends the batch, sends it and waits for every acknowledgement. A refusal names the message.
  Status commit(NetlinkTransport& transport);

 private:
  char* next(std::string what);
  void done() { mnl_nlmsg_batch_next(batch_); }
  std::string describe(uint32_t seq) const;

  std::vector<char> buffer_;
  mnl_nlmsg_batch* batch_;
  uint32_t seq_;
  std::vector<std::pair<uint32_t, std::string>> what_;  // seq -> what the message was
};

}  // namespace muzzle

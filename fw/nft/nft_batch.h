// One nftables transaction: the netlink messages of a batch (tables, chains, sets, elements,
// rules), serialized with libnftnl into one buffer and handed to a NetlinkTransport, which the
// kernel applies all or nothing. The batch remembers what each message was, so that a refusal
// reads "judge rule 3 (drop conntrack-invalid packets): Operation not supported".
//
// Bounded: the buffer grows as messages are added, up to a limit (kMaxBatchBytes by default) far
// above any table muzzled makes (a few dozen rules, a segment's name per element of @segments). A
// message that would pass the limit is not written: the batch remembers the first such failure,
// drops every later message and commit() returns the failure, naming what did not fit, without
// sending anything, so the kernel keeps its previous ruleset. Set elements go in messages of at
// most kElementsPerMessage elements, so that no nested attribute reaches netlink's 16-bit length.
// A batch is built and committed by one thread and used once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fw/common/net.h"
#include "fw/common/status.h"
#include "fw/nft/netlink_transport.h"
#include "fw/nft/nft_expressions.h"
#include "fw/nft/ruleset_layout.h"

struct nftnl_set;  // libnftnl's, built only in nft_batch.cc

namespace muzzle {

// Far above any layout muzzled makes; bounds what a batch can make muzzled allocate.
inline constexpr size_t kMaxBatchBytes = size_t{32} << 20;
// The largest element written is an interface name: element nest (4) + key nest (4) + key
// (4 + 16) = 28 bytes; 36 leaves room for a flag (8) or a longer key, and 1024 of them nest
// 36 KiB under NFTA_SET_ELEM_LIST_ELEMENTS, well below the 65,535 bytes its 16-bit length can
// say (a longer one wraps, and the kernel reads a different list).
inline constexpr size_t kMaxElementBytes = 36;
inline constexpr size_t kElementsPerMessage = 1024;
static_assert(kElementsPerMessage * kMaxElementBytes < 0xffff * 3 / 4);

class NftBatch {
 public:
  // Messages are numbered from `first_seq` (the batch-begin message) on.
  explicit NftBatch(uint32_t first_seq, size_t max_bytes = kMaxBatchBytes);
  ~NftBatch();
  NftBatch(const NftBatch&) = delete;
  NftBatch& operator=(const NftBatch&) = delete;

  void addTable(const std::string& name);
  void deleteTable(const std::string& name);
  void addChain(const std::string& table, const ChainLayout& chain);
  // A set of interface names (SetKind::kInterfaceNames, nft type ifname) and its elements, one
  // message per kElementsPerMessage.
  void addInterfaceNameSet(const std::string& table, const SetLayout& set);
  // An empty set that rules fill: of source MAC addresses (SetKind::kDeviceMeter) or of input
  // interface names (SetKind::kInterfaceMeter).
  void addMeterSet(const std::string& table, const SetLayout& set);
  // Deleting rules without a handle empties the chain; the chain and what jumps to it stay.
  void flushChain(const std::string& table, const std::string& name);
  // The rule, after the anonymous verdict map of each nftx::MarkVmap in it (the map and its
  // elements, two messages).
  void addRule(const std::string& table, const RuleLayout& rule);

  // Ends the batch, sends it and waits for every acknowledgement. A refusal names the message;
  // a batch that did not fit is not sent.
  Status commit(NetlinkTransport& transport);
  // What the kernel refused at commit(), if it refused anything: for callers that act on the
  // error number rather than on the text.
  const std::optional<NetlinkRefusal>& refusal() const { return refusal_; }

  // The sequence number after the batch's last message: the next batch starts at or after it.
  uint32_t endSeq() const { return seq_; }

 private:
  // NEWSET for `s`, described as `what`; `s` stays the caller's.
  void addSetMessage(nftnl_set* s, std::string what);
  // Elements with these keys (each as long as the set's key) in messages of `type` and `flags`,
  // one per kElementsPerMessage, each described as `what` + the set's name (and which keys).
  void keyMessages(uint16_t type, uint16_t flags, const char* what, const std::string& table,
                   const std::string& name, const std::vector<std::vector<uint8_t>>& keys);
  void addVerdictMap(const std::string& table, const RuleLayout& rule, const nftx::MarkVmap& map);
  // Where the next message (`what`, at most kMessageRoom bytes) goes, or nullptr when it would
  // pass the limit or an earlier message did (failed_ then says which).
  char* next(std::string what);
  // Takes the message built at next() into the batch.
  void done();
  std::string describe(uint32_t seq) const;

  std::vector<char> buffer_;  // grows; [0, used_) holds the messages so far
  size_t used_ = 0;
  size_t max_bytes_;
  Status failed_;
  uint32_t seq_;
  std::vector<std::pair<uint32_t, std::string>> what_;  // seq -> what the message was
  std::optional<NetlinkRefusal> refusal_;
};

}  // namespace muzzle

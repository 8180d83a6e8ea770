// nftables transactions serialized with libnftnl: see nft_batch.h.
#include "fw/nft/nft_batch.h"

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <algorithm>
#include <cstring>

namespace muzzle {
namespace {

// Room reserved for each message before libnftnl writes it (libmnl does not check a buffer's
// end). No message the kernel can read is longer: each carries its payload in one nested
// attribute with a 16-bit length, plus a few names. Set element messages stay far below by
// construction (kElementsPerMessage); rules hold a handful of expressions.
constexpr size_t kMessageRoom = (size_t{64} << 10) + (size_t{4} << 10);
static_assert(kElementsPerMessage * kMaxElementBytes + 1024 < kMessageRoom);
// The first allocation: far above the tables muzzled makes (a few dozen rules, and a segment's
// name per element of @segments), so a batch grows only in the tests of the limit.
constexpr size_t kInitialBytes = size_t{256} << 10;
// After conntrack (-200) and mangle (-150), at the filter priority: we need the ct entry.
constexpr int kChainPriority = 0;
// nft's datatype numbers for set keys (nftables' datatype.h): they only affect how `nft list`
// prints the elements.
constexpr uint32_t kNftTypeMark = 19;
constexpr uint32_t kNftTypeIfname = 41;
constexpr uint32_t kNftTypeEtherAddr = 9;
// nft's BYTEORDER_HOST_ENDIAN (nftables' datatype.h), and room for the one attribute we put.
constexpr uint32_t kNftByteOrderHost = 1;
constexpr uint32_t kUserDataBytes = 64;

uint32_t hookNumber(Hook hook) {
  switch (hook) {
    case Hook::kForward:
      return NF_INET_FORWARD;
    case Hook::kInput:
      return NF_INET_LOCAL_IN;
    case Hook::kOutput:
      return NF_INET_LOCAL_OUT;
  }
  return NF_INET_FORWARD;
}

// For nft(8) alone, which keeps a key's byte order in the set's user data: without it `nft list`
// reads a key held as a register holds it backwards (a mark 0x00000701 as 0x01070000, the name
// "br-cam" as "").
void setKeyByteOrderHost(nftnl_set* s) {
  nftnl_udata_buf* udata = nftnl_udata_buf_alloc(kUserDataBytes);
  nftnl_udata_put_u32(udata, NFTNL_UDATA_SET_KEYBYTEORDER, kNftByteOrderHost);
  nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(udata),
                     nftnl_udata_buf_len(udata));
  nftnl_udata_buf_free(udata);
}

nftnl_set* allocSet(const std::string& table, const std::string& name) {
  nftnl_set* s = nftnl_set_alloc();
  nftnl_set_set_str(s, NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(s, NFTNL_SET_NAME, name.c_str());
  nftnl_set_set_u32(s, NFTNL_SET_FAMILY, kNftFamily);
  return s;
}

}  // namespace

NftBatch::NftBatch(uint32_t first_seq, size_t max_bytes)
    : buffer_(std::min(kInitialBytes, max_bytes)), max_bytes_(max_bytes), seq_(first_seq) {
  if (char* at = next("batch begin")) {
    nftnl_batch_begin(at, seq_++);
    done();
  }
}

NftBatch::~NftBatch() = default;

void NftBatch::addTable(const std::string& name) {
  nftnl_table* t = nftnl_table_alloc();
  nftnl_table_set_str(t, NFTNL_TABLE_NAME, name.c_str());
  nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, kNftFamily);
  if (char* at = next("add table " + name)) {
    nlmsghdr* nlh = nftnl_table_nlmsg_build_hdr(at, NFT_MSG_NEWTABLE, kNftFamily,
                                                NLM_F_CREATE | NLM_F_ACK, seq_++);
    nftnl_table_nlmsg_build_payload(nlh, t);
    done();
  }
  nftnl_table_free(t);
}

void NftBatch::deleteTable(const std::string& name) {
  nftnl_table* t = nftnl_table_alloc();
  nftnl_table_set_str(t, NFTNL_TABLE_NAME, name.c_str());
  nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, kNftFamily);
  if (char* at = next("delete table " + name)) {
    nlmsghdr* nlh =
        nftnl_table_nlmsg_build_hdr(at, NFT_MSG_DELTABLE, kNftFamily, NLM_F_ACK, seq_++);
    nftnl_table_nlmsg_build_payload(nlh, t);
    done();
  }
  nftnl_table_free(t);
}

void NftBatch::addChain(const std::string& table, const ChainLayout& chain) {
  nftnl_chain* c = nftnl_chain_alloc();
  nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table.c_str());
  nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, chain.name.c_str());
  nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, kNftFamily);
  if (chain.hook) {
    nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hookNumber(*chain.hook));
    nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, kChainPriority);
    nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
    nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
  }
  if (char* at = next("add chain " + chain.name)) {
    nlmsghdr* nlh = nftnl_chain_nlmsg_build_hdr(at, NFT_MSG_NEWCHAIN, kNftFamily,
                                                NLM_F_CREATE | NLM_F_ACK, seq_++);
    nftnl_chain_nlmsg_build_payload(nlh, c);
    done();
  }
  nftnl_chain_free(c);
}

void NftBatch::addSetMessage(nftnl_set* s, std::string what) {
  if (char* at = next(std::move(what))) {
    nlmsghdr* nlh =
        nftnl_nlmsg_build_hdr(at, NFT_MSG_NEWSET, kNftFamily, NLM_F_CREATE | NLM_F_ACK, seq_++);
    nftnl_set_nlmsg_build_payload(nlh, s);
    done();
  }
}

void NftBatch::addInterfaceNameSet(const std::string& table, const SetLayout& set) {
  nftnl_set* s = allocSet(table, set.name);
  nftnl_set_set_u32(s, NFTNL_SET_ID, set.id);
  // No flags, and its size: the kernel then picks its fixed-size hash, whose lookup costs less
  // than the resizable one it picks for a set of unknown size (tests/bench, perf: ~70 ns less a
  // packet through the table). Every packet through the table pays it. The set never grows: new segments
  // replace the table. The type and byte order are for `nft list` alone, which then shows the
  // keys as names.
  nftnl_set_set_u32(s, NFTNL_SET_FLAGS, 0);
  nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE,
                    static_cast<uint32_t>(std::max<size_t>(1, set.ifnames.size())));
  nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, kNftTypeIfname);
  nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, kInterfaceNameKeyLength);
  setKeyByteOrderHost(s);
  addSetMessage(s, "add set " + set.name);
  nftnl_set_free(s);
  std::vector<std::vector<uint8_t>> keys;
  for (const std::string& name : set.ifnames) keys.push_back(interfaceNameKey(name));
  keyMessages(NFT_MSG_NEWSETELEM, NLM_F_CREATE | NLM_F_ACK, "add elements to set ", table, set.name,
              keys);
}

void NftBatch::addMeterSet(const std::string& table, const SetLayout& set) {
  nftnl_set* s = allocSet(table, set.name);
  nftnl_set_set_u32(s, NFTNL_SET_ID, set.id);
  // Dynamic (rules add to it) with timeouts, as nft(8) makes `flags dynamic,timeout`, or without
  // (`flags dynamic`). Its size bounds it: the kernel adds no element past it.
  if (set.timeout_ms > 0) {
    nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_EVAL | NFT_SET_TIMEOUT);
    nftnl_set_set_u64(s, NFTNL_SET_TIMEOUT, set.timeout_ms);
  } else {
    nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_EVAL);
  }
  nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, set.size);
  if (set.kind == SetKind::kInterfaceMeter) {
    // As @segments: `nft list` then shows the keys as names.
    nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, kNftTypeIfname);
    nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, kInterfaceNameKeyLength);
    setKeyByteOrderHost(s);
  } else {
    nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, kNftTypeEtherAddr);
    nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, kEtherAddressLength);
  }
  addSetMessage(s, "add set " + set.name);
  nftnl_set_free(s);
}

void NftBatch::keyMessages(uint16_t type, uint16_t flags, const char* what,
                           const std::string& table, const std::string& name,
                           const std::vector<std::vector<uint8_t>>& keys) {
  for (size_t first = 0; first < keys.size() && failed_.ok(); first += kElementsPerMessage) {
    const size_t end = std::min(keys.size(), first + kElementsPerMessage);
    nftnl_set* s = allocSet(table, name);
    for (size_t i = first; i < end; ++i) {
      nftnl_set_elem* e = nftnl_set_elem_alloc();
      nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, keys[i].data(), keys[i].size());
      nftnl_set_elem_add(s, e);
    }
    std::string message = what + name;
    if (first > 0 || end < keys.size()) {
      message += " (" + std::to_string(first + 1) + "-" + std::to_string(end) + " of " +
                 std::to_string(keys.size()) + ")";
    }
    if (char* at = next(std::move(message))) {
      nlmsghdr* nlh = nftnl_nlmsg_build_hdr(at, type, kNftFamily, flags, seq_++);
      nftnl_set_elems_nlmsg_build_payload(nlh, s);
      done();
    }
    nftnl_set_free(s);
  }
}

void NftBatch::flushChain(const std::string& table, const std::string& name) {
  nftnl_rule* r = nftnl_rule_alloc();
  nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table.c_str());
  nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, name.c_str());
  nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, kNftFamily);
  if (char* at = next("flush chain " + name)) {
    nlmsghdr* nlh = nftnl_rule_nlmsg_build_hdr(at, NFT_MSG_DELRULE, kNftFamily, NLM_F_ACK, seq_++);
    nftnl_rule_nlmsg_build_payload(nlh, r);
    done();
  }
  nftnl_rule_free(r);
}

void NftBatch::addVerdictMap(const std::string& table, const RuleLayout& rule,
                             const nftx::MarkVmap& map) {
  // As nft(8) makes the map of `vmap { ... }`: anonymous (it lives and dies with the rule, so a
  // flushed chain takes it along), constant, its size known, so the kernel picks a hash that
  // needs no resizing.
  nftnl_set* s = allocSet(table, kAnonymousMapName);
  nftnl_set_set_u32(s, NFTNL_SET_ID, map.set_id);
  nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | NFT_SET_MAP);
  nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, kNftTypeMark);
  nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, sizeof(uint32_t));
  nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
  nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, static_cast<uint32_t>(map.elements.size()));
  setKeyByteOrderHost(s);
  addSetMessage(s, "add the verdict map of " + rule.what);
  static constexpr int kCodes[] = {NF_ACCEPT, NF_DROP, NFT_RETURN, NFT_GOTO, NFT_JUMP};
  for (const auto& [mark, verdict] : map.elements) {
    nftnl_set_elem* e = nftnl_set_elem_alloc();
    // A register holds the mark in host order, as the key is compared.
    nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, &mark, sizeof(mark));
    nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, static_cast<uint32_t>(kCodes[verdict.code]));
    if (verdict.code == nftx::Verdict::kGoto || verdict.code == nftx::Verdict::kJump) {
      nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, verdict.chain.c_str());
    }
    nftnl_set_elem_add(s, e);
  }
  if (char* at = next("add the elements of the verdict map of " + rule.what)) {
    nlmsghdr* nlh =
        nftnl_nlmsg_build_hdr(at, NFT_MSG_NEWSETELEM, kNftFamily, NLM_F_CREATE | NLM_F_ACK, seq_++);
    nftnl_set_elems_nlmsg_build_payload(nlh, s);
    done();
  }
  nftnl_set_free(s);
}

void NftBatch::addRule(const std::string& table, const RuleLayout& rule) {
  // The rule's anonymous maps first: the kernel resolves the rule's lookup when it adds the rule.
  for (const NftExpr& expr : rule.exprs) {
    if (const auto* map = std::get_if<nftx::MarkVmap>(&expr)) addVerdictMap(table, rule, *map);
  }
  NftnlRulePtr r = buildNftnlRule(table.c_str(), rule);
  if (char* at = next(rule.what)) {
    nlmsghdr* nlh = nftnl_rule_nlmsg_build_hdr(at, NFT_MSG_NEWRULE, kNftFamily,
                                               NLM_F_APPEND | NLM_F_CREATE | NLM_F_ACK, seq_++);
    nftnl_rule_nlmsg_build_payload(nlh, r.get());
    done();
  }
}

Status NftBatch::commit(NetlinkTransport& transport) {
  if (char* at = next("batch end")) {
    nftnl_batch_end(at, seq_++);
    done();
  }
  if (!failed_.ok()) return failed_;
  // The batch-begin and -end messages ask for no acknowledgement.
  auto answer = transport.transact({buffer_.data(), used_}, what_.size() - 2);
  if (!answer.ok()) return answer.status();
  if (!answer->has_value()) return Status();
  refusal_ = **answer;
  return Status::error("nftables rejected the ruleset at " + describe((*answer)->seq) + ": " +
                       std::strerror((*answer)->error));
}

char* NftBatch::next(std::string what) {
  if (!failed_.ok()) return nullptr;
  if (used_ + kMessageRoom > buffer_.size()) {
    if (used_ + kMessageRoom > max_bytes_) {
      failed_ = Status::error("nftables: the ruleset does not fit in one transaction of " +
                              std::to_string(max_bytes_ >> 20) + " MiB: " + what + " is past it");
      return nullptr;
    }
    buffer_.resize(std::min(max_bytes_, std::max(buffer_.size() * 2, used_ + kMessageRoom)));
  }
  what_.emplace_back(seq_, std::move(what));
  return buffer_.data() + used_;
}

void NftBatch::done() {
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(buffer_.data() + used_);
  // Cannot happen for the messages this class builds (kMessageRoom); if it ever did, the bytes
  // past the room are not ours, and the batch must not be sent.
  if (nlh->nlmsg_len > kMessageRoom) {
    failed_ = Status::error("nftables: " + what_.back().second + " is longer (" +
                            std::to_string(nlh->nlmsg_len) + " bytes) than a message may be");
    return;
  }
  used_ += NLMSG_ALIGN(nlh->nlmsg_len);
}

std::string NftBatch::describe(uint32_t seq) const {
  for (const auto& [s, what] : what_) {
    if (s == seq) return what;
  }
  return "message " + std::to_string(seq);
}

}  // namespace muzzle

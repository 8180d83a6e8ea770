// nftables transactions serialized with libnftnl: see nft_batch.h.
#include "fw/nft/nft_batch.h"

#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <cstring>

#include "fw/nft/interval_set.h"

namespace muzzle {
namespace {

constexpr size_t kBatchBytes = 1 << 20;
// After conntrack (-200) and mangle (-150), at the filter priority: we need the ct entry.
constexpr int kChainPriority = 0;
// nft's datatype numbers for set keys (TYPE_IPADDR, TYPE_IP6ADDR in nftables' datatype.h):
// they only affect how `nft list` prints the elements.
constexpr uint32_t kNftTypeIpv4 = 7;
constexpr uint32_t kNftTypeIpv6 = 8;

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

nftnl_set* allocSet(const std::string& table, const std::string& name) {
  nftnl_set* s = nftnl_set_alloc();
  nftnl_set_set_str(s, NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(s, NFTNL_SET_NAME, name.c_str());
  nftnl_set_set_u32(s, NFTNL_SET_FAMILY, kNftFamily);
  return s;
}

}  // namespace

NftBatch::NftBatch(uint32_t first_seq) : buffer_(kBatchBytes), seq_(first_seq) {
  batch_ = mnl_nlmsg_batch_start(buffer_.data(), buffer_.size());
  nftnl_batch_begin(static_cast<char*>(mnl_nlmsg_batch_current(batch_)), seq_++);
  done();
}

NftBatch::~NftBatch() { mnl_nlmsg_batch_stop(batch_); }

void NftBatch::addTable(const std::string& name) {
  nftnl_table* t = nftnl_table_alloc();
  nftnl_table_set_str(t, NFTNL_TABLE_NAME, name.c_str());
  nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, kNftFamily);
  char* at = next("add table " + name);
  nlmsghdr* nlh = nftnl_table_nlmsg_build_hdr(at, NFT_MSG_NEWTABLE, kNftFamily,
                                              NLM_F_CREATE | NLM_F_ACK, seq_++);
  nftnl_table_nlmsg_build_payload(nlh, t);
  nftnl_table_free(t);
  done();
}

void NftBatch::deleteTable(const std::string& name) {
  nftnl_table* t = nftnl_table_alloc();
  nftnl_table_set_str(t, NFTNL_TABLE_NAME, name.c_str());
  nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, kNftFamily);
  char* at = next("delete table " + name);
  nlmsghdr* nlh = nftnl_table_nlmsg_build_hdr(at, NFT_MSG_DELTABLE, kNftFamily, NLM_F_ACK, seq_++);
  nftnl_table_nlmsg_build_payload(nlh, t);
  nftnl_table_free(t);
  done();
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
  char* at = next("add chain " + chain.name);
  nlmsghdr* nlh = nftnl_chain_nlmsg_build_hdr(at, NFT_MSG_NEWCHAIN, kNftFamily,
                                              NLM_F_CREATE | NLM_F_ACK, seq_++);
  nftnl_chain_nlmsg_build_payload(nlh, c);
  nftnl_chain_free(c);
  done();
}

void NftBatch::addIntervalSet(const std::string& table, const SetLayout& set) {
  nftnl_set* s = allocSet(table, set.name);
  nftnl_set_set_u32(s, NFTNL_SET_ID, set.id);
  nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_INTERVAL);
  nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, set.v6 ? kNftTypeIpv6 : kNftTypeIpv4);
  nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, set.v6 ? 16 : 4);
  char* at = next("add set " + set.name);
  nlmsghdr* nlh =
      nftnl_nlmsg_build_hdr(at, NFT_MSG_NEWSET, kNftFamily, NLM_F_CREATE | NLM_F_ACK, seq_++);
  nftnl_set_nlmsg_build_payload(nlh, s);
  done();
  nftnl_set_free(s);
  addSetElements(table, set);
}

void NftBatch::addSetElements(const std::string& table, const SetLayout& set) {
  if (set.intervals.empty()) return;
  nftnl_set* s = allocSet(table, set.name);
  for (const AddressInterval& interval : set.intervals) {
    const std::vector<uint8_t> first = addressBytes(interval.first, set.v6);
    nftnl_set_elem* e = nftnl_set_elem_alloc();
    nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, first.data(), first.size());
    nftnl_set_elem_add(s, e);
    if (interval.last == lastAddress(set.v6)) continue;
    const std::vector<uint8_t> end = addressBytes(interval.last + 1, set.v6);
    nftnl_set_elem* e_end = nftnl_set_elem_alloc();
    nftnl_set_elem_set(e_end, NFTNL_SET_ELEM_KEY, end.data(), end.size());
    nftnl_set_elem_set_u32(e_end, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
    nftnl_set_elem_add(s, e_end);
  }
  char* at = next("add elements to set " + set.name);
  nlmsghdr* nlh =
      nftnl_nlmsg_build_hdr(at, NFT_MSG_NEWSETELEM, kNftFamily, NLM_F_CREATE | NLM_F_ACK, seq_++);
  nftnl_set_elems_nlmsg_build_payload(nlh, s);
  done();
  nftnl_set_free(s);
}

void NftBatch::flushSet(const std::string& table, const std::string& name) {
  nftnl_set* s = allocSet(table, name);
  char* at = next("flush set " + name);
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(at, NFT_MSG_DELSETELEM, kNftFamily, NLM_F_ACK, seq_++);
  nftnl_set_elems_nlmsg_build_payload(nlh, s);
  done();
  nftnl_set_free(s);
}

void NftBatch::flushChain(const std::string& table, const std::string& name) {
  nftnl_rule* r = nftnl_rule_alloc();
  nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table.c_str());
  nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, name.c_str());
  nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, kNftFamily);
  char* at = next("flush chain " + name);
  nlmsghdr* nlh = nftnl_rule_nlmsg_build_hdr(at, NFT_MSG_DELRULE, kNftFamily, NLM_F_ACK, seq_++);
  nftnl_rule_nlmsg_build_payload(nlh, r);
  done();
  nftnl_rule_free(r);
}

void NftBatch::addRule(const std::string& table, const RuleLayout& rule) {
  NftnlRulePtr r = buildNftnlRule(table.c_str(), rule);
  char* at = next(rule.what);
  nlmsghdr* nlh = nftnl_rule_nlmsg_build_hdr(at, NFT_MSG_NEWRULE, kNftFamily,
                                             NLM_F_APPEND | NLM_F_CREATE | NLM_F_ACK, seq_++);
  nftnl_rule_nlmsg_build_payload(nlh, r.get());
  done();
}

Status NftBatch::commit(NetlinkTransport& transport) {
  nftnl_batch_end(static_cast<char*>(mnl_nlmsg_batch_current(batch_)), seq_++);
  done();
  auto answer = transport.transact(
      {static_cast<const char*>(mnl_nlmsg_batch_head(batch_)), mnl_nlmsg_batch_size(batch_)},
      what_.size());
  if (!answer.ok()) return answer.status();
  if (!answer->has_value()) return Status();
  return Status::error("nftables rejected the ruleset at " + describe((*answer)->seq) + ": " +
                       std::strerror((*answer)->error));
}

char* NftBatch::next(std::string what) {
  what_.emplace_back(seq_, std::move(what));
  return static_cast<char*>(mnl_nlmsg_batch_current(batch_));
}

std::string NftBatch::describe(uint32_t seq) const {
  for (const auto& [s, what] : what_) {
    if (s == seq) return what;
  }
  return "message " + std::to_string(seq);
}

}  // namespace muzzle

// NftRulesetWriter: builds table `inet muzzle` with libnftnl and commits it in one netlink batch.
//
// The table it writes (describeRuleset() prints the same thing as nft text):
//   forward/input base chains send traffic to or from a managed segment to `judge`;
//   `judge` queues DNS answers going out to a segment (every packet: `dns-answer`), acts on a
//   verdict mark fresh from user space, sends DNS queries from a segment to `dns-query` (every
//   packet), acts on a verdict saved in the conntrack mark, and queues everything else to
//   muzzled, hinting destinations in the DoH sets (marks only count for the current generation);
//   `dns-query` queues a query whose flow is allowed or undecided, with hints saying which;
//   `output` sends DNS answers from a resolver on the box itself to `dns-answer`, and queues the
//   box's own DHCP replies to a segment (the leases muzzled trusts);
//   `deny` rejects with a TCP reset or an ICMP(v6) administratively-prohibited;
//   sets @doh4 and @doh6 hold the DoH resolver addresses (interval sets).
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "fw/nft/marks.h"
#include "fw/nft/netlink_transport.h"
#include "fw/nft/ruleset.h"

namespace muzzle {
namespace {

constexpr const char* kTable = "muzzle";
constexpr const char* kProbeTable = "muzzle-probe";
constexpr int kFamily = NFPROTO_INET;
// After conntrack (-200) and mangle (-150), at the filter priority: we need the ct entry.
constexpr int kChainPriority = 0;

// ICMPv6 messages IPv6 cannot live without on a link: MLD (130-132, 143) and neighbour
// discovery (133-137). They have no conntrack entry, so judging them would queue every one.
constexpr uint8_t kIcmpv6InfraFirst = 130;
constexpr uint8_t kIcmpv6InfraLast = 137;
constexpr uint8_t kIcmpv6Mld2Report = 143;
// IP_CT_DIR_REPLY in the kernel's enum ip_conntrack_dir; not in every uapi header set.
constexpr uint8_t kCtDirectionOriginal = 0;
constexpr uint8_t kCtDirectionReply = 1;
constexpr uint16_t kDnsPort = 53;
constexpr uint16_t kDhcpServerPort = 67;
constexpr uint16_t kDhcpClientPort = 68;
// nft's datatype numbers for set keys (TYPE_IPADDR, TYPE_IP6ADDR in nftables' datatype.h):
// they only affect how `nft list` prints the elements.
constexpr uint32_t kNftTypeIpv4 = 7;
constexpr uint32_t kNftTypeIpv6 = 8;
constexpr uint32_t kDoh4SetId = 1;
constexpr uint32_t kDoh6SetId = 2;

// Inclusive address ranges as network-order byte strings: [lo, hi + 1), the second empty when
// the range runs to the family's last address.
using Ranges = std::vector<std::pair<std::vector<uint8_t>, std::vector<uint8_t>>>;

// Owns one nftnl_rule while expressions are appended to it.
class RuleBuilder {
 public:
  RuleBuilder(const char* table, const char* chain) : rule_(nftnl_rule_alloc()) {
    nftnl_rule_set_str(rule_, NFTNL_RULE_TABLE, table);
    nftnl_rule_set_str(rule_, NFTNL_RULE_CHAIN, chain);
    nftnl_rule_set_u32(rule_, NFTNL_RULE_FAMILY, kFamily);
  }
  ~RuleBuilder() {
    if (rule_ != nullptr) nftnl_rule_free(rule_);
  }
  RuleBuilder(const RuleBuilder&) = delete;
  RuleBuilder& operator=(const RuleBuilder&) = delete;

  RuleBuilder& metaLoad(uint32_t key) {
    auto* e = add("meta");
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
    return *this;
  }
  RuleBuilder& metaSetFromReg(uint32_t key) {
    auto* e = add("meta");
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, NFT_REG_1);
    return *this;
  }
  RuleBuilder& ctLoad(uint32_t key) {
    auto* e = add("ct");
    nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
    return *this;
  }
  RuleBuilder& ctSetFromReg(uint32_t key) {
    auto* e = add("ct");
    nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CT_SREG, NFT_REG_1);
    return *this;
  }
  RuleBuilder& loadImmediate(uint32_t value) {
    auto* e = add("immediate");
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
    nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, &value, sizeof(value));
    return *this;
  }
  // Transport header byte at `offset` into register 1.
  RuleBuilder& transportByte(uint32_t offset) { return payload(NFT_PAYLOAD_TRANSPORT_HEADER, offset, 1); }
  // Transport source/destination port (2 bytes, network order) into register 1.
  RuleBuilder& transportSourcePort() { return payload(NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2); }
  RuleBuilder& transportDestinationPort() { return payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2); }
  RuleBuilder& networkField(uint32_t offset, uint32_t len) {
    return payload(NFT_PAYLOAD_NETWORK_HEADER, offset, len);
  }
  // `len` bytes at `offset` of the header `base` into register 1.
  RuleBuilder& payload(uint32_t base, uint32_t offset, uint32_t len) {
    auto* e = add("payload");
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
    return *this;
  }
  RuleBuilder& lookup(const char* set, uint32_t set_id) {
    auto* e = add("lookup");
    nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
    nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
    nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
    return *this;
  }
  RuleBuilder& cmp(uint32_t op, const void* data, size_t len) {
    auto* e = add("cmp");
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
    nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
    return *this;
  }
  RuleBuilder& cmpU32(uint32_t value) { return cmp(NFT_CMP_EQ, &value, sizeof(value)); }
  RuleBuilder& cmpU8(uint8_t value) { return cmp(NFT_CMP_EQ, &value, sizeof(value)); }
  RuleBuilder& cmpIfname(const std::string& name) {
    char padded[IFNAMSIZ] = {};
    std::memcpy(padded, name.data(), std::min(name.size(), sizeof(padded) - 1));
    return cmp(NFT_CMP_EQ, padded, sizeof(padded));
  }
  RuleBuilder& rangeU8(uint8_t from, uint8_t to) {
    auto* e = add("range");
    nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_SREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_OP, NFT_RANGE_EQ);
    nftnl_expr_set(e, NFTNL_EXPR_RANGE_FROM_DATA, &from, 1);
    nftnl_expr_set(e, NFTNL_EXPR_RANGE_TO_DATA, &to, 1);
    return *this;
  }
  // ct state is a bitmask: keep only `bits`, then require the result to be non-zero.
  RuleBuilder& ctStateAny(uint32_t bits) {
    ctLoad(NFT_CT_STATE);
    auto* e = add("bitwise");
    uint32_t zero = 0;
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, sizeof(uint32_t));
    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &bits, sizeof(bits));
    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, sizeof(zero));
    return cmp(NFT_CMP_NEQ, &zero, sizeof(zero));
  }
  RuleBuilder& counter() {
    add("counter");
    return *this;
  }
  RuleBuilder& verdict(int code, const char* chain = nullptr) {
    auto* e = add("immediate");
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, static_cast<uint32_t>(code));
    if (chain != nullptr) nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
    return *this;
  }
  RuleBuilder& reject(uint32_t type, uint8_t code) {
    auto* e = add("reject");
    nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, type);
    nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, code);
    return *this;
  }
  // To the flow queues (fanned out when there are several), or to the inspection queue.
  RuleBuilder& queue(const RulesetSpec& spec, bool inspection = false) {
    const uint16_t first = inspection ? spec.inspectionQueue() : spec.queue_first;
    const uint16_t total = inspection ? 1 : spec.queue_count;
    uint16_t flags = spec.fail_open ? NFT_QUEUE_FLAG_BYPASS : 0;
    if (total > 1) flags |= NFT_QUEUE_FLAG_CPU_FANOUT;
    if (spec.queue_mode == QueueMode::kNative) {
      auto* e = add("queue");
      nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_NUM, first);
      nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_TOTAL, total);
      nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_FLAGS, flags);
    } else {
      // The xtables target, as iptables-nft builds it. The kernel wants the info padded to
      // XT_ALIGN(sizeof), i.e. 8 bytes.
      struct {
        xt_NFQ_info_v3 info;
        uint16_t pad;
      } target{};
      target.info.queuenum = first;
      target.info.queues_total = total;
      target.info.flags = flags;  // NFQ_FLAG_BYPASS/CPU_FANOUT share the nft flag values
      auto* e = add("target");
      nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME, "NFQUEUE");
      nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, 3);
      // libnftnl keeps (and later frees) the pointer it is given for target info: hand it a
      // heap copy.
      void* info = std::malloc(sizeof(target));
      std::memcpy(info, &target, sizeof(target));
      nftnl_expr_set(e, NFTNL_EXPR_TG_INFO, info, sizeof(target));
    }
    return *this;
  }

  nftnl_rule* get() { return rule_; }

 private:
  nftnl_expr* add(const char* name) {
    nftnl_expr* e = nftnl_expr_alloc(name);
    nftnl_rule_add_expr(rule_, e);  // the rule owns it from here
    return e;
  }
  nftnl_rule* rule_;
};

// Accumulates the messages of one transaction and knows what each one was, so that a kernel
// error can be reported as "rule 3 of chain judge (queue to user space): Operation not supported".
class Batch {
 public:
  explicit Batch(uint32_t first_seq) : seq_(first_seq) {
    buffer_.resize(1 << 20);
    batch_ = mnl_nlmsg_batch_start(buffer_.data(), buffer_.size());
    nftnl_batch_begin(static_cast<char*>(mnl_nlmsg_batch_current(batch_)), seq_++);
    mnl_nlmsg_batch_next(batch_);
  }
  ~Batch() { mnl_nlmsg_batch_stop(batch_); }

  void addTable(const char* name, uint16_t type) {
    nftnl_table* t = nftnl_table_alloc();
    nftnl_table_set_str(t, NFTNL_TABLE_NAME, name);
    nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, kFamily);
    uint16_t flags = type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0;
    char* at = next(std::string(type == NFT_MSG_NEWTABLE ? "add" : "delete") + " table " + name);
    nlmsghdr* nlh = nftnl_table_nlmsg_build_hdr(at, type, kFamily, flags | NLM_F_ACK, seq_++);
    nftnl_table_nlmsg_build_payload(nlh, t);
    nftnl_table_free(t);
    mnl_nlmsg_batch_next(batch_);
  }

  void addBaseChain(const char* table, const char* name, uint32_t hook) {
    nftnl_chain* c = chain(table, name);
    nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
    nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, kChainPriority);
    nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
    nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
    emitChain(c, name);
  }
  void addChain(const char* table, const char* name) { emitChain(chain(table, name), name); }

  // A named interval set of addresses; `ranges` are inclusive [lo, hi] pairs in network order,
  // sorted and disjoint. Each range is an element at lo and an interval-end element at hi + 1
  // (none when hi is the last address), which is how nft(8) writes intervals.
  void addIntervalSet(const char* table, const char* name, uint32_t id, bool v6, const Ranges& ranges) {
    nftnl_set* s = set(table, name);
    nftnl_set_set_u32(s, NFTNL_SET_ID, id);
    nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_INTERVAL);
    nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, v6 ? kNftTypeIpv6 : kNftTypeIpv4);
    nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, v6 ? 16 : 4);
    char* at = next(std::string("add set ") + name);
    nlmsghdr* nlh = nftnl_nlmsg_build_hdr(at, NFT_MSG_NEWSET, kFamily, NLM_F_CREATE | NLM_F_ACK, seq_++);
    nftnl_set_nlmsg_build_payload(nlh, s);
    mnl_nlmsg_batch_next(batch_);
    nftnl_set_free(s);
    addSetElements(table, name, v6, ranges);
  }

  void addSetElements(const char* table, const char* name, bool v6, const Ranges& ranges) {
    if (ranges.empty()) return;
    const uint32_t key_len = v6 ? 16 : 4;
    nftnl_set* s = set(table, name);
    for (const auto& [lo, end] : ranges) {
      nftnl_set_elem* e = nftnl_set_elem_alloc();
      nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, lo.data(), key_len);
      nftnl_set_elem_add(s, e);
      if (end.empty()) continue;  // the range runs to the last address
      nftnl_set_elem* e_end = nftnl_set_elem_alloc();
      nftnl_set_elem_set(e_end, NFTNL_SET_ELEM_KEY, end.data(), key_len);
      nftnl_set_elem_set_u32(e_end, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
      nftnl_set_elem_add(s, e_end);
    }
    char* at = next(std::string("add elements to set ") + name);
    nlmsghdr* nlh = nftnl_nlmsg_build_hdr(at, NFT_MSG_NEWSETELEM, kFamily, NLM_F_CREATE | NLM_F_ACK, seq_++);
    nftnl_set_elems_nlmsg_build_payload(nlh, s);
    mnl_nlmsg_batch_next(batch_);
    nftnl_set_free(s);
  }

  // Deleting elements without naming any empties the set.
  void flushSet(const char* table, const char* name) {
    nftnl_set* s = set(table, name);
    char* at = next(std::string("flush set ") + name);
    nlmsghdr* nlh = nftnl_nlmsg_build_hdr(at, NFT_MSG_DELSETELEM, kFamily, NLM_F_ACK, seq_++);
    nftnl_set_elems_nlmsg_build_payload(nlh, s);
    mnl_nlmsg_batch_next(batch_);
    nftnl_set_free(s);
  }

  // Deleting rules without a handle empties the chain; the chain and what jumps to it stay.
  void flushChain(const char* table, const char* name) {
    nftnl_rule* r = nftnl_rule_alloc();
    nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
    nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, name);
    nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, kFamily);
    char* at = next(std::string("flush chain ") + name);
    nlmsghdr* nlh = nftnl_rule_nlmsg_build_hdr(at, NFT_MSG_DELRULE, kFamily, NLM_F_ACK, seq_++);
    nftnl_rule_nlmsg_build_payload(nlh, r);
    mnl_nlmsg_batch_next(batch_);
    nftnl_rule_free(r);
  }

  void addRule(RuleBuilder& rule, const std::string& what) {
    char* at = next(what);
    nlmsghdr* nlh = nftnl_rule_nlmsg_build_hdr(at, NFT_MSG_NEWRULE, kFamily,
                                               NLM_F_APPEND | NLM_F_CREATE | NLM_F_ACK, seq_++);
    nftnl_rule_nlmsg_build_payload(nlh, rule.get());
    mnl_nlmsg_batch_next(batch_);
  }

  Status commit(NetlinkTransport& transport) {
    nftnl_batch_end(static_cast<char*>(mnl_nlmsg_batch_current(batch_)), seq_++);
    mnl_nlmsg_batch_next(batch_);
    auto answer = transport.transact(
        {static_cast<const char*>(mnl_nlmsg_batch_head(batch_)), mnl_nlmsg_batch_size(batch_)},
        what_.size());
    if (!answer.ok()) return answer.status();
    if (!answer->has_value()) return Status();
    return Status::error("nftables rejected the ruleset at " + describe((*answer)->seq) + ": " +
                         std::strerror((*answer)->error));
  }

 private:
  static nftnl_set* set(const char* table, const char* name) {
    nftnl_set* s = nftnl_set_alloc();
    nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
    nftnl_set_set_str(s, NFTNL_SET_NAME, name);
    nftnl_set_set_u32(s, NFTNL_SET_FAMILY, kFamily);
    return s;
  }
  static nftnl_chain* chain(const char* table, const char* name) {
    nftnl_chain* c = nftnl_chain_alloc();
    nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
    nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
    nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, kFamily);
    return c;
  }
  void emitChain(nftnl_chain* c, const char* name) {
    char* at = next(std::string("add chain ") + name);
    nlmsghdr* nlh =
        nftnl_chain_nlmsg_build_hdr(at, NFT_MSG_NEWCHAIN, kFamily, NLM_F_CREATE | NLM_F_ACK, seq_++);
    nftnl_chain_nlmsg_build_payload(nlh, c);
    nftnl_chain_free(c);
    mnl_nlmsg_batch_next(batch_);
  }
  char* next(std::string what) {
    what_.emplace_back(seq_, std::move(what));
    return static_cast<char*>(mnl_nlmsg_batch_current(batch_));
  }
  std::string describe(uint32_t seq) const {
    for (const auto& [s, what] : what_) {
      if (s == seq) return what;
    }
    return "message " + std::to_string(seq);
  }

  std::vector<char> buffer_;
  mnl_nlmsg_batch* batch_;
  uint32_t seq_;
  std::vector<std::pair<uint32_t, std::string>> what_;
};

void addDnsAnswerRules(Batch& b, const RulesetSpec& spec, const char* chain);
void addDnsQueryRules(Batch& b, const RulesetSpec& spec);

void addJudgeChain(Batch& b, const RulesetSpec& spec) {
  const uint32_t gen = spec.generation;
  {
    RuleBuilder r(kTable, "judge");
    uint8_t icmpv6 = IPPROTO_ICMPV6;
    r.metaLoad(NFT_META_L4PROTO).cmpU8(icmpv6).transportByte(0).rangeU8(kIcmpv6InfraFirst, kIcmpv6InfraLast).verdict(NF_ACCEPT);
    b.addRule(r, "judge rule 1 (IPv6 neighbour discovery and MLD)");
  }
  {
    RuleBuilder r(kTable, "judge");
    r.metaLoad(NFT_META_L4PROTO).cmpU8(IPPROTO_ICMPV6).transportByte(0).cmpU8(kIcmpv6Mld2Report).verdict(NF_ACCEPT);
    b.addRule(r, "judge rule 2 (MLDv2 reports)");
  }
  {
    RuleBuilder r(kTable, "judge");
    r.ctStateAny(NF_CT_STATE_INVALID_BIT).counter().verdict(NF_DROP);
    b.addRule(r, "judge rule 3 (drop conntrack-invalid packets)");
  }
  // DNS answers to devices reach muzzled on every packet, ahead of the conntrack-mark rules
  // that would otherwise pass them in the kernel: the name must be learned before the device
  // sees the answer.
  addDnsAnswerRules(b, spec, "judge");
  // DHCP requests from devices, every one of them: they say who the device is (hostname,
  // vendor class, MUD URL). muzzled reads them and accepts them at once.
  for (const std::string& ifname : spec.segment_ifnames) {
    const uint16_t port = htons(kDhcpServerPort);
    RuleBuilder r(kTable, "judge");
    r.metaLoad(NFT_META_IIFNAME).cmpIfname(ifname).metaLoad(NFT_META_L4PROTO).cmpU8(IPPROTO_UDP)
        .transportDestinationPort().cmp(NFT_CMP_EQ, &port, sizeof(port))
        .loadImmediate(kHintDhcpRequest).metaSetFromReg(NFT_META_MARK).counter().queue(spec, /*inspection=*/true);
    b.addRule(r, "judge rule (DHCP requests from segment " + ifname + ")");
  }
  struct Act {
    VerdictCode code;
    int verdict;
    const char* chain;
  };
  const Act acts[] = {{VerdictCode::kAllow, NF_ACCEPT, nullptr},
                      {VerdictCode::kReject, NFT_GOTO, "deny"},
                      {VerdictCode::kDrop, NF_DROP, nullptr}};
  // A fresh verdict from muzzled (NF_REPEAT with a packet mark): remember it in the conntrack.
  for (const Act& a : acts) {
    RuleBuilder r(kTable, "judge");
    r.metaLoad(NFT_META_MARK).cmpU32(verdictMark(gen, a.code)).ctSetFromReg(NFT_CT_MARK).counter().verdict(a.verdict, a.chain);
    b.addRule(r, "judge rule (verdict mark from muzzled)");
  }
  // DNS queries from devices reach muzzled on every packet, so it knows which questions an
  // answer may answer. After the verdict-mark rules, so the NF_REPEAT that judges an undecided
  // query is acted on there and never queued again.
  addDnsQueryRules(b, spec);
  // A flow judged earlier under this generation: decided in the kernel.
  for (const Act& a : acts) {
    RuleBuilder r(kTable, "judge");
    r.ctLoad(NFT_CT_MARK).cmpU32(verdictMark(gen, a.code)).counter().verdict(a.verdict, a.chain);
    b.addRule(r, "judge rule (conntrack mark)");
  }
  // Undecided: clear our hint bits, say which direction the packet travels, ask muzzled.
  {
    RuleBuilder r(kTable, "judge");
    r.loadImmediate(0).metaSetFromReg(NFT_META_MARK);
    b.addRule(r, "judge rule (clear the packet mark)");
  }
  {
    RuleBuilder r(kTable, "judge");
    r.metaLoad(NFT_META_NFPROTO).cmpU8(NFPROTO_IPV4).networkField(16, 4).lookup("doh4", kDoh4SetId)
        .loadImmediate(kHintDohDestination).metaSetFromReg(NFT_META_MARK);
    b.addRule(r, "judge rule (hint IPv4 DoH destinations)");
  }
  {
    RuleBuilder r(kTable, "judge");
    r.metaLoad(NFT_META_NFPROTO).cmpU8(NFPROTO_IPV6).networkField(24, 16).lookup("doh6", kDoh6SetId)
        .loadImmediate(kHintDohDestination).metaSetFromReg(NFT_META_MARK);
    b.addRule(r, "judge rule (hint IPv6 DoH destinations)");
  }
  {
    // In the reply direction the destination is the device, so the DoH hint cannot apply.
    RuleBuilder r(kTable, "judge");
    r.ctLoad(NFT_CT_DIRECTION).cmpU8(kCtDirectionReply).loadImmediate(kHintReplyDirection).metaSetFromReg(NFT_META_MARK);
    b.addRule(r, "judge rule (mark reply-direction packets)");
  }
  {
    RuleBuilder r(kTable, "judge");
    r.counter().queue(spec);
    b.addRule(r, std::string("judge rule (queue to muzzled, ") + queueModeName(spec.queue_mode) + ")");
  }
}

// `oifname SEG udp/tcp sport 53 goto dns-answer`, for every segment, in `chain`.
void addDnsAnswerRules(Batch& b, const RulesetSpec& spec, const char* chain) {
  const uint16_t port = htons(kDnsPort);
  for (const std::string& ifname : spec.segment_ifnames) {
    for (const uint8_t proto : {uint8_t{IPPROTO_UDP}, uint8_t{IPPROTO_TCP}}) {
      RuleBuilder r(kTable, chain);
      r.metaLoad(NFT_META_OIFNAME).cmpIfname(ifname).metaLoad(NFT_META_L4PROTO).cmpU8(proto)
          .transportSourcePort().cmp(NFT_CMP_EQ, &port, sizeof(port)).verdict(NFT_GOTO, "dns-answer");
      b.addRule(r, std::string(chain) + " rule (DNS answers over " +
                       (proto == IPPROTO_UDP ? "udp" : "tcp") + " to segment " + ifname + ")");
    }
  }
}

// `iifname SEG udp/tcp dport 53 ct direction original jump dns-query`, for every segment.
void addDnsQueryRules(Batch& b, const RulesetSpec& spec) {
  const uint16_t port = htons(kDnsPort);
  for (const std::string& ifname : spec.segment_ifnames) {
    for (const uint8_t proto : {uint8_t{IPPROTO_UDP}, uint8_t{IPPROTO_TCP}}) {
      RuleBuilder r(kTable, "judge");
      r.metaLoad(NFT_META_IIFNAME).cmpIfname(ifname).metaLoad(NFT_META_L4PROTO).cmpU8(proto)
          .transportDestinationPort().cmp(NFT_CMP_EQ, &port, sizeof(port))
          .ctLoad(NFT_CT_DIRECTION).cmpU8(kCtDirectionOriginal).verdict(NFT_JUMP, "dns-query");
      b.addRule(r, std::string("judge rule (DNS queries over ") + (proto == IPPROTO_UDP ? "udp" : "tcp") +
                       " from segment " + ifname + ")");
    }
  }
}

// Rewritten with `judge`: its rules name the current generation.
void addDnsQueryChain(Batch& b, const RulesetSpec& spec) {
  const uint32_t gen = spec.generation;
  {
    RuleBuilder r(kTable, "dns-query");
    r.ctLoad(NFT_CT_MARK).cmpU32(verdictMark(gen, VerdictCode::kAllow))
        .loadImmediate(kHintDnsQuery | kHintFlowAllowed).metaSetFromReg(NFT_META_MARK)
        .counter().queue(spec, /*inspection=*/true);
    b.addRule(r, "dns-query rule 1 (an allowed flow: queue to muzzled)");
  }
  // A flow already refused: back to `judge`, whose conntrack-mark rules refuse it in the kernel.
  for (const VerdictCode code : {VerdictCode::kReject, VerdictCode::kDrop}) {
    RuleBuilder r(kTable, "dns-query");
    r.ctLoad(NFT_CT_MARK).cmpU32(verdictMark(gen, code)).verdict(NFT_RETURN);
    b.addRule(r, "dns-query rule (a refused flow: decided in the kernel)");
  }
  {
    RuleBuilder r(kTable, "dns-query");
    r.loadImmediate(kHintDnsQuery).metaSetFromReg(NFT_META_MARK).counter().queue(spec, /*inspection=*/true);
    b.addRule(r, std::string("dns-query rule 4 (undecided: queue to muzzled, ") + queueModeName(spec.queue_mode) + ")");
  }
}

void addDnsAnswerChain(Batch& b, const RulesetSpec& spec) {
  {
    RuleBuilder r(kTable, "dns-answer");
    r.loadImmediate(kHintDnsAnswer).metaSetFromReg(NFT_META_MARK);
    b.addRule(r, "dns-answer rule 1 (hint: a DNS answer)");
  }
  {
    RuleBuilder r(kTable, "dns-answer");
    r.ctLoad(NFT_CT_DIRECTION).cmpU8(kCtDirectionReply)
        .loadImmediate(kHintDnsAnswer | kHintReplyDirection).metaSetFromReg(NFT_META_MARK);
    b.addRule(r, "dns-answer rule 2 (hint: reply direction)");
  }
  {
    RuleBuilder r(kTable, "dns-answer");
    r.counter().queue(spec, /*inspection=*/true);
    b.addRule(r, std::string("dns-answer rule 3 (queue to muzzled, ") + queueModeName(spec.queue_mode) + ")");
  }
}

// Merged inclusive ranges of `cidrs` of one family, as network-order byte strings; the second of
// each pair is hi + 1, or empty when hi is the family's last address.
Ranges intervalsOf(const std::vector<Cidr>& cidrs, bool v6) {
  std::vector<std::pair<Uint128, Uint128>> ranges;
  const int bits = v6 ? 128 : 32;
  const Uint128 last = v6 ? ~Uint128{0} : Uint128{0xFFFFFFFFu};
  for (const Cidr& c : cidrs) {
    if (c.base.v6 != v6) continue;
    const Uint128 lo = v6 ? c.base.v6HostOrder() : Uint128{c.base.v4HostOrder()};
    const int host_bits = bits - c.prefix_len;
    const Uint128 span = host_bits >= 128 ? ~Uint128{0} : (host_bits == 0 ? 0 : (Uint128{1} << host_bits) - 1);
    ranges.push_back({lo, lo + span > last ? last : lo + span});
  }
  std::sort(ranges.begin(), ranges.end());
  std::vector<std::pair<Uint128, Uint128>> merged;
  for (const auto& r : ranges) {
    if (!merged.empty() && (merged.back().second == last || r.first <= merged.back().second + 1)) {
      merged.back().second = std::max(merged.back().second, r.second);
    } else {
      merged.push_back(r);
    }
  }
  auto bytes = [&](Uint128 v) {
    std::vector<uint8_t> out(v6 ? 16 : 4);
    for (size_t i = out.size(); i-- > 0;) {
      out[i] = static_cast<uint8_t>(v);
      v >>= 8;
    }
    return out;
  };
  std::vector<std::pair<std::vector<uint8_t>, std::vector<uint8_t>>> out;
  for (const auto& [lo, hi] : merged) {
    out.push_back({bytes(lo), hi == last ? std::vector<uint8_t>() : bytes(hi + 1)});
  }
  return out;
}

void addDenyChain(Batch& b) {
  {
    RuleBuilder r(kTable, "deny");
    r.metaLoad(NFT_META_L4PROTO).cmpU8(IPPROTO_TCP).reject(NFT_REJECT_TCP_RST, 0);
    b.addRule(r, "deny rule 1 (TCP reset)");
  }
  {
    RuleBuilder r(kTable, "deny");
    r.reject(NFT_REJECT_ICMPX_UNREACH, NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
    b.addRule(r, "deny rule 2 (ICMP administratively prohibited)");
  }
}

class NftRulesetWriter : public RulesetWriter {
 public:
  explicit NftRulesetWriter(std::unique_ptr<NetlinkTransport> transport) : transport_(std::move(transport)) {}
  Result<QueueMode> probeQueueMode() override {
    // Build a throw-away table holding one native queue rule and delete it in the same
    // transaction: the kernel validates the expression, and nothing is left behind.
    Batch b(seq_);
    seq_ += 1000;
    b.addTable(kProbeTable, NFT_MSG_NEWTABLE);
    b.addChain(kProbeTable, "probe");
    RulesetSpec probe;
    probe.queue_mode = QueueMode::kNative;
    RuleBuilder r(kProbeTable, "probe");
    r.queue(probe);
    b.addRule(r, "probe rule (native queue expression)");
    b.addTable(kProbeTable, NFT_MSG_DELTABLE);
    Status s = commit(b);
    if (s.ok()) return QueueMode::kNative;
    if (s.message().find("queue expression") != std::string::npos) return QueueMode::kCompat;
    return s;  // not about the queue at all: no netfilter, no permission
  }

  Status install(const RulesetSpec& spec) override {
    if (spec.generation == 0 || spec.generation > kMaxGeneration) {
      return Status::error("nftables: policy generation " + std::to_string(spec.generation) + " is out of range");
    }
    Status s = installed_ && sameBaseChains(*installed_, spec) ? updateJudge(spec) : replaceTable(spec);
    if (s.ok()) installed_ = spec;
    return s;
  }

 private:
  // Whether `next` keeps every base chain of `current` as it is.
  static bool sameBaseChains(const RulesetSpec& current, const RulesetSpec& next) {
    return current.segment_ifnames == next.segment_ifnames && current.queue_first == next.queue_first &&
           current.queue_count == next.queue_count && current.fail_open == next.fail_open &&
           current.queue_mode == next.queue_mode;
  }

  // A new generation (or DoH list) on a table this writer installed: rewrite chain `judge` and
  // the sets in one transaction, leaving the base chains registered. Re-creating a base chain
  // unregisters its hook, and the kernel then drops every packet waiting in our queues.
  Status updateJudge(const RulesetSpec& spec) {
    Batch b(seq_);
    seq_ += 1000;
    b.flushChain(kTable, "judge");
    b.flushChain(kTable, "dns-query");
    b.flushSet(kTable, "doh4");
    b.flushSet(kTable, "doh6");
    b.addSetElements(kTable, "doh4", false, intervalsOf(spec.doh, false));
    b.addSetElements(kTable, "doh6", true, intervalsOf(spec.doh, true));
    addDnsQueryChain(b, spec);
    addJudgeChain(b, spec);
    return commit(b).withContext("updating table inet muzzle: ");
  }

  Status replaceTable(const RulesetSpec& spec) {
    Batch b(seq_);
    seq_ += 1000;
    // add + delete + add: replaces the table whether or not it existed, in one transaction.
    b.addTable(kTable, NFT_MSG_NEWTABLE);
    b.addTable(kTable, NFT_MSG_DELTABLE);
    b.addTable(kTable, NFT_MSG_NEWTABLE);
    // Sets before the rules that look them up, in the same transaction.
    b.addIntervalSet(kTable, "doh4", kDoh4SetId, false, intervalsOf(spec.doh, false));
    b.addIntervalSet(kTable, "doh6", kDoh6SetId, true, intervalsOf(spec.doh, true));
    b.addChain(kTable, "judge");
    b.addChain(kTable, "deny");
    b.addChain(kTable, "dns-answer");
    b.addChain(kTable, "dns-query");
    b.addBaseChain(kTable, "forward", NF_INET_FORWARD);
    b.addBaseChain(kTable, "input", NF_INET_LOCAL_IN);
    b.addBaseChain(kTable, "output", NF_INET_LOCAL_OUT);
    addDenyChain(b);
    addDnsAnswerChain(b, spec);
    addDnsQueryChain(b, spec);
    addJudgeChain(b, spec);
    // Answers from a resolver on the box (dnsmasq on the gateway) leave through output.
    addDnsAnswerRules(b, spec, "output");
    // Leases from a DHCP server on the box. Only these: a DHCP reply forwarded from a device on
    // a segment would let any device forge leases (a server using raw sockets is not seen).
    for (const std::string& ifname : spec.segment_ifnames) {
      const uint16_t sport = htons(kDhcpServerPort), dport = htons(kDhcpClientPort);
      RuleBuilder r(kTable, "output");
      r.metaLoad(NFT_META_OIFNAME).cmpIfname(ifname).metaLoad(NFT_META_L4PROTO).cmpU8(IPPROTO_UDP)
          .transportSourcePort().cmp(NFT_CMP_EQ, &sport, sizeof(sport))
          .transportDestinationPort().cmp(NFT_CMP_EQ, &dport, sizeof(dport))
          .loadImmediate(kHintDhcpReply).metaSetFromReg(NFT_META_MARK).counter().queue(spec, /*inspection=*/true);
      b.addRule(r, "output rule (DHCP replies from the box to segment " + ifname + ")");
    }
    for (const std::string& ifname : spec.segment_ifnames) {
      RuleBuilder in(kTable, "forward");
      in.metaLoad(NFT_META_IIFNAME).cmpIfname(ifname).verdict(NFT_GOTO, "judge");
      b.addRule(in, "forward rule (from segment " + ifname + ")");
      RuleBuilder out(kTable, "forward");
      out.metaLoad(NFT_META_OIFNAME).cmpIfname(ifname).verdict(NFT_GOTO, "judge");
      b.addRule(out, "forward rule (to segment " + ifname + ")");
      RuleBuilder local(kTable, "input");
      local.metaLoad(NFT_META_IIFNAME).cmpIfname(ifname).verdict(NFT_GOTO, "judge");
      b.addRule(local, "input rule (from segment " + ifname + ")");
    }
    return commit(b).withContext("installing table inet muzzle: ");
  }

 public:
  Status remove() override {
    installed_.reset();
    Batch b(seq_);
    seq_ += 1000;
    b.addTable(kTable, NFT_MSG_NEWTABLE);
    b.addTable(kTable, NFT_MSG_DELTABLE);
    return commit(b).withContext("removing table inet muzzle: ");
  }

 private:
  Status commit(Batch& b) { return b.commit(*transport_); }

  std::unique_ptr<NetlinkTransport> transport_;
  uint32_t seq_ = 1;
  std::optional<RulesetSpec> installed_;  // what this writer last put in the kernel
};

}  // namespace

std::unique_ptr<RulesetWriter> makeNftRulesetWriter(std::unique_ptr<NetlinkTransport> transport) {
  return std::make_unique<NftRulesetWriter>(std::move(transport));
}

std::unique_ptr<RulesetWriter> makeNftRulesetWriter() { return makeNftRulesetWriter(makeMnlTransport()); }

}  // namespace muzzle

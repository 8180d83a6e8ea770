// Rules of the layout as libnftnl expressions: see nft_expressions.h.
#include "fw/nft/nft_expressions.h"

#include <arpa/inet.h>
#include <libnftnl/expr.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "fw/nft/marks.h"

namespace muzzle {
namespace {

static_assert(kNftFamily == NFPROTO_INET);

// IP_CT_DIR_* in the kernel's enum ip_conntrack_dir; not in every uapi header set.
constexpr uint8_t kCtDirectionOriginal = 0;
constexpr uint8_t kCtDirectionReply = 1;
// The source address in an Ethernet header: after the 6-byte destination.
constexpr uint32_t kEtherSourceOffset = 6;

// Appends expressions to one nftnl_rule, keeping track of what register 1 holds so that
// implied matches (a transport field's protocol) and reloads are added only where needed.
class Linearizer {
 public:
  explicit Linearizer(nftnl_rule* rule) : rule_(rule) {}

  // The name fills register 1 (16 bytes, NUL-padded), as the set's keys (interfaceNameKey).
  void operator()(const nftx::IfNameInSet& m) {
    static_assert(kInterfaceNameKeyLength == IFNAMSIZ);
    metaLoad(m.output ? NFT_META_OIFNAME : NFT_META_IIFNAME);
    lookup(m.set, m.set_id);
  }
  void operator()(const nftx::L4Proto& m) {
    metaLoad(NFT_META_L4PROTO);
    cmpU8(m.proto);
    l4proto_ = m.proto;
  }
  void operator()(const nftx::Port& m) {
    if (m.proto != 0) requireL4proto(m.proto);
    payload(NFT_PAYLOAD_TRANSPORT_HEADER, m.source ? 0 : 2, 2);
    const uint16_t port = htons(m.port);
    cmp(m.negate ? NFT_CMP_NEQ : NFT_CMP_EQ, &port, sizeof(port));
  }
  void operator()(const nftx::Icmpv6Type& m) {
    requireL4proto(IPPROTO_ICMPV6);
    payload(NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1);
    if (m.first == m.last) {
      cmpU8(m.first);
      return;
    }
    auto* e = add("range");
    nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_SREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_OP, NFT_RANGE_EQ);
    nftnl_expr_set(e, NFTNL_EXPR_RANGE_FROM_DATA, &m.first, 1);
    nftnl_expr_set(e, NFTNL_EXPR_RANGE_TO_DATA, &m.last, 1);
  }
  // ct state is a bitmask: keep only the invalid bit, then require the result to be non-zero.
  void operator()(const nftx::CtStateInvalid&) {
    ctLoad(NFT_CT_STATE);
    const uint32_t zero = 0;
    mask(NF_CT_STATE_INVALID_BIT);
    cmp(NFT_CMP_NEQ, &zero, sizeof(zero));
  }
  void operator()(const nftx::CtStateNew&) {
    ctLoad(NFT_CT_STATE);
    const uint32_t zero = 0;
    mask(NF_CT_STATE_BIT(IP_CT_NEW));
    cmp(NFT_CMP_NEQ, &zero, sizeof(zero));
  }
  void operator()(const nftx::CtDirection& m) {
    ctLoad(NFT_CT_DIRECTION);
    cmpU8(m.reply ? kCtDirectionReply : kCtDirectionOriginal);
  }
  void operator()(const nftx::CtOriginalPort& m) {
    ctLoad(m.source ? NFT_CT_PROTO_SRC : NFT_CT_PROTO_DST, NFT_REG_1, kCtDirectionOriginal);
    const uint16_t port = htons(m.port);
    cmp(NFT_CMP_EQ, &port, sizeof(port));
  }
  void operator()(const nftx::CtProtocol& m) {
    ctLoad(NFT_CT_PROTOCOL, NFT_REG_1, kCtDirectionOriginal);
    cmpU8(m.proto);
  }
  void operator()(const nftx::CtEventSet& s) {
    immediate(s.events);
    ctSet(NFT_CT_EVENTMASK);
  }
  void operator()(const nftx::CtStatusNoNat&) {
    ctLoad(NFT_CT_STATUS);
    mask(IPS_SRC_NAT | IPS_DST_NAT);
    cmpU32(0);
  }
  void operator()(const nftx::CtMarkIs& m) {
    ctLoad(NFT_CT_MARK);
    mask(m.mask);
    cmpU32(m.mark);
  }
  void operator()(const nftx::SetMetaMark& s) {
    immediate(s.mark);
    auto* e = add("meta");
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_MARK);
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, NFT_REG_1);
  }
  void operator()(const nftx::CtMarkFromMetaMark& s) {
    metaLoad(NFT_META_MARK);
    mask(s.mask);
    ctSet(NFT_CT_MARK);
  }
  void operator()(const nftx::Counter&) { add("counter"); }
  void operator()(const nftx::Queue& q) {
    uint16_t flags = q.bypass ? NFT_QUEUE_FLAG_BYPASS : 0;
    if (q.total > 1) flags |= NFT_QUEUE_FLAG_CPU_FANOUT;
    if (q.mode == QueueMode::kNative) {
      auto* e = add("queue");
      nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_NUM, q.first);
      nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_TOTAL, q.total);
      nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_FLAGS, flags);
      return;
    }
    // The xtables target, as iptables-nft builds it. The kernel wants the info padded to
    // XT_ALIGN(sizeof), i.e. 8 bytes.
    struct {
      xt_NFQ_info_v3 info;
      uint16_t pad;
    } target{};
    target.info.queuenum = q.first;
    target.info.queues_total = q.total;
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
  void operator()(const nftx::Verdict& v) {
    static constexpr int kCodes[] = {NF_ACCEPT, NF_DROP, NFT_RETURN, NFT_GOTO, NFT_JUMP};
    auto* e = add("immediate");
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, static_cast<uint32_t>(kCodes[v.code]));
    if (v.code == nftx::Verdict::kGoto || v.code == nftx::Verdict::kJump) {
      nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, v.chain.c_str());
    }
  }
  // The map itself is made by NftBatch::addRule, in the same transaction, under this id.
  void operator()(const nftx::MarkVmap& m) {
    if (m.packet_mark) {
      metaLoad(NFT_META_MARK);
    } else {
      ctLoad(NFT_CT_MARK);
    }
    mask(m.mask);
    if (m.skip_zero) {
      const uint32_t zero = 0;
      cmp(NFT_CMP_NEQ, &zero, sizeof(zero));
    }
    nftnl_expr_set_u32(lookup(kAnonymousMapName, m.set_id), NFTNL_EXPR_LOOKUP_DREG,
                       NFT_REG_VERDICT);
  }
  // The element's statement is a template the kernel copies into each element it adds.
  void operator()(const nftx::SourceMacMeter& m) {
    requireEthernet();
    payload(NFT_PAYLOAD_LL_HEADER, kEtherSourceOffset, kEtherAddressLength);
    nftnl_expr* statement = nullptr;
    if (m.rate > 0) {
      statement = overRate(m.rate, m.burst);
    } else if (m.connections > 0) {
      statement = nftnl_expr_alloc("connlimit");
      nftnl_expr_set_u32(statement, NFTNL_EXPR_CONNLIMIT_COUNT, m.connections);
      nftnl_expr_set_u32(statement, NFTNL_EXPR_CONNLIMIT_FLAGS, NFT_CONNLIMIT_F_INV);  // over
    } else {
      statement = nftnl_expr_alloc("counter");
    }
    // A set without timeouts (the connection count's) takes `add`: `update` restarts a timeout.
    dynset(m.set, m.set_id, m.connections > 0 ? NFT_DYNSET_OP_ADD : NFT_DYNSET_OP_UPDATE,
           statement);
  }
  // Register 1 (16 bytes) zeroed, the 6 bytes of the address loaded at its start, and the whole
  // register set as the label: the kernel's labels are 16 bytes, and the load zeroes only the
  // partial word it ends in.
  void operator()(const nftx::CtLabelSourceMac&) {
    requireEthernet();
    const std::array<uint8_t, 16> zero{};
    auto* e = add("immediate");
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
    nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, zero.data(), zero.size());
    payload(NFT_PAYLOAD_LL_HEADER, kEtherSourceOffset, kEtherAddressLength);
    ctSet(NFT_CT_LABELS);
  }
  // The name fills register 1 (16 bytes, NUL-padded), as the set's keys are made.
  void operator()(const nftx::InterfaceMeter& m) {
    metaLoad(NFT_META_IIFNAME);
    dynset(m.set, m.set_id, NFT_DYNSET_OP_UPDATE,
           m.rate > 0 ? overRate(m.rate, m.burst) : nftnl_expr_alloc("counter"));
  }
  void operator()(const nftx::Reject& r) {
    auto* e = add("reject");
    nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE,
                       r.tcp_reset ? NFT_REJECT_TCP_RST : NFT_REJECT_ICMPX_UNREACH);
    nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE,
                      r.tcp_reset ? 0 : NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
  }

 private:
  // `meta iiftype ether`, once a rule: the link-layer header is then an Ethernet one.
  void requireEthernet() {
    if (ethernet_) return;
    metaLoad(NFT_META_IIFTYPE);
    const uint16_t ether = ARPHRD_ETHER;
    cmp(NFT_CMP_EQ, &ether, sizeof(ether));
    ethernet_ = true;
  }
  nftnl_expr* add(const char* name) {
    nftnl_expr* e = nftnl_expr_alloc(name);
    nftnl_rule_add_expr(rule_, e);  // the rule owns it from here
    return e;
  }
  // The token bucket of a meter: `limit rate over RATE/second burst BURST packets`, which matches
  // (and the rule goes on) once the element is past it. Its caller hands it to a dynset.
  static nftnl_expr* overRate(uint32_t rate, uint32_t burst) {
    nftnl_expr* statement = nftnl_expr_alloc("limit");
    nftnl_expr_set_u64(statement, NFTNL_EXPR_LIMIT_RATE, rate);
    nftnl_expr_set_u64(statement, NFTNL_EXPR_LIMIT_UNIT, 1);  // a second
    nftnl_expr_set_u32(statement, NFTNL_EXPR_LIMIT_BURST, burst);
    nftnl_expr_set_u32(statement, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
    nftnl_expr_set_u32(statement, NFTNL_EXPR_LIMIT_FLAGS, NFT_LIMIT_F_INV);  // over
    return statement;
  }
  // Register 1 looked up in the dynamic set, added when missing (`op`), and `statement` (which
  // the dynset owns from here) run on its element. The kernel copies the statement into each
  // element it adds.
  void dynset(const std::string& set, uint32_t set_id, uint32_t op, nftnl_expr* statement) {
    auto* e = add("dynset");
    nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, op);
    nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, set.c_str());
    nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SET_ID, set_id);
    nftnl_expr_set(e, NFTNL_EXPR_DYNSET_EXPR, statement, 0);
  }
  // `value` into register 1.
  void immediate(uint32_t value) {
    auto* e = add("immediate");
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
    nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, &value, sizeof(value));
  }
  // The connection's `key` (mark, event mask) set from register 1.
  void ctSet(uint32_t key) {
    auto* e = add("ct");
    nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CT_SREG, NFT_REG_1);
  }
  void metaLoad(uint32_t key) {
    auto* e = add("meta");
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
  }
  // A tuple key (a port) needs the direction; the others have none.
  void ctLoad(uint32_t key, uint32_t reg = NFT_REG_1, std::optional<uint8_t> direction = {}) {
    auto* e = add("ct");
    nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, reg);
    if (direction) nftnl_expr_set_u8(e, NFTNL_EXPR_CT_DIR, *direction);
  }
  // `len` bytes at `offset` of the header `base` into `reg`.
  void payload(uint32_t base, uint32_t offset, uint32_t len, uint32_t reg = NFT_REG_1) {
    auto* e = add("payload");
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, reg);
  }
  // reg &= bits (32 bits); nothing when every bit is kept.
  void mask(uint32_t bits, uint32_t reg = NFT_REG_1) {
    if (bits == 0xFFFFFFFF) return;
    const uint32_t zero = 0;
    auto* e = add("bitwise");
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, reg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, reg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, sizeof(uint32_t));
    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &bits, sizeof(bits));
    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, sizeof(zero));
  }
  void cmp(uint32_t op, const void* data, size_t len) {
    auto* e = add("cmp");
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
    nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
  }
  // Register 1 looked up in the named set (found by `set_id` when the same transaction makes
  // it): a match, or with a destination register a map's value.
  nftnl_expr* lookup(const std::string& set, uint32_t set_id) {
    auto* e = add("lookup");
    nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
    nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set.c_str());
    nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
    return e;
  }
  void cmpU32(uint32_t value) { cmp(NFT_CMP_EQ, &value, sizeof(value)); }
  void cmpU8(uint8_t value) { cmp(NFT_CMP_EQ, &value, sizeof(value)); }
  // A transport header field means nothing without its protocol: match it once per rule.
  void requireL4proto(uint8_t proto) {
    if (l4proto_ != proto) (*this)(nftx::L4Proto{proto});
  }

  nftnl_rule* rule_;
  std::optional<uint8_t> l4proto_;
  bool ethernet_ = false;  // the rule required an Ethernet input interface
};

}  // namespace

NftnlRulePtr buildNftnlRule(const char* table, const RuleLayout& rule) {
  NftnlRulePtr r(nftnl_rule_alloc());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, table);
  nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, rule.chain.c_str());
  nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, kNftFamily);
  Linearizer linearizer(r.get());
  for (const NftExpr& expr : rule.exprs) std::visit(linearizer, expr);
  return r;
}

}  // namespace muzzle

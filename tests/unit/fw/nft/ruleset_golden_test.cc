// The batches NftRulesetWriter sends, for representative configurations, against golden files in
// tests/unit/fw/nft/golden/. Each batch is read back from its bytes with libnftnl and printed one
// message a line group (as `nft --debug=netlink` prints rules), with its size and a hash of its
// bytes: any change to what reaches the kernel, down to a byte, fails here.
//
// After an intended change to the ruleset, refresh the golden files and review their diff:
//   MUZZLE_UPDATE_GOLDEN=1 build/tests/unit_fw_nft
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fw/nft/netlink_transport.h"
#include "fw/nft/ruleset.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

// Keeps a copy of every batch and accepts it; keeps a copy of every dump request too, in the
// same list, and answers it as the kernel does for a set without elements (NLMSG_DONE alone).
class RecordingTransport : public NetlinkTransport {
 public:
  explicit RecordingTransport(std::vector<std::string>* batches) : batches_(batches) {}
  Result<std::optional<NetlinkRefusal>> transact(std::span<const char> batch, size_t) override {
    batches_->emplace_back(batch.begin(), batch.end());
    return std::optional<NetlinkRefusal>();
  }
  Result<std::vector<char>> dump(std::span<const char> request, size_t) override {
    batches_->emplace_back(request.begin(), request.end());
    std::vector<char> done(MNL_ALIGN(sizeof(nlmsghdr) + sizeof(int)), 0);
    nlmsghdr* nlh = mnl_nlmsg_put_header(done.data());
    nlh->nlmsg_type = NLMSG_DONE;
    nlh->nlmsg_flags = NLM_F_MULTI;
    nlh->nlmsg_seq = reinterpret_cast<const nlmsghdr*>(request.data())->nlmsg_seq;
    mnl_nlmsg_put_extra_header(nlh, sizeof(int));
    return done;
  }

 private:
  std::vector<std::string>* batches_;
};

std::string hexBytes(const void* data, size_t len) {
  std::string out;
  char buf[4];
  for (size_t i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof(buf), "%02x", static_cast<const unsigned char*>(data)[i]);
    out += buf;
  }
  return out;
}

uint64_t fnv1a(const std::string& bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

const char* messageName(uint16_t type) {
  switch (type) {
    case NFT_MSG_NEWTABLE:
      return "add table";
    case NFT_MSG_DELTABLE:
      return "delete table";
    case NFT_MSG_NEWCHAIN:
      return "add chain";
    case NFT_MSG_NEWSET:
      return "add set";
    case NFT_MSG_NEWSETELEM:
      return "add elements";
    case NFT_MSG_DELSETELEM:
      return "delete elements";
    case NFT_MSG_GETSETELEM:
      return "dump elements";
    case NFT_MSG_NEWRULE:
      return "add rule";
    case NFT_MSG_DELRULE:
      return "delete rules";
    default:
      return "unknown message";
  }
}

// The target info (the NFQUEUE queue numbers and flags) is not printed by libnftnl.
int printTargetInfo(nftnl_expr* e, void* out) {
  if (std::string(nftnl_expr_get_str(e, NFTNL_EXPR_NAME)) != "target") return 0;
  uint32_t len = 0;
  const void* info = nftnl_expr_get(e, NFTNL_EXPR_TG_INFO, &len);
  *static_cast<std::string*>(out) += "  target info " + hexBytes(info, len) + "\n";
  return 0;
}

int printSetExpr(nftnl_expr* e, void* out) {
  *static_cast<std::string*>(out) +=
      std::string("\n  set expression ") + nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
  return 0;
}

// Each element's key and flags, read from the attributes themselves: libnftnl's parser keeps
// only the elements it built with nest type 1, and its own builder numbers them 1, 2, 3...
// Calls `f` with each attribute in [begin, begin + len); libmnl's loop macros do not compile as
// C++.
template <typename F>
void forEachAttr(const void* begin, size_t len, F f) {
  int left = static_cast<int>(len);
  for (auto* a = static_cast<const nlattr*>(begin); mnl_attr_ok(a, left); a = mnl_attr_next(a),
             left = static_cast<int>(len) - static_cast<int>(reinterpret_cast<const char*>(a) -
                                                             static_cast<const char*>(begin))) {
    f(a);
  }
}
template <typename F>
void forEachNested(const nlattr* nest, F f) {
  forEachAttr(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest), f);
}

std::string renderElements(const nlmsghdr* nlh) {
  std::string text;
  const size_t header = MNL_ALIGN(sizeof(nfgenmsg));
  forEachAttr(static_cast<const char*>(mnl_nlmsg_get_payload(nlh)) + header,
              mnl_nlmsg_get_payload_len(nlh) - header, [&](const nlattr* attr) {
                if (mnl_attr_get_type(attr) != NFTA_SET_ELEM_LIST_ELEMENTS) return;
                forEachNested(attr, [&](const nlattr* elem) {
                  text += "\n  element";
                  forEachNested(elem, [&](const nlattr* field) {
                    if (mnl_attr_get_type(field) == NFTA_SET_ELEM_KEY) {
                      forEachNested(field, [&](const nlattr* value) {
                        text += " " + hexBytes(mnl_attr_get_payload(value),
                                               mnl_attr_get_payload_len(value));
                      });
                    } else if (mnl_attr_get_type(field) == NFTA_SET_ELEM_FLAGS) {
                      text += " flags " + std::to_string(ntohl(mnl_attr_get_u32(field)));
                    } else if (mnl_attr_get_type(field) == NFTA_SET_ELEM_DATA) {
                      // A verdict map's: the verdict code and the chain it goes to.
                      forEachNested(field, [&](const nlattr* data) {
                        if (mnl_attr_get_type(data) != NFTA_DATA_VERDICT) return;
                        forEachNested(data, [&](const nlattr* v) {
                          if (mnl_attr_get_type(v) == NFTA_VERDICT_CODE) {
                            text += " : verdict " +
                                    std::to_string(static_cast<int32_t>(ntohl(mnl_attr_get_u32(v))));
                          } else if (mnl_attr_get_type(v) == NFTA_VERDICT_CHAIN) {
                            text += std::string(" chain ") + mnl_attr_get_str(v);
                          }
                        });
                      });
                    }
                  });
                });
              });
  return text;
}

std::string render(const nlmsghdr* nlh) {
  char buf[8192] = {};
  std::string text;
  const uint16_t type = NFNL_MSG_TYPE(nlh->nlmsg_type);
  switch (type) {
    case NFT_MSG_NEWTABLE:
    case NFT_MSG_DELTABLE: {
      nftnl_table* t = nftnl_table_alloc();
      nftnl_table_nlmsg_parse(nlh, t);
      nftnl_table_snprintf(buf, sizeof(buf), t, NFTNL_OUTPUT_DEFAULT, 0);
      nftnl_table_free(t);
      return buf;
    }
    case NFT_MSG_NEWCHAIN: {
      nftnl_chain* c = nftnl_chain_alloc();
      nftnl_chain_nlmsg_parse(nlh, c);
      nftnl_chain_snprintf(buf, sizeof(buf), c, NFTNL_OUTPUT_DEFAULT, 0);
      nftnl_chain_free(c);
      return buf;
    }
    case NFT_MSG_NEWSET: {
      nftnl_set* s = nftnl_set_alloc();
      nftnl_set_nlmsg_parse(nlh, s);
      nftnl_set_snprintf(buf, sizeof(buf), s, NFTNL_OUTPUT_DEFAULT, 0);
      text = buf;
      // libnftnl does not print a set's own expressions (no set has one today).
      nftnl_set_expr_foreach(s, printSetExpr, &text);
      nftnl_set_free(s);
      return text;
    }
    case NFT_MSG_NEWSETELEM:
    case NFT_MSG_DELSETELEM:
    case NFT_MSG_GETSETELEM: {
      nftnl_set* s = nftnl_set_alloc();
      nftnl_set_elems_nlmsg_parse(nlh, s);
      text = std::string("set ") + nftnl_set_get_str(s, NFTNL_SET_NAME);
      text += renderElements(nlh);
      nftnl_set_free(s);
      return text;
    }
    case NFT_MSG_NEWRULE:
    case NFT_MSG_DELRULE: {
      nftnl_rule* r = nftnl_rule_alloc();
      nftnl_rule_nlmsg_parse(nlh, r);
      nftnl_rule_snprintf(buf, sizeof(buf), r, NFTNL_OUTPUT_DEFAULT, 0);
      text = buf;
      nftnl_expr_foreach(r, printTargetInfo, &text);
      nftnl_rule_free(r);
      return text;
    }
    default:
      return hexBytes(nlh, nlh->nlmsg_len);
  }
}

std::string renderBatches(const std::vector<std::string>& batches) {
  std::ostringstream out;
  for (size_t i = 0; i < batches.size(); ++i) {
    const std::string& batch = batches[i];
    char hash[32];
    std::snprintf(hash, sizeof(hash), "%016llx", static_cast<unsigned long long>(fnv1a(batch)));
    out << "batch " << i + 1 << "\n";
    int len = static_cast<int>(batch.size());
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(batch.data()); mnl_nlmsg_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_type == NFNL_MSG_BATCH_BEGIN || nlh->nlmsg_type == NFNL_MSG_BATCH_END) {
        out << "seq " << nlh->nlmsg_seq
            << (nlh->nlmsg_type == NFNL_MSG_BATCH_BEGIN ? " begin\n" : " end\n");
        continue;
      }
      std::string text = render(nlh);
      while (!text.empty() && text.back() == '\n') text.pop_back();
      out << "seq " << nlh->nlmsg_seq << " " << messageName(NFNL_MSG_TYPE(nlh->nlmsg_type))
          << " flags 0x" << std::hex << nlh->nlmsg_flags << std::dec << ": " << text << "\n";
    }
    // Last, so that a changed message is the first difference reported.
    out << "batch " << i + 1 << ": " << batch.size() << " bytes, fnv1a " << hash << "\n\n";
  }
  return out.str();
}

// Compares `actual` with golden/<name>.txt, or rewrites the file when MUZZLE_UPDATE_GOLDEN=1.
void checkGolden(const std::string& name, const std::string& actual) {
  const std::string path =
      std::string(MUZZLE_SOURCE_DIR) + "/tests/unit/fw/nft/golden/" + name + ".txt";
  const char* update = std::getenv("MUZZLE_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream(path) << actual;
    MESSAGE("rewrote " << path);
    return;
  }
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "missing " << path << ": run with MUZZLE_UPDATE_GOLDEN=1");
  std::stringstream expected;
  expected << in.rdbuf();
  if (expected.str() == actual) return;
  // Point at the first line that differs rather than printing two long texts.
  std::istringstream want(expected.str()), got(actual);
  std::string want_line, got_line;
  size_t line = 0;
  while (true) {
    ++line;
    const bool more_want = static_cast<bool>(std::getline(want, want_line));
    const bool more_got = static_cast<bool>(std::getline(got, got_line));
    if (!more_want) want_line = "(end of file)";
    if (!more_got) got_line = "(end of output)";
    if (want_line != got_line || (!more_want && !more_got)) break;
  }
  FAIL_CHECK(path << ":" << line << ": expected \"" << want_line << "\", got \"" << got_line
                  << "\"; if the change is intended, run with MUZZLE_UPDATE_GOLDEN=1 and review "
                     "the diff");
}

RulesetSpec twoSegments() {
  RulesetSpec s;
  s.generation = 7;
  s.segment_ifnames = {"br-cam", "br-iot"};
  // The flood guard and the segment guard as muzzled.yaml's default has them, and the connection
  // limit as the kernel counts it on a box without accounting: their sets made with the table,
  // their rules in `judge` and `save-allowed` rewritten with the policy, naming the sets it no
  // longer makes.
  s.flood_rate = 500;
  s.flood_burst = 1000;
  s.conn_limit = 1024;
  s.segment_rate = 2000;
  s.segment_burst = 4000;
  return s;
}

TEST_CASE("golden: fail-closed, two segments, one flow queue (compat); a policy change; removal") {
  std::vector<std::string> batches;
  auto writer = makeNftRulesetWriter(std::make_unique<RecordingTransport>(&batches));
  RulesetSpec spec = twoSegments();
  REQUIRE(writer->install(spec).ok());
  spec.generation = 8;
  REQUIRE(writer->install(spec).ok());  // same base chains: the per-policy chains' rules alone
  REQUIRE(writer->remove().ok());
  checkGolden("fail_closed_compat", renderBatches(batches));
}

TEST_CASE(
    "golden: fail-open, four flow queues (native); a segment added; UDP's "
    "destroy events off, then on") {
  std::vector<std::string> batches;
  auto writer = makeNftRulesetWriter(std::make_unique<RecordingTransport>(&batches));
  RulesetSpec spec;
  spec.generation = 1;
  spec.segment_ifnames = {"br-lan"};
  spec.queue_first = 200;
  spec.queue_count = 4;
  spec.fail_open = true;
  spec.queue_mode = QueueMode::kNative;
  spec.udp_ends = RulesetSpec::UdpEnds::kDumps;
  // The segment guard alone, the per-device guard off: `dhcp-request` holds its rule alone. The
  // connection limit counted by muzzled, as with accounting: `ask` and `dns-query` mark a
  // connection's first packet.
  spec.segment_rate = 100;
  spec.segment_burst = 150;
  spec.new_connection_hint = true;
  REQUIRE(writer->install(spec).ok());
  spec.segment_ifnames.push_back("br-guest");
  spec.generation = 2;
  spec.udp_ends = RulesetSpec::UdpEnds::kEvents;
  REQUIRE(writer->install(spec).ok());  // new base chains: the whole table again
  checkGolden("fail_open_native", renderBatches(batches));
}

TEST_CASE("golden: the queue-mode probe leaves nothing behind") {
  std::vector<std::string> batches;
  auto writer = makeNftRulesetWriter(std::make_unique<RecordingTransport>(&batches));
  auto mode = writer->probeQueueMode();
  REQUIRE(mode.ok());
  CHECK(*mode == QueueMode::kNative);
  checkGolden("probe", renderBatches(batches));
}

TEST_CASE("golden: the conntrack-label probe leaves nothing behind") {
  std::vector<std::string> batches;
  auto writer = makeNftRulesetWriter(std::make_unique<RecordingTransport>(&batches));
  auto labels = writer->probeConnectionLabels();
  REQUIRE(labels.ok());
  CHECK(*labels);
  checkGolden("probe_labels", renderBatches(batches));
}

}  // namespace
}  // namespace muzzle

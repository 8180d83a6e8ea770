// The accounting sets read back: see accounting_dump.h.
#include "fw/nft/accounting_dump.h"

#include <endian.h>
#include <libmnl/libmnl.h>
#include <libnftnl/set.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "fw/nft/marks.h"
#include "fw/nft/nft_expressions.h"

namespace muzzle {
namespace {

// An element of an IPv6 set as the kernel dumps it: element nest (4), key nest (4) and value
// (4 + 16 + 4 of class), expression nest (4), name "counter" (4 + 8), data nest (4), bytes and packets (each
// 4 + 8, and 4 of padding before each 64-bit value at worst): 92 bytes. Room for a flag or two.
constexpr size_t kDumpBytesPerElement = 128;
// Each datagram of a dump (up to 32 KiB) starts a message with its own headers and names.
constexpr size_t kDumpBytesSlack = size_t{64} << 10;

struct NftnlSetFree {
  void operator()(nftnl_set* s) const { nftnl_set_free(s); }
};

// The attributes of one nest (or of a message past its header), by type up to `max`; an
// attribute of a larger type is skipped, as the kernel adds attributes over time. libmnl checks
// each attribute's length against what is left of its parent before the callback sees it.
struct Collected {
  const nlattr** tb;
  uint16_t max;
};

int collectOne(const nlattr* attr, void* data) {
  auto* c = static_cast<Collected*>(data);
  if (mnl_attr_get_type(attr) <= c->max) c->tb[mnl_attr_get_type(attr)] = attr;
  return MNL_CB_OK;
}

bool collectNested(const nlattr* nest, const nlattr** tb, uint16_t max) {
  Collected c{tb, max};
  return mnl_attr_parse_nested(nest, collectOne, &c) >= MNL_CB_STOP;
}

bool isNested(const nlattr* attr) {
  return attr != nullptr && mnl_attr_validate(attr, MNL_TYPE_NESTED) == 0;
}

// A string attribute whose last byte ends it, equal to `want`.
bool isString(const nlattr* attr, const char* want) {
  return attr != nullptr && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0 &&
         std::strcmp(mnl_attr_get_str(attr), want) == 0;
}

bool readU64(const nlattr* attr, uint64_t* out) {
  if (attr == nullptr || mnl_attr_validate(attr, MNL_TYPE_U64) != 0) return false;
  *out = be64toh(mnl_attr_get_u64(attr));
  return true;
}

// An error number from the answer (negative, as netlink carries it, or not), as text; any value
// a garbled answer may hold, INT_MIN included.
std::string errnoText(int raw) {
  const long long error = raw < 0 ? -static_cast<long long>(raw) : raw;
  if (error > 4095) return "error number " + std::to_string(error);
  return std::strerror(static_cast<int>(error));
}

// What the element walk needs: the set, the bound, the running count, and the first problem.
struct ElementWalk {
  const AccountingSet* set;
  size_t max_elements;
  size_t count = 0;
  std::vector<AccountingCount>* out;
  std::string problem;
};

// What an element's expressions said of its counter.
struct CounterRead {
  bool found = false;
  uint64_t bytes = 0;
  uint64_t packets = 0;
  std::string problem;
};

// One expression (NFTA_EXPR_*): when it is a counter, its bytes and packets.
int readExpression(const nlattr* expr, void* data) {
  auto* read = static_cast<CounterRead*>(data);
  const nlattr* tb[NFTA_EXPR_MAX + 1] = {};
  if (!isNested(expr) || !collectNested(expr, tb, NFTA_EXPR_MAX)) {
    read->problem = "a garbled expression";
    return MNL_CB_ERROR;
  }
  if (!isString(tb[NFTA_EXPR_NAME], "counter")) return MNL_CB_OK;
  const nlattr* ctr[NFTA_COUNTER_MAX + 1] = {};
  if (!isNested(tb[NFTA_EXPR_DATA]) || !collectNested(tb[NFTA_EXPR_DATA], ctr, NFTA_COUNTER_MAX) ||
      !readU64(ctr[NFTA_COUNTER_BYTES], &read->bytes) ||
      !readU64(ctr[NFTA_COUNTER_PACKETS], &read->packets)) {
    read->problem = "a counter without its bytes and packets";
    return MNL_CB_ERROR;
  }
  read->found = true;
  return MNL_CB_OK;
}

int readElement(const nlattr* item, void* data) {
  auto* walk = static_cast<ElementWalk*>(data);
  const nlattr* tb[NFTA_SET_ELEM_MAX + 1] = {};
  const nlattr* key[NFTA_DATA_MAX + 1] = {};
  if (mnl_attr_get_type(item) != NFTA_LIST_ELEM || !isNested(item) ||
      !collectNested(item, tb, NFTA_SET_ELEM_MAX) || !isNested(tb[NFTA_SET_ELEM_KEY]) ||
      !collectNested(tb[NFTA_SET_ELEM_KEY], key, NFTA_DATA_MAX) ||
      key[NFTA_DATA_VALUE] == nullptr) {
    walk->problem = "an element without a key";
    return MNL_CB_ERROR;
  }
  const size_t want = accountingKeyLength(walk->set->v6);
  const size_t len = mnl_attr_get_payload_len(key[NFTA_DATA_VALUE]);
  if (len != want) {
    walk->problem =
        "an element has a key of " + std::to_string(len) + " bytes, not " + std::to_string(want);
    return MNL_CB_ERROR;
  }
  // The address, then the class bits of the conntrack mark (accountingKey).
  const auto* key_bytes = static_cast<const uint8_t*>(mnl_attr_get_payload(key[NFTA_DATA_VALUE]));
  const IpAddress address = IpAddress::fromBytes(key_bytes, walk->set->v6);
  uint32_t class_bits = 0;
  std::memcpy(&class_bits, key_bytes + want - sizeof(class_bits), sizeof(class_bits));
  if ((class_bits & ~kTrafficClassBits) != 0) {
    walk->problem = "element " + address.toString() + " has a class of bits outside the class";
    return MNL_CB_ERROR;
  }
  // One expression comes as NFTA_SET_ELEM_EXPR, several as a list in NFTA_SET_ELEM_EXPRESSIONS.
  CounterRead counter;
  if (tb[NFTA_SET_ELEM_EXPR] != nullptr) {
    readExpression(tb[NFTA_SET_ELEM_EXPR], &counter);
  } else if (isNested(tb[NFTA_SET_ELEM_EXPRESSIONS])) {
    mnl_attr_parse_nested(tb[NFTA_SET_ELEM_EXPRESSIONS], readExpression, &counter);
  }
  if (counter.problem.empty() && !counter.found) {
    counter.problem = "element " + address.toString() + " has no counter";
  }
  if (!counter.problem.empty()) {
    walk->problem = counter.problem;
    return MNL_CB_ERROR;
  }
  if (++walk->count > walk->max_elements) {
    walk->problem = "the set holds more than its " + std::to_string(walk->max_elements) +
                    " elements, so it is not the set muzzled made (`nft list table inet muzzle` "
                    "shows it; the next change of segments replaces the table)";
    return MNL_CB_ERROR;
  }
  walk->out->push_back({address, walk->set->upload, counter.bytes, counter.packets,
                        static_cast<uint8_t>(trafficClassOf(class_bits))});
  return MNL_CB_OK;
}

// The elements of one NFT_MSG_NEWSETELEM message of the answer; "" or what was wrong.
std::string readElements(const nlmsghdr* nlh, ElementWalk& walk) {
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof(nfgenmsg)) return "a message has no nfgenmsg header";
  const nlattr* tb[NFTA_SET_ELEM_LIST_MAX + 1] = {};
  Collected c{tb, NFTA_SET_ELEM_LIST_MAX};
  if (mnl_attr_parse(nlh, sizeof(nfgenmsg), collectOne, &c) < MNL_CB_STOP) {
    return "a message with garbled attributes";
  }
  if (!isString(tb[NFTA_SET_ELEM_LIST_SET], walk.set->name)) {
    return "a message that is not about this set";
  }
  if (tb[NFTA_SET_ELEM_LIST_ELEMENTS] == nullptr) return "";  // the kernel sends none when empty
  if (!isNested(tb[NFTA_SET_ELEM_LIST_ELEMENTS]) ||
      mnl_attr_parse_nested(tb[NFTA_SET_ELEM_LIST_ELEMENTS], readElement, &walk) < MNL_CB_STOP) {
    return walk.problem.empty() ? "a garbled list of elements" : walk.problem;
  }
  return "";
}

}  // namespace

std::vector<char> accountingDumpRequest(const std::string& table, const AccountingSet& set,
                                        uint32_t seq) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  std::unique_ptr<nftnl_set, NftnlSetFree> s(nftnl_set_alloc());
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, set.name);
  nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, kNftFamily);
  nlmsghdr* nlh =
      nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_GETSETELEM, kNftFamily, NLM_F_DUMP, seq);
  nftnl_set_elems_nlmsg_build_payload(nlh, s.get());
  buf.resize(nlh->nlmsg_len);
  return buf;
}

size_t accountingDumpBytes(uint32_t max_elements) {
  return size_t{max_elements} * kDumpBytesPerElement + kDumpBytesSlack;
}

Status parseAccountingDump(std::span<const char> answer, const AccountingSet& set,
                           size_t max_elements, std::vector<AccountingCount>* out) {
  const std::string where =
      std::string("nftables: reading set ") + set.name + " of inet " + kRulesetTable + ": ";
  ElementWalk walk{&set, max_elements, 0, out, ""};
  size_t offset = 0;
  for (size_t index = 1; answer.size() - offset >= sizeof(nlmsghdr); ++index) {
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(answer.data() + offset);
    // libmnl walks attributes up to the message's length rounded up to 4: all of that must be
    // in the answer.
    if (nlh->nlmsg_len < sizeof(nlmsghdr) || NLMSG_ALIGN(nlh->nlmsg_len) > answer.size() - offset) {
      break;
    }
    offset += NLMSG_ALIGN(nlh->nlmsg_len);
    const std::string at = "message " + std::to_string(index) + " of the answer: ";
    if (nlh->nlmsg_type == NLMSG_DONE) {
      int error = 0;
      if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(error)) {
        std::memcpy(&error, mnl_nlmsg_get_payload(nlh), sizeof(error));
      }
      if (error == 0) return Status();
      return Status::error(where + "the kernel ended the dump with an error: " + errnoText(error));
    }
    if (nlh->nlmsg_type == NLMSG_ERROR) {
      if (mnl_nlmsg_get_payload_len(nlh) < sizeof(nlmsgerr)) {
        return Status::error(where + at + "an error message too short to hold its error");
      }
      const int error = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh))->error;
      // No such table or set: accounting is off, or the table is gone.
      if (error == -ENOENT) return Status();
      if (error == 0) return Status::error(where + at + "an acknowledgement, not a dump");
      return Status::error(where + "the kernel refused the dump: " + errnoText(error));
    }
    if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) {
      return Status::error(where + "the table changed while it was read; read it again");
    }
    if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
        NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWSETELEM) {
      return Status::error(where + at + "unexpected message type " +
                           std::to_string(nlh->nlmsg_type));
    }
    if (std::string problem = readElements(nlh, walk); !problem.empty()) {
      return Status::error(where + at + problem);
    }
  }
  return Status::error(where + "the answer (" + std::to_string(answer.size()) +
                       " bytes) ends before its last message (NLMSG_DONE): truncated or garbled");
}

}  // namespace muzzle

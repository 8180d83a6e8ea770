// Reading the accounting sets back (ruleset_layout.h: @acct-up4, @acct-down4, @acct-up6,
// @acct-down6): the dump request for one set (NFT_MSG_GETSETELEM with NLM_F_DUMP) and the parse
// of the kernel's answer into AccountingCounts. Pure value code: the bytes travel through a
// NetlinkTransport (netlink_transport.h), so the parse is tested on built answers without root.
//
// The answer is read as untrusted bytes, with libmnl, each attribute's length checked against
// its parent's before it is read and each string's end checked before it is compared: not with
// libnftnl's nftnl_set_elems_nlmsg_parse, which (1.2.4) crashes on an expression without a name
// and copies names whose end it never checked. Each element must carry a key of its family's
// length and a counter (bytes and packets), and the answer must end with NLMSG_DONE. Refused, with
// an error that names the set and what was wrong: a malformed or short answer, a dump the kernel
// interrupted (the table changed while it was read: read again), and more than `max_elements`
// elements (the set's size, which the kernel cannot exceed: a larger set is not the one muzzled
// made). An NLMSG_ERROR answer of ENOENT means the set (or the whole table) does not exist: no
// elements, no error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fw/common/status.h"
#include "fw/nft/ruleset.h"
#include "fw/nft/ruleset_layout.h"

namespace muzzle {

// The request for every element of `set` in `table` (family inet), numbered `seq`.
std::vector<char> accountingDumpRequest(const std::string& table, const AccountingSet& set,
                                        uint32_t seq);

// How many bytes the answer for a set of at most `max_elements` elements may take: what a
// kernel element costs (an IPv6 key with its class and a counter: ~92 bytes, rounded up) plus message headers.
size_t accountingDumpBytes(uint32_t max_elements);

// Appends the elements of `answer` (the messages NetlinkTransport::dump returned, at a 4-byte
// aligned address) to `out`, each as an AccountingCount of `set`'s direction. On failure,
// `out` may hold some of the elements, and the caller should drop them.
Status parseAccountingDump(std::span<const char> answer, const AccountingSet& set,
                           size_t max_elements, std::vector<AccountingCount>* out);

}  // namespace muzzle

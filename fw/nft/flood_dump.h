// Reading the flood guard's and the connection limit's counts back (ruleset_layout.h:
// @flood-dropped and @conn-limit-dropped, one element per device whose flows it dropped, keyed
// by its source MAC address, each with a counter), and the segment guard's (@segment-dropped, one
// element per input interface, keyed by its name as `meta iifname` loads it): the
// dump request (NFT_MSG_GETSETELEM with NLM_F_DUMP) and the parse of the kernel's answer into
// FloodDropCounts. Pure value code: the bytes travel through a NetlinkTransport
// (netlink_transport.h), so the parse is tested on built answers without root.
//
// The answer is read as untrusted bytes, with libmnl, each attribute's length checked against
// its parent's before it is read and each string's end checked before it is compared: not with
// libnftnl's nftnl_set_elems_nlmsg_parse, which (1.2.4) crashes on an expression without a name
// and copies names whose end it never checked. Each element must carry a key of exactly
// kEtherAddressLength bytes (a device's set) or an interface name of kInterfaceNameKeyLength
// (1-15 bytes and NULs to the end: a segment guard's) and a counter (bytes and packets; the
// packets are kept), and the
// answer must end with NLMSG_DONE. Refused, with an error that names the set and what was wrong:
// a malformed or short answer, a dump the kernel interrupted (the table changed while it was
// read: read again), and more than `max_elements` elements (the set's size, which the kernel
// cannot exceed: a larger set is not the one muzzled made). An NLMSG_ERROR answer of ENOENT means
// the set (or the whole table) does not exist, as when the guard or the limit is off: no elements,
// no error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fw/common/status.h"
#include "fw/nft/ruleset.h"

namespace muzzle {

// The request for every element of `set` (kFloodDroppedSet, kConnLimitDroppedSet,
// kSegmentDroppedSet) in `table`
// (family inet), numbered `seq`.
std::vector<char> floodDumpRequest(const std::string& table, const std::string& set, uint32_t seq);

// How many bytes the answer for a set of at most `max_elements` elements may take: what a
// kernel element costs (a MAC key, its timeout and expiration, a counter: ~104 bytes, rounded up)
// plus message headers. The bound NetlinkTransport::dump is given.
size_t floodDumpBytes(uint32_t max_elements);

// Appends the elements of `answer` (the messages NetlinkTransport::dump returned, at a 4-byte
// aligned address) about `set` to `out`, in the kernel's order. On failure, `out` may hold some
// of the elements, and the caller should drop them.
Status parseFloodDump(std::span<const char> answer, const std::string& set, size_t max_elements,
                      std::vector<FloodDropCount>* out);
// The same for a set keyed by input interface name (kSegmentDroppedSet): the interfaces' counts.
Status parseSegmentDump(std::span<const char> answer, const std::string& set, size_t max_elements,
                        std::vector<SegmentDropCount>* out);

}  // namespace muzzle

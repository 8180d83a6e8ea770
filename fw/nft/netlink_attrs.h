// Reading netlink attributes from untrusted answers (conntrack_wire, flood_dump): libmnl checks
// each attribute's length against what is left of its parent before a callback sees it, but ends
// its walk without a word at the first that does not fit. These walks note how far they came and
// refuse a parent whose last bytes were not read as attributes, as they refuse a walk the
// callback stopped with MNL_CB_ERROR. An attribute of a type above a table's `max` is skipped:
// the kernel adds attributes over time.
#pragma once

#include <libmnl/libmnl.h>

#include <cstdint>

namespace muzzle {

// `attr` is present and a nest.
bool isNestedAttr(const nlattr* attr);
// Calls `each` on every attribute of `nest` (a nest; false when it is not) in order.
bool forEachNested(const nlattr* nest, mnl_attr_cb_t each, void* data);
// The same over a message's attributes, past its `header` bytes (an nfgenmsg's size, for
// nfnetlink).
bool forEachInMessage(const nlmsghdr* nlh, size_t header, mnl_attr_cb_t each, void* data);
// The attributes of a nest, or of a message past its nfgenmsg header, by type into tb[0..max].
bool collectNested(const nlattr* nest, const nlattr** tb, uint16_t max);
bool collectMessage(const nlmsghdr* nlh, const nlattr** tb, uint16_t max);
// A string attribute whose last byte ends it, equal to `want`.
bool isStringAttr(const nlattr* attr, const char* want);
// A big-endian 64-bit (32-bit) attribute of its exact size, in host order.
bool readBe64(const nlattr* attr, uint64_t* out);
bool readBe32(const nlattr* attr, uint32_t* out);

}  // namespace muzzle

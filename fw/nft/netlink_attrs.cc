// Strict netlink attribute walks: see netlink_attrs.h.
#include "fw/nft/netlink_attrs.h"

#include <arpa/inet.h>
#include <endian.h>
#include <linux/netfilter/nfnetlink.h>

#include <cstring>

namespace muzzle {
namespace {
namespace nlattrs {  // apart from the other files of the library's unity batch

struct AttrWalk {
  mnl_attr_cb_t each;
  void* data;
  const char* end;  // past the last attribute walked
};

int walkOne(const nlattr* attr, void* data) {
  auto* w = static_cast<AttrWalk*>(data);
  w->end = reinterpret_cast<const char*>(attr) + MNL_ALIGN(attr->nla_len);
  return w->each(attr, w->data);
}

struct Collected {
  const nlattr** tb;
  uint16_t max;
};

int collectOne(const nlattr* attr, void* data) {
  auto* c = static_cast<Collected*>(data);
  if (mnl_attr_get_type(attr) <= c->max) c->tb[mnl_attr_get_type(attr)] = attr;
  return MNL_CB_OK;
}

}  // namespace nlattrs
}  // namespace

bool isNestedAttr(const nlattr* attr) {
  return attr != nullptr && mnl_attr_validate(attr, MNL_TYPE_NESTED) == 0;
}

bool forEachNested(const nlattr* nest, mnl_attr_cb_t each, void* data) {
  if (!isNestedAttr(nest)) return false;
  const auto* payload = static_cast<const char*>(mnl_attr_get_payload(nest));
  nlattrs::AttrWalk w{each, data, payload};
  return mnl_attr_parse_nested(nest, nlattrs::walkOne, &w) >= MNL_CB_STOP &&
         w.end >= payload + mnl_attr_get_payload_len(nest);
}

bool forEachInMessage(const nlmsghdr* nlh, size_t header, mnl_attr_cb_t each, void* data) {
  nlattrs::AttrWalk w{each, data,
                      static_cast<const char*>(mnl_nlmsg_get_payload_offset(nlh, header))};
  return mnl_attr_parse(nlh, header, nlattrs::walkOne, &w) >= MNL_CB_STOP &&
         w.end >= static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
}

bool collectNested(const nlattr* nest, const nlattr** tb, uint16_t max) {
  nlattrs::Collected c{tb, max};
  return forEachNested(nest, nlattrs::collectOne, &c);
}

bool collectMessage(const nlmsghdr* nlh, const nlattr** tb, uint16_t max) {
  nlattrs::Collected c{tb, max};
  return forEachInMessage(nlh, sizeof(nfgenmsg), nlattrs::collectOne, &c);
}

bool isStringAttr(const nlattr* attr, const char* want) {
  return attr != nullptr && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0 &&
         std::strcmp(mnl_attr_get_str(attr), want) == 0;
}

bool readBe64(const nlattr* attr, uint64_t* out) {
  if (attr == nullptr || mnl_attr_validate(attr, MNL_TYPE_U64) != 0) return false;
  *out = be64toh(mnl_attr_get_u64(attr));
  return true;
}

bool readBe32(const nlattr* attr, uint32_t* out) {
  if (attr == nullptr || mnl_attr_validate(attr, MNL_TYPE_U32) != 0) return false;
  *out = ntohl(mnl_attr_get_u32(attr));
  return true;
}

}  // namespace muzzle

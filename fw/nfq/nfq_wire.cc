#include "fw/nfq/nfq_wire.h"

// <arpa/inet.h> must come before the linux/ headers, or struct in_addr is defined twice.
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>

#include <algorithm>

namespace muzzle {

std::optional<QueuedPacketId> idOfTruncatedMessage(const char* buf, size_t len) {
  constexpr size_t kHeaders = NLMSG_HDRLEN + MNL_ALIGN(sizeof(nfgenmsg));
  if (buf == nullptr || len < kHeaders) return std::nullopt;
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf);
  const size_t total = std::min<size_t>(nlh->nlmsg_len, len);
  if (total < kHeaders) return std::nullopt;
  const auto* nfg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
  const char* const end = buf + total;
  for (auto* attr = reinterpret_cast<const nlattr*>(buf + kHeaders);
       mnl_attr_ok(attr, static_cast<int>(end - reinterpret_cast<const char*>(attr)));
       attr = mnl_attr_next(attr)) {
    if (mnl_attr_get_type(attr) != NFQA_PACKET_HDR ||
        mnl_attr_get_payload_len(attr) < sizeof(nfqnl_msg_packet_hdr)) {
      continue;
    }
    const auto* ph = static_cast<const nfqnl_msg_packet_hdr*>(mnl_attr_get_payload(attr));
    return QueuedPacketId{ntohs(nfg->res_id), ntohl(ph->packet_id)};
  }
  return std::nullopt;
}

}  // namespace muzzle

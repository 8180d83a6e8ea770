#include "fw/nfq/nfq_wire.h"

// <arpa/inet.h> must come before the linux/ headers, or struct in_addr is defined twice.
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>

#include <algorithm>
#include <cstring>

namespace muzzle {

int runNetlinkMessages(const char* buf, size_t len, uint32_t seq, uint32_t portid,
                       int (*callback)(const nlmsghdr* nlh, void* data), void* data) {
  size_t whole = 0;  // bytes of whole messages with believable lengths
  while (buf != nullptr && len - whole >= sizeof(nlmsghdr)) {
    uint32_t message_len;
    std::memcpy(&message_len, buf + whole + offsetof(nlmsghdr, nlmsg_len), sizeof(message_len));
    if (message_len < sizeof(nlmsghdr) || message_len > len - whole) break;
    whole += std::min<size_t>(NLMSG_ALIGN(message_len), len - whole);
  }
  const int rc = whole > 0 ? mnl_cb_run(buf, whole, seq, portid, callback, data) : MNL_CB_OK;
  if (rc < 0 || whole == len) return rc;
  return MNL_CB_ERROR;
}

bool parseQueuedPacket(const nlmsghdr* nlh, QueuedPacket* out) {
  // nfq_nlmsg_parse validates each attribute it keeps against its type's length (the u32s, the
  // packet header, the hardware address), so the reads below stay inside the message.
  nlattr* attr[NFQA_MAX + 1] = {};
  if (nfq_nlmsg_parse(nlh, attr) < 0 || attr[NFQA_PACKET_HDR] == nullptr) return false;
  // libmnl accepts an attribute that ends within the message's length rounded up to 4: up to 3
  // bytes past nlmsg_len, and past the receive buffer when the message ends it. The kernel pads
  // every attribute, so such a message is not the kernel's; refuse it rather than read past it.
  const auto* message_end = reinterpret_cast<const char*>(nlh) + nlh->nlmsg_len;
  for (const nlattr* a : attr) {
    if (a != nullptr && reinterpret_cast<const char*>(a) + a->nla_len > message_end) return false;
  }
  auto* ph = static_cast<const nfqnl_msg_packet_hdr*>(mnl_attr_get_payload(attr[NFQA_PACKET_HDR]));
  const auto* nfg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));

  QueuedPacket& p = *out;
  p = QueuedPacket{};
  p.queue = ntohs(nfg->res_id);
  p.packet_id = ntohl(ph->packet_id);
  p.hook = ph->hook;
  p.l3_protocol = ntohs(ph->hw_protocol);
  if (attr[NFQA_IFINDEX_INDEV]) p.indev = ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_INDEV]));
  if (attr[NFQA_IFINDEX_OUTDEV]) p.outdev = ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_OUTDEV]));
  if (attr[NFQA_IFINDEX_PHYSINDEV])
    p.physindev = ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_PHYSINDEV]));
  if (attr[NFQA_MARK]) p.mark = ntohl(mnl_attr_get_u32(attr[NFQA_MARK]));
  if (attr[NFQA_HWADDR] &&
      mnl_attr_get_payload_len(attr[NFQA_HWADDR]) >= sizeof(nfqnl_msg_packet_hw)) {
    auto* hw = static_cast<const nfqnl_msg_packet_hw*>(mnl_attr_get_payload(attr[NFQA_HWADDR]));
    if (ntohs(hw->hw_addrlen) == 6) p.hwaddr = MacAddress::fromBytes(hw->hw_addr);
  }
  if (attr[NFQA_PAYLOAD]) {
    p.payload = std::span<const uint8_t>(
        static_cast<const uint8_t*>(mnl_attr_get_payload(attr[NFQA_PAYLOAD])),
        mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]));
  }
  // Present when the queue copied only a prefix of the packet.
  p.wire_length = attr[NFQA_CAP_LEN] ? ntohl(mnl_attr_get_u32(attr[NFQA_CAP_LEN]))
                                     : static_cast<uint32_t>(p.payload.size());
  return true;
}

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

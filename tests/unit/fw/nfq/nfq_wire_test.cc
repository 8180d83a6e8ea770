// idOfTruncatedMessage: a queued-packet message cut short by a too-small receive slot still
// yields its queue and packet id (so the packet gets a verdict); anything shorter yields none.
#include "fw/nfq/nfq_wire.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter/nfnetlink_queue.h>

#include <vector>

namespace muzzle {
namespace {

// A queued-packet message as the kernel sends it: packet header first, then a mark, then a
// payload of `payload_len` bytes.
std::vector<char> queuedMessage(uint16_t queue, uint32_t id, size_t payload_len) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE + payload_len);
  nlmsghdr* nlh = nfq_nlmsg_put(buf.data(), NFQNL_MSG_PACKET, queue);
  nfqnl_msg_packet_hdr ph{};
  ph.packet_id = htonl(id);
  ph.hw_protocol = htons(0x0800);
  mnl_attr_put(nlh, NFQA_PACKET_HDR, sizeof(ph), &ph);
  mnl_attr_put_u32(nlh, NFQA_MARK, htonl(0x10));
  std::vector<char> payload(payload_len, 0x45);
  mnl_attr_put(nlh, NFQA_PAYLOAD, payload.size(), payload.data());
  buf.resize(nlh->nlmsg_len);
  return buf;
}

TEST_CASE("the id of a message cut anywhere after its packet header is read") {
  const std::vector<char> msg = queuedMessage(101, 0xdeadbeef, 6000);
  constexpr size_t kThroughPacketHeader = NLMSG_HDRLEN + 4 + 4 + sizeof(nfqnl_msg_packet_hdr);
  for (size_t len : {kThroughPacketHeader, kThroughPacketHeader + 1, size_t{4608}, msg.size()}) {
    CAPTURE(len);
    auto id = idOfTruncatedMessage(msg.data(), len);
    REQUIRE(id.has_value());
    CHECK(id->queue == 101);
    CHECK(id->packet_id == 0xdeadbeef);
  }
}

TEST_CASE("a message cut before its packet header, or no message, yields no id") {
  const std::vector<char> msg = queuedMessage(100, 7, 100);
  constexpr size_t kThroughPacketHeader = NLMSG_HDRLEN + 4 + 4 + sizeof(nfqnl_msg_packet_hdr);
  for (size_t len = 0; len < kThroughPacketHeader; ++len) {
    CAPTURE(len);
    CHECK_FALSE(idOfTruncatedMessage(msg.data(), len).has_value());
  }
  CHECK_FALSE(idOfTruncatedMessage(nullptr, 100).has_value());
  // A length field smaller than the headers is not trusted.
  std::vector<char> lying = msg;
  reinterpret_cast<nlmsghdr*>(lying.data())->nlmsg_len = 8;
  CHECK_FALSE(idOfTruncatedMessage(lying.data(), lying.size()).has_value());
}

}  // namespace
}  // namespace muzzle

// runNetlinkMessages: libmnl's callback loop, but a message whose length runs past the buffer
// (however large) ends the loop as an error instead of a read beyond the buffer.
// parseQueuedPacket: a queued-packet message as the kernel sends it becomes a QueuedPacket whose
// payload points into the message; a message without a packet header, with an attribute too
// short for its type, or with one running past the message, is refused. idOfTruncatedMessage: a
// queued-packet message cut short by a too-small receive slot still yields its queue and packet id
// (so the packet gets a verdict); anything shorter yields none.
#include "fw/nfq/nfq_wire.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter/nfnetlink_queue.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <vector>

namespace muzzle {
namespace MUZZLE_UNITY_ID {

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

// The message's callback loop, as NfqPacketQueue runs it: one parse per netlink message.
struct Parsed {
  int messages = 0;
  int parsed = 0;
  QueuedPacket last;
};

Parsed parseAll(const std::vector<char>& buf, int* rc = nullptr) {
  Parsed out;
  const int result = runNetlinkMessages(
      buf.data(), buf.size(), 0, 0,
      [](const nlmsghdr* nlh, void* data) {
        auto* p = static_cast<Parsed*>(data);
        ++p->messages;
        if (parseQueuedPacket(nlh, &p->last)) ++p->parsed;
        return MNL_CB_OK;
      },
      &out);
  if (rc != nullptr) *rc = result;
  return out;
}

TEST_CASE("a message claiming more bytes than the buffer holds ends the loop as an error") {
  // What the fuzzer found: 2.4 GB claimed in a 16-byte buffer. libmnl's signed comparison let
  // it through and its loop jumped that far past the buffer.
  const std::vector<char> huge = {'\x78', '\xf5', '\x93', '\x93', '\x93', 0,      0,      0,
                                  0,      0,      0,      0,      0,      '\x30', '\xf4', ','};
  int rc = 0;
  CHECK(parseAll(huge, &rc).messages == 0);
  CHECK(rc == MNL_CB_ERROR);

  // Whole messages before a bad one are still read; the bad one makes the buffer an error.
  std::vector<char> two = queuedMessage(100, 7, 20);
  const size_t first = two.size();
  two.resize(first + 16, 0);
  const uint32_t claimed = 0x80000010;
  std::memcpy(two.data() + first, &claimed, sizeof(claimed));
  Parsed p = parseAll(two, &rc);
  CHECK(p.parsed == 1);
  CHECK(p.last.packet_id == 7);
  CHECK(rc == MNL_CB_ERROR);

  // A clean buffer is what mnl_cb_run says it is.
  p = parseAll(queuedMessage(100, 8, 20), &rc);
  CHECK(p.parsed == 1);
  CHECK(rc == MNL_CB_OK);
}

TEST_CASE("a queued-packet message is read into a QueuedPacket") {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = nfq_nlmsg_put(buf.data(), NFQNL_MSG_PACKET, 101);
  nfqnl_msg_packet_hdr ph{};
  ph.packet_id = htonl(42);
  ph.hw_protocol = htons(0x86dd);
  ph.hook = 1;
  mnl_attr_put(nlh, NFQA_PACKET_HDR, sizeof(ph), &ph);
  mnl_attr_put_u32(nlh, NFQA_MARK, htonl(0x50));
  mnl_attr_put_u32(nlh, NFQA_IFINDEX_INDEV, htonl(7));
  mnl_attr_put_u32(nlh, NFQA_IFINDEX_OUTDEV, htonl(3));
  mnl_attr_put_u32(nlh, NFQA_IFINDEX_PHYSINDEV, htonl(9));
  nfqnl_msg_packet_hw hw{};
  hw.hw_addrlen = htons(6);
  const uint8_t mac[6] = {0x44, 0x47, 0xcc, 0, 0, 0x11};
  std::copy(std::begin(mac), std::end(mac), hw.hw_addr);
  mnl_attr_put(nlh, NFQA_HWADDR, sizeof(hw), &hw);
  mnl_attr_put_u32(nlh, NFQA_CAP_LEN, htonl(1500));
  const char payload[] = "\x60 header bytes";
  mnl_attr_put(nlh, NFQA_PAYLOAD, sizeof(payload), payload);
  buf.resize(nlh->nlmsg_len);

  Parsed p = parseAll(buf);
  REQUIRE(p.parsed == 1);
  CHECK(p.last.queue == 101);
  CHECK(p.last.packet_id == 42);
  CHECK(p.last.hook == 1);
  CHECK(p.last.l3_protocol == 0x86dd);
  CHECK(p.last.mark == 0x50);
  CHECK(p.last.indev == 7);
  CHECK(p.last.outdev == 3);
  CHECK(p.last.physindev == 9);
  REQUIRE(p.last.hwaddr.has_value());
  CHECK(p.last.hwaddr->toString() == "44:47:cc:00:00:11");
  CHECK(p.last.wire_length == 1500);
  CHECK(p.last.payload.size() == sizeof(payload));
  // The payload is the message's own bytes, not a copy.
  CHECK(reinterpret_cast<const char*>(p.last.payload.data()) > buf.data());
  CHECK(reinterpret_cast<const char*>(p.last.payload.data() + p.last.payload.size()) <=
        buf.data() + buf.size());
}

TEST_CASE("without a packet header, or with an attribute too short for its type, nothing is read") {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = nfq_nlmsg_put(buf.data(), NFQNL_MSG_PACKET, 100);
  mnl_attr_put_u32(nlh, NFQA_MARK, htonl(0x10));
  buf.resize(nlh->nlmsg_len);
  Parsed none = parseAll(buf);
  CHECK(none.messages == 1);
  CHECK(none.parsed == 0);

  std::vector<char> shorter = queuedMessage(100, 7, 10);
  nlh = reinterpret_cast<nlmsghdr*>(shorter.data());
  // A two-byte mark after the packet header: the kernel never sends it; it is refused whole.
  shorter.resize(MNL_SOCKET_BUFFER_SIZE);
  const uint16_t half = 1;
  mnl_attr_put(nlh, NFQA_MARK, sizeof(half), &half);
  shorter.resize(nlh->nlmsg_len);
  CHECK(parseAll(shorter).parsed == 0);
}

TEST_CASE("an attribute running past the message's own length is refused, not read") {
  // libmnl checks attributes against the message's length rounded up to 4, so a last attribute
  // may run up to 3 bytes past nlmsg_len: past the end of the receive buffer when the message
  // ends it. The kernel always pads; a message that does not is refused whole.
  for (size_t short_by : {size_t{1}, size_t{2}, size_t{3}}) {
    CAPTURE(short_by);
    std::vector<char> msg = queuedMessage(100, 9, 8);  // the payload ends the message
    const size_t claimed = msg.size() - short_by;
    reinterpret_cast<nlmsghdr*>(msg.data())->nlmsg_len = static_cast<uint32_t>(claimed);
    msg.resize(claimed);
    msg.shrink_to_fit();
    CHECK(parseAll(msg).parsed == 0);
  }
  CHECK(parseAll(queuedMessage(100, 9, 5)).parsed == 1);  // as the kernel pads it: read
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

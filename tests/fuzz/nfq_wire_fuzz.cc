// libFuzzer target for the kernel's queue messages: a receive buffer of netlink messages ->
// runNetlinkMessages (libmnl's callback loop behind our length checks, as
// NfqPacketQueue::drain runs it) -> parseQueuedPacket, and
// idOfTruncatedMessage on the buffer and on a cut of it (a message longer than its receive
// slot). Each packet read is then parsed (parsePacket), the Judge's first step.
// Oracle: the sanitizers on our code (libmnl and libnetfilter_queue are not instrumented), and:
// every payload lies inside the buffer; its wire length is what the kernel said.
#include <libmnl/libmnl.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "fw/nfq/nfq_wire.h"
#include "fw/packet/packet.h"

namespace {

struct Context {
  const char* begin;
  const char* end;
};

int onMessage(const nlmsghdr* nlh, void* data) {
  const auto& ctx = *static_cast<const Context*>(data);
  muzzle::QueuedPacket p;
  if (!muzzle::parseQueuedPacket(nlh, &p)) return MNL_CB_OK;
  const auto* payload = reinterpret_cast<const char*>(p.payload.data());
  if (!p.payload.empty() && (payload < ctx.begin || payload + p.payload.size() > ctx.end)) {
    std::abort();
  }
  muzzle::PacketInfo info;
  (void)muzzle::parsePacket(p.payload, p.wire_length, &info);
  return MNL_CB_OK;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A buffer of exactly the input's size, aligned as a receive buffer is.
  std::vector<char> buf(data, data + size);
  Context ctx{buf.data(), buf.data() + buf.size()};
  (void)muzzle::runNetlinkMessages(buf.data(), buf.size(), 0, 0, onMessage, &ctx);
  (void)muzzle::idOfTruncatedMessage(buf.data(), buf.size());
  if (size > 1) {
    // The same bytes cut short, as a receive slot too small for the message leaves them.
    const size_t cut = size_t{static_cast<uint8_t>(buf[size - 1])} % size;
    std::vector<char> prefix(buf.begin(), buf.begin() + static_cast<long>(cut));
    (void)muzzle::idOfTruncatedMessage(prefix.data(), prefix.size());
  }
  return 0;
}

// DnsTcpStreams: DNS over TCP (RFC 1035 4.2.2, RFC 7766), reassembled per connection and
// direction, so that a DNS message is read only where one really starts. On TCP a message is a
// 2-byte length and that many bytes, back to back from the first byte after the SYN; segment
// boundaries mean nothing. Reading a segment as if it started a message would let anyone who
// chooses where segments are cut (a device sets its window and MSS; a record's text can spell a
// length and a message) make Muzzle read a message no resolver sent.
//
// What it does, per stream (one direction of one connection):
//   - a stream starts only at a SYN (or SYN-ACK) it sees, so the first message boundary is
//     known: the byte after the SYN. Data on a connection whose SYN it did not see (muzzled
//     restarted, the stream was pushed out) is never read (`untracked`);
//   - bytes are read in sequence order only. Bytes already read (retransmissions) are skipped;
//     where a retransmission overlaps bytes still held for an unfinished message and differs,
//     which bytes the receiver keeps is unknowable, so the stream is `lost`;
//   - a segment that leaves a hole (out of order, or a segment not seen): if the hole lies
//     inside a message whose length is known, that message is skipped (`messages_skipped`) and
//     the next one, whose start is then known, is read again; if the hole may hold a length
//     prefix, no later boundary can be proven and the stream is `lost` (nothing more is read
//     from it). Muzzle never guesses where a message starts;
//   - whole messages go to the DnsMessageSink, without their length prefix. A message that
//     fits in one segment is handed over in place; one split over segments is copied into the
//     stream's buffer until it is whole;
//   - a FIN ends its direction, an RST both; a stream idle for `idle` is freed when room is needed.
// Bounds (all allocated at construction; nothing is allocated per packet): at most `total`
// streams (kDnsMaxTcpStreams, the least recently used pushed out first), `per_device` per
// device (kDnsMaxTcpStreamsPerDevice, its least recently used first), and a buffer of
// kDnsTcpMaxBuffered bytes per stream: the largest DNS message and its length prefix, so every
// message can be reassembled. The buffers are reserved, not touched, up front: memory is used
// only as long messages arrive (at most total * kDnsTcpMaxBuffered, ~4 MB).
// Packets are never changed or held: this only decides what Muzzle reads.
//
// Time comes from the Clock seam. Not thread-safe: the Judge owns it (under its lock).
#pragma once

#include <boost/intrusive/list.hpp>
#include <boost/intrusive/unordered_set.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>

#include "fw/common/clock.h"
#include "fw/dns/dns_flow.h"

namespace muzzle {

constexpr size_t kDnsMaxTcpStreams = 64;
constexpr size_t kDnsMaxTcpStreamsPerDevice = 8;
constexpr size_t kDnsTcpMaxBuffered = 2 + 65535;
constexpr std::chrono::seconds kDnsTcpStreamIdle{30};

struct DnsTcpLimits {
  size_t total = kDnsMaxTcpStreams;
  size_t per_device = kDnsMaxTcpStreamsPerDevice;
  std::chrono::seconds idle = kDnsTcpStreamIdle;
};

// The TCP facts of one segment, read from its header by the caller.
struct DnsTcpSegment {
  uint32_t seq = 0;
  bool syn = false;
  bool fin = false;
  bool rst = false;
  std::span<const uint8_t> payload;
};

class DnsMessageSink {
 public:
  virtual ~DnsMessageSink() = default;
  // One whole DNS message read from `flow` in one direction. `message` is valid only during the
  // call; the sink must not call back into the DnsTcpStreams.
  virtual void onDnsTcpMessage(const DnsFlowKey& flow, bool from_device,
                               std::span<const uint8_t> message) = 0;
};

// What a segment did to its stream, for the caller's log line.
enum class DnsTcpResult : uint8_t {
  kOk,              // read (or nothing to read: a bare ACK, a retransmission)
  kUntracked,       // data on a connection without a stream: not read
  kMessageSkipped,  // a hole inside a message: that message is not read, the stream goes on
  kLost,            // a hole that may hold a boundary, or an overlap that differs: no more reading
};
const char* dnsTcpResultName(DnsTcpResult r);

struct DnsTcpCounters {
  uint64_t evictions = 0;         // streams pushed out for room before their connection ended
  uint64_t reassembled = 0;       // messages read whole after arriving in several segments
  uint64_t untracked = 0;         // data segments not read: no stream, or a lost one
  uint64_t messages_skipped = 0;  // messages not read because bytes of them were not seen
  uint64_t lost = 0;              // streams that lost their message boundaries
  uint64_t overlap_mismatch = 0;  // of those, by a retransmission with different bytes
};

class DnsTcpStreams {
 public:
  // "*clock" must outlive the table. Limits of 0 are taken as 1.
  explicit DnsTcpStreams(const Clock& clock, DnsTcpLimits limits = {});
  ~DnsTcpStreams();
  DnsTcpStreams(const DnsTcpStreams&) = delete;
  DnsTcpStreams& operator=(const DnsTcpStreams&) = delete;

  // One segment of `flow` (from the device when `from_device`, else from the resolver), in the
  // order the queue delivers them. Calls `sink` for each message it completes.
  DnsTcpResult onSegment(const DnsFlowKey& flow, bool from_device, const DnsTcpSegment& segment,
                         DnsMessageSink& sink);

  size_t size() const;
  const DnsTcpCounters& counters() const { return counters_; }

 private:
  using Time = std::chrono::steady_clock::time_point;
  using ListHook = boost::intrusive::list_member_hook<>;
  struct Key {
    DnsFlowKey flow;
    bool from_device = false;
    bool operator==(const Key&) const = default;
  };
  struct Stream {
    boost::intrusive::unordered_set_member_hook<> by_key;
    ListHook by_use;  // in use: least recently used first; otherwise the free list
    Key key;
    uint32_t isn = 0;
    uint32_t next = 0;  // sequence number of the next byte to read
    uint32_t skip = 0;  // bytes left of a message that is not read
    uint32_t held = 0;  // bytes of the current message in `buffer`, its length prefix included
    bool lost = false;
    uint8_t* buffer = nullptr;  // kDnsTcpMaxBuffered bytes
    Time last_used;
  };
  struct KeyOf {
    using type = Key;
    const Key& operator()(const Stream& s) const { return s.key; }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return hashDnsFlow(k.flow) ^ k.from_device; }
  };
  using StreamSet = boost::intrusive::unordered_set<
      Stream,
      boost::intrusive::member_hook<Stream, boost::intrusive::unordered_set_member_hook<>,
                                    &Stream::by_key>,
      boost::intrusive::key_of_value<KeyOf>, boost::intrusive::hash<KeyHash>,
      boost::intrusive::power_2_buckets<true>>;
  using UseList =
      boost::intrusive::list<Stream,
                             boost::intrusive::member_hook<Stream, ListHook, &Stream::by_use>>;

  Stream* find(const Key& key);
  Stream* open(const Key& key, uint32_t isn, Time now);
  void release(Stream& s);
  DnsTcpResult read(Stream& s, uint32_t seq, std::span<const uint8_t> data, DnsMessageSink& sink);
  DnsTcpResult lose(Stream& s);

  const Clock& clock_;
  DnsTcpLimits limits_;
  std::unique_ptr<uint8_t[]> buffers_;
  std::unique_ptr<Stream[]> streams_;
  std::unique_ptr<StreamSet::bucket_type[]> buckets_;
  std::unique_ptr<StreamSet> by_key_;
  UseList by_use_;
  UseList free_;
  DnsTcpCounters counters_;
};

}  // namespace muzzle

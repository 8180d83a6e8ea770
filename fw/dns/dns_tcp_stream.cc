#include "fw/dns/dns_tcp_stream.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace muzzle {
namespace {

size_t prefixLength(const uint8_t* p) { return size_t{p[0]} << 8 | p[1]; }

}  // namespace

const char* dnsTcpResultName(DnsTcpResult r) {
  switch (r) {
    case DnsTcpResult::kOk:
      return "ok";
    case DnsTcpResult::kUntracked:
      return "untracked";
    case DnsTcpResult::kMessageSkipped:
      return "message-skipped";
    case DnsTcpResult::kLost:
      return "lost";
  }
  return "unknown";
}

DnsTcpStreams::DnsTcpStreams(const Clock& clock, DnsTcpLimits limits)
    : clock_(clock), limits_(limits) {
  limits_.total = std::max<size_t>(limits_.total, 1);
  limits_.per_device = std::max<size_t>(limits_.per_device, 1);
  // Reserved, not written: pages are touched only when a long message is reassembled.
  buffers_ = std::make_unique_for_overwrite<uint8_t[]>(limits_.total * kDnsTcpMaxBuffered);
  streams_ = std::make_unique<Stream[]>(limits_.total);
  const size_t bucket_count = std::bit_ceil(limits_.total * 2);
  buckets_ = std::make_unique<StreamSet::bucket_type[]>(bucket_count);
  by_key_ = std::make_unique<StreamSet>(StreamSet::bucket_traits(buckets_.get(), bucket_count),
                                        KeyHash{});
  for (size_t i = 0; i < limits_.total; ++i) {
    streams_[i].buffer = buffers_.get() + i * kDnsTcpMaxBuffered;
    free_.push_back(streams_[i]);
  }
}

DnsTcpStreams::~DnsTcpStreams() {
  by_key_->clear();
  by_use_.clear();
  free_.clear();
}

size_t DnsTcpStreams::size() const { return by_key_->size(); }

DnsTcpStreams::Stream* DnsTcpStreams::find(const Key& key) {
  auto it = by_key_->find(key);
  return it == by_key_->end() ? nullptr : &*it;
}

void DnsTcpStreams::release(Stream& s) {
  by_key_->erase(by_key_->iterator_to(s));
  by_use_.erase(by_use_.iterator_to(s));
  free_.push_back(s);
}

DnsTcpStreams::Stream* DnsTcpStreams::open(const Key& key, uint32_t isn, Time now) {
  // Idle streams first: a connection that went quiet without a FIN (its end was not seen).
  while (!by_use_.empty() && now - by_use_.front().last_used >= limits_.idle) {
    release(by_use_.front());
  }
  // The device's own streams before anyone else's: a device opening many connections pushes
  // out only its own. A linear walk: the table is small, and this runs once per connection.
  size_t own = 0;
  Stream* own_oldest = nullptr;
  for (Stream& s : by_use_) {
    if (s.key.flow.device != key.flow.device) continue;
    if (own_oldest == nullptr) own_oldest = &s;
    ++own;
  }
  if (own >= limits_.per_device && own_oldest != nullptr) {
    release(*own_oldest);
    ++counters_.evictions;
  }
  if (free_.empty()) {
    release(by_use_.front());
    ++counters_.evictions;
  }
  Stream& s = free_.front();
  free_.pop_front();
  s.key = key;
  s.isn = isn;
  s.next = isn + 1;
  s.skip = 0;
  s.held = 0;
  s.lost = false;
  s.last_used = now;
  by_key_->insert(s);
  by_use_.push_back(s);
  return &s;
}

DnsTcpResult DnsTcpStreams::lose(Stream& s) {
  s.lost = true;
  s.held = 0;
  s.skip = 0;
  ++counters_.lost;
  return DnsTcpResult::kLost;
}

DnsTcpResult DnsTcpStreams::onSegment(const DnsFlowKey& flow, bool from_device,
                                      const DnsTcpSegment& seg, DnsMessageSink& sink) {
  const Time now = clock_.now();
  const Key key{flow, from_device};
  Stream* s = find(key);
  if (seg.rst) {
    // The connection is over in both directions.
    if (s != nullptr) release(*s);
    if (Stream* other = find(Key{flow, !from_device})) release(*other);
    return DnsTcpResult::kOk;
  }
  uint32_t seq = seg.seq;
  if (seg.syn) {
    // A retransmitted SYN (same ISN) changes nothing; another ISN is a new connection on the
    // same addresses and ports.
    if (s == nullptr || s->isn != seg.seq) {
      if (s != nullptr) release(*s);
      s = open(key, seg.seq, now);
    }
    seq = seg.seq + 1;  // data on a SYN (TCP Fast Open) starts after it
  }
  DnsTcpResult result = DnsTcpResult::kOk;
  if (s == nullptr || s->lost) {
    if (!seg.payload.empty()) {
      ++counters_.untracked;
      result = DnsTcpResult::kUntracked;
    }
  } else {
    s->last_used = now;
    by_use_.erase(by_use_.iterator_to(*s));
    by_use_.push_back(*s);
    if (!seg.payload.empty()) result = read(*s, seq, seg.payload, sink);
  }
  if (seg.fin && s != nullptr) release(*s);
  return result;
}

DnsTcpResult DnsTcpStreams::read(Stream& s, uint32_t seq, std::span<const uint8_t> data,
                                 DnsMessageSink& sink) {
  DnsTcpResult result = DnsTcpResult::kOk;
  // Sequence numbers wrap: the distance is taken modulo 2^32 and read as signed.
  const int32_t ahead = static_cast<int32_t>(seq - s.next);
  if (ahead < 0) {
    // Starts before the next byte to read: a retransmission, perhaps with new bytes after.
    const size_t back = static_cast<size_t>(-static_cast<int64_t>(ahead));
    const size_t overlap = std::min(back, data.size());
    // Bytes still held for the current message can be compared; older ones were read already.
    const size_t first_held = back > s.held ? back - s.held : 0;
    for (size_t i = first_held; i < overlap; ++i) {
      if (data[i] != s.buffer[s.held - (back - i)]) {
        ++counters_.overlap_mismatch;
        return lose(s);
      }
    }
    data = data.subspan(overlap);
    if (data.empty()) return result;
  } else if (ahead > 0) {
    // A hole of `ahead` bytes. Skippable only if it ends inside (or at the end of) the current
    // message, whose length must then be known.
    size_t remaining = 0;
    if (s.skip > 0) {
      remaining = s.skip;
    } else if (s.held >= 2) {
      remaining = 2 + prefixLength(s.buffer) - s.held;
    } else {
      return lose(s);  // the hole may hold a length prefix
    }
    if (static_cast<size_t>(ahead) > remaining) return lose(s);
    ++counters_.messages_skipped;
    result = DnsTcpResult::kMessageSkipped;
    s.held = 0;
    s.skip = static_cast<uint32_t>(remaining - static_cast<size_t>(ahead));
    s.next = seq;
  }
  s.next += static_cast<uint32_t>(data.size());
  while (!data.empty()) {
    if (s.skip > 0) {
      const size_t n = std::min<size_t>(s.skip, data.size());
      s.skip -= static_cast<uint32_t>(n);
      data = data.subspan(n);
      continue;
    }
    if (s.held == 0 && data.size() >= 2 && data.size() >= 2 + prefixLength(data.data())) {
      // The whole message is in this segment: read it where it is.
      const size_t length = prefixLength(data.data());
      sink.onDnsTcpMessage(s.key.flow, s.key.from_device, data.subspan(2, length));
      data = data.subspan(2 + length);
      continue;
    }
    // Split over segments: gather it. held < 2 means the length itself is still incomplete.
    const size_t want = s.held < 2 ? 2 - s.held : 2 + prefixLength(s.buffer) - s.held;
    const size_t n = std::min(want, data.size());
    std::memcpy(s.buffer + s.held, data.data(), n);
    s.held += static_cast<uint32_t>(n);
    data = data.subspan(n);
    if (s.held >= 2 && s.held == 2 + prefixLength(s.buffer)) {
      ++counters_.reassembled;
      sink.onDnsTcpMessage(s.key.flow, s.key.from_device,
                           std::span<const uint8_t>(s.buffer + 2, s.held - 2));
      s.held = 0;
    }
  }
  return result;
}

}  // namespace muzzle

// ConnectionCounts: how many connections each device holds, for the connection limit
// (muzzled.yaml `flood_guard.connections`), counted by muzzled.
//
// Why: conntrack has room for so many connections, and a device that holds them by the thousand
// (a hacked camera opening connections to a destination its policy allows, and keeping them)
// would leave none for the other devices' new flows. The kernel can count a device's connections
// itself (nf_conncount, `ct count`), but it does so by walking the device's whole list, looking
// each entry up in conntrack's table, every time the device opens one (at most once a tick): on
// the bench's gateway ~90 ns per connection the device holds, for every new flow, on the queue
// thread (tests/bench/HISTORY.md, "The connection limit measured"). muzzled already judges each
// new flow and already reads every allowed connection every accounting interval, so it counts
// for a few nanoseconds a flow instead.
//
// How: an allowed verdict for a connection's first packet (the ruleset's kHintNewConnection)
// adds one to its device's count, or, when the device holds `limit` already, is refused: the
// Judge drops the packet (NF_DROP: no conntrack entry stays, the device's retry is judged again)
// and the refusal is counted for the device. Every accounting interval the counts are made anew
// from the dump of the conntrack table, by the device each live connection's label names: the
// table sets a connection's label to its sender's MAC address on its first packet (`ask`, `ct
// label set ether saddr`), so the recount needs no address to device lookup, which a device could
// defeat by using more source addresses than its address bindings keep (16): a device that closed
// connections gets its room back within one interval, and a count can never drift from the table
// for longer. A TCP connection in TIME_WAIT or CLOSE is not counted, as the kernel's count does
// not; a connection without such a label (opened before the table) counts for no device.
// Connections admitted while the dump runs may or may not be in it: they are added to the recount
// as well (beginRecount), so a count may be a few over until the next, never under.
//
// Between two recounts a count only grows: connections that ended meanwhile still count. A device
// that opens many short connections (an NVR on a segment fetching snapshots, 100 a second) would
// reach the limit on connections it no longer holds. So a refusal asks for a recount at once
// (wantsRecount(): at most one request every kRecountSpacing), and the Judge's owner reads the
// table then instead of at its next interval: the device's retry (a TCP SYN's comes after a
// second) meets the count of what it holds. A device held at its limit and retrying would so
// have the whole conntrack table read once a second, which on a large table takes the engine
// thread a good part of that second: the requests are also spaced by kRecountDutyFactor times
// what the last recount took, so they cost it at most a twentieth of its time, whatever the
// table's size.
//
// Bounded: one entry per device that opened a connection since the last recount or held one at
// it (devices the inventory admitted), one per device refused in the last kRefusalMemory. admit()
// allocates only for a device's first connection since the last recount. Not thread-safe: the
// Judge owns it, under its lock; the recount's map is built outside it.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "fw/common/clock.h"
#include "fw/common/keyed_hash.h"
#include "fw/common/net.h"

namespace muzzle {

class ConnectionCounts {
 public:
  // A device refused no connection for this long is no longer reported as at its limit, and its
  // refusals are forgotten (the kernel's count of them was forgotten after as long).
  static constexpr std::chrono::minutes kRefusalMemory{2};
  // Refusals ask for a recount at most this often, and not this soon after one began...
  static constexpr std::chrono::seconds kRecountSpacing{1};
  // ... nor sooner than this many times what the last recount took (beginRecount() to
  // finishRecount()) after it began.
  static constexpr int kRecountDutyFactor = 20;
  struct Refusals {
    MacAddress device;
    uint64_t refused = 0;  // since its first refusal after it was last forgotten
  };

  // "*clock" must outlive the ConnectionCounts. `limit`: the most connections a device may hold;
  // 0: off (admit() always says yes and counts nothing).
  ConnectionCounts(const Clock& clock, uint32_t limit) : clock_(clock), limit_(limit) {}

  bool on() const { return limit_ > 0; }
  // From now on admit() says yes and counts nothing: the kernel counts instead (the Judge's owner
  // found the kernel without the conntrack labels the recount needs). Before the packet path runs.
  void turnOff() { limit_ = 0; }

  // Packet path: an allowed new connection of `device`. True, and counted, while the device holds
  // fewer than the limit; false, and the refusal counted, when not.
  bool admit(MacAddress device);

  // After admit() said no: whether to ask for a recount now (true at most once every
  // kRecountSpacing, never that soon after beginRecount(), nor kRecountDutyFactor times the last
  // recount's time; never while one is under way).
  bool wantsRecount();

  // Before accounting's dump is asked for: from now until finishRecount(), admitted connections
  // are also set aside.
  void beginRecount();
  // The recount: `live` (MacAddress::value -> its connections alive at the dump) becomes every
  // device's count, plus what was admitted since beginRecount(); a device not in it holds none.
  // Returns the counts it replaced, to be freed outside the owner's lock.
  MacMap<uint32_t> finishRecount(MacMap<uint32_t> live);
  // The dump failed or read too little: the counts stay, only grown since.
  void abandonRecount();

  uint32_t count(MacAddress device) const;
  // Refusals since start, every device's.
  uint64_t refused() const { return refused_total_; }
  // The devices refused in the last kRefusalMemory, in no order; forgets the others.
  std::vector<Refusals> refusals();

 private:
  struct Refused {
    uint64_t count = 0;
    std::chrono::steady_clock::time_point last{};
  };
  const Clock& clock_;
  uint32_t limit_;
  MacMap<uint32_t> counts_;
  bool recounting_ = false;
  MacMap<uint32_t> since_begin_;  // admitted since beginRecount()
  MacMap<Refused> refused_;
  uint64_t refused_total_ = 0;
  std::chrono::steady_clock::time_point last_recount_{};  // begun or asked for
  std::chrono::steady_clock::time_point recount_began_{};
  std::chrono::steady_clock::duration last_recount_took_{};  // the last that finished
};

}  // namespace muzzle

// AddressBindings: which device owns each IP address on the managed segments, and on what
// evidence. The Judge asks it who a packet's destination is (the far end of a flow is judged by
// its owner's profile) and whether a packet's source address is the sender's to use.
//
// Evidence, strongest first:
//   lease      the box's own DHCP server acknowledged the address to the device (DHCPACK seen
//              leaving the box): the binding holds until the lease runs out (at most kMaxLease),
//              however quiet the device is;
//   seen       a queued packet from the device used the address first (or after the previous
//              owner's binding had lapsed);
//   neighbour  the kernel's neighbour table (ARP/NDP) answered for an address nobody had: the
//              weakest, because any device can poison the box's ARP cache with gratuitous ARP.
//
// Rules (the same for IPv4 and IPv6; every address of a device is its own binding):
//   - A binding is live while its lease is valid, or while its owner was active within the hold
//     time (setHold; kDefaultHold). Activity is a queued packet from the owner with that source
//     address, or the neighbour table confirming the owner's Ethernet address for it (REACHABLE,
//     DELAY, PROBE or PERMANENT: the box exchanged frames with it moments ago). The second keeps
//     a device whose only traffic is one long-lived flow (never queued again) bound.
//   - A packet from another device whose source is bound live elsewhere is a spoof: the claim
//     changes nothing (kSpoof) and the Judge drops the packet.
//   - A lapsed binding (no valid lease, owner idle past the hold time) moves to the first device
//     that uses the address (takeOver: "owner-gone").
//   - A lease moves the address at once, whoever held it ("lease"): the DHCP server is the
//     authority for the addresses it hands out.
//   - The neighbour table never moves a bound address and never gives an address to anyone but
//     for an address with no binding at all; for the owner's own address it only refreshes
//     activity. So a poisoned ARP cache can at worst withhold an owner's presence evidence.
//   - Not bound, never a spoof: the unspecified address, multicast, limited broadcast and
//     loopback. Link-local addresses (169.254/16, fe80::/10) are bound per segment: the same
//     link-local address on two segments belongs to two devices.
//
// Bounds: at most `capacity` bindings and kMaxPerDevice per device (a device past it loses its
// own least recently active binding). When the table is full, lapsed bindings are swept (at most
// once per kSweepInterval); if none has lapsed the new address is not bound (kFull, counted):
// a flood of made-up source addresses can never push a live binding out and take its address.
//
// Pure value code: no I/O, no exceptions. Not thread-safe: the DeviceInventory that holds it is
// owned by the Judge, under its lock. "*clock" must outlive it.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "fw/common/clock.h"
#include "fw/common/keyed_hash.h"
#include "fw/common/net.h"
#include "muzzle/v1/inventory.pb.h"

namespace muzzle {

enum class BindingEvidence : uint8_t { kNeighbour, kSeen, kLease };
std::string_view evidenceName(BindingEvidence e);

struct AddressBinding {
  MacAddress owner;
  BindingEvidence evidence = BindingEvidence::kSeen;
  std::chrono::steady_clock::time_point since;        // when the owner got the address
  std::chrono::steady_clock::time_point last_active;  // last packet or neighbour confirmation
  std::chrono::steady_clock::time_point lease_until;  // with evidence kLease
};

enum class ClaimOutcome : uint8_t {
  kNotBindable,  // unspecified, multicast, broadcast, loopback: nothing recorded
  kOwner,        // already the claimant's: activity refreshed
  kBound,        // had no owner: now the claimant's
  kMoved,        // moved to the claimant from `owner` (lapsed binding, or a lease)
  kSpoof,        // live binding of `owner`: nothing changed
  kOwnerIdle,    // `owner`'s binding looks lapsed; nothing changed yet (see takeOver)
  kFull,         // had no owner, but the table is full of live bindings: not bound
};

struct Claim {
  ClaimOutcome outcome = ClaimOutcome::kNotBindable;
  MacAddress owner;  // the previous owner, for kMoved, kSpoof and kOwnerIdle
};

struct BindingCounters {
  uint64_t moved = 0;                // addresses that changed owner (lease or owner gone)
  uint64_t full = 0;                 // addresses left unbound because the table was full
  uint64_t swept = 0;                // lapsed bindings removed to make room
  uint64_t over_device_limit = 0;    // bindings a device lost by going past kMaxPerDevice
  uint64_t neighbour_conflicts = 0;  // neighbour entries naming another owner: ignored
};

class AddressBindings {
 public:
  static constexpr std::chrono::seconds kDefaultHold{600};
  static constexpr std::chrono::seconds kMaxLease{7 * 24 * 3600};  // an infinite lease counts so
  static constexpr std::chrono::seconds kSweepInterval{1};
  static constexpr size_t kMaxPerDevice = 16;  // IPv4 + link-local + SLAAC + privacy addresses

  AddressBindings(size_t capacity, const Clock& clock) : capacity_(capacity), clock_(clock) {}

  void setHold(std::chrono::seconds hold) { hold_ = hold; }
  std::chrono::seconds hold() const { return hold_; }

  // A queued packet from `mac` (on `segment`) has source `ip`. Never moves a bound address:
  // kOwnerIdle says the owner looks gone, and the caller may look for fresher evidence (the
  // neighbour table, through neighbour()) before calling takeOver.
  Claim claim(MacAddress mac, const IpAddress& ip, int segment);
  // As claim, but a lapsed binding moves to `mac` (kMoved); a live one stays (kSpoof).
  Claim takeOver(MacAddress mac, const IpAddress& ip, int segment);
  // The box's DHCP server leased `ip` to `mac` for `lease` (capped at kMaxLease).
  Claim lease(MacAddress mac, const IpAddress& ip, int segment, std::chrono::seconds lease);
  // The kernel neighbour table says `ip` on `segment` is at `mac`; `confirmed` when the entry's
  // state shows a recent exchange. Binds only an address with no binding (kBound); refreshes the
  // owner's activity when it names the owner and is confirmed (kOwner); otherwise kSpoof or
  // kNotBindable, changing nothing.
  Claim neighbour(MacAddress mac, const IpAddress& ip, int segment, bool confirmed);

  // Whether a device can own `ip` at all (not unspecified, multicast, broadcast or loopback).
  static bool bindable(const IpAddress& ip) { return keyOf(ip, -1).has_value(); }
  std::optional<MacAddress> ownerOf(const IpAddress& ip, int segment) const;
  const AddressBinding* find(const IpAddress& ip, int segment) const;
  bool lapsed(const AddressBinding& b) const;

  size_t size() const { return bindings_.size(); }
  size_t capacity() const { return capacity_; }
  const BindingCounters& counters() const { return counters_; }

  // Saves every binding but link-local ones (their segment index means nothing to the next run).
  void save(v1::Inventory* out) const;
  // Replaces the contents with `in.bindings()`, mapping wall-clock times onto the monotonic
  // clock. Returns how many entries were unreadable or over capacity (skipped).
  size_t load(const v1::Inventory& in);
  // Binds `ip` to `mac` as last seen at `last_active`, if the address has no binding yet and
  // there is room: how an inventory saved before bindings existed is read back.
  void restoreSeen(MacAddress mac, const IpAddress& ip,
                   std::chrono::steady_clock::time_point last_active);

 private:
  struct Key {
    IpAddress ip;
    int zone = -1;  // the segment, for link-local addresses; -1 otherwise
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return static_cast<size_t>(keyedHash(k.ip, static_cast<uint32_t>(k.zone + 1)));
    }
  };

  static std::optional<Key> keyOf(const IpAddress& ip, int segment);
  // Adds a binding for a free key; false (counted) when there is no room.
  bool bind(const Key& key, MacAddress mac, BindingEvidence evidence);
  void moveTo(const Key& key, AddressBinding& b, MacAddress mac);
  void erase(const Key& key);
  void unlinkOwner(MacAddress owner, const Key& key);
  void linkOwner(MacAddress owner, const Key& key);
  bool makeRoom();

  size_t capacity_;
  const Clock& clock_;
  std::chrono::seconds hold_ = kDefaultHold;
  std::unordered_map<Key, AddressBinding, KeyHash> bindings_;
  MacMap<std::vector<Key>> by_owner_;  // MAC value -> its bindings
  std::chrono::steady_clock::time_point next_sweep_{};
  BindingCounters counters_;
};

// Remembers which (device, address) pairs were already reported, so a spoofer's event is
// written once per pair rather than once per packet. Bounded: the oldest of kCapacity pairs is
// forgotten first (and may then be reported again).
class ReportedPairs {
 public:
  static constexpr size_t kCapacity = 1024;
  // True the first time the pair is seen (while remembered).
  bool firstTime(MacAddress mac, const IpAddress& ip);

 private:
  struct Pair {
    uint64_t mac;
    IpAddress ip;
    bool operator==(const Pair&) const = default;
  };
  struct PairHash {
    size_t operator()(const Pair& p) const {
      return static_cast<size_t>(keyedHash(p.ip, p.mac));
    }
  };
  std::unordered_set<Pair, PairHash> seen_;
  std::deque<Pair> order_;
};

}  // namespace muzzle

#include "fw/device/address_bindings.h"

#include <algorithm>

namespace muzzle {
namespace {

using std::chrono::seconds;
using std::chrono::steady_clock;

int64_t toUnix(steady_clock::time_point t, steady_clock::time_point now, int64_t wall_now) {
  return wall_now - std::chrono::duration_cast<seconds>(now - t).count();
}

steady_clock::time_point fromUnix(int64_t unix, steady_clock::time_point now, int64_t wall_now) {
  return now - seconds(wall_now - unix);
}

bool linkLocal(const IpAddress& ip) {
  if (!ip.v6) return ip.bytes[0] == 169 && ip.bytes[1] == 254;
  return ip.bytes[0] == 0xfe && (ip.bytes[1] & 0xc0) == 0x80;
}

}  // namespace

std::string_view evidenceName(BindingEvidence e) {
  switch (e) {
    case BindingEvidence::kNeighbour:
      return "neighbour";
    case BindingEvidence::kSeen:
      return "seen";
    case BindingEvidence::kLease:
      return "lease";
  }
  return "seen";
}

std::optional<AddressBindings::Key> AddressBindings::keyOf(const IpAddress& ip, int segment) {
  if (ip.isUnspecified()) return std::nullopt;
  if (!ip.v6) {
    const uint8_t first = ip.bytes[0];
    // 0/8 "this network", 127/8 loopback, 224/4 multicast and everything above (240/4 reserved,
    // 255.255.255.255): no device owns these.
    if (first == 0 || first == 127 || first >= 224) return std::nullopt;
  } else {
    if (ip.bytes[0] == 0xff) return std::nullopt;  // multicast
    bool loopback = ip.bytes[15] == 1;
    for (int i = 0; i < 15 && loopback; ++i) loopback = ip.bytes[i] == 0;
    if (loopback) return std::nullopt;
  }
  return Key{ip, linkLocal(ip) ? segment : -1};
}

bool AddressBindings::lapsed(const AddressBinding& b) const {
  const auto now = clock_.now();
  const bool lease_valid = b.evidence == BindingEvidence::kLease && b.lease_until > now;
  return !lease_valid && now - b.last_active >= hold_;
}

Claim AddressBindings::claim(MacAddress mac, const IpAddress& ip, int segment) {
  auto key = keyOf(ip, segment);
  if (!key) return {ClaimOutcome::kNotBindable, {}};
  auto it = bindings_.find(*key);
  if (it == bindings_.end()) {
    return bind(*key, mac, BindingEvidence::kSeen) ? Claim{ClaimOutcome::kBound, {}}
                                                   : Claim{ClaimOutcome::kFull, {}};
  }
  AddressBinding& b = it->second;
  if (b.owner == mac) {
    b.last_active = clock_.now();
    // The owner's own packet is stronger than what the neighbour table said.
    if (b.evidence == BindingEvidence::kNeighbour) b.evidence = BindingEvidence::kSeen;
    return {ClaimOutcome::kOwner, mac};
  }
  return {lapsed(b) ? ClaimOutcome::kOwnerIdle : ClaimOutcome::kSpoof, b.owner};
}

Claim AddressBindings::takeOver(MacAddress mac, const IpAddress& ip, int segment) {
  Claim c = claim(mac, ip, segment);
  if (c.outcome != ClaimOutcome::kOwnerIdle) return c;
  auto it = bindings_.find(*keyOf(ip, segment));
  moveTo(it->first, it->second, mac);
  return {ClaimOutcome::kMoved, c.owner};
}

Claim AddressBindings::lease(MacAddress mac, const IpAddress& ip, int segment, seconds lease) {
  auto key = keyOf(ip, segment);
  if (!key) return {ClaimOutcome::kNotBindable, {}};
  const auto until = clock_.now() + std::min(lease, kMaxLease);
  Claim result{ClaimOutcome::kOwner, mac};
  auto it = bindings_.find(*key);
  if (it == bindings_.end()) {
    if (!bind(*key, mac, BindingEvidence::kLease)) return {ClaimOutcome::kFull, {}};
    it = bindings_.find(*key);
    result = {ClaimOutcome::kBound, {}};
  } else if (it->second.owner != mac) {
    result = {ClaimOutcome::kMoved, it->second.owner};
    moveTo(it->first, it->second, mac);
  }
  AddressBinding& b = it->second;
  b.evidence = BindingEvidence::kLease;
  b.lease_until = until;
  b.last_active = clock_.now();
  return result;
}

Claim AddressBindings::neighbour(MacAddress mac, const IpAddress& ip, int segment, bool confirmed) {
  auto key = keyOf(ip, segment);
  if (!key) return {ClaimOutcome::kNotBindable, {}};
  auto it = bindings_.find(*key);
  if (it == bindings_.end()) {
    return bind(*key, mac, BindingEvidence::kNeighbour) ? Claim{ClaimOutcome::kBound, {}}
                                                        : Claim{ClaimOutcome::kFull, {}};
  }
  AddressBinding& b = it->second;
  if (b.owner != mac) {
    ++counters_.neighbour_conflicts;
    return {ClaimOutcome::kSpoof, b.owner};
  }
  if (confirmed) b.last_active = std::max(b.last_active, clock_.now());
  return {ClaimOutcome::kOwner, mac};
}

std::optional<MacAddress> AddressBindings::ownerOf(const IpAddress& ip, int segment) const {
  const AddressBinding* b = find(ip, segment);
  if (b == nullptr) return std::nullopt;
  return b->owner;
}

const AddressBinding* AddressBindings::find(const IpAddress& ip, int segment) const {
  auto key = keyOf(ip, segment);
  if (!key) return nullptr;
  auto it = bindings_.find(*key);
  return it == bindings_.end() ? nullptr : &it->second;
}

bool AddressBindings::bind(const Key& key, MacAddress mac, BindingEvidence evidence) {
  if (bindings_.size() >= capacity_ && !makeRoom()) {
    ++counters_.full;
    return false;
  }
  const auto now = clock_.now();
  bindings_.emplace(key, AddressBinding{mac, evidence, now, now, {}});
  linkOwner(mac, key);
  return true;
}

void AddressBindings::moveTo(const Key& key, AddressBinding& b, MacAddress mac) {
  unlinkOwner(b.owner, key);
  const auto now = clock_.now();
  b = AddressBinding{mac, BindingEvidence::kSeen, now, now, {}};
  ++counters_.moved;
  linkOwner(mac, key);
}

void AddressBindings::erase(const Key& key) {
  auto it = bindings_.find(key);
  if (it == bindings_.end()) return;
  unlinkOwner(it->second.owner, key);
  bindings_.erase(it);
}

void AddressBindings::unlinkOwner(MacAddress owner, const Key& key) {
  auto it = by_owner_.find(owner.value);
  if (it == by_owner_.end()) return;
  auto& keys = it->second;
  keys.erase(std::remove(keys.begin(), keys.end(), key), keys.end());
  if (keys.empty()) by_owner_.erase(it);
}

void AddressBindings::linkOwner(MacAddress owner, const Key& key) {
  auto& keys = by_owner_[owner.value];
  keys.push_back(key);
  if (keys.size() <= kMaxPerDevice) return;
  // Past its limit a device loses its own least recently active address, never the new one:
  // a device cycling through made-up addresses only pushes out its own.
  auto victim = keys.end();
  for (auto k = keys.begin(); k + 1 != keys.end(); ++k) {
    if (victim == keys.end() || bindings_.at(*k).last_active < bindings_.at(*victim).last_active)
      victim = k;
  }
  const Key gone = *victim;
  ++counters_.over_device_limit;
  erase(gone);
}

bool AddressBindings::makeRoom() {
  const auto now = clock_.now();
  // A full scan, at most once per kSweepInterval: a flood of new source addresses against a
  // table full of live bindings costs one scan a second, not one per packet.
  if (now < next_sweep_) return false;
  next_sweep_ = now + kSweepInterval;
  std::vector<Key> gone;
  for (const auto& [key, b] : bindings_) {
    if (lapsed(b)) gone.push_back(key);
  }
  for (const Key& key : gone) erase(key);
  counters_.swept += gone.size();
  return bindings_.size() < capacity_;
}

void AddressBindings::save(v1::Inventory* out) const {
  const auto now = clock_.now();
  const int64_t wall = unixSeconds(clock_.wallNow());
  for (const auto& [key, b] : bindings_) {
    if (key.zone >= 0) continue;
    v1::AddressBinding* p = out->add_bindings();
    p->set_address(key.ip.toString());
    p->set_mac(b.owner.toString());
    p->set_evidence(std::string(evidenceName(b.evidence)));
    p->set_since_unix(toUnix(b.since, now, wall));
    p->set_last_active_unix(toUnix(b.last_active, now, wall));
    if (b.evidence == BindingEvidence::kLease)
      p->set_lease_until_unix(toUnix(b.lease_until, now, wall));
  }
}

size_t AddressBindings::load(const v1::Inventory& in) {
  bindings_.clear();
  by_owner_.clear();
  const auto now = clock_.now();
  const int64_t wall = unixSeconds(clock_.wallNow());
  size_t skipped = 0;
  for (const v1::AddressBinding& p : in.bindings()) {
    auto ip = IpAddress::parse(p.address());
    auto mac = MacAddress::parse(p.mac());
    auto key = ip ? keyOf(*ip, -1) : std::nullopt;
    if (!key || !mac || linkLocal(*ip) || bindings_.count(*key) > 0 ||
        bindings_.size() >= capacity_) {
      ++skipped;
      continue;
    }
    AddressBinding b;
    b.owner = *mac;
    b.evidence = p.evidence() == "lease"       ? BindingEvidence::kLease
                 : p.evidence() == "neighbour" ? BindingEvidence::kNeighbour
                                               : BindingEvidence::kSeen;
    b.since = fromUnix(p.since_unix(), now, wall);
    b.last_active = fromUnix(p.last_active_unix(), now, wall);
    b.lease_until = fromUnix(p.lease_until_unix(), now, wall);
    bindings_.emplace(*key, b);
    linkOwner(*mac, *key);
  }
  return skipped;
}

void AddressBindings::restoreSeen(MacAddress mac, const IpAddress& ip,
                                  steady_clock::time_point last_active) {
  auto key = keyOf(ip, -1);
  if (!key || linkLocal(ip) || bindings_.count(*key) > 0 || bindings_.size() >= capacity_) return;
  bindings_.emplace(*key,
                    AddressBinding{mac, BindingEvidence::kSeen, last_active, last_active, {}});
  linkOwner(mac, *key);
}

bool ReportedPairs::firstTime(MacAddress mac, const IpAddress& ip) {
  const Pair p{mac.value, ip};
  if (!seen_.insert(p).second) return false;
  order_.push_back(p);
  if (order_.size() > kCapacity) {
    seen_.erase(order_.front());
    order_.pop_front();
  }
  return true;
}

}  // namespace muzzle

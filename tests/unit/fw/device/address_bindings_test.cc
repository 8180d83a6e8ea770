// AddressBindings: who owns an address, on what evidence, and when it may move.
#include "fw/device/address_bindings.h"

#include <doctest/doctest.h>

#include <string>

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using std::chrono::seconds;

IpAddress ip(const char* t) { return *IpAddress::parse(t); }

const MacAddress kCam = *MacAddress::parse("44:47:cc:00:00:11");
const MacAddress kSpoofer = *MacAddress::parse("02:5a:00:00:00:99");
constexpr int kSeg = 0;

// Bindings for up to 64 addresses, on a clock the test moves. For TEST_CASE_FIXTURE.
struct Bindings {
  ManualClock clock;
  AddressBindings b{64, clock};
};

TEST_CASE_FIXTURE(
    Bindings,
    "the first device to use an address owns it; another device using it is a spoof and changes "
    "nothing") {
  CHECK(b.claim(kCam, ip("198.18.10.11"), kSeg).outcome == ClaimOutcome::kBound);
  CHECK(b.claim(kCam, ip("198.18.10.11"), kSeg).outcome == ClaimOutcome::kOwner);
  const auto active = b.find(ip("198.18.10.11"), kSeg)->last_active;
  clock.advance(seconds(30));
  Claim c = b.claim(kSpoofer, ip("198.18.10.11"), kSeg);
  CHECK(c.outcome == ClaimOutcome::kSpoof);
  CHECK(c.owner == kCam);
  // A spoof never moves the address, even when asked to take over: the owner is live.
  CHECK(b.takeOver(kSpoofer, ip("198.18.10.11"), kSeg).outcome == ClaimOutcome::kSpoof);
  CHECK(b.ownerOf(ip("198.18.10.11"), kSeg) == kCam);
  CHECK(b.find(ip("198.18.10.11"), kSeg)->last_active == active);  // not even the owner's activity
  CHECK(b.counters().moved == 0);
}

TEST_CASE_FIXTURE(
    Bindings,
    "an owner quiet past the hold time lets the next device take the address (owner gone)") {
  b.setHold(seconds(600));
  b.claim(kCam, ip("198.18.10.11"), kSeg);
  clock.advance(seconds(599));
  CHECK(b.claim(kSpoofer, ip("198.18.10.11"), kSeg).outcome == ClaimOutcome::kSpoof);
  clock.advance(seconds(1));
  Claim idle = b.claim(kSpoofer, ip("198.18.10.11"), kSeg);
  CHECK(idle.outcome == ClaimOutcome::kOwnerIdle);  // nothing moved yet: the caller may look again
  CHECK(b.ownerOf(ip("198.18.10.11"), kSeg) == kCam);
  Claim moved = b.takeOver(kSpoofer, ip("198.18.10.11"), kSeg);
  CHECK(moved.outcome == ClaimOutcome::kMoved);
  CHECK(moved.owner == kCam);
  CHECK(b.ownerOf(ip("198.18.10.11"), kSeg) == kSpoofer);
  CHECK(b.find(ip("198.18.10.11"), kSeg)->evidence == BindingEvidence::kSeen);
  // Now the old owner is the one without the address.
  CHECK(b.claim(kCam, ip("198.18.10.11"), kSeg).outcome == ClaimOutcome::kSpoof);
  CHECK(b.counters().moved == 1);
}

TEST_CASE_FIXTURE(
    Bindings,
    "a lease from the box's DHCP server moves an address at once and holds it while the device is "
    "quiet") {
  b.setHold(seconds(600));
  b.claim(kCam, ip("198.18.10.50"), kSeg);  // live, first seen
  Claim c = b.lease(kSpoofer, ip("198.18.10.50"), kSeg, seconds(3600));
  CHECK(c.outcome == ClaimOutcome::kMoved);
  CHECK(c.owner == kCam);
  CHECK(b.ownerOf(ip("198.18.10.50"), kSeg) == kSpoofer);
  CHECK(b.find(ip("198.18.10.50"), kSeg)->evidence == BindingEvidence::kLease);
  // Quiet for 50 minutes, past the hold time: the valid lease keeps the address.
  clock.advance(seconds(3000));
  CHECK(b.takeOver(kCam, ip("198.18.10.50"), kSeg).outcome == ClaimOutcome::kSpoof);
  // The lease runs out and the holder stays quiet: the address may move again.
  clock.advance(seconds(601));
  CHECK(b.takeOver(kCam, ip("198.18.10.50"), kSeg).outcome == ClaimOutcome::kMoved);
  // A renewal to the owner keeps it the owner; an infinite lease is capped.
  CHECK(b.lease(kCam, ip("198.18.10.50"), kSeg, seconds(0xffffffffu)).outcome ==
        ClaimOutcome::kOwner);
  CHECK(b.find(ip("198.18.10.50"), kSeg)->lease_until == clock.now() + AddressBindings::kMaxLease);
}

TEST_CASE_FIXTURE(Bindings,
                  "the neighbour table binds only free addresses and only confirms the owner") {
  b.setHold(seconds(600));
  CHECK(b.neighbour(kCam, ip("198.18.10.11"), kSeg, false).outcome == ClaimOutcome::kBound);
  CHECK(b.find(ip("198.18.10.11"), kSeg)->evidence == BindingEvidence::kNeighbour);
  // A poisoned ARP cache naming another device: ignored, counted.
  CHECK(b.neighbour(kSpoofer, ip("198.18.10.11"), kSeg, true).outcome == ClaimOutcome::kSpoof);
  CHECK(b.ownerOf(ip("198.18.10.11"), kSeg) == kCam);
  CHECK(b.counters().neighbour_conflicts == 1);
  // A confirmed entry for the owner keeps a device with one long quiet flow bound...
  clock.advance(seconds(590));
  b.neighbour(kCam, ip("198.18.10.11"), kSeg, true);
  clock.advance(seconds(590));
  CHECK(b.claim(kSpoofer, ip("198.18.10.11"), kSeg).outcome == ClaimOutcome::kSpoof);
  // ...a stale one does not.
  b.neighbour(kCam, ip("198.18.10.11"), kSeg, false);
  clock.advance(seconds(20));
  CHECK(b.claim(kSpoofer, ip("198.18.10.11"), kSeg).outcome == ClaimOutcome::kOwnerIdle);
  // The owner's own packet upgrades the evidence.
  b.claim(kCam, ip("198.18.10.11"), kSeg);
  CHECK(b.find(ip("198.18.10.11"), kSeg)->evidence == BindingEvidence::kSeen);
}

TEST_CASE_FIXTURE(
    Bindings,
    "IPv6: every address is its own binding; link-local is per segment; unspecified and multicast "
    "are never bound") {
  CHECK(b.claim(kCam, ip("fd00:10::11"), kSeg).outcome == ClaimOutcome::kBound);
  CHECK(b.claim(kCam, ip("fd00:10::1234:5678"), kSeg).outcome == ClaimOutcome::kBound);  // privacy
  CHECK(b.claim(kSpoofer, ip("fd00:10::11"), kSeg).outcome == ClaimOutcome::kSpoof);
  CHECK(b.claim(kSpoofer, ip("fd00:10::99"), kSeg).outcome == ClaimOutcome::kBound);
  // fe80::1 on two segments is two devices; on the same segment, a spoof.
  CHECK(b.claim(kCam, ip("fe80::1"), 0).outcome == ClaimOutcome::kBound);
  CHECK(b.claim(kSpoofer, ip("fe80::1"), 1).outcome == ClaimOutcome::kBound);
  CHECK(b.claim(kSpoofer, ip("fe80::1"), 0).outcome == ClaimOutcome::kSpoof);
  CHECK(b.ownerOf(ip("fe80::1"), 0) == kCam);
  CHECK(b.ownerOf(ip("fe80::1"), 1) == kSpoofer);
  for (const char* none :
       {"::", "::1", "ff02::1", "0.0.0.0", "255.255.255.255", "224.0.0.251", "127.0.0.1"}) {
    CAPTURE(none);
    CHECK(b.claim(kSpoofer, ip(none), kSeg).outcome == ClaimOutcome::kNotBindable);
    CHECK_FALSE(AddressBindings::bindable(ip(none)));
  }
  CHECK(b.size() == 5);
}

TEST_CASE("bounded: a device past its limit loses its own oldest address, never another device's") {
  ManualClock clock;
  AddressBindings b(1000, clock);
  b.claim(kCam, ip("198.18.10.11"), kSeg);
  for (uint32_t i = 0; i < 100; ++i) {
    clock.advance(seconds(1));
    b.claim(kSpoofer, IpAddress::v4FromHostOrder(0xC6120000u + i), kSeg);
  }
  CHECK(b.size() == 1 + AddressBindings::kMaxPerDevice);
  CHECK(b.counters().over_device_limit == 100 - AddressBindings::kMaxPerDevice);
  CHECK(b.ownerOf(ip("198.18.10.11"), kSeg) == kCam);
  CHECK(b.ownerOf(IpAddress::v4FromHostOrder(0xC6120000u + 99), kSeg) == kSpoofer);
  CHECK_FALSE(b.ownerOf(IpAddress::v4FromHostOrder(0xC6120000u), kSeg).has_value());
}

TEST_CASE(
    "bounded: a full table refuses new addresses rather than push out a live binding; lapsed ones "
    "are swept") {
  ManualClock clock;
  AddressBindings b(AddressBindings::kMaxPerDevice * 2, clock);
  b.setHold(seconds(600));
  b.claim(kCam, ip("198.18.10.11"), kSeg);
  // A flood of made-up source addresses from many made-up MACs fills the table.
  uint32_t next = 0;
  for (uint64_t m = 0; m < 4; ++m) {
    for (size_t i = 0; i < AddressBindings::kMaxPerDevice; ++i) {
      b.claim(MacAddress{0x020000000000ull + m}, IpAddress::v4FromHostOrder(0xC6130000u + next++),
              kSeg);
    }
  }
  CHECK(b.size() == b.capacity());
  CHECK(b.counters().full > 0);
  CHECK(b.ownerOf(ip("198.18.10.11"), kSeg) == kCam);  // never pushed out
  // The camera's address is still not free for the taking.
  CHECK(b.claim(kSpoofer, ip("198.18.10.11"), kSeg).outcome == ClaimOutcome::kSpoof);
  // Past the hold time the flood's bindings have lapsed (so has the camera's, but it speaks).
  clock.advance(seconds(601));
  b.claim(kCam, ip("198.18.10.11"), kSeg);
  CHECK(b.claim(kSpoofer, ip("198.18.10.99"), kSeg).outcome == ClaimOutcome::kBound);
  CHECK(b.counters().swept == b.capacity() - 1);
  CHECK(b.size() == 2);
}

TEST_CASE_FIXTURE(Bindings,
                  "bindings survive a restart, leases with their end; link-local ones do not") {
  b.setHold(seconds(600));
  b.claim(kCam, ip("198.18.10.11"), kSeg);
  b.lease(kSpoofer, ip("198.18.10.50"), kSeg, seconds(3600));
  b.claim(kCam, ip("fe80::11"), kSeg);
  v1::Inventory saved;
  b.save(&saved);
  CHECK(saved.bindings_size() == 2);

  clock.advance(seconds(60));
  AddressBindings restored(64, clock);
  restored.setHold(seconds(600));
  CHECK(restored.load(saved) == 0);
  CHECK(restored.ownerOf(ip("198.18.10.11"), kSeg) == kCam);
  CHECK(restored.claim(kSpoofer, ip("198.18.10.11"), kSeg).outcome == ClaimOutcome::kSpoof);
  const AddressBinding* lease = restored.find(ip("198.18.10.50"), kSeg);
  REQUIRE(lease != nullptr);
  CHECK(lease->evidence == BindingEvidence::kLease);
  CHECK(restored.claim(kCam, ip("198.18.10.50"), kSeg).outcome == ClaimOutcome::kSpoof);
  CHECK_FALSE(restored.ownerOf(ip("fe80::11"), kSeg).has_value());

  v1::Inventory junk;
  junk.add_bindings()->set_address("not an address");
  CHECK(restored.load(junk) == 1);
}

TEST_CASE("a (device, address) pair is reported once, and the memory is bounded") {
  ReportedPairs r;
  CHECK(r.firstTime(kSpoofer, ip("198.18.10.11")));
  CHECK_FALSE(r.firstTime(kSpoofer, ip("198.18.10.11")));
  CHECK(r.firstTime(kSpoofer, ip("fd00:10::11")));
  CHECK(r.firstTime(kCam, ip("198.18.10.11")));
  for (uint32_t i = 0; i < ReportedPairs::kCapacity; ++i)
    r.firstTime(kSpoofer, IpAddress::v4FromHostOrder(0xC6140000u + i));
  CHECK(r.firstTime(kSpoofer, ip("198.18.10.11")));  // forgotten, oldest first
}

}  // namespace
}  // namespace muzzle

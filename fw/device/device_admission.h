// DeviceAdmission: how fast devices never seen before may enter the inventory, per segment.
//
// Why: a device is its Ethernet address, and a device may forge any source MAC. Forging a new
// one per flow would otherwise make each flow a new device: a new inventory record (pushing out
// the record — learned identity, address bindings — of the real device seen longest ago), an
// event=new-device line, and, with a MAC of a vendor a `classify` rule maps to a real profile, a
// flow allowed under each forged device, each with the per-device connection limit to fill.
// The kernel's flood guard cannot stop it: its buckets are per source MAC too.
//
// What: one token bucket per segment, spent by a MAC that is not in the inventory and not named
// in the policy when it would become a record (muzzled.yaml `devices: {new_per_minute,
// new_burst}`; the defaults let a box put in front of a few hundred existing devices take them
// all within minutes: fw/config/daemon_config.h). A bucket that is empty refuses: the Judge then
// drops the packet (NF_DROP: no conntrack entry stays, and the sender's retry is judged again)
// and records nothing. Known and listed devices never spend from it (the Judge checks that
// first), so the flood never holds them.
//
// The bucket is a GCRA ("virtual scheduling"): one time point per segment, the time at which the
// bucket would be full again, moved on by one interval (60 s / new_per_minute) per admission;
// integer arithmetic on the Clock's time, no drift and no floating point. Refusals are counted
// per segment; takeReports() hands the engine the segments whose refusals grew, at most once
// per kReportInterval each, for an event=device-flood line (written off the packet path: a
// refusal itself writes nothing, so a flood of forged MACs costs the log one line per segment
// every few seconds).
//
// Bounded: one small entry per segment, sized by setSegments() (at a policy swap, off the
// packet path); admit() and refuse() never allocate, never block, never throw. Not thread-safe:
// the Judge owns it, under its lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "fw/common/clock.h"

namespace muzzle {

class DeviceAdmission {
 public:
  struct Limits {
    uint32_t per_minute = 60;  // new devices a minute per segment, after the burst; 0: off
    uint32_t burst = 64;       // new devices at once per segment (at least 1)
  };
  // One segment, copied out for the status.
  struct SegmentStatus {
    std::string name;
    uint64_t admitted = 0;  // new devices let in since start
    uint64_t refused = 0;   // first packets of devices not let in since start
    uint32_t tokens = 0;    // new devices it would let in now
  };
  // A segment's refusals are reported at most this often.
  static constexpr std::chrono::seconds kReportInterval{5};
  // A segment whose refusals grew since its last report.
  struct Report {
    std::string segment;
    uint64_t refused = 0;  // since the last report
    uint64_t total = 0;    // since start
  };

  // "*clock" must outlive the DeviceAdmission. A burst of 0 is taken as 1.
  DeviceAdmission(const Clock& clock, Limits limits);

  bool on() const { return limits_.per_minute > 0; }
  const Limits& limits() const { return limits_; }
  // The segments, in the policy's order (the Judge's segment index). A segment whose name was
  // there before keeps its bucket and counts; a new one starts full. Allocates only when the
  // names change.
  void setSegments(const std::vector<std::string>& names);

  // Packet path: whether one more new device may enter `segment` now; if so, spends a token.
  // Always true while off, and for a segment index it does not know (-1: no managed segment).
  bool admit(int segment);
  // Packet path: counts one refused first packet on `segment` (admit() said no). Apart from
  // admit(), so a refusal that is no packet's (a neighbour-table entry read again each second)
  // is not counted again and again.
  void refuse(int segment);

  uint64_t refused() const { return refused_total_; }
  // Engine thread, under the owner's lock.
  std::vector<SegmentStatus> status() const;
  // The segments whose refusals grew since their last report, of those not reported in the last
  // kReportInterval (all of them with `all`: on the way out, so the reports add up to the
  // counts). The engine writes one line each.
  std::vector<Report> takeReports(bool all = false);

 private:
  struct Segment {
    std::string name;
    // When the bucket is full again; in the past (or kFull) when it is full now.
    std::chrono::steady_clock::time_point full_at = kFull;
    uint64_t admitted = 0;
    uint64_t refused = 0;
    uint64_t reported = 0;                                      // `refused` at the last report
    std::chrono::steady_clock::time_point reported_at = kFull;  // kFull: never
  };
  static constexpr std::chrono::steady_clock::time_point kFull =
      std::chrono::steady_clock::time_point::min();
  uint32_t tokensOf(const Segment& s) const;

  const Clock& clock_;
  Limits limits_;
  std::chrono::nanoseconds interval_{0};  // between two admissions, refilled
  std::chrono::nanoseconds depth_{0};     // burst x interval: how far ahead full_at may run
  std::vector<Segment> segments_;
  uint64_t refused_total_ = 0;
};

}  // namespace muzzle

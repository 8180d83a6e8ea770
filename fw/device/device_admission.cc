// New-device admission per segment: see device_admission.h.
#include "fw/device/device_admission.h"

#include <algorithm>
#include <utility>

namespace muzzle {

DeviceAdmission::DeviceAdmission(const Clock& clock, Limits limits)
    : clock_(clock), limits_(limits) {
  if (limits_.burst == 0) limits_.burst = 1;
  if (on()) {
    interval_ = std::chrono::nanoseconds(std::chrono::minutes(1)) / limits_.per_minute;
    depth_ = interval_ * limits_.burst;
  }
}

void DeviceAdmission::setSegments(const std::vector<std::string>& names) {
  const bool same = names.size() == segments_.size() &&
                    std::equal(names.begin(), names.end(), segments_.begin(),
                               [](const std::string& n, const Segment& s) { return n == s.name; });
  if (same) return;
  std::vector<Segment> next(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    next[i].name = names[i];
    for (Segment& old : segments_) {
      if (old.name == names[i]) {
        next[i] = std::move(old);
        break;
      }
    }
  }
  segments_ = std::move(next);
}

bool DeviceAdmission::admit(int segment) {
  if (!on() || segment < 0 || static_cast<size_t>(segment) >= segments_.size()) return true;
  Segment& s = segments_[static_cast<size_t>(segment)];
  const auto now = clock_.now();
  // full_at is at most `depth_` ahead of now: one admission more moves it one interval, and
  // it may not pass now + depth. Compared before adding, so kFull never overflows.
  const auto from = std::max(s.full_at, now);
  if (from - now > depth_ - interval_) return false;
  s.full_at = from + interval_;
  ++s.admitted;
  return true;
}

void DeviceAdmission::refuse(int segment) {
  ++refused_total_;
  if (segment < 0 || static_cast<size_t>(segment) >= segments_.size()) return;
  ++segments_[static_cast<size_t>(segment)].refused;
}

uint32_t DeviceAdmission::tokensOf(const Segment& s) const {
  if (!on()) return 0;
  const auto now = clock_.now();
  if (s.full_at <= now) return limits_.burst;
  const auto ahead = s.full_at - now;
  if (ahead >= depth_) return 0;
  return static_cast<uint32_t>((depth_ - ahead) / interval_);
}

std::vector<DeviceAdmission::SegmentStatus> DeviceAdmission::status() const {
  std::vector<SegmentStatus> out;
  out.reserve(segments_.size());
  for (const Segment& s : segments_) out.push_back({s.name, s.admitted, s.refused, tokensOf(s)});
  return out;
}

std::vector<DeviceAdmission::Report> DeviceAdmission::takeReports(bool all) {
  std::vector<Report> out;
  const auto now = clock_.now();
  for (Segment& s : segments_) {
    if (s.refused == s.reported) continue;
    if (!all && s.reported_at != kFull && now - s.reported_at < kReportInterval) continue;
    out.push_back({s.name, s.refused - s.reported, s.refused});
    s.reported = s.refused;
    s.reported_at = now;
  }
  return out;
}

}  // namespace muzzle

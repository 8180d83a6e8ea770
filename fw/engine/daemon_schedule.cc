// The Daemon's side of schedules (fw/policy/schedule.h): which windows of the installed policy
// hold, and a new generation whenever that changes, so the kernel sends every flow back to be
// judged under the new state on its next packet.
#include <time.h>

#include <algorithm>
#include <string>

#include "fw/engine/daemon.h"

namespace muzzle {
namespace {

// The rules a schedule governs, for the log line: how many, and the first one's label.
struct ScheduledRules {
  size_t count = 0;
  std::string_view first;
};

ScheduledRules rulesOf(const CompiledPolicy& policy, size_t schedule) {
  ScheduledRules out;
  for (const CompiledProfile& profile : policy.profiles) {
    for (const auto* rules : {&profile.egress, &profile.inbound}) {
      for (const CompiledRule& rule : *rules) {
        if (rule.schedule != static_cast<int>(schedule)) continue;
        if (out.count++ == 0) out.first = rule.label;
      }
    }
  }
  return out;
}

}  // namespace

std::chrono::milliseconds Daemon::refreshSchedules() {
  const std::shared_ptr<const CompiledPolicy> policy = installedPolicy();
  if (idle() || !policy || policy->schedules.empty()) return kScheduleRecheck;
  // localtime_r alone never re-reads the zone: an admin's new /etc/localtime (or TZ) counts from
  // the next refresh on.
  tzset();
  const auto wall = clock_.wallNow();
  const time_t now = std::chrono::system_clock::to_time_t(wall);
  const ScheduleMask active = activeSchedules(policy->schedules, now);
  ScheduleMask before = 0;
  {
    std::lock_guard<std::mutex> lock(judge_mu_);
    before = judge_.activeSchedules();
  }
  if (active != before && rejudgeAll("a schedule window opened or closed", active)) {
    for (size_t i = 0; i < policy->schedules.size(); ++i) {
      const ScheduleMask bit = ScheduleMask{1} << i;
      if (((active ^ before) & bit) == 0) continue;
      const ScheduledRules rules = rulesOf(*policy, i);
      log_.write(LogLine("schedule")
                     .add("state", (active & bit) != 0 ? "open" : "closed")
                     .add("when", policy->schedules[i].text)
                     .add("rules", rules.count)
                     .add("first_rule", rules.first)
                     .add("generation", generation_));
    }
  }
  std::chrono::milliseconds delay = kScheduleRecheck;
  if (const std::optional<time_t> next = nextScheduleChange(policy->schedules, now)) {
    const auto until = std::chrono::ceil<std::chrono::milliseconds>(
        std::chrono::system_clock::from_time_t(*next) - wall);
    delay = std::clamp(until, std::chrono::milliseconds(0), kScheduleRecheck);
  }
  return delay;
}

}  // namespace muzzle

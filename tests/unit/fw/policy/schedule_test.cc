// Schedules (`when` on a rule): what the compiler accepts and refuses, which local minutes a
// window covers, how decide() treats a rule outside its window, and when the next change comes,
// also across daylight-saving changes and after the clock jumps.
#include "fw/policy/schedule.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "fw/policy/policy_limits.h"
#include "fw/policy/policy_loader.h"
#include "tests/unit/support/local_zone.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using testing::LocalZone;
using testing::utcTime;

std::string errorOf(std::string_view yaml) {
  return compilePolicyText(yaml, "policy.yaml", SiteFacts{}).status().message();
}

// A minimal valid policy whose vacuum rule on line 7 carries `when` (line numbers matter).
std::string withWhen(std::string_view when) {
  return "version: 1\n"                          // 1
         "addresses: {cloud: [203.0.113.20]}\n"  // 2
         "profiles:\n"                           // 3
         "  quarantine: {}\n"                    // 4
         "  vacuum:\n"                           // 5
         "    egress:\n"                         // 6
         "      - {allow: [cloud], when: " +
         std::string(when) + "}\n";  // 7
}

std::shared_ptr<const CompiledPolicy> compiled(std::string_view yaml) {
  auto p = compilePolicyText(yaml, "policy.yaml", SiteFacts{});
  REQUIRE_MESSAGE(p.ok(), p.status().message());
  return *p;
}

CompiledSchedule scheduleOf(std::string_view when) {
  auto p = compiled(withWhen(when));
  REQUIRE(p->schedules.size() == 1);
  return p->schedules[0];
}

constexpr int kMon = 0, kTue = 1, kThu = 3, kFri = 4, kSat = 5, kSun = 6;
int at(int hour, int minute) { return hour * 60 + minute; }

TEST_CASE("when: bad input is refused with file, line and field") {
  CHECK(errorOf(withWhen("{days: [funday]}")) ==
        "policy.yaml:7: profiles.vacuum.egress[0].when.days[0]: \"funday\" is not a day (mon, "
        "tue, wed, thu, fri, sat, sun) or a range of days (mon-fri, sat-mon)");
  CHECK(errorOf(withWhen("{days: [mon, fri-sonday]}")) ==
        "policy.yaml:7: profiles.vacuum.egress[0].when.days[1]: \"fri-sonday\" is not a day "
        "(mon, tue, wed, thu, fri, sat, sun) or a range of days (mon-fri, sat-mon)");
  CHECK(errorOf(withWhen("{hours: \"25:00-06:00\"}")) ==
        "policy.yaml:7: profiles.vacuum.egress[0].when.hours: \"25:00-06:00\" starts at 25:00, "
        "which is not a time of day (00:00 to 23:59)");
  CHECK(errorOf(withWhen("{hours: \"07:00-19:60\"}")) ==
        "policy.yaml:7: profiles.vacuum.egress[0].when.hours: \"07:00-19:60\" ends at 19:60, "
        "which is not a time of day (00:00 to 24:00)");
  CHECK(errorOf(withWhen("{hours: \"24:00-06:00\"}")).find("starts at 24:00") != std::string::npos);
  CHECK(errorOf(withWhen("{hours: \"07:00-07:00\"}")) ==
        "policy.yaml:7: profiles.vacuum.egress[0].when.hours: \"07:00-07:00\" is an empty window "
        "(it starts and ends at 07:00); leave hours out for the whole day");
  CHECK(errorOf(withWhen("{hours: \"7-19\"}")) ==
        "policy.yaml:7: profiles.vacuum.egress[0].when.hours: \"7-19\" is not a window of hours "
        "(HH:MM-HH:MM, e.g. 07:00-19:00 or 22:00-06:00)");
  CHECK(errorOf(withWhen("{hours: \"07:00 - 19:00\"}")).find("is not a window of hours") !=
        std::string::npos);
  CHECK(errorOf(withWhen("{}")) ==
        "policy.yaml:7: profiles.vacuum.egress[0].when: a schedule needs days, hours or both "
        "(e.g. {days: [mon-fri], hours: \"07:00-19:00\"}); leave when out for a rule that always "
        "holds");
  // Unknown keys are refused by the loader as everywhere else.
  CHECK(errorOf(withWhen("{day: [mon]}")) ==
        "policy.yaml:7: profiles.vacuum.egress[0].when: unknown field \"day\" (did you mean "
        "\"days\"?)");
}

TEST_CASE("when: at most kMaxSchedules different windows; rules with the same window share one") {
  std::string yaml = "version: 1\nprofiles:\n  quarantine:\n    egress:\n";
  for (size_t i = 0; i <= kMaxSchedules; ++i) {
    // Ends 1..65 minutes past midnight: every window is different.
    char end[8];
    std::snprintf(end, sizeof(end), "%02zu:%02zu", (i + 1) / 60, (i + 1) % 60);
    yaml += "      - {allow: [gateway], when: {hours: \"00:00-" + std::string(end) + "\"}}\n";
  }
  const std::string error = errorOf(yaml);
  CHECK(error.find("policy.yaml:69: profiles.quarantine.egress[64].when: a policy may have at "
                   "most 64 different when windows") == 0);
  // The same window written twice (and days written two ways) is one schedule.
  auto p = compiled(R"(version: 1
profiles:
  quarantine:
    egress:
      - {allow: [gateway], when: {days: [sat, sun], hours: "22:00-06:00"}}
      - {allow: [local], when: {days: [sat-sun], hours: "22:00-06:00"}}
      - {allow: [internet], when: {hours: "22:00-06:00"}}
)");
  REQUIRE(p->schedules.size() == 2);
  CHECK(p->profiles[0].egress[0].schedule == 0);
  CHECK(p->profiles[0].egress[1].schedule == 0);
  CHECK(p->profiles[0].egress[2].schedule == 1);
}

TEST_CASE("when: the rule's text shows its schedule as written") {
  auto p = compiled(withWhen("{days: [mon-fri, sat], hours: \"07:00-19:00\"}"));
  CHECK(p->profiles[1].egress[0].source == "allow cloud when mon-fri,sat 07:00-19:00");
  CHECK(p->schedules[0].text == "mon-fri,sat 07:00-19:00");
  CHECK(compiled(withWhen("{hours: \"22:00-06:00\"}"))->profiles[1].egress[0].source ==
        "allow cloud when 22:00-06:00");
  CHECK(compiled(withWhen("{days: [sun]}"))->profiles[1].egress[0].source ==
        "allow cloud when sun");
}

TEST_CASE("days: names, ranges and ranges past Sunday") {
  CHECK(scheduleOf("{days: [mon-fri]}").days == 0b0011111);
  CHECK(scheduleOf("{days: [sat-mon]}").days == 0b1100001);  // sat, sun, mon
  CHECK(scheduleOf("{days: [Sun, wed]}").days == 0b1000100);
  CHECK(scheduleOf("{days: [fri-fri]}").days == 0b0010000);
  const CompiledSchedule weekend = scheduleOf("{days: [sat-sun]}");
  CHECK(weekend.activeAt({kSat, 0}));
  CHECK(weekend.activeAt({kSun, at(23, 59)}));
  CHECK_FALSE(weekend.activeAt({kMon, 0}));
  CHECK_FALSE(weekend.activeAt({kFri, at(23, 59)}));
}

TEST_CASE("hours: a window within the day, its start in and its end out") {
  const CompiledSchedule office = scheduleOf("{days: [mon-fri], hours: \"07:00-19:00\"}");
  CHECK_FALSE(office.activeAt({kMon, at(6, 59)}));
  CHECK(office.activeAt({kMon, at(7, 0)}));
  CHECK(office.activeAt({kFri, at(18, 59)}));
  CHECK_FALSE(office.activeAt({kFri, at(19, 0)}));
  CHECK_FALSE(office.activeAt({kSat, at(12, 0)}));
  const CompiledSchedule evening = scheduleOf("{hours: \"18:00-24:00\"}");
  CHECK(evening.activeAt({kThu, at(23, 59)}));
  CHECK_FALSE(evening.activeAt({kThu, 0}));
  const CompiledSchedule all = scheduleOf("{hours: \"00:00-24:00\"}");
  CHECK(all.activeAt({kSun, 0}));
  CHECK(all.activeAt({kSun, at(23, 59)}));
}

TEST_CASE("hours: a window past midnight belongs to the day it starts on") {
  const CompiledSchedule night = scheduleOf("{days: [fri], hours: \"22:00-06:00\"}");
  CHECK(night.activeAt({kFri, at(22, 0)}));
  CHECK(night.activeAt({kFri, at(23, 59)}));
  CHECK(night.activeAt({kSat, at(0, 0)}));
  CHECK(night.activeAt({kSat, at(5, 59)}));
  CHECK_FALSE(night.activeAt({kSat, at(6, 0)}));
  CHECK_FALSE(night.activeAt({kSat, at(22, 0)}));  // Saturday is not listed
  CHECK_FALSE(night.activeAt({kFri, at(5, 0)}));   // Thursday's night, not listed
  CHECK_FALSE(night.activeAt({kFri, at(21, 59)}));
  // Sunday's night runs into Monday, across the week's end.
  const CompiledSchedule sunday = scheduleOf("{days: [sun], hours: \"23:00-01:00\"}");
  CHECK(sunday.activeAt({kMon, at(0, 30)}));
  CHECK_FALSE(sunday.activeAt({kTue, at(0, 30)}));
}

// A vacuum that may reach its cloud in office hours, and nothing at other times but DNS.
constexpr const char* kVacuumPolicy = R"(version: 1
addresses: {cloud: [203.0.113.20]}
profiles:
  quarantine: {}
  vacuum:
    egress:
      - {allow: [cloud], proto: tcp, ports: [443], when: {days: [mon-fri], hours: "07:00-19:00"}}
      - {deny: [cloud], log: true}
      - {allow: [internet]}
devices:
  - {name: robo, mac: "50:ec:50:00:00:21", profile: vacuum}
)";

TEST_CASE("decide: outside its window a rule does not match, and the next rule decides") {
  auto policy = compiled(kVacuumPolicy);
  PacketInfo p;
  p.src = *IpAddress::parse("198.18.10.21");
  p.dst = *IpAddress::parse("203.0.113.20");
  p.protocol = static_cast<uint8_t>(L4::kTcp);
  p.has_ports = true;
  p.src_port = 40000;
  p.dst_port = 443;
  FlowView flow;
  flow.packet = &p;
  flow.src = Endpoint{0, MacAddress::parse("50:ec:50:00:00:21"), false};
  flow.active_schedules = 1;  // schedule 0 holds
  Verdict v = decide(*policy, flow);
  CHECK(v.action == Action::kAllow);
  REQUIRE(v.rule != nullptr);
  CHECK(v.rule->label == "profiles.vacuum.egress[0]");
  flow.active_schedules = 0;
  v = decide(*policy, flow);
  CHECK(v.action == Action::kReject);
  REQUIRE(v.rule != nullptr);
  CHECK(v.rule->label == "profiles.vacuum.egress[1]");
  // Only its own bit counts.
  flow.active_schedules = 2;
  CHECK(decide(*policy, flow).action == Action::kReject);
}

TEST_CASE("the active schedules follow the local time zone") {
  auto policy = compiled(kVacuumPolicy);
  // Monday 2026-11-30, 06:30 UTC: 07:30 in Berlin (open), 01:30 in New York (closed).
  const time_t t = utcTime(2026, 11, 30, 6, 30);
  {
    LocalZone zone("Europe/Berlin");
    CHECK(activeSchedules(policy->schedules, t) == 1);
  }
  {
    LocalZone zone("America/New_York");
    CHECK(activeSchedules(policy->schedules, t) == 0);
  }
  {
    LocalZone zone("UTC");
    CHECK(activeSchedules(policy->schedules, t) == 0);
    CHECK(activeSchedules(policy->schedules, t + 30 * 60) == 1);
  }
}

std::vector<CompiledSchedule> windows(std::string_view when) { return {scheduleOf(when)}; }

TEST_CASE("next change: a night window across the spring change (Berlin, 2026-03-29)") {
  LocalZone zone("Europe/Berlin");
  const auto night = windows("{hours: \"22:00-06:00\"}");
  // Saturday 22:30 CET (21:30 UTC): open. It closes at 06:00 CEST, which is 04:00 UTC: the night
  // is an hour shorter, and a window computed in a fixed offset would close an hour late.
  const time_t saturday = utcTime(2026, 3, 28, 21, 30);
  CHECK(activeSchedules(night, saturday) == 1);
  CHECK(nextScheduleChange(night, saturday) == utcTime(2026, 3, 29, 4, 0));
  // Then it opens at 22:00 CEST (20:00 UTC).
  CHECK(nextScheduleChange(night, utcTime(2026, 3, 29, 4, 0)) == utcTime(2026, 3, 29, 20, 0));
}

TEST_CASE("next change: an office window across the autumn change (Berlin, 2026-10-25)") {
  LocalZone zone("Europe/Berlin");
  const auto office = windows("{hours: \"07:00-19:00\"}");
  // Saturday 20:30 CEST (18:30 UTC): closed; it opens Sunday 07:00 CET = 06:00 UTC.
  CHECK(nextScheduleChange(office, utcTime(2026, 10, 24, 18, 30)) == utcTime(2026, 10, 25, 6, 0));
}

TEST_CASE("next change: an edge in the hour the spring change skips takes effect at the jump") {
  LocalZone zone("Europe/Berlin");
  const auto early = windows("{hours: \"02:30-05:00\"}");
  // 01:30 CET (00:30 UTC): closed. 02:30 never happens that night: at 01:00 UTC the clock goes
  // from 02:00 CET to 03:00 CEST, inside the window.
  const time_t before = utcTime(2026, 3, 29, 0, 30);
  CHECK(activeSchedules(early, before) == 0);
  CHECK(nextScheduleChange(early, before) == utcTime(2026, 3, 29, 1, 0));
  CHECK(activeSchedules(early, utcTime(2026, 3, 29, 1, 0)) == 1);
  CHECK(nextScheduleChange(early, utcTime(2026, 3, 29, 1, 0)) == utcTime(2026, 3, 29, 3, 0));
}

TEST_CASE("next change: an edge in the hour the autumn change repeats counts twice") {
  LocalZone zone("Europe/Berlin");
  const auto half = windows("{hours: \"02:30-03:00\"}");
  // 02:00 CEST (00:00 UTC); local time runs 02:00-03:00 CEST, then 02:00-03:00 CET again.
  std::vector<time_t> changes;
  time_t t = utcTime(2026, 10, 25, 0, 0);
  for (int i = 0; i < 4; ++i) {
    auto next = nextScheduleChange(half, t);
    REQUIRE(next.has_value());
    changes.push_back(*next);
    t = *next;
  }
  CHECK(changes == std::vector<time_t>{utcTime(2026, 10, 25, 0, 30), utcTime(2026, 10, 25, 1, 0),
                                       utcTime(2026, 10, 25, 1, 30), utcTime(2026, 10, 25, 2, 0)});
}

TEST_CASE("next change: weekdays over a weekend with a spring change (New York, 2026-03-08)") {
  LocalZone zone("America/New_York");
  const auto office = windows("{days: [mon-fri], hours: \"07:00-19:00\"}");
  // Friday 20:00 EST (Saturday 01:00 UTC): closed until Monday 07:00 EDT = 11:00 UTC.
  CHECK(nextScheduleChange(office, utcTime(2026, 3, 7, 1, 0)) == utcTime(2026, 3, 9, 11, 0));
}

TEST_CASE("next change: asked again after the clock jumps, the answer is the new time's") {
  LocalZone zone("UTC");
  const auto office = windows("{days: [mon-fri], hours: \"07:00-19:00\"}");
  // Thursday 2026-12-03 12:00: open, closing at 19:00.
  const time_t noon = utcTime(2026, 12, 3, 12, 0);
  CHECK(activeSchedules(office, noon) == 1);
  CHECK(nextScheduleChange(office, noon) == utcTime(2026, 12, 3, 19, 0));
  // The clock is set back to 05:00 (a bad NTP step, a wrong RTC): closed, opening at 07:00.
  const time_t back = utcTime(2026, 12, 3, 5, 0);
  CHECK(activeSchedules(office, back) == 0);
  CHECK(nextScheduleChange(office, back) == utcTime(2026, 12, 3, 7, 0));
  // Forward to Saturday: closed until Monday 07:00.
  const time_t saturday = utcTime(2026, 12, 5, 9, 0);
  CHECK(activeSchedules(office, saturday) == 0);
  CHECK(nextScheduleChange(office, saturday) == utcTime(2026, 12, 7, 7, 0));
}

TEST_CASE("next change: none for no schedule or a window that never closes") {
  LocalZone zone("UTC");
  const time_t now = utcTime(2026, 12, 3, 12, 0);
  CHECK_FALSE(nextScheduleChange({}, now).has_value());
  CHECK_FALSE(nextScheduleChange(windows("{hours: \"00:00-24:00\"}"), now).has_value());
  // Two schedules: the earlier change of either.
  std::vector<CompiledSchedule> both = windows("{hours: \"13:00-14:00\"}");
  both.push_back(scheduleOf("{hours: \"12:30-12:45\"}"));
  CHECK(nextScheduleChange(both, now) == utcTime(2026, 12, 3, 12, 30));
}

}  // namespace
}  // namespace muzzle

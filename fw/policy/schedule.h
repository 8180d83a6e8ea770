// Schedules: a rule's `when` (policy.proto, Schedule), compiled, and the questions the engine
// asks of them in the box's local time zone.
//
// Local time is what localtime_r(3) and mktime(3) say, from tzdata (`TZ`, else /etc/localtime);
// libstdc++ 12 has no chrono time-zone database. A schedule names local weekdays and minutes of
// the day, so the same wall-clock instant may be in or out of a window depending on the zone, and
// a daylight-saving change moves every boundary by an hour in UTC. Nothing here keeps state: the
// engine asks again after a clock jump or a zone change and gets the right answer.
//
// The engine keeps which schedules are active as a ScheduleMask (bit i: schedule i of the
// compiled policy) and hands it to decide() with each flow (FlowView::active_schedules), so
// judging a packet costs one bit test per scheduled rule and never a time-zone conversion.
#pragma once

#include <time.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace muzzle {

// Bit i: schedule i of a compiled policy holds now. Also bounds the schedules a policy may have
// (kMaxSchedules in policy_limits.h).
using ScheduleMask = uint64_t;

inline constexpr int kMinutesPerDay = 24 * 60;

// A moment in local time, to the minute. `weekday`: 0 is Monday, 6 Sunday.
struct LocalMinute {
  int weekday = 0;
  int minute = 0;  // 0 .. 1439 after local midnight
};

struct CompiledSchedule {
  uint8_t days = 0x7f;  // bit d: the window may start on weekday d (0 = Monday)
  // Minutes after local midnight. `start` is included, `end` is not. end > start: within the day;
  // end < start: from start on a listed day past midnight to end on the next day; start 0 and
  // end kMinutesPerDay: the whole day.
  uint16_t start = 0;
  uint16_t end = kMinutesPerDay;
  std::string text;  // as written, one line: "mon-fri 07:00-19:00", "sat,sun", "22:00-06:00"

  bool activeAt(LocalMinute t) const;
  bool sameWindow(const CompiledSchedule& o) const {
    return days == o.days && start == o.start && end == o.end;
  }
};

// The local minute of `t` (localtime_r); nullopt only if the C library cannot convert it.
std::optional<LocalMinute> localMinuteOf(time_t t);

// Which of `schedules` hold at `t`, local time. Schedules past the mask's 64 bits never hold
// (the compiler refuses more).
ScheduleMask activeSchedules(std::span<const CompiledSchedule> schedules, time_t t);

// The first second after `now` at which activeSchedules() gives another answer, looked for up to
// kScheduleHorizonDays ahead; nullopt when nothing changes in that time (no schedule, or only
// windows that never close). Accounts for daylight-saving changes: a window edge in the hour a
// spring change skips takes effect when the clock jumps over it, and an edge in the hour an
// autumn change repeats counts twice.
inline constexpr int kScheduleHorizonDays = 8;
std::optional<time_t> nextScheduleChange(std::span<const CompiledSchedule> schedules, time_t now);

// Parsing, for the compiler. Each returns a problem for the user ("" when fine).
// One entry of `days`: "mon" .. "sun", or a range "mon-fri" / "sat-mon". Adds the days to *days.
std::string parseScheduleDays(std::string_view text, uint8_t* days);
// `hours`: "HH:MM-HH:MM".
std::string parseScheduleHours(std::string_view text, uint16_t* start, uint16_t* end);

}  // namespace muzzle

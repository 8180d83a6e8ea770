#include "fw/policy/schedule.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

namespace muzzle {
namespace {

constexpr std::array<std::string_view, 7> kDayNames = {"mon", "tue", "wed", "thu",
                                                       "fri", "sat", "sun"};

int dayIndex(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (size_t i = 0; i < kDayNames.size(); ++i) {
    if (lower == kDayNames[i]) return static_cast<int>(i);
  }
  return -1;
}

// "HH:MM" as minutes after midnight, up to 24:00; -1 when it is not that shape.
int minuteOf(std::string_view text) {
  if (text.size() != 5 || text[2] != ':') return -1;
  for (size_t i : {0, 1, 3, 4}) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return -1;
  }
  const int hour = (text[0] - '0') * 10 + (text[1] - '0');
  const int minute = (text[3] - '0') * 10 + (text[4] - '0');
  if (minute > 59 || hour > 24 || (hour == 24 && minute != 0)) return -1;
  return hour * 60 + minute;
}

// tm_wday counts from Sunday; schedules from Monday.
int mondayFirst(int tm_wday) { return (tm_wday + 6) % 7; }

long gmtOffsetAt(time_t t) {
  struct tm local {};
  if (localtime_r(&t, &local) == nullptr) return 0;
  return local.tm_gmtoff;
}

// The first second in (lo, hi] whose UTC offset is that of `hi`, given that `lo`'s differs.
time_t offsetChangeIn(time_t lo, time_t hi) {
  const long after = gmtOffsetAt(hi);
  while (hi - lo > 1) {
    const time_t mid = lo + (hi - lo) / 2;
    if (gmtOffsetAt(mid) == after) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return hi;
}

}  // namespace

bool CompiledSchedule::activeAt(LocalMinute t) const {
  const bool today = (days >> t.weekday) & 1;
  if (start < end) return today && t.minute >= start && t.minute < end;
  // Past midnight: the evening belongs to the day the window starts on, the small hours to the
  // day before.
  const int yesterday = (t.weekday + 6) % 7;
  return (today && t.minute >= start) || (((days >> yesterday) & 1) && t.minute < end);
}

std::optional<LocalMinute> localMinuteOf(time_t t) {
  struct tm local {};
  if (localtime_r(&t, &local) == nullptr) return std::nullopt;
  return LocalMinute{mondayFirst(local.tm_wday), local.tm_hour * 60 + local.tm_min};
}

ScheduleMask activeSchedules(std::span<const CompiledSchedule> schedules, time_t t) {
  const std::optional<LocalMinute> local = localMinuteOf(t);
  if (!local) return 0;
  ScheduleMask mask = 0;
  const size_t n = std::min<size_t>(schedules.size(), 64);
  for (size_t i = 0; i < n; ++i) {
    if (schedules[i].activeAt(*local)) mask |= ScheduleMask{1} << i;
  }
  return mask;
}

std::optional<time_t> nextScheduleChange(std::span<const CompiledSchedule> schedules, time_t now) {
  if (schedules.empty()) return std::nullopt;
  struct tm today {};
  if (localtime_r(&now, &today) == nullptr) return std::nullopt;
  // Between two consecutive candidates the answer cannot change: every window edge and every
  // midnight (where the weekday changes) on each local day ahead, plus every change of the UTC
  // offset (where local time jumps over or back across edges).
  std::vector<int> edges = {0};
  for (const CompiledSchedule& s : schedules) {
    edges.push_back(s.start);
    edges.push_back(s.end % kMinutesPerDay);
  }
  std::sort(edges.begin(), edges.end());
  edges.erase(std::unique(edges.begin(), edges.end()), edges.end());

  std::vector<time_t> candidates;
  for (int day = 0; day <= kScheduleHorizonDays; ++day) {
    for (const int edge : edges) {
      // Asked once as standard and once as daylight time: an edge in the hour an autumn change
      // repeats happens twice; one in the hour a spring change skips does not happen at all, and
      // mktime's normalised answer (an hour off) is dropped by the check below.
      for (const int dst : {0, 1}) {
        struct tm want {};
        want.tm_year = today.tm_year;
        want.tm_mon = today.tm_mon;
        want.tm_mday = today.tm_mday + day;
        want.tm_hour = edge / 60;
        want.tm_min = edge % 60;
        want.tm_isdst = dst;
        const time_t at = mktime(&want);
        if (at == static_cast<time_t>(-1) || at <= now) continue;
        struct tm back {};
        if (localtime_r(&at, &back) == nullptr) continue;
        if (back.tm_hour * 60 + back.tm_min != edge || back.tm_isdst != dst) continue;
        candidates.push_back(at);
      }
    }
  }
  constexpr time_t kDay = 24 * 60 * 60;
  const time_t horizon = now + (kScheduleHorizonDays + 1) * kDay;
  for (time_t from = now; from < horizon; from += kDay) {
    if (gmtOffsetAt(from) != gmtOffsetAt(from + kDay)) {
      candidates.push_back(offsetChangeIn(from, from + kDay));
    }
  }
  std::sort(candidates.begin(), candidates.end());
  const ScheduleMask before = activeSchedules(schedules, now);
  for (const time_t at : candidates) {
    if (activeSchedules(schedules, at) != before) return at;
  }
  return std::nullopt;
}

std::string parseScheduleDays(std::string_view text, uint8_t* days) {
  constexpr const char* kExpected =
      "is not a day (mon, tue, wed, thu, fri, sat, sun) or a range of days (mon-fri, sat-mon)";
  const size_t dash = text.find('-');
  if (dash == std::string_view::npos) {
    const int day = dayIndex(text);
    if (day < 0) return kExpected;
    *days |= static_cast<uint8_t>(1u << day);
    return "";
  }
  const int first = dayIndex(text.substr(0, dash));
  const int last = dayIndex(text.substr(dash + 1));
  if (first < 0 || last < 0) return kExpected;
  // A range past Sunday wraps to Monday: sat-mon is Saturday, Sunday and Monday.
  for (int day = first;; day = (day + 1) % 7) {
    *days |= static_cast<uint8_t>(1u << day);
    if (day == last) break;
  }
  return "";
}

std::string parseScheduleHours(std::string_view text, uint16_t* start, uint16_t* end) {
  const size_t dash = text.find('-');
  if (dash == std::string_view::npos || text.size() != 11 || dash != 5) {
    return "is not a window of hours (HH:MM-HH:MM, e.g. 07:00-19:00 or 22:00-06:00)";
  }
  const std::string_view from = text.substr(0, 5);
  const std::string_view to = text.substr(6);
  const int lo = minuteOf(from);
  const int hi = minuteOf(to);
  if (lo < 0 || lo == kMinutesPerDay) {
    return "starts at " + std::string(from) + ", which is not a time of day (00:00 to 23:59)";
  }
  if (hi < 0) {
    return "ends at " + std::string(to) + ", which is not a time of day (00:00 to 24:00)";
  }
  if (lo == hi) {
    return "is an empty window (it starts and ends at " + std::string(from) +
           "); leave hours out for the whole day";
  }
  *start = static_cast<uint16_t>(lo);
  *end = static_cast<uint16_t>(hi);
  return "";
}

}  // namespace muzzle

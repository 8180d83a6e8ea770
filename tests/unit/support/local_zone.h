// The process's local time zone set to a tzdata name for one test (TZ, then tzset(3)), and put
// back as it was when the LocalZone goes out of scope, also when the test fails. Schedules are
// tested in zones with daylight-saving changes, whatever zone the machine itself is in.
#pragma once

#include <stdlib.h>
#include <time.h>

#include <optional>
#include <string>

namespace muzzle::testing {

class LocalZone {
 public:
  explicit LocalZone(const char* tz) {
    if (const char* old = getenv("TZ")) saved_ = old;
    setenv("TZ", tz, 1);
    tzset();
  }
  ~LocalZone() {
    if (saved_) {
      setenv("TZ", saved_->c_str(), 1);
    } else {
      unsetenv("TZ");
    }
    tzset();
  }
  LocalZone(const LocalZone&) = delete;
  LocalZone& operator=(const LocalZone&) = delete;

 private:
  std::optional<std::string> saved_;
};

// Seconds since 1970 of a UTC calendar time, for writing expected instants plainly.
inline time_t utcTime(int year, int month, int day, int hour, int minute, int second = 0) {
  struct tm t {};
  t.tm_year = year - 1900;
  t.tm_mon = month - 1;
  t.tm_mday = day;
  t.tm_hour = hour;
  t.tm_min = minute;
  t.tm_sec = second;
  return timegm(&t);
}

}  // namespace muzzle::testing

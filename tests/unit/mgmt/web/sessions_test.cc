// The console's sessions and login limit (mgmt/web/sessions.h), on a ManualClock: expiry, the
// LRU bound, the cookie's exact attributes, the CSRF check, and Cookie headers as browsers and
// attackers write them.
#include "mgmt/web/sessions.h"

#include <doctest/doctest.h>

#include <set>

namespace muzzle::web {
namespace MUZZLE_UNITY_ID {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

const Account kAlice{"alice", Role::kAdmin};
const Account kBob{"bob", Role::kViewer};

std::string cookieOf(const Session& s) { return "muzzle_session=" + s.token; }

TEST_CASE("a session is found by its cookie; tokens are 43 base64url characters, all different") {
  ManualClock clock;
  Sessions sessions(clock);
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    const Session s = sessions.create(kAlice);
    CHECK(s.token.size() == 43);
    CHECK(s.csrf.size() == 43);
    CHECK(s.token.find_first_not_of(
              "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
          std::string::npos);
    CHECK(s.token != s.csrf);
    CHECK(seen.insert(s.token).second);
    CHECK(seen.insert(s.csrf).second);
  }
  const Session s = sessions.create(kBob);
  auto found = sessions.find(cookieOf(s));
  REQUIRE(found.has_value());
  CHECK(found->token == s.token);
  CHECK(found->csrf == s.csrf);
  CHECK(found->account.name == "bob");
  CHECK(found->account.role == Role::kViewer);
  CHECK_FALSE(sessions.find("muzzle_session=" + std::string(43, 'A')).has_value());
  sessions.end(s.token);
  CHECK_FALSE(sessions.find(cookieOf(s)).has_value());
}

TEST_CASE("a session ends when idle, and at max_age however busy") {
  ManualClock clock;
  Sessions sessions(clock, minutes(30), hours(12));
  const Session s = sessions.create(kAlice);
  clock.advance(minutes(29));
  REQUIRE(sessions.find(cookieOf(s)).has_value());  // restarts the idle time
  clock.advance(minutes(29));
  REQUIRE(sessions.find(cookieOf(s)).has_value());
  clock.advance(minutes(30));
  CHECK_FALSE(sessions.find(cookieOf(s)).has_value());
  CHECK(sessions.size() == 0);  // forgotten

  const Session busy = sessions.create(kAlice);
  for (int i = 0; i < 12 * 3 - 1; ++i) {
    clock.advance(minutes(20));
    REQUIRE(sessions.find(cookieOf(busy)).has_value());
  }
  clock.advance(minutes(20));  // 12 hours after login
  CHECK_FALSE(sessions.find(cookieOf(busy)).has_value());
}

TEST_CASE("past max_sessions the least recently used session ends") {
  ManualClock clock;
  Sessions sessions(clock, minutes(30), hours(12), 3);
  const Session a = sessions.create(kAlice);
  clock.advance(seconds(1));
  const Session b = sessions.create(kAlice);
  clock.advance(seconds(1));
  const Session c = sessions.create(kBob);
  clock.advance(seconds(1));
  REQUIRE(sessions.find(cookieOf(a)).has_value());  // now b is the least recently used
  clock.advance(seconds(1));
  const Session d = sessions.create(kBob);
  CHECK(sessions.size() == 3);
  CHECK_FALSE(sessions.find(cookieOf(b)).has_value());
  CHECK(sessions.find(cookieOf(a)).has_value());
  CHECK(sessions.find(cookieOf(c)).has_value());
  CHECK(sessions.find(cookieOf(d)).has_value());
}

TEST_CASE("endAccount ends every session of that account and no other") {
  ManualClock clock;
  Sessions sessions(clock);
  const Session a1 = sessions.create(kAlice);
  const Session a2 = sessions.create(kAlice);
  const Session b = sessions.create(kBob);
  sessions.endAccount("alice");
  CHECK_FALSE(sessions.find(cookieOf(a1)).has_value());
  CHECK_FALSE(sessions.find(cookieOf(a2)).has_value());
  CHECK(sessions.find(cookieOf(b)).has_value());
  CHECK(sessions.size() == 1);
}

TEST_CASE("the cookie's attributes, exactly") {
  ManualClock clock;
  Sessions sessions(clock, minutes(30), hours(12));
  const Session s = sessions.create(kAlice);
  CHECK(sessions.cookie(s) ==
        "muzzle_session=" + s.token + "; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200");
  CHECK(Sessions::clearingCookie() ==
        "muzzle_session=; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
}

TEST_CASE("the CSRF token matches only itself; an empty one never") {
  ManualClock clock;
  Sessions sessions(clock);
  const Session s = sessions.create(kAlice);
  CHECK(Sessions::csrfMatches(s, s.csrf));
  std::string other = s.csrf;
  other.back() = other.back() == 'A' ? 'B' : 'A';
  CHECK_FALSE(Sessions::csrfMatches(s, other));
  CHECK_FALSE(Sessions::csrfMatches(s, s.csrf.substr(0, 42)));
  CHECK_FALSE(Sessions::csrfMatches(s, s.csrf + "A"));
  CHECK_FALSE(Sessions::csrfMatches(s, ""));
  CHECK_FALSE(Sessions::csrfMatches(s, s.token));
  Session empty = s;
  empty.csrf.clear();
  CHECK_FALSE(Sessions::csrfMatches(empty, ""));
}

TEST_CASE("Cookie headers: several cookies, spaces, quotes, a stale one first, junk") {
  ManualClock clock;
  Sessions sessions(clock);
  const Session s = sessions.create(kAlice);
  const std::string t = s.token;
  for (const std::string& header :
       {"muzzle_session=" + t, "theme=dark; muzzle_session=" + t + "; lang=en",
        "theme=dark;muzzle_session=" + t, "  muzzle_session = " + t + " ;",
        "muzzle_session=\"" + t + "\"",
        "muzzle_session=" + std::string(43, 'x') + "; muzzle_session=" + t,
        "a=b; ; =; muzzle_session; muzzle_session=" + t,
        "x=" + std::string(6000, 'y') + "; muzzle_session=" + t}) {
    CAPTURE(header);
    auto found = sessions.find(header);
    REQUIRE(found.has_value());
    CHECK(found->token == t);
  }
  for (const std::string& header :
       {std::string(), std::string("muzzle_session="), "xmuzzle_session=" + t,
        "muzzle_sessionx=" + t, "muzzle_session=" + t + "x", "muzzle_session=" + t.substr(1),
        "muzzle_session=\"" + t, "other=" + t,
        // Past the part of an over-long header that is read.
        "x=" + std::string(9000, 'y') + "; muzzle_session=" + t}) {
    CAPTURE(header);
    CHECK_FALSE(sessions.find(header).has_value());
  }
  CHECK(sessions.size() == 1);
}

TEST_CASE("login limit: 5 failures, then refused with a retry time; the window slides") {
  ManualClock clock;
  LoginLimiter limiter(clock, 5, minutes(5));
  const std::string src = "198.51.100.7";
  for (int i = 0; i < 5; ++i) {
    REQUIRE(limiter.allowed(src));
    limiter.failed(src);
    clock.advance(seconds(10));
  }
  seconds retry{0};
  CHECK_FALSE(limiter.allowed(src, &retry));
  // The first failure was 50 s ago: it leaves the window in 250 s.
  CHECK(retry == seconds(250));
  CHECK(limiter.allowed("198.51.100.8"));  // another source is not held
  clock.advance(seconds(249));
  CHECK_FALSE(limiter.allowed(src, &retry));
  CHECK(retry == seconds(1));
  clock.advance(seconds(1));
  CHECK(limiter.allowed(src));  // one failure left the window: one more try
  limiter.failed(src);
  CHECK_FALSE(limiter.allowed(src, &retry));
  CHECK(retry == seconds(10));  // the second failure is the oldest now
}

TEST_CASE("login limit: a success forgets the failures") {
  ManualClock clock;
  LoginLimiter limiter(clock, 5, minutes(5));
  for (int i = 0; i < 4; ++i) limiter.failed("fd00::7");
  limiter.succeeded("fd00::7");
  for (int i = 0; i < 4; ++i) limiter.failed("fd00::7");
  CHECK(limiter.allowed("fd00::7"));
  limiter.failed("fd00::7");
  CHECK_FALSE(limiter.allowed("fd00::7"));
}

TEST_CASE("login limit: at most max_sources sources are remembered, the oldest forgotten") {
  ManualClock clock;
  LoginLimiter limiter(clock, 2, minutes(5), 3);
  for (const char* src : {"10.0.0.1", "10.0.0.2", "10.0.0.3"}) {
    limiter.failed(src);
    limiter.failed(src);
    clock.advance(seconds(1));
  }
  for (const char* src : {"10.0.0.1", "10.0.0.2", "10.0.0.3"}) CHECK_FALSE(limiter.allowed(src));
  limiter.failed("10.0.0.4");
  CHECK(limiter.allowed("10.0.0.1"));  // forgotten to make room
  CHECK_FALSE(limiter.allowed("10.0.0.2"));
  CHECK_FALSE(limiter.allowed("10.0.0.3"));
  limiter.failed("10.0.0.4");
  CHECK_FALSE(limiter.allowed("10.0.0.4"));
}

}  // namespace
}  // namespace muzzle::web

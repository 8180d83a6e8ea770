// Login sessions of the web console, in memory only (a restart logs everyone out), and the
// per-source limit on login attempts.
//
// A session is a 256-bit random token (getrandom) in a cookie
//   muzzle_session=TOKEN; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=...
// with its own CSRF token, which every change must carry (the `csrf` form field or the
// X-CSRF-Token header). A session ends when it has been idle for `idle`, at `max_age` after
// login, at logout, or when its account is removed or changed. Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fw/common/clock.h"
#include "mgmt/web/accounts.h"

namespace muzzle::web {

struct Session {
  std::string token;
  std::string csrf;
  Account account;
};

class Sessions {
 public:
  explicit Sessions(Clock& clock, std::chrono::seconds idle = std::chrono::minutes(30),
                    std::chrono::seconds max_age = std::chrono::hours(12),
                    size_t max_sessions = 256);  // past it, the least recently used ends
  Session create(const Account& account);
  // The live session for a Cookie header, its idle time restarted; nullopt when there is none,
  // or it expired (then it is forgotten).
  std::optional<Session> find(std::string_view cookie_header);
  void end(std::string_view token);
  // Ends every session of `name` (its account was removed or changed).
  void endAccount(const std::string& name);
  size_t size() const;

  // The Set-Cookie value that gives the browser `s`, and the one that removes it.
  std::string cookie(const Session& s) const;
  static std::string clearingCookie();
  // Whether `sent` is the session's CSRF token (compared in constant time).
  static bool csrfMatches(const Session& s, std::string_view sent);

 private:
  struct Entry {
    Session session;
    std::chrono::steady_clock::time_point created, used;
  };
  Clock& clock_;
  const std::chrono::seconds idle_, max_age_;
  const size_t max_sessions_;
  mutable std::mutex mu_;
  std::map<std::string, Entry, std::less<>> by_token_;
};

// At most `attempts` failed logins per source address in `window`; then refused until the
// oldest failure leaves the window. Remembers at most `max_sources` addresses (the oldest
// forgotten first). Thread-safe.
class LoginLimiter {
 public:
  explicit LoginLimiter(Clock& clock, size_t attempts = 5,
                        std::chrono::seconds window = std::chrono::minutes(5),
                        size_t max_sources = 1024);
  // Whether `source` may try now; when not, how long until it may (for Retry-After).
  bool allowed(const std::string& source, std::chrono::seconds* retry_after = nullptr);
  void failed(const std::string& source);
  void succeeded(const std::string& source);  // forgets the source's failures

 private:
  Clock& clock_;
  const size_t attempts_;
  const std::chrono::seconds window_;
  const size_t max_sources_;
  std::mutex mu_;
  std::map<std::string, std::vector<std::chrono::steady_clock::time_point>> failures_;
};

}  // namespace muzzle::web

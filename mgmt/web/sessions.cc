#include "mgmt/web/sessions.h"

#include <openssl/crypto.h>
#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace muzzle::web {
namespace {

constexpr std::string_view kCookieName = "muzzle_session";
constexpr size_t kTokenBytes = 32;
constexpr size_t kTokenChars = 43;  // base64url of 32 bytes, no padding
// A Cookie header longer than this is not read past: the server already limits headers, and a
// browser never sends ours behind kilobytes of others.
constexpr size_t kMaxCookieHeader = 8192;
constexpr std::string_view kCookieAttributes = "; Secure; HttpOnly; SameSite=Strict; Path=/";

// 32 bytes from the kernel's generator. getrandom(2) without flags blocks only before the pool
// is first seeded at boot, long before the console listens.
std::array<unsigned char, kTokenBytes> randomBytes() {
  std::array<unsigned char, kTokenBytes> bytes;
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::getrandom(bytes.data() + got, bytes.size() - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // Without randomness no session can be safe; this cannot happen on a kernel Muzzle runs.
      std::fprintf(stderr, "muzzled: getrandom failed: %s\n", std::strerror(errno));
      std::abort();
    }
    got += static_cast<size_t>(n);
  }
  return bytes;
}

std::string base64url(const std::array<unsigned char, kTokenBytes>& bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char b : bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 0x3f];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 0x3f];
  return out;
}

std::string newToken() { return base64url(randomBytes()); }

bool isTokenShape(std::string_view v) {
  return v.size() == kTokenChars && std::all_of(v.begin(), v.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Every value the header gives our cookie, in order, of the shape a token has: a browser may
// send a stale one beside the live one, and anything else is not a token of ours.
std::vector<std::string_view> sessionTokens(std::string_view header) {
  std::vector<std::string_view> tokens;
  header = header.substr(0, kMaxCookieHeader);
  while (!header.empty()) {
    const size_t semi = header.find(';');
    const std::string_view pair = trim(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos || trim(pair.substr(0, eq)) != kCookieName) continue;
    std::string_view value = trim(pair.substr(eq + 1));
    // RFC 6265 allows a value in double quotes.
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (isTokenShape(value)) tokens.push_back(value);
  }
  return tokens;
}

}  // namespace

Sessions::Sessions(Clock& clock, std::chrono::seconds idle, std::chrono::seconds max_age,
                   size_t max_sessions)
    : clock_(clock),
      idle_(idle),
      max_age_(max_age),
      max_sessions_(std::max<size_t>(1, max_sessions)) {}

Session Sessions::create(const Account& account) {
  Session s{newToken(), newToken(), account};
  const auto now = clock_.now();
  std::lock_guard<std::mutex> lock(mu_);
  while (by_token_.size() >= max_sessions_) {
    auto lru = std::min_element(
        by_token_.begin(), by_token_.end(),
        [](const auto& a, const auto& b) { return a.second.used < b.second.used; });
    by_token_.erase(lru);
  }
  by_token_.emplace(s.token, Entry{s, now, now});
  return s;
}

std::optional<Session> Sessions::find(std::string_view cookie_header) {
  const auto now = clock_.now();
  std::lock_guard<std::mutex> lock(mu_);
  for (std::string_view token : sessionTokens(cookie_header)) {
    auto it = by_token_.find(token);
    if (it == by_token_.end()) continue;
    Entry& e = it->second;
    if (now - e.used >= idle_ || now - e.created >= max_age_) {
      by_token_.erase(it);
      continue;
    }
    e.used = now;
    return e.session;
  }
  return std::nullopt;
}

void Sessions::end(std::string_view token) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_token_.find(token);
  if (it != by_token_.end()) by_token_.erase(it);
}

void Sessions::endAccount(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  std::erase_if(by_token_, [&](const auto& kv) { return kv.second.session.account.name == name; });
}

size_t Sessions::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return by_token_.size();
}

std::string Sessions::cookie(const Session& s) const {
  return std::string(kCookieName) + "=" + s.token + std::string(kCookieAttributes) +
         "; Max-Age=" + std::to_string(max_age_.count());
}

std::string Sessions::clearingCookie() {
  return std::string(kCookieName) + "=" + std::string(kCookieAttributes) + "; Max-Age=0";
}

bool Sessions::csrfMatches(const Session& s, std::string_view sent) {
  if (sent.empty() || s.csrf.empty() || sent.size() != s.csrf.size()) return false;
  return CRYPTO_memcmp(sent.data(), s.csrf.data(), sent.size()) == 0;
}

LoginLimiter::LoginLimiter(Clock& clock, size_t attempts, std::chrono::seconds window,
                           size_t max_sources)
    : clock_(clock),
      attempts_(std::max<size_t>(1, attempts)),
      window_(window),
      max_sources_(std::max<size_t>(1, max_sources)) {}

bool LoginLimiter::allowed(const std::string& source, std::chrono::seconds* retry_after) {
  const auto now = clock_.now();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = failures_.find(source);
  if (it == failures_.end()) return true;
  auto& times = it->second;
  std::erase_if(times, [&](auto t) { return now - t >= window_; });
  if (times.empty()) {
    failures_.erase(it);
    return true;
  }
  if (times.size() < attempts_) return true;
  if (retry_after != nullptr) {
    const auto wait = times.front() + window_ - now;
    // Rounded up: a client told "0" would try again at once and be refused again.
    *retry_after = std::chrono::ceil<std::chrono::seconds>(wait);
    if (*retry_after < std::chrono::seconds(1)) *retry_after = std::chrono::seconds(1);
  }
  return false;
}

void LoginLimiter::failed(const std::string& source) {
  const auto now = clock_.now();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = failures_.find(source);
  if (it == failures_.end()) {
    std::erase_if(failures_, [&](const auto& kv) { return now - kv.second.back() >= window_; });
    if (failures_.size() >= max_sources_) {
      // The source whose last failure is oldest is the one least likely to be trying now.
      auto oldest = std::min_element(
          failures_.begin(), failures_.end(),
          [](const auto& a, const auto& b) { return a.second.back() < b.second.back(); });
      failures_.erase(oldest);
    }
    it = failures_.emplace(source, std::vector<std::chrono::steady_clock::time_point>{}).first;
  }
  auto& times = it->second;
  std::erase_if(times, [&](auto t) { return now - t >= window_; });
  times.push_back(now);
  // Only the last `attempts_` failures decide when the source may try again.
  if (times.size() > attempts_) times.erase(times.begin(), times.end() - attempts_);
}

void LoginLimiter::succeeded(const std::string& source) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_.erase(source);
}

}  // namespace muzzle::web

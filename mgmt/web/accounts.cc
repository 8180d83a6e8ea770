#include "mgmt/web/accounts.h"

#include <crypt.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>

#include "fw/common/atomic_file.h"
#include "fw/common/confined_file.h"
#include "fw/common/excerpt.h"
#include "fw/common/text_lines.h"

namespace muzzle::web {
namespace {

// The file holds at most kMaxAccounts short lines: anything near this is not ours.
constexpr size_t kMaxFileBytes = 64 * 1024;
constexpr size_t kMaxLineBytes = 512;
constexpr size_t kMaxName = 32;

// A yescrypt hash of a password nobody knows, with the cost crypt_gensalt_rn("$y$", 0) picks: an
// unknown name is checked against it, so it takes as long as a known one and says nothing about
// which names exist.
constexpr char kDummyHash[] =
    "$y$j9T$Jbm6wxypu1/XQy6vdgWLu.$t2F0s/eStDOuXdLtHQkMOjWJXj7PMx5URreuem8d4gB";

// A hash's parameters are its cost: checking a password against "$y$jFT$..." takes 1 GiB and
// seconds, "$y$jHT$..." 4 GiB. The console's own hashes take 16 MiB ("$y$j9T$", libcrypt's
// default); a hash that would take more than four times that (a damaged or edited file) is
// refused at load, so no login can make muzzled run out of memory or time.
constexpr uint64_t kMaxHashMemory = uint64_t{64} << 20;
constexpr std::string_view kItoa64 =
    "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// The memory (bytes) checking a password against `hash` takes, when its parameters have the
// plain form crypt_gensalt writes: "$y$", the flavour 'j', then log2(N) and r as one character
// each (a value 1..48), then '$'. nullopt for any other form (extra parameters, such as a time
// or parallelism factor, included).
std::optional<uint64_t> hashMemory(std::string_view hash) {
  if (hash.size() < 7 || !hash.starts_with("$y$j") || hash[6] != '$') return std::nullopt;
  const size_t n_log2 = kItoa64.find(hash[4]);
  const size_t r = kItoa64.find(hash[5]);
  // One character stands for 0..47 (plus one: both are at least 1); the rest begin longer forms.
  if (n_log2 >= 48 || r >= 48) return std::nullopt;
  return (uint64_t{1} << (n_log2 + 1)) * (r + 1) * 128;
}

const Status kWrongNameOrPassword =
    Status::error(StatusCode::kUnauthenticated, "wrong name or password");

bool validName(std::string_view name) {
  if (name.empty() || name.size() > kMaxName) return false;
  auto lowerOrDigit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lowerOrDigit(name.front())) return false;
  return std::all_of(name.begin(), name.end(),
                     [&](char c) { return lowerOrDigit(c) || c == '.' || c == '_' || c == '-'; });
}

Status checkPassword(const std::string& password) {
  if (password.size() < Accounts::kMinPassword || password.size() > Accounts::kMaxPassword) {
    return Status::error(StatusCode::kInvalidArgument,
                         "a password has " + std::to_string(Accounts::kMinPassword) + " to " +
                             std::to_string(Accounts::kMaxPassword) + " bytes (this one has " +
                             std::to_string(password.size()) + ")");
  }
  // crypt(3) stops at a NUL, and a newline would break the one-line form the CLI reads.
  if (password.find_first_of(std::string_view("\0\n\r", 3)) != std::string::npos) {
    return Status::error(StatusCode::kInvalidArgument,
                         "a password may not hold a NUL byte or a line break");
  }
  return Status();
}

// yescrypt of `password` with `setting` (a salt, or a whole hash to check against); "" when
// libcrypt refuses the setting. crypt_data is 32 KiB: on the heap, not the server's stack.
std::string hashWith(const std::string& password, const char* setting) {
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof(crypt_data));
  const char* out = crypt_rn(password.c_str(), setting, data.get(), sizeof(crypt_data));
  // Some libcrypt builds answer a failure with a string starting '*' instead of NULL.
  if (out == nullptr || out[0] == '*') return "";
  return out;
}

Result<std::string> newHash(const std::string& password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$y$", 0, nullptr, 0, salt, sizeof(salt)) == nullptr) {
    return Status::error("libcrypt cannot make a yescrypt salt: " +
                         std::string(std::strerror(errno)));
  }
  std::string hash = hashWith(password, salt);
  if (hash.empty()) return Status::error("libcrypt cannot hash with yescrypt");
  // What load() would refuse is never written.
  const std::optional<uint64_t> memory = hashMemory(hash);
  if (!memory || *memory > kMaxHashMemory) {
    return Status::error("libcrypt's yescrypt default (" + hash.substr(0, 7) +
                         ") takes more than the console accepts of a hash");
  }
  return hash;
}

bool sameHash(const std::string& a, const std::string& b) {
  return !a.empty() && a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

Accounts::Accounts(std::string path) : path_(std::move(path)) {}

Status Accounts::load() {
  auto text = readRegularFile(path_, kMaxFileBytes);
  std::lock_guard<std::mutex> lock(mu_);
  entries_.clear();  // a file that does not parse leaves no account trusted
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) return Status();
    return text.status();
  }
  std::vector<Entry> entries;
  const std::vector<std::string_view> lines = splitLines(*text);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string where = path_ + ":" + std::to_string(i + 1) + ": ";
    auto bad = [&](const std::string& what) {
      return Status::error(StatusCode::kInvalidArgument,
                           where + what +
                               " (expected \"NAME ROLE HASH\"; fix the line, or "
                               "remove it and set the account again)");
    };
    const std::string_view line = lines[i];
    if (line.empty()) continue;
    if (line.size() > kMaxLineBytes) {
      return bad("line longer than " + std::to_string(kMaxLineBytes) + " bytes");
    }
    const size_t a = line.find(' ');
    const size_t b = a == std::string_view::npos ? a : line.find(' ', a + 1);
    if (b == std::string_view::npos || line.find(' ', b + 1) != std::string_view::npos) {
      return bad("not three fields separated by single spaces");
    }
    const std::string name(line.substr(0, a));
    const std::string role_name(line.substr(a + 1, b - a - 1));
    const std::string hash(line.substr(b + 1));
    // The file's bytes are quoted escaped (excerpt.h): the message goes to the log and the
    // event stream, whose proto fields must be UTF-8.
    if (!validName(name)) return bad(quotedExcerpt(name) + " is not an account name");
    auto role = parseRole(role_name);
    if (!role.ok())
      return bad(quotedExcerpt(role_name) + " is not a role (admin, operator or viewer)");
    if (hash.rfind("$y$", 0) != 0) return bad("the hash is not a yescrypt hash ($y$...)");
    if (std::any_of(entries.begin(), entries.end(),
                    [&](const Entry& e) { return e.account.name == name; })) {
      return bad("the account \"" + name + "\" appears twice");
    }
    if (entries.size() == kMaxAccounts) {
      return bad("more than " + std::to_string(kMaxAccounts) + " accounts");
    }
    const std::optional<uint64_t> memory = hashMemory(hash);
    if (!memory || *memory > kMaxHashMemory) {
      return bad("the hash's parameters would take more than " +
                 std::to_string(kMaxHashMemory >> 20) +
                 " MiB a login (the console's own hashes take 16)");
    }
    entries.push_back(Entry{Account{name, *role}, hash});
  }
  entries_ = std::move(entries);
  return Status();
}

Status Accounts::set(const std::string& name, Role role, const std::string& password) {
  if (!validName(name)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "\"" + name +
                             "\" is not an account name (1 to 32 of a-z 0-9 . _ -, "
                             "starting with a letter or digit)");
  }
  if (role < Role::kViewer) {
    return Status::error(StatusCode::kInvalidArgument,
                         "an account needs a role: admin, operator or viewer");
  }
  if (Status s = checkPassword(password); !s.ok()) return s;
  // Hashing takes tens of milliseconds: not under the lock the console's logins wait on.
  auto hash = newHash(password);
  if (!hash.ok()) return hash.status();
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Entry> entries = entries_;
  auto it = std::find_if(entries.begin(), entries.end(),
                         [&](const Entry& e) { return e.account.name == name; });
  if (it != entries.end()) {
    *it = Entry{Account{name, role}, *hash};
  } else if (entries.size() >= kMaxAccounts) {
    return Status::error(
        StatusCode::kResourceExhausted,
        "the console has " + std::to_string(kMaxAccounts) + " accounts already; remove one first");
  } else {
    entries.push_back(Entry{Account{name, role}, *hash});
  }
  if (Status s = save(entries); !s.ok()) return s;
  entries_ = std::move(entries);
  return Status();
}

Status Accounts::remove(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Entry> entries = entries_;
  auto it = std::find_if(entries.begin(), entries.end(),
                         [&](const Entry& e) { return e.account.name == name; });
  if (it == entries.end()) {
    return Status::error(StatusCode::kNotFound, "no console account \"" + name + "\"");
  }
  entries.erase(it);
  if (Status s = save(entries); !s.ok()) return s;
  entries_ = std::move(entries);
  return Status();
}

std::vector<Account> Accounts::list() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Account> out;
  for (const Entry& e : entries_) out.push_back(e.account);
  return out;
}

Result<Account> Accounts::check(const std::string& name, const std::string& password) const {
  std::string hash = kDummyHash;
  std::optional<Account> account;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Entry& e : entries_) {
      if (e.account.name == name) {
        hash = e.hash;
        account = e.account;
      }
    }
  }
  // The same work whatever was wrong: a bad password shape is refused after hashing too.
  const std::string got = hashWith(password, hash.c_str());
  const bool matches = sameHash(got, hash);
  if (!account || !matches || !checkPassword(password).ok()) return kWrongNameOrPassword;
  return *account;
}

Status Accounts::save(const std::vector<Entry>& entries) const {
  std::string text;
  for (const Entry& e : entries) {
    text += e.account.name + " " + roleName(e.account.role) + " " + e.hash + "\n";
  }
  const size_t slash = path_.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash);
  const std::string file = slash == std::string::npos ? path_ : path_.substr(slash + 1);
  return writeFileAtomically(dir, file, text, 0600).withContext("saving the console's accounts: ");
}

}  // namespace muzzle::web

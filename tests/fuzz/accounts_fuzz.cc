// libFuzzer target for Accounts::load, the reader of the web console's `state_dir/web-users`
// (names, roles, yescrypt hashes; muzzled reads it at start, a disk may tear it, a person may
// edit it): the bytes are loaded, then the accounts are changed as the management API changes
// them (one removed; one input in 64 also gets an account set, which hashes a password, and a
// login checked against a loaded hash), saved by that change, and loaded again.
// Oracle: the sanitizers (libcrypt itself is the system's, uninstrumented), and:
//  - a refused file names the file and line in one printable line (the message goes to the log
//    and the event stream), and trusts no account;
//  - a loaded file holds at most kMaxAccounts accounts with valid, distinct names and a role;
//  - what a change saved loads again to the same accounts, and the saved text is the loaded
//    lines as they were (hashes byte for byte), less the account removed, plus the one set;
//  - every loaded hash's parameters (decoded here on their own) make a login cost at most
//    64 MiB, four times the console's own hashes; and a login checked against one is refused.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fw/common/text_lines.h"
#include "mgmt/web/accounts.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

bool printableLine(const std::string& text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

bool validName(const std::string& name) {
  if (name.empty() || name.size() > 32) return false;
  auto lowerOrDigit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  return lowerOrDigit(name[0]) && std::all_of(name.begin(), name.end(), [&](char c) {
           return lowerOrDigit(c) || c == '.' || c == '_' || c == '-';
         });
}

std::string readFile(const std::string& path) {
  std::string out;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) std::abort();
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

bool sameAccounts(const std::vector<muzzle::web::Account>& a,
                  const std::vector<muzzle::web::Account>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].role != b[i].role) return false;
  }
  return true;
}

// What checking a password against `hash` costs (bytes), decoded here on its own from
// yescrypt's parameters: "$y$", a flavour, log2(N) and r (each one character of crypt's base-64
// for 0..47, plus one), '$'. Longer parameter forms (a time or parallelism factor) are nullopt.
std::optional<uint64_t> loginMemory(std::string_view hash) {
  static constexpr std::string_view kItoa64 =
      "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  if (hash.size() < 7 || !hash.starts_with("$y$") || hash[6] != '$') return std::nullopt;
  const size_t n_log2 = kItoa64.find(hash[4]), r = kItoa64.find(hash[5]);
  if (n_log2 >= 48 || r >= 48) return std::nullopt;
  return (uint64_t{1} << (n_log2 + 1)) * (r + 1) * 128;
}

// FNV-1a: which inputs take the slow path (a yescrypt hash or check costs tens of ms).
uint32_t hashOf(const uint8_t* data, size_t size) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 16777619u;
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string dir = muzzle::fuzz::scratchDir() + "/state";
  muzzle::fuzz::resetDir(dir);
  const std::string path = dir + "/web-users";
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  muzzle::fuzz::writeFile(path, bytes);

  muzzle::web::Accounts accounts(path);
  const muzzle::Status loaded = accounts.load();
  if (!loaded.ok()) {
    if (loaded.message().rfind(path, 0) != 0 || !printableLine(loaded.message())) std::abort();
    if (!accounts.list().empty()) std::abort();
    return 0;
  }
  const std::vector<muzzle::web::Account> list = accounts.list();
  if (list.size() > muzzle::web::Accounts::kMaxAccounts) std::abort();
  for (size_t i = 0; i < list.size(); ++i) {
    if (!validName(list[i].name)) std::abort();
    if (list[i].role < muzzle::Role::kViewer || list[i].role > muzzle::Role::kAdmin) std::abort();
    for (size_t j = 0; j < i; ++j) {
      if (list[j].name == list[i].name) std::abort();
    }
  }

  // The file's account lines, as they are: what a save must write again.
  std::vector<std::string> lines;
  for (std::string_view line : muzzle::splitLines(bytes)) {
    if (!line.empty()) lines.emplace_back(line);
  }
  if (lines.size() != list.size()) std::abort();
  // Every hash loaded costs a login at most 64 MiB (the console's own take 16): a damaged
  // parameter must not let one login attempt take the box's memory.
  for (const std::string& line : lines) {
    const auto memory = loginMemory(std::string_view(line).substr(line.rfind(' ') + 1));
    if (!memory || *memory > (uint64_t{64} << 20)) std::abort();
  }

  const bool slow = hashOf(data, size) % 64 == 0;
  std::vector<muzzle::web::Account> expected = list;
  if (slow && !list.empty()) {
    // A login against a hash from the file: refused (wrong password), in bounded time and
    // memory.
    if (accounts.check(list.front().name, "not the password").ok()) std::abort();
  }
  if (!list.empty()) {
    const size_t k = size % list.size();
    if (!accounts.remove(list[k].name).ok()) std::abort();
    expected.erase(expected.begin() + static_cast<std::ptrdiff_t>(k));
    lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(k));
  }
  if (slow) {
    const bool room = expected.size() < muzzle::web::Accounts::kMaxAccounts;
    const muzzle::Status set = accounts.set("fuzz.user", muzzle::Role::kViewer, "fuzz password");
    const bool existed = std::any_of(expected.begin(), expected.end(),
                                     [](const auto& a) { return a.name == "fuzz.user"; });
    if (set.ok() != (room || existed)) std::abort();
    if (set.ok() && !accounts.check("fuzz.user", "fuzz password").ok()) std::abort();
    if (set.ok()) {
      auto it = std::find_if(expected.begin(), expected.end(),
                             [](const auto& a) { return a.name == "fuzz.user"; });
      if (it != expected.end()) {
        lines.erase(lines.begin() + (it - expected.begin()));
        it->role = muzzle::Role::kViewer;
      } else {
        expected.push_back({"fuzz.user", muzzle::Role::kViewer});
      }
    }
  }
  if (!sameAccounts(accounts.list(), expected)) std::abort();
  if (list.empty() && !slow) return 0;  // nothing was changed, nothing saved

  // What the change saved: the lines kept byte for byte (the set account's line aside).
  const std::string saved = readFile(path);
  std::vector<std::string_view> saved_lines = muzzle::splitLines(saved);
  size_t kept = 0;
  for (std::string_view line : saved_lines) {
    if (line.starts_with("fuzz.user ")) continue;
    if (kept >= lines.size() || line != lines[kept]) std::abort();
    ++kept;
  }
  if (kept != lines.size()) std::abort();
  muzzle::web::Accounts again(path);
  if (!again.load().ok() || !sameAccounts(again.list(), expected)) std::abort();
  return 0;
}

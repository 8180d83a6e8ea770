// The web console's local accounts: a name, a role (the management API's, mgmt/server/auth.h)
// and a yescrypt password hash (Debian's libcrypt), one per line in `<state_dir>/web-users`:
//   NAME ROLE $y$...
// The file is written atomically with mode 0600 and read back whole; a file that does not parse
// is an error naming its line, and no account is trusted from it. A hash's parameters are the
// cost of every login against it: a hash that would take more than 64 MiB (four times the
// console's own, "$y$j9T$") is refused as damage.
// Thread-safe: the console checks passwords on its server thread while the management API adds
// and removes accounts on the engine thread.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "fw/common/status.h"
#include "mgmt/server/role.h"

namespace muzzle::web {

struct Account {
  std::string name;  // [a-z0-9._-], 1..32 characters, starting with a letter or digit
  Role role = Role::kNone;
};

class Accounts {
 public:
  static constexpr size_t kMinPassword = 8;
  static constexpr size_t kMaxPassword = 256;
  static constexpr size_t kMaxAccounts = 64;

  explicit Accounts(std::string path);
  // Reads the file; a missing file is no accounts. Errors name the file and line.
  Status load();
  // Adds the account, or replaces its role and password; writes the file. kInvalidArgument for
  // a bad name, a role below viewer, or a password outside kMinPassword..kMaxPassword bytes.
  Status set(const std::string& name, Role role, const std::string& password);
  // kNotFound when there is no such account.
  Status remove(const std::string& name);
  std::vector<Account> list() const;
  // The account when `password` matches; kUnauthenticated "wrong name or password" otherwise,
  // after the same hashing work for an unknown name as for a known one.
  Result<Account> check(const std::string& name, const std::string& password) const;

 private:
  struct Entry {
    Account account;
    std::string hash;
  };
  Status save(const std::vector<Entry>& entries) const;
  std::string path_;
  mutable std::mutex mu_;
  std::vector<Entry> entries_;
};

}  // namespace muzzle::web

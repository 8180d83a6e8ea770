// libFuzzer target for the audit log's reader: the bytes of `state_dir/audit.log` (a disk may
// tear or corrupt it, a person may edit it) -> AuditLog::open and read (lines, JSON, the hash
// chain). Then one entry is appended, as the next change would be, and the log read again.
// Oracle: the sanitizers, and: a broken chain names the file and line; an intact chain has
// sequences 1..n; an append after an intact chain leaves it intact and one entry longer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "mgmt/revisions/audit_log.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

void checkChain(const muzzle::AuditChain& chain, const std::string& path) {
  if (!chain.ok) {
    if (chain.error.rfind(path + ":", 0) != 0) std::abort();
    return;
  }
  for (size_t i = 0; i < chain.entries.size(); ++i) {
    if (chain.entries[i].sequence() != i + 1) std::abort();
    if (chain.entries[i].hash().size() != 64) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string dir = muzzle::fuzz::scratchDir() + "/state";
  muzzle::fuzz::resetDir(dir);
  muzzle::fuzz::writeFile(dir + "/audit.log",
                          std::string_view(reinterpret_cast<const char*>(data), size));
  muzzle::AuditLog log(dir);
  if (!log.open().ok()) return 0;
  const muzzle::AuditChain before = log.read();
  checkChain(before, log.path());

  muzzle::v1::AuditEntry entry;
  entry.set_who("fuzz");
  entry.set_peer("unix");
  entry.set_action("apply");
  entry.set_new_revision(2);
  if (!log.append(entry).ok()) std::abort();  // the scratch folder is writable
  const muzzle::AuditChain after = log.read();
  checkChain(after, log.path());
  if (before.ok && (!after.ok || after.entries.size() != before.entries.size() + 1)) std::abort();
  return 0;
}

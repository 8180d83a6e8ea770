// libFuzzer target for the audit log's readers: the bytes of `state_dir/audit.log` and of
// `state_dir/audit.head` (a disk may tear or corrupt them, a person may edit them) ->
// AuditLog::open and read (lines, JSON, the hash chain, the head anchor). Then one entry is
// appended, as the next change would be, and the log read again.
//
// Input: the log, then optionally a line "----" and the head (no head file when there is none).
// Oracle: the sanitizers, and: a broken chain names the file and line (or the head file); an
// intact chain has sequences 1..n; an append after an intact chain leaves it intact and one
// entry longer; an appended entry follows the log's last entry (or the head, when it claims
// more), and the head it writes is never read back as damaged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "mgmt/revisions/audit_log.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

void checkChain(const muzzle::AuditChain& chain, const std::string& path,
                const std::string& head_path) {
  if (!chain.ok) {
    if (chain.error.rfind(path, 0) != 0 && chain.error.rfind(head_path + ":", 0) != 0 &&
        chain.error.rfind("audit.head ", 0) != 0) {
      std::abort();
    }
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
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const size_t sep = text.find("\n----\n");
  if (sep != std::string_view::npos) {
    muzzle::fuzz::writeFile(dir + "/audit.head", text.substr(sep + 6));
    text = text.substr(0, sep + 1);
  }
  muzzle::fuzz::writeFile(dir + "/audit.log", text);
  muzzle::AuditLog log(dir);
  if (!log.open().ok()) return 0;
  const muzzle::AuditChain before = log.read();
  checkChain(before, log.path(), log.headPath());

  muzzle::v1::AuditEntry entry;
  entry.set_who("fuzz");
  entry.set_peer("unix");
  entry.set_action("apply");
  entry.set_new_revision(2);
  const auto appended = log.append(entry);
  if (!appended.ok()) std::abort();  // the scratch folder is writable
  // Past the log's last entry (and the head, when it claims more): never wrapped to 0, which no
  // reader takes.
  if (appended->sequence() == 0) std::abort();
  if (!before.entries.empty() && appended->sequence() <= before.entries.back().sequence()) {
    std::abort();
  }
  const muzzle::AuditChain after = log.read();
  checkChain(after, log.path(), log.headPath());
  // What the log wrote itself is never damage.
  if (!after.ok && after.error.rfind(log.headPath() + ":", 0) == 0) std::abort();
  if (before.ok && (!after.ok || after.entries.size() != before.entries.size() + 1)) std::abort();
  return 0;
}

// AuditLog: `<state_dir>/audit.log`, append-only, one change per line:
//   <hash> <entry as JSON>
// where the JSON is a muzzle.v1.AuditEntry without `hash`, carrying `prev_hash`, and
// hash = sha256(prev_hash + "\n" + JSON). Editing, deleting or reordering any line breaks the
// chain at that line, which read() reports. The first entry's prev_hash is 64 zeros.
//
// A chain alone cannot show that entries were cut from its end, or that the whole file was
// deleted or replaced by a shorter valid chain, so the head is anchored outside the log:
// `<state_dir>/audit.head` ("<sequence> <hash>", rewritten atomically after every append) and
// each revision's metadata (audit_sequence, audit_hash: RevisionStore). read() checks that the
// log still holds each anchored entry with the anchored hash. Entries after the newest anchor are
// fine (a crash between an append and the anchor's write leaves one).
//
// append() writes the line and the head together or not at all (the line is cut off again when
// the head cannot be written), so a caller that appends before it makes a change can refuse the
// change when the audit fails. Not thread-safe: engine thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fw/common/status.h"
#include "mgmt/revisions/revision_store.h"
#include "muzzle/v1/management.pb.h"

namespace muzzle {

struct AuditChain {
  std::vector<v1::AuditEntry> entries;
  bool ok = true;
  std::string error;  // "audit.log:7: ..." for the first broken line, or the first broken anchor
};

class AuditLog {
 public:
  // The largest sequence the log continues from (18 digits, as revision numbers): a line or an
  // anchor claiming more came from a damaged or edited file, and an append after 2^64 - 1 would
  // wrap to 0, which no reader takes.
  static constexpr uint64_t kMaxSequence = 999'999'999'999'999'999ULL;

  explicit AuditLog(std::string state_dir);

  // Reads the tail of the chain so appends continue it. A broken, cut or missing chain does not
  // stop the box (read() reports it). Appends continue from the newest of the last line that
  // parses, audit.head and `anchors` (any of them past kMaxSequence is passed over): after
  // entries were cut from the end (or the log deleted), the next entry still follows the
  // anchored one, so the gap stays visible in the chain itself instead of being papered over by
  // a new head.
  Status open(const std::vector<AuditAnchor>& anchors = {});
  // Fills sequence, time, prev_hash and hash, appends and fsyncs, then writes audit.head. On
  // failure neither changed, and the error names the file and the system error.
  Result<v1::AuditEntry> append(v1::AuditEntry entry);
  // Reads and checks the whole file: the hash chain, audit.head, and `anchors` (from the
  // revisions' metadata).
  AuditChain read(const std::vector<AuditAnchor>& anchors = {}) const;
  // The last entry open() or append() saw; none for an empty log.
  const std::optional<v1::AuditEntry>& last() const { return last_; }

  const std::string& path() const { return path_; }
  const std::string& headPath() const { return head_path_; }

 private:
  // audit.head as an anchor; none when absent, `error` set when it is damaged.
  std::optional<AuditAnchor> readHead(std::string* error) const;

  std::string dir_;
  std::string path_;
  std::string head_path_;
  std::string last_hash_;
  uint64_t last_sequence_ = 0;
  std::optional<v1::AuditEntry> last_;
};

}  // namespace muzzle

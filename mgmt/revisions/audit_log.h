// AuditLog: `<state_dir>/audit.log`, append-only, one change per line:
//   <hash> <entry as JSON>
// where the JSON is a muzzle.v1.AuditEntry without `hash`, carrying `prev_hash`, and
// hash = sha256(prev_hash + "\n" + JSON). Editing, deleting or reordering any line breaks the
// chain at that line, which verify() reports. The first entry's prev_hash is 64 zeros.
// Not thread-safe: engine thread only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fw/common/status.h"
#include "muzzle/v1/management.pb.h"

namespace muzzle {

struct AuditChain {
  std::vector<v1::AuditEntry> entries;
  bool ok = true;
  std::string error;  // "audit.log:7: ..." for the first broken line
};

class AuditLog {
 public:
  explicit AuditLog(std::string state_dir);

  // Reads the tail of the chain so appends continue it. A broken chain does not stop the box
  // (it is reported by verify()); appends continue from the last line.
  Status open();
  // Fills sequence, time, prev_hash and hash, appends and fsyncs.
  Result<v1::AuditEntry> append(v1::AuditEntry entry);
  // Reads and checks the whole file.
  AuditChain read() const;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string last_hash_;
  uint64_t last_sequence_ = 0;
};

}  // namespace muzzle

// Structured errors in a configuration or policy file: file, line, field path and message, the
// way they reach a person (the CLI, the API's violations, a log line). A DiagnosticSink collects
// them during one check of one file, bounded in number, and renders them as today's text:
//   policy.yaml:14: profiles.camera.egress[1].ports[0]: 70000 is not a port
// so a caller that needs only a Status gets exactly the words a caller with the list prints.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "fw/common/status.h"

namespace muzzle {

// Errors past this many are counted, not listed: a text of nothing but mistakes still makes a
// message of bounded size.
inline constexpr size_t kMaxReportedErrors = 100;

// One thing wrong with a file. Every field is printable UTF-8 (what it quotes of the user's text
// went through fw/common/excerpt.h), so it can travel in proto strings and log lines.
struct Diagnostic {
  std::string file;   // the file's label ("policy.yaml"); empty when the error names no file
  int line = 0;       // 1-based; 0 when not known (a missing key, a whole-file problem)
  std::string field;  // printable field path ("devices[0].mac"); empty when none
  std::string message;

  // "file:line: field: message" (":line" left out when 0, "field: " when empty; "file: " when
  // there is no file).
  std::string text() const;
  bool operator==(const Diagnostic&) const = default;
};

// The diagnostics one per line, as a Status message; OK when `diagnostics` is empty.
Status statusOf(const std::vector<Diagnostic>& diagnostics, StatusCode code = StatusCode::kUnknown);

// Collects the diagnostics of one file. Not thread-safe: one sink per check. Holds at most
// kMaxReportedErrors; past that, add() only counts, and take() ends the list with one more
// diagnostic saying how many were left out.
class DiagnosticSink {
 public:
  explicit DiagnosticSink(std::string_view file) : file_(file) {}

  // `path` is the raw field path (map keys as the user wrote them); it is kept printable
  // (printablePath). `line` 0: not known.
  void add(int line, std::string_view path, std::string message);
  // A problem of the whole file, with no field.
  void addForFile(int line, std::string message) { add(line, "", std::move(message)); }
  // A problem in another file this check read on the way (a preset the policy names), kept
  // under that file's label; counted against the same bound.
  void addIn(std::string_view file, int line, std::string_view path, std::string message);
  // One diagnostic another sink collected (already printable), as it is.
  void addDiagnostic(Diagnostic diagnostic);

  bool empty() const { return diagnostics_.empty() && more_ == 0; }
  const std::string& file() const { return file_; }

  // Orders what was collected by line (stable; diagnostics with no line first), so a user can
  // fix a file top to bottom: this sink's file first, then the other files (addIn) by name.
  void sortByLine();
  // Everything collected, plus the count of what was left out; the sink is empty afterwards.
  std::vector<Diagnostic> take();

 private:
  std::string file_;
  std::vector<Diagnostic> diagnostics_;
  size_t more_ = 0;  // past kMaxReportedErrors
};

}  // namespace muzzle

#include "fw/config/diagnostics.h"

#include <algorithm>

#include "fw/common/excerpt.h"

namespace muzzle {

std::string Diagnostic::text() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line);
  if (!out.empty()) out += ": ";
  if (!field.empty()) out += field + ": ";
  out += message;
  return out;
}

Status statusOf(const std::vector<Diagnostic>& diagnostics, StatusCode code) {
  if (diagnostics.empty()) return Status();
  std::string joined;
  for (const Diagnostic& d : diagnostics) {
    if (!joined.empty()) joined += '\n';
    joined += d.text();
  }
  return Status::error(code, std::move(joined));
}

void DiagnosticSink::add(int line, std::string_view path, std::string message) {
  addIn(file_, line, path, std::move(message));
}

void DiagnosticSink::addIn(std::string_view file, int line, std::string_view path,
                           std::string message) {
  if (diagnostics_.size() >= kMaxReportedErrors) {
    ++more_;
    return;
  }
  diagnostics_.push_back(Diagnostic{std::string(file), std::max(line, 0),
                                    path.empty() ? std::string() : printablePath(path),
                                    std::move(message)});
}

void DiagnosticSink::addDiagnostic(Diagnostic diagnostic) {
  if (diagnostics_.size() >= kMaxReportedErrors) {
    ++more_;
    return;
  }
  diagnostics_.push_back(std::move(diagnostic));
}

void DiagnosticSink::sortByLine() {
  std::stable_sort(diagnostics_.begin(), diagnostics_.end(),
                   [this](const Diagnostic& a, const Diagnostic& b) {
                     const bool a_other = a.file != file_;
                     const bool b_other = b.file != file_;
                     if (a_other != b_other) return b_other;
                     if (a_other && a.file != b.file) return a.file < b.file;
                     return a.line < b.line;
                   });
}

std::vector<Diagnostic> DiagnosticSink::take() {
  std::vector<Diagnostic> out = std::move(diagnostics_);
  diagnostics_.clear();
  if (more_ > 0) {
    out.push_back(Diagnostic{file_, 0, "",
                             std::to_string(more_) + " more errors not shown; fix these first"});
    more_ = 0;
  }
  return out;
}

}  // namespace muzzle

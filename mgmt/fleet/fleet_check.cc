// check(): every distinct desired text compiled once, without a box, its errors located in the
// files the admin edits (LineOrigin) and repeated for each box that shares the text.
#include <sys/stat.h>

#include <unordered_map>

#include "fw/policy/policy_loader.h"
#include "mgmt/fleet/fleet_dir.h"

namespace muzzle::fleet {
namespace {

bool isDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string folderOf(const std::string& dir, const std::string& relative) {
  const size_t slash = relative.rfind('/');
  return slash == std::string::npos ? dir : dir + "/" + relative.substr(0, slash);
}

// The compiler's diagnostics for one text, moved to where each line came from.
std::vector<Diagnostic> located(const Member& m, const std::vector<Diagnostic>& raw) {
  std::vector<Diagnostic> out;
  for (Diagnostic d : raw) {
    if (d.file == m.policy_file && d.line > 0 &&
        static_cast<size_t>(d.line) <= m.origins->size()) {
      const LineOrigin& o = (*m.origins)[static_cast<size_t>(d.line - 1)];
      d.file = o.file;
      d.line = o.line;
    }
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace

std::vector<BoxDiagnostic> check(const FleetDir& fleet, const CheckOptions& options) {
  std::vector<std::string> presets;
  if (isDirectory(fleet.dir() + "/presets")) presets.push_back(fleet.dir() + "/presets");
  presets.insert(presets.end(), options.preset_dirs.begin(), options.preset_dirs.end());

  std::unordered_map<std::string, std::vector<Diagnostic>> by_text;  // sha256 -> its errors
  std::vector<BoxDiagnostic> out;
  for (const Member& m : fleet.members()) {
    auto it = by_text.find(m.sha256);
    if (it == by_text.end()) {
      const PolicyFolders folders(folderOf(fleet.dir(), m.policy_file), options.shipped_dir,
                                  presets);
      const PolicyCompileResult r = compilePolicyText(*m.text, m.policy_file, SiteFacts{}, folders);
      it = by_text.emplace(m.sha256, r.ok() ? std::vector<Diagnostic>{} : located(m, r.diagnostics()))
               .first;
    }
    for (const Diagnostic& d : it->second) out.push_back(BoxDiagnostic{m.name, d});
  }
  return out;
}

}  // namespace muzzle::fleet

#include "fw/policy/policy_loader.h"

#include "fw/common/confined_file.h"
#include "fw/common/sha256.h"
#include "fw/config/yaml_proto.h"
#include "fw/policy/policy_compiler.h"

namespace muzzle {
namespace {

// Length-prefixed, so no two different inputs render the same.
void digestField(Sha256* sha, std::string_view text) {
  sha->update(std::to_string(text.size()));
  sha->update(":");
  sha->update(text);
}

std::string policyDigest(std::string_view text, const std::vector<IncludedFile>& group_files,
                         const std::vector<IncludedFile>& device_files, std::string_view doh_text,
                         const std::vector<IncludedFile>& presets, std::string_view mud_trust,
                         const SiteFacts& site) {
  Sha256 sha;
  digestField(&sha, "muzzle-policy-v1");
  digestField(&sha, text);
  // Files the policy names: address groups, then the DoH list (digested as before group files
  // existed, so an upgrade keeps the generation of a policy without them).
  for (const IncludedFile& file : group_files) {
    digestField(&sha, "addresses-file=" + file.name);
    digestField(&sha, file.text);
  }
  if (!doh_text.empty()) digestField(&sha, doh_text);
  // Device list files (nothing added for a policy without them: its digest stays what it was).
  for (const IncludedFile& file : device_files) {
    digestField(&sha, "devices-file=" + file.name);
    digestField(&sha, file.text);
  }
  // Presets by name, so an upgraded or edited preset makes a new generation (nothing is added
  // for a policy without them: its digest stays what it was).
  for (const IncludedFile& file : presets) {
    digestField(&sha, "preset=" + file.name);
    digestField(&sha, file.text);
  }
  // The MUD trust anchors, so a changed trust file is a changed policy that reaches the engine
  // (nothing added without one).
  if (!mud_trust.empty()) digestField(&sha, "mud-trust=" + std::string(mud_trust));
  digestField(&sha, "segments=" + std::to_string(site.segments.size()));
  for (const SegmentFacts& segment : site.segments) {
    digestField(&sha, segment.name);
    digestField(&sha, segment.ifname);
    digestField(&sha, std::to_string(segment.ifindex));
    digestField(&sha, "gateway=" + std::to_string(segment.gateway_addresses.size()));
    for (const IpAddress& ip : segment.gateway_addresses) digestField(&sha, ip.toString());
    digestField(&sha, "subnets=" + std::to_string(segment.subnets.size()));
    for (const Cidr& cidr : segment.subnets) digestField(&sha, cidr.toString());
  }
  digestField(&sha, "box=" + std::to_string(site.box_addresses.size()));
  for (const IpAddress& ip : site.box_addresses) digestField(&sha, ip.toString());
  return sha.hexDigest();
}

// The folder of `path`, or "." when it names none.
std::string directoryOf(std::string_view path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

}  // namespace

PolicyCompileResult PolicyCompileResult::withCode(StatusCode code) const {
  if (ok()) return *this;
  PolicyCompileResult changed(status().withCode(code));
  changed.diagnostics_ = diagnostics_;
  return changed;
}

PolicyCompileResult compilePolicyText(std::string_view yaml_text, std::string_view file_label,
                                      const SiteFacts& site, const PolicyFolders& folders,
                                      ListCache* lists) {
  DiagnosticSink sink(file_label);
  v1::Policy proto;
  SourceMap map;
  if (!yamlToProto(yaml_text, &proto, &map, YamlToProtoOptions{}, &sink)) return sink.take();

  auto policy = std::make_shared<CompiledPolicy>();
  std::vector<std::string> preset_folders = folders.preset_dirs;
  if (!folders.shipped_dir.empty()) preset_folders.push_back(folders.shipped_dir + "/presets");
  PolicyCompiler compiler(
      map, site,
      {folders.policy_dir.empty() ? directoryOf(file_label) : folders.policy_dir,
       folders.shipped_dir},
      std::move(preset_folders), &sink, lists);
  compiler.compile(proto, policy.get());
  if (!sink.empty()) {
    // In file order, so a user can fix them top to bottom.
    sink.sortByLine();
    return sink.take();
  }
  policy->digest =
      policyDigest(yaml_text, compiler.groupFiles(), compiler.deviceFiles(), compiler.dohText(),
                   compiler.presetFiles(), compiler.mudTrustText(), site);
  return std::shared_ptr<const CompiledPolicy>(std::move(policy));
}

PolicyCompileResult compilePolicyFile(const std::string& path, const SiteFacts& site,
                                      const std::string& shipped_dir,
                                      const std::vector<std::string>& preset_dirs,
                                      ListCache* lists) {
  auto text = readRegularFile(path);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) {
      return std::vector<Diagnostic>{
          Diagnostic{path, 0, "", "cannot read the policy file (missing or unreadable)"}};
    }
    return PolicyCompileResult(text.status());
  }
  return compilePolicyText(*text, path, site,
                           PolicyFolders{directoryOf(path), shipped_dir, preset_dirs}, lists);
}

}  // namespace muzzle

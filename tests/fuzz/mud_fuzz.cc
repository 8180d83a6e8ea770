// libFuzzer target for the MUD importer: bytes -> importMud (the bounded JSON reader, both
// dialects, every entry mapped or reported), then the profile placed in a small policy with
// withProfile. Oracle: the sanitizers; an error is a non-empty message; what is imported keeps
// its promises: one source per rule, every rule allows or denies something, every report has a
// path and a message; and (one input in four, chosen by the input) the policy with the profile
// placed in it compiles, so the importer only ever writes names, ports and targets a policy
// accepts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fw/mud/mud_import.h"
#include "fw/mud/policy_text.h"
#include "fw/policy/policy_loader.h"

namespace {

constexpr std::string_view kPolicy =
    "version: 1\n"
    "defaults: {profile: quarantine}\n"
    "addresses:\n"
    "  nvr: [198.18.1.10]\n"
    "profiles:\n"
    "  # new devices\n"
    "  quarantine: {egress: [{allow: [gateway], proto: udp, ports: [53]}]}\n";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto m = muzzle::importMud(bytes, size % 2 ? "" : "dev");
  if (!m.ok()) {
    if (m.status().message().empty()) std::abort();
    return 0;
  }
  if (m->egress_sources.size() != static_cast<size_t>(m->profile.egress_size())) std::abort();
  if (m->inbound_sources.size() != static_cast<size_t>(m->profile.inbound_size())) std::abort();
  for (const auto* rules : {&m->profile.egress(), &m->profile.inbound()}) {
    for (const muzzle::v1::Rule& r : *rules) {
      if ((r.allow_size() == 0) == (r.deny_size() == 0)) std::abort();
    }
  }
  for (const muzzle::MudReport& r : m->reports) {
    if (r.path.empty() || r.message.empty()) std::abort();
  }
  if (m->profile_name.empty() || m->profile_name == "quarantine") return 0;
  muzzle::ProfileText t;
  t.profile = &m->profile;
  t.name = m->profile_name;
  t.comment = std::string(muzzle::kImportComment) + "fuzz";
  t.groups = m->site_groups;
  auto placed = muzzle::withProfile(kPolicy, t);
  if (!placed.ok()) std::abort();  // the policy is a block mapping: placing never fails
  if (size > 0 && data[size / 2] % 4 == 0) {
    auto compiled = muzzle::compilePolicyText(placed->text, "policy.yaml", muzzle::SiteFacts{});
    if (!compiled.ok()) std::abort();
  }
  return 0;
}

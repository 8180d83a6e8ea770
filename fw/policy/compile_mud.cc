// The mud section: whether devices' MUD files are fetched, the trust file, propose or auto.
#include "fw/common/confined_file.h"
#include "fw/policy/policy_compiler.h"
#include "fw/policy/policy_syntax.h"

namespace muzzle {
namespace {

// A trust file holds a few CA certificates; a megabyte is hundreds of them.
constexpr size_t kMaxMudTrustBytes = size_t{1} << 20;

}  // namespace

void PolicyCompiler::compileMud(const v1::Policy& policy, CompiledPolicy* out) {
  if (!policy.has_mud()) return;
  const v1::Mud& mud = policy.mud();
  CompiledMud& compiled = out->mud;
  compiled.fetch = mud.fetch();
  if (mud.apply().empty() || mud.apply() == "propose") {
    compiled.apply_auto = false;
  } else if (mud.apply() == "auto") {
    compiled.apply_auto = true;
  } else {
    fail("mud.apply", inQuotes(mud.apply()) + " is not propose or auto");
    return;
  }
  if (mud.trust().empty()) {
    if (mud.fetch()) {
      fail("mud.trust",
           "missing: name the PEM file of the CA certificates MUD files must be signed under "
           "(fetch: true checks every file's signature against it, and nothing else)");
    }
    return;
  }
  auto text = readConfinedFile(folders_, mud.trust(), kMaxMudTrustBytes);
  if (!text.ok()) {
    fail("mud.trust", text.status().message());
    return;
  }
  if (!spend(file_bytes_, text->size(), "mud.trust")) return;
  // The certificates themselves are parsed where signatures are checked (fw/mud/mud_signature.h,
  // OpenSSL, which the policy compiler does not link); a file without one is refused here, so a
  // mistyped name is an error at apply rather than every device's file refused later.
  if (text->find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    fail("mud.trust", inQuotes(mud.trust()) +
                          " holds no PEM certificate (-----BEGIN CERTIFICATE-----); put the CA "
                          "certificates that sign MUD files in it");
    return;
  }
  mud_trust_text_ = *text;
  compiled.trust_pem = std::move(*text);
}

}  // namespace muzzle

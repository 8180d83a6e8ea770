// The check of a fetched MUD file against its detached CMS signature (RFC 8520 section 13: the
// `.p7s` file the MUD file's `mud-signature` names, DER, signing the file's exact bytes).
//
// What is checked: the signature is a CMS SignedData (else kNotCms); its signature and message
// digest match the file's bytes exactly, as binary, no line-ending translation (else
// kBadSignature); the signer's certificate chains to one of the given trust anchors, and to
// nothing else: the anchors are the only store, never the system's CAs (else kUntrustedSigner).
// Certificates' validity periods are checked against the current time. A signer certificate is
// not required to carry S/MIME's emailProtection usage: MUD signers are web servers' and
// manufacturers' certificates, and RFC 8520 asks for none.
//
// Inputs are untrusted bytes (the file and signature come from any web server); a trust file
// without a certificate is refused as kNoTrustAnchors before anything else is looked at, so a
// mistyped trust file can never mean "trust everything". No exceptions; any thread (OpenSSL 3's
// error queue is per thread and is cleared before returning). OpenSSL is loaded only when this
// runs, which is only when a policy enables MUD fetching.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "fw/mud/mud_refusal.h"

namespace muzzle {

// nullopt: the signature is good and its signer trusted. Otherwise why not, with a message
// naming what failed and what to do.
std::optional<MudFailure> verifyMudSignature(std::string_view file, std::string_view signature_der,
                                             std::string_view trust_anchors_pem);

// The signature's URL when the file names none: the file's URL with a final `.json` replaced by
// `.p7s` (or `.p7s` appended), as RFC 8520 section 13.2 suggests publishers name it.
std::string defaultMudSignatureUrl(std::string_view mud_url);

}  // namespace muzzle

// Why a MUD file fetched for a device was not used, as a value: the reason is what
// `event=mud-refused reason=...` says and what tests compare; the message says what failed,
// where, and what to do. Pure; any thread.
#pragma once

#include <string>

#include "fw/common/status.h"

namespace muzzle {

enum class MudRefusal {
  kNotHttps,        // the URL (or a redirect) is not https://
  kTls,             // the server's certificate did not verify, or the TLS handshake failed
  kNetwork,         // no connection, DNS failure, connection cut
  kTimeout,         // the total time cap passed
  kHttpError,       // the server answered with a status other than 200
  kTooLarge,        // the file or signature is over the size cap
  kNotCms,          // the signature is not a DER CMS SignedData
  kBadSignature,    // the signature does not match the file's bytes
  kUntrustedSigner, // the signer does not chain to a configured trust anchor
  kNoTrustAnchors,  // the trust file holds no certificate
  kMalformed,       // the file is not a MUD file Muzzle can import (fw/mud/mud_import.h)
  kPrivateAddress,  // the server's name (or a redirect's) leads to a private or local address
};

// "not-https", "tls", "network", "timeout", "http-error", "too-large", "not-cms",
// "bad-signature", "untrusted-signer", "no-trust-anchors", "malformed", "private-address".
const char* mudRefusalName(MudRefusal reason);

struct MudFailure {
  MudRefusal reason;
  std::string message;
};

}  // namespace muzzle

// The certificate the web console presents: the files management.web names, or the box's own,
// made at first start and kept in the state folder, so a home user gets HTTPS with nothing to
// configure and can check the browser's warning against the fingerprint `muzzlectl status`
// prints.
#pragma once

#include <string>

#include "fw/common/status.h"

namespace muzzle::web {

struct TlsIdentity {
  std::string cert_pem;
  std::string key_pem;
  std::string fingerprint;  // SHA-256 of the leaf certificate's DER, "AB:CD:...:EF" (95 chars)
  bool made_here = false;   // the box made it (not configured)
};

// With `cert_path` and `key_path` set: those PEM files (read with the size and regular-file
// checks of fw/common/confined_file.h; the key must match the certificate). Without: the files
// `<state_dir>/web/console.crt` and `console.key`, made when missing (ECDSA P-256, self-signed,
// subject CN "muzzle", a subjectAltName for `listen_ip`, valid 10 years; the key written 0600,
// atomically). Errors name the file and what to do.
Result<TlsIdentity> loadOrMakeTlsIdentity(const std::string& cert_path,
                                          const std::string& key_path,
                                          const std::string& state_dir,
                                          const std::string& listen_ip);

// The SHA-256 fingerprint of the first certificate in `pem`, as above; "" when none parses.
std::string certificateFingerprint(const std::string& pem);

}  // namespace muzzle::web

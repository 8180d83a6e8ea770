// One MUD URL a device announced, made into a checked import: from the cache while fresh, else
// fetched (the file, then the signature its `mud-signature` names, else the file's URL with
// `.json` -> `.p7s`); the signature verified against the trust anchors (every time, the cached
// entries too: the trust file may have changed since); the file imported (fw/mud/mud_import.h);
// and, when fetched, cached for its `cache-validity`.
//
// Refused (MudFailure): what the fetcher refuses (not https, TLS, network, time, HTTP status,
// size), a signature that fails (not-cms, bad-signature, untrusted-signer, no-trust-anchors), a
// file that does not import or whose own `mud-url` is not the URL it was fetched from
// (kMalformed: a manufacturer's signed file for one model served for another's URL). Nothing
// is cached unless it verified and imported.
//
// Blocking (the fetcher's time cap, twice); run on the MUD fetch worker, never on the engine
// or a packet thread. `fetcher` and `cache` (may be null: no cache) are used only during the
// call.
#pragma once

#include <string>
#include <variant>

#include "fw/mud/mud_cache.h"
#include "fw/mud/mud_fetch.h"
#include "fw/mud/mud_import.h"

namespace muzzle {

struct RetrievedMud {
  std::string url;
  std::string file;  // the verified bytes
  MudImport import;
  bool from_cache = false;
  std::string cache_error;  // set when the cache could not be written (logged; the import stands)
};

std::variant<RetrievedMud, MudFailure> retrieveMud(const std::string& url,
                                                   const std::string& trust_anchors_pem,
                                                   MudFetcher& fetcher, MudCache* cache);

}  // namespace muzzle

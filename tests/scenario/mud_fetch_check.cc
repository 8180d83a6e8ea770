// mud_fetch_check URL SERVER_CA TRUST_PEM [CACHE_DIR]: retrieveMud (fw/mud/mud_retrieval.h)
// with the fetch muzzled makes (HelperMudFetcher running the built muzzle-mud-fetch), for
// tests/scenario/mud_fetch_https.sh. Prints one line:
// `ok PROFILE RULES cache|fetched` (exit 0) or `refused REASON: MESSAGE` (exit 1); 2 on misuse.
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "fw/common/clock.h"
#include "fw/mud/mud_helper_fetcher.h"
#include "fw/mud/mud_retrieval.h"

int main(int argc, char** argv) {
  if (argc < 4 || argc > 5) {
    std::cerr << "usage: mud_fetch_check URL SERVER_CA TRUST_PEM [CACHE_DIR]\n";
    return 2;
  }
  std::ifstream trust_file(argv[3]);
  std::stringstream trust;
  trust << trust_file.rdbuf();
  muzzle::MudFetchLimits limits;
  limits.ca_file = argv[2];
  muzzle::HelperMudFetcher fetcher({muzzle::MudHelper::Via::kSpawn, MUZZLE_MUD_FETCH_HELPER}, limits);
  muzzle::SystemClock clock;
  std::unique_ptr<muzzle::MudCache> cache;
  if (argc == 5) cache = std::make_unique<muzzle::MudCache>(argv[4], clock);
  auto outcome = muzzle::retrieveMud(argv[1], trust.str(), fetcher, cache.get());
  if (auto* f = std::get_if<muzzle::MudFailure>(&outcome)) {
    std::cout << "refused " << muzzle::mudRefusalName(f->reason) << ": " << f->message << "\n";
    return 1;
  }
  const auto& r = std::get<muzzle::RetrievedMud>(outcome);
  std::cout << "ok " << r.import.profile_name << " "
            << r.import.profile.egress_size() + r.import.profile.inbound_size() << " "
            << (r.from_cache ? "cache" : "fetched") << "\n";
  return 0;
}

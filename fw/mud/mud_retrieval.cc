#include "fw/mud/mud_retrieval.h"

#include "fw/common/excerpt.h"
#include "fw/mud/mud_signature.h"

namespace muzzle {

namespace {

std::string shown(const std::string& url) { return "\"" + excerpt(url, 255) + "\""; }

// The import of verified bytes, or kMalformed.
std::variant<MudImport, MudFailure> importChecked(const std::string& url, const std::string& file) {
  auto imported = importMud(file, "");
  if (!imported.ok()) {
    return MudFailure{MudRefusal::kMalformed,
                      "MUD file " + shown(url) + ": " + imported.status().message()};
  }
  if (imported->metadata.mud_url != url) {
    return MudFailure{MudRefusal::kMalformed,
                      "MUD file fetched from " + shown(url) + " names another mud-url, " +
                          shown(imported->metadata.mud_url) +
                          ": a file is used only for the URL it describes"};
  }
  return std::move(*imported);
}

}  // namespace

std::variant<RetrievedMud, MudFailure> retrieveMud(const std::string& url,
                                                   const std::string& trust_anchors_pem,
                                                   MudFetcher& fetcher, MudCache* cache) {
  if (cache != nullptr) {
    if (auto hit = cache->lookup(url)) {
      if (auto bad = verifyMudSignature(hit->file, hit->signature, trust_anchors_pem)) return *bad;
      auto imported = importChecked(url, hit->file);
      if (auto* f = std::get_if<MudFailure>(&imported)) return *f;
      return RetrievedMud{url, std::move(hit->file), std::get<MudImport>(std::move(imported)),
                          true, {}};
    }
  }
  auto file = fetcher.get(url);
  if (auto* f = std::get_if<MudFailure>(&file)) return *f;
  // The signature's URL is in the file, so the file is read (bounded, fuzzed: mud_json.h)
  // before it is verified; nothing from it is used unless the signature holds.
  auto imported = importChecked(url, std::get<std::string>(file));
  if (auto* f = std::get_if<MudFailure>(&imported)) return *f;
  MudImport& import = std::get<MudImport>(imported);
  const std::string sig_url = import.metadata.mud_signature.empty()
                                  ? defaultMudSignatureUrl(url)
                                  : import.metadata.mud_signature;
  auto sig = fetcher.get(sig_url);
  if (auto* f = std::get_if<MudFailure>(&sig)) {
    f->message = "the signature of MUD file " + shown(url) + ": " + f->message;
    return *f;
  }
  if (auto bad = verifyMudSignature(std::get<std::string>(file), std::get<std::string>(sig),
                                    trust_anchors_pem)) {
    bad->message = "MUD file " + shown(url) + ": " + bad->message;
    return *bad;
  }
  std::string cache_error;
  if (cache != nullptr) {
    // A cache that cannot be written costs a fetch next time, nothing else: the import stands.
    Status stored =
        cache->store(url, CachedMud{std::get<std::string>(file), std::get<std::string>(sig)},
                     import.metadata.cache_validity_hours);
    cache_error = stored.message();
  }
  return RetrievedMud{url, std::move(std::get<std::string>(file)), std::move(import), false,
                      std::move(cache_error)};
}

}  // namespace muzzle

#include "mgmt/server/mud_manager.h"

#include <algorithm>
#include <cctype>

#include "fw/mud/mud_fetch.h"
#include "fw/mud/mud_helper_fetcher.h"
#include "fw/policy/policy_syntax.h"
#include "mgmt/revisions/device_edits.h"
#include "mgmt/revisions/text_diff.h"

namespace muzzle {
namespace {

bool allDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

// What getaddrinfo (and so libcurl) reads as an IPv4 address: dotted parts in decimal, octal
// or hex, or one number ("2130706433", "0x7f.1", "127.1"). A DNS name never ends in such a
// label (a top-level domain is not numeric), so a host whose last label is a number is refused.
bool numericLabel(std::string_view label) {
  if (allDigits(label)) return true;
  if (label.size() > 2 && label[0] == '0' && (label[1] == 'x' || label[1] == 'X')) {
    return std::all_of(label.begin() + 2, label.end(),
                       [](unsigned char c) { return std::isxdigit(c); });
  }
  return false;
}

std::string eventUrl(const std::string& url) {
  // The URL goes into an event line as it is only when it is of a sane length (the inventory
  // cuts option 161 at 255 bytes; a longer one here came from elsewhere).
  return url.size() <= 300 ? url : url.substr(0, 300) + "...";
}

}  // namespace

std::optional<std::pair<std::string, std::string>> mudUrlRefusal(const std::string& url) {
  using R = std::pair<std::string, std::string>;
  if (url.size() > kMaxMudUrlBytes) {
    return R{"too-long", "the MUD URL is " + std::to_string(url.size()) + " bytes, more than " +
                             std::to_string(kMaxMudUrlBytes)};
  }
  if (!isHttpsUrl(url)) return R{"not-https", "only https:// MUD URLs are fetched"};
  const size_t start = 8;  // past "https://"
  const size_t end = url.find_first_of("/?#", start);
  const std::string authority = url.substr(start, end == std::string::npos ? end : end - start);
  if (authority.find('@') != std::string::npos) {
    return R{"bad-url", "the MUD URL carries user info (user@host); a device's URL names a host"};
  }
  if (authority.empty() || authority.front() == '[') {
    return R{"ip-literal", "the MUD URL's host is an IPv6 address; only DNS names are fetched"};
  }
  std::string host = authority.substr(0, authority.find(':'));
  while (!host.empty() && host.back() == '.') host.pop_back();
  const size_t dot = host.rfind('.');
  const std::string_view last = dot == std::string::npos
                                    ? std::string_view(host)
                                    : std::string_view(host).substr(dot + 1);
  if (host.empty() || numericLabel(last) || IpAddress::parse(host)) {
    return R{"ip-literal", "the MUD URL's host \"" + host +
                               "\" is an IP address; only DNS names are fetched (a device must "
                               "not point the box at addresses of its choice)"};
  }
  return std::nullopt;
}

ProfileText mudProfileText(const MudImport& m) {
  ProfileText t;
  t.profile = &m.profile;
  t.name = m.profile_name;
  t.comment = std::string(kImportComment) + m.metadata.mud_url;
  for (const MudRuleSource& s : m.egress_sources) t.rule_comments.push_back(s.ace);
  for (const MudRuleSource& s : m.inbound_sources) t.rule_comments.push_back(s.ace);
  t.groups = m.site_groups;
  t.group_comment = "MUD: fill with the addresses this group means";
  return t;
}

MudManager::WorkerFactory MudManager::helperWorker(std::string state_dir,
                                                   std::string tls_ca_file, MudHelper helper,
                                                   const Clock& clock) {
  return [state_dir = std::move(state_dir), tls_ca_file = std::move(tls_ca_file),
          helper = std::move(helper), &clock](MudFetchWorker::Deliver deliver) {
    MudFetchLimits limits;
    limits.ca_file = tls_ca_file;
    std::unique_ptr<MudCache> cache;
    if (!state_dir.empty()) cache = std::make_unique<MudCache>(state_dir + "/mud", clock);
    return std::make_unique<MudFetchWorker>(std::make_unique<HelperMudFetcher>(helper, limits),
                                            std::move(cache), std::move(deliver));
  };
}

MudManager::MudManager(EngineControl& engine, PolicyCommitter& commits, EventLog& log,
                       const WorkerFactory& make_worker)
    : engine_(engine), commits_(commits), log_(log) {
  // The worker's thread only posts; the outcome is handled on the engine thread.
  worker_ = make_worker([this, alive = alive_](const std::string& url,
                                               MudFetchWorker::Outcome outcome) {
    engine_.post([this, alive, url, outcome = std::move(outcome)]() mutable {
      if (*alive) delivered(url, std::move(outcome));
    });
  });
}

MudManager::~MudManager() {
  worker_.reset();  // joins: nothing is posted after this
  *alive_ = false;
}

void MudManager::observeEngine() {
  engine_.setMudUrlObserver([this](MacAddress mac, std::string url) { announced(mac, url); });
}

void MudManager::refused(MacAddress mac, const std::string& url, const std::string& reason,
                         const std::string& message) {
  log_.writeLimited(LogLine("mud-refused")
                        .add("device", mac.toString())
                        .add("url", eventUrl(url))
                        .add("reason", reason)
                        .add("error", message));
}

void MudManager::announced(MacAddress mac, const std::string& url) {
  auto policy = engine_.installedPolicy();
  if (!policy || !policy->mud.fetch) return;  // the policy changed since the engine saw it
  if (auto no = mudUrlRefusal(url)) return refused(mac, url, no->first, no->second);
  std::vector<MacAddress>& devices = waiting_[url];
  if (devices.size() >= kMaxMudDevicesPerUrl) {
    return refused(mac, url, "queue-full",
                   "too many devices wait for this URL; the device's next announcement retries");
  }
  switch (worker_->request(url, policy->mud.trust_pem)) {
    case MudFetchWorker::Queued::kFull:
      if (devices.empty()) waiting_.erase(url);
      return refused(mac, url, "queue-full",
                     "the MUD fetch queue is full (" + std::to_string(kMaxMudFetchesPending) +
                         " URLs); the device's next announcement of a new URL retries");
    case MudFetchWorker::Queued::kQueued:
    case MudFetchWorker::Queued::kAlreadyQueued:
      if (std::find(devices.begin(), devices.end(), mac) == devices.end()) devices.push_back(mac);
      return;
  }
}

void MudManager::delivered(const std::string& url, MudFetchWorker::Outcome outcome) {
  auto it = waiting_.find(url);
  if (it == waiting_.end()) return;
  const std::vector<MacAddress> devices = std::move(it->second);
  waiting_.erase(it);
  for (MacAddress mac : devices) {
    if (auto* failure = std::get_if<MudFailure>(&outcome)) {
      refused(mac, url, mudRefusalName(failure->reason), failure->message);
    } else {
      fetched(mac, std::get<RetrievedMud>(outcome));
    }
  }
}

void MudManager::fetched(MacAddress mac, const RetrievedMud& r) {
  const MudImport& m = r.import;
  if (!isValidName(m.profile_name)) {
    return refused(mac, r.url, mudRefusalName(MudRefusal::kMalformed),
                   "the file names no usable profile: \"" + m.profile_name +
                       "\" is not a profile name (letters, digits, '_', '.', '-')");
  }
  if (!r.cache_error.empty()) {
    log_.write(LogLine("mud-cache-error").add("url", eventUrl(r.url)).add("error", r.cache_error));
  }
  log_.write(LogLine("mud-fetched")
                 .add("device", mac.toString())
                 .add("url", eventUrl(r.url))
                 .add("profile", m.profile_name)
                 .add("from_cache", r.from_cache ? "yes" : "no")
                 .add("reports", m.reports.size()));
  auto policy = engine_.installedPolicy();
  if (!policy || !policy->mud.fetch) return;  // turned off while it was fetched
  MudProposal p;
  p.mac = mac;
  p.url = r.url;
  p.import = m;
  p.from_cache = r.from_cache;
  RevisionStore& store = commits_.store();
  p.base_revision = store.current();
  auto current = store.content(p.base_revision);
  if (!current.ok()) return refused(mac, r.url, "apply-failed", current.status().message());
  for (const auto& [other_mac, other] : proposals_) {
    if (other.url == p.url && other.base_revision == p.base_revision) {
      p.text = other.text;
      p.diff = other.diff;
      break;
    }
  }
  if (!p.text) {
    auto placed = withProfile(*current, mudProfileText(p.import));
    if (!placed.ok()) return refused(mac, r.url, "apply-failed", placed.status().message());
    p.text = std::make_shared<const std::string>(std::move(placed->text));
    p.diff = std::make_shared<const std::string>(
        unifiedDiff(*current, *p.text, "revision " + std::to_string(p.base_revision),
                    "with profile " + m.profile_name));
  }
  const int listed = policy->deviceByMac(mac);
  p.assign = listed < 0 || policy->profiles[policy->devices[listed].profile].name != m.profile_name;
  const bool apply_auto = policy->mud.apply_auto;
  keep(std::move(p));
  if (!apply_auto) {
    const MudProposal& kept = *proposal(mac);
    log_.write(LogLine("mud-proposed")
                   .add("device", mac.toString())
                   .add("url", eventUrl(kept.url))
                   .add("profile", kept.import.profile_name)
                   .add("base_revision", kept.base_revision)
                   .add("assign", kept.assign ? "yes" : "no"));
    return;
  }
  const std::string url = r.url;
  applyProposal(mac, 0, 0, "", Caller{"muzzled", "mud-fetch"},
                [this, mac, url, profile = m.profile_name](CommitReply reply) {
                  if (!reply.outcome.ok() &&
                      reply.outcome.status().code() == StatusCode::kAborted) {
                    // Another change landed first (often: another device of the same model,
                    // applied from the same outcome). Made again from the policy as it is now;
                    // the file comes from the cache.
                    return announced(mac, url);
                  }
                  if (!reply.outcome.ok()) {
                    return refused(mac, url, "apply-failed", reply.outcome.status().message());
                  }
                  log_.write(LogLine("mud-applied")
                                 .add("device", mac.toString())
                                 .add("url", eventUrl(url))
                                 .add("profile", profile)
                                 .add("revision", reply.outcome->revision.number()));
                });
}

void MudManager::keep(MudProposal p) {
  p.sequence = ++sequence_;
  if (!proposals_.contains(p.mac.value) && proposals_.size() >= kMaxMudProposals) {
    auto oldest = std::min_element(proposals_.begin(), proposals_.end(), [](const auto& a, const auto& b) {
      return a.second.sequence < b.second.sequence;
    });
    proposals_.erase(oldest);
  }
  proposals_[p.mac.value] = std::move(p);
}

std::vector<const MudProposal*> MudManager::proposals() const {
  std::vector<const MudProposal*> out;
  for (const auto& [mac, p] : proposals_) out.push_back(&p);
  return out;
}

const MudProposal* MudManager::proposal(MacAddress mac) const {
  auto it = proposals_.find(mac.value);
  return it == proposals_.end() ? nullptr : &it->second;
}

void MudManager::applyProposal(MacAddress mac, uint64_t expected_revision,
                               uint32_t confirm_seconds, const std::string& comment,
                               const Caller& caller, PolicyCommitter::CommitDone done) {
  const MudProposal* p = proposal(mac);
  if (p == nullptr) {
    return done(Status::error(StatusCode::kNotFound,
                              "no MUD proposal for " + mac.toString() +
                                  "; `muzzlectl mud proposals` lists the devices that have one"));
  }
  const uint64_t stale_from = commits_.current();
  if ((expected_revision != 0 && expected_revision != p->base_revision) ||
      stale_from != p->base_revision) {
    // Made from an older policy: ask for a fresh one (the file is cached) and refuse this one.
    const std::string url = p->url;
    const uint64_t base = p->base_revision;
    proposals_.erase(mac.value);
    announced(mac, url);
    return done(Status::error(
        StatusCode::kAborted,
        "the MUD proposal for " + mac.toString() + " was made from revision " +
            std::to_string(base) + ", the policy is at revision " + std::to_string(stale_from) +
            " now; a new proposal is being made from it: list the proposals again"));
  }
  const std::string text_comment =
      comment.empty() ? "MUD fetch of " + p->url + " for " + mac.toString() : comment;
  const uint64_t sequence = p->sequence;
  auto finished = [this, mac, sequence, done = std::move(done)](CommitReply reply) {
    if (reply.outcome.ok()) {
      if (const MudProposal* now = proposal(mac); now != nullptr && now->sequence == sequence) {
        proposals_.erase(mac.value);
      }
    }
    done(std::move(reply));
  };
  if (!p->assign) {
    return commits_.apply(*p->text, p->base_revision, confirm_seconds, text_comment, caller,
                          std::move(finished));
  }
  // The profile and the device's assignment in one text, so one revision (and one confirmation
  // window) holds both. The proposal's text is the current revision's with the profile placed:
  // edit() refuses (ABORTED) if another revision lands before it commits.
  const std::string profile = p->import.profile_name;
  commits_.edit(
      [this, text = p->text, mac, profile](const std::string&) {
        return editDeviceText(*text, PolicyCommitter::kLabel, mac,
                              [&profile](v1::Device* d) { return setDevice(d, "", profile); },
                              listedDevice(engine_.installedPolicy().get(), mac));
      },
      "apply", text_comment + " (the device assigned to " + profile + ")", confirm_seconds,
      caller, std::move(finished));
}

}  // namespace muzzle

// MudManager: devices' MUD files (RFC 8520) fetched and made into profiles. The engine reports
// "device D announced MUD URL U" (EngineControl::setMudUrlObserver; only while the installed
// policy has `mud.fetch: true`); the manager checks the URL, has the MUD fetch worker
// (fw/mud/mud_fetch_worker.h) retrieve it off the engine thread, and gets the outcome back on
// the engine thread, where it becomes an event and either a proposal (`apply: propose`, the
// default) or a new revision through the PolicyCommitter (`apply: auto`).
//
// The URL is the device's choice. Refused before any fetch, with event=mud-refused: longer than
// kMaxMudUrlBytes (`too-long`), not https:// (`not-https`), a host that is an IP address in any
// spelling a resolver accepts (`ip-literal`: a device must not steer the box at its own LAN or
// the admin's network; only a DNS name, resolved by the box, is fetched), user info in it
// (`bad-url`), and the worker's queue full (`queue-full`). A fetch that fails says its
// MudFailure reason (fw/mud/mud_refusal.h). On any refusal the device keeps its profile.
//
// Proposals: at most kMaxMudProposals devices, one each (the newest replaces the device's
// older one; past the bound the oldest device's is dropped), in memory only: a restart forgets
// them, and the device's next announcement (or `muzzlectl mud import`) makes one again. A
// proposal is the policy text with the profile placed (fw/mud/policy_text.h) at the revision
// it was made from; applying it at a later revision is refused (ABORTED) and a fresh proposal
// is asked for (from the cache). When the device is not listed in that profile, applying also
// assigns it there, in the same revision: the proposal's text with the device's entry edited
// (editDeviceText, committed by PolicyCommitter::edit).
// With `apply: auto` an apply that finds the policy moved on (ABORTED: e.g. another device of
// the same model applied first) is made again from the current revision (the file from the
// cache); other failures are event=mud-refused reason=apply-failed.
//
// Reported (fw/engine/daemon.h setMudUrlObserver): a device's new or changed URL, and every
// known device's URL when a policy turns fetching on or when muzzled starts with it on (the
// inventory keeps URLs across restarts). The cache makes the repeated ones cheap.
//
// Engine thread only, except the worker's own thread (which only posts). The references must
// outlive it; the worker is stopped (and joined) first when it is destroyed.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fw/common/clock.h"
#include "fw/common/net.h"
#include "fw/engine/engine_control.h"
#include "fw/engine/event_log.h"
#include "fw/mud/mud_fetch_worker.h"
#include "fw/mud/mud_helper_fetcher.h"
#include "fw/mud/policy_text.h"
#include "mgmt/revisions/policy_committer.h"

namespace muzzle {

inline constexpr size_t kMaxMudUrlBytes = 2048;
inline constexpr size_t kMaxMudProposals = 256;
// Devices waiting for one URL's outcome (many devices of one model announce one URL).
inline constexpr size_t kMaxMudDevicesPerUrl = 256;

// Why `url` is not fetched at all ("too-long", "not-https", "bad-url", "ip-literal"), with a
// message; nullopt when it may be fetched. Pure.
std::optional<std::pair<std::string, std::string>> mudUrlRefusal(const std::string& url);

// The profile of an import as policy text places it (shared with MudService.ImportMud).
ProfileText mudProfileText(const MudImport& m);

struct MudProposal {
  MacAddress mac;
  std::string url;
  MudImport import;
  uint64_t base_revision = 0;
  // The base revision's text with the profile placed, and the diff base -> text. Shared by
  // the proposals of one URL at one revision (a site's cameras of one model): 256 proposals
  // hold one copy of a large site's policy, not 256.
  std::shared_ptr<const std::string> text;
  std::shared_ptr<const std::string> diff;
  bool assign = false;  // applying also assigns the device to the profile
  bool from_cache = false;
  uint64_t sequence = 0;  // newer proposals have larger numbers
};

class MudManager {
 public:
  // Makes the worker; `deliver` must be its outcome callback. muzzled's: helperWorker below;
  // tests give one over a fake web.
  using WorkerFactory = std::function<std::unique_ptr<MudFetchWorker>(MudFetchWorker::Deliver)>;
  // The worker muzzled runs: each fetch in the helper program muzzle-mud-fetch, started by
  // muzzled or by systemd (`helper`; HelperMudFetcher; the HTTPS servers' certificates checked
  // against `tls_ca_file`, empty: the system's CAs) and the cache in `state_dir`/mud.
  static WorkerFactory helperWorker(std::string state_dir, std::string tls_ca_file,
                                    MudHelper helper, const Clock& clock);

  MudManager(EngineControl& engine, PolicyCommitter& commits, EventLog& log,
             const WorkerFactory& make_worker);
  ~MudManager();
  MudManager(const MudManager&) = delete;
  MudManager& operator=(const MudManager&) = delete;

  // Installs announced() as the engine's MUD URL observer. Before the engine runs.
  void observeEngine();
  // Engine thread: `mac` announced `url`. Checked, then queued (or refused with an event).
  void announced(MacAddress mac, const std::string& url);

  // Engine thread. Ordered by device address.
  std::vector<const MudProposal*> proposals() const;
  const MudProposal* proposal(MacAddress mac) const;
  // Engine thread: applies `mac`'s proposal as ImportMud with apply would (revision, audit with
  // `comment`, default "MUD fetch of <url> for <mac>", commit-confirmed with
  // `confirm_seconds`), the device assigned to the profile in the same revision if needed.
  // kNotFound without a proposal; ABORTED when the policy moved on since it was made (or
  // `expected_revision`, when not 0, is not the proposal's base); FAILED_PRECONDITION while
  // another commit awaits confirmation. `done` runs on the engine thread, with the revision.
  void applyProposal(MacAddress mac, uint64_t expected_revision, uint32_t confirm_seconds,
                     const std::string& comment, const Caller& caller,
                     PolicyCommitter::CommitDone done);

 private:
  void delivered(const std::string& url, MudFetchWorker::Outcome outcome);
  void refused(MacAddress mac, const std::string& url, const std::string& reason,
               const std::string& message);
  void fetched(MacAddress mac, const RetrievedMud& r);
  void keep(MudProposal p);

  EngineControl& engine_;
  PolicyCommitter& commits_;
  EventLog& log_;
  std::map<std::string, std::vector<MacAddress>> waiting_;  // url -> devices, while queued
  std::map<uint64_t, MudProposal> proposals_;  // MacAddress::value -> its proposal
  uint64_t sequence_ = 0;
  // Whether this object still exists, for outcomes posted while it is destroyed.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::unique_ptr<MudFetchWorker> worker_;  // last: stopped before the rest goes away
};

}  // namespace muzzle

// MudFetchWorker: the thread that fetches devices' MUD files, one URL at a time, off the packet
// path. A fetch waits on the network for up to its time cap (10 s, twice: file and signature);
// on a queue thread it would hold back verdicts, on the engine thread timers and clients. The
// worker never takes the Judge's lock and touches no engine state: each outcome goes to
// `deliver`, called on the worker thread, which the owner makes a post to the engine thread
// (as the management plane's compile thread hands back compiled policies).
//
// Bounded, because devices choose the URLs (DHCP option 161): at most `max_pending` URLs wait
// or run (kMaxMudFetchesPending); a URL already waiting or running is not queued twice (many
// devices of one model announce one URL); past the bound request() refuses and the caller
// says so in an event. The cache makes a repeated URL cheap (fw/mud/mud_cache.h).
//
// Thread-safe. The destructor lets the running fetch finish (at most its time cap), drops the
// waiting ones undelivered and joins.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <variant>

#include "fw/mud/mud_cache.h"
#include "fw/mud/mud_fetch.h"
#include "fw/mud/mud_retrieval.h"

namespace muzzle {

inline constexpr size_t kMaxMudFetchesPending = 16;

class MudFetchWorker {
 public:
  using Outcome = std::variant<RetrievedMud, MudFailure>;
  // Called on the worker thread with the URL asked for and its outcome; must not block long.
  using Deliver = std::function<void(const std::string& url, Outcome outcome)>;

  // `cache` may be null (no state folder). The worker owns both.
  MudFetchWorker(std::unique_ptr<MudFetcher> fetcher, std::unique_ptr<MudCache> cache,
                 Deliver deliver, size_t max_pending = kMaxMudFetchesPending);
  ~MudFetchWorker();
  MudFetchWorker(const MudFetchWorker&) = delete;
  MudFetchWorker& operator=(const MudFetchWorker&) = delete;

  enum class Queued { kQueued, kAlreadyQueued, kFull };
  // Any thread. Queues `url`, to be verified against `trust_anchors_pem` (the trust file's
  // text when asked: a later policy's trust file applies to later requests).
  Queued request(const std::string& url, std::string trust_anchors_pem);

 private:
  struct Job {
    std::string url;
    std::string trust;
  };
  void run();

  std::unique_ptr<MudFetcher> fetcher_;
  std::unique_ptr<MudCache> cache_;
  Deliver deliver_;
  const size_t max_pending_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  std::set<std::string> pending_urls_;  // waiting or running
  bool stopping_ = false;
  std::thread thread_;  // last: started once everything above exists
};

const char* mudQueuedName(MudFetchWorker::Queued q);  // "queued", "already-queued", "full"

}  // namespace muzzle

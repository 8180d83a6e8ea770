#include "fw/mud/mud_fetch_worker.h"

#include <pthread.h>

#include "fw/common/thread_priority.h"

namespace muzzle {

const char* mudQueuedName(MudFetchWorker::Queued q) {
  switch (q) {
    case MudFetchWorker::Queued::kQueued: return "queued";
    case MudFetchWorker::Queued::kAlreadyQueued: return "already-queued";
    case MudFetchWorker::Queued::kFull: return "full";
  }
  return "unknown";
}

MudFetchWorker::MudFetchWorker(std::unique_ptr<MudFetcher> fetcher,
                               std::unique_ptr<MudCache> cache, Deliver deliver,
                               size_t max_pending)
    : fetcher_(std::move(fetcher)),
      cache_(std::move(cache)),
      deliver_(std::move(deliver)),
      max_pending_(max_pending),
      thread_([this] { run(); }) {}

MudFetchWorker::~MudFetchWorker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

MudFetchWorker::Queued MudFetchWorker::request(const std::string& url,
                                               std::string trust_anchors_pem) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (pending_urls_.count(url) != 0) return Queued::kAlreadyQueued;
    if (pending_urls_.size() >= max_pending_) return Queued::kFull;
    pending_urls_.insert(url);
    jobs_.push_back(Job{url, std::move(trust_anchors_pem)});
  }
  wake_.notify_one();
  return Queued::kQueued;
}

void MudFetchWorker::run() {
  pthread_setname_np(pthread_self(), "muzzle-mudfetch");
  runAsBackgroundThread();
  while (true) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    Outcome outcome = retrieveMud(job.url, job.trust, *fetcher_, cache_.get());
    {
      // Before delivering: a device asking again from the delivery onwards gets a new fetch
      // (or the cache), never "already queued" for a fetch whose outcome it already had.
      std::lock_guard<std::mutex> lock(mu_);
      pending_urls_.erase(job.url);
    }
    deliver_(job.url, std::move(outcome));
  }
}

}  // namespace muzzle

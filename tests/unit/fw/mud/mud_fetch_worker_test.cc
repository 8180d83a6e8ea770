// MudFetchWorker: outcomes come back through `deliver` from the worker thread; a URL waiting or
// running is not queued twice; past max_pending requests are refused. The fake fetcher holds
// each fetch until the test releases it, so nothing here depends on timing.
#include "fw/mud/mud_fetch_worker.h"

#include <doctest/doctest.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <vector>

namespace muzzle {
namespace MUZZLE_UNITY_ID {

// Every get() waits until the test has released that many fetches; tells when one starts.
class GatedWeb : public MudFetcher {
 public:
  std::variant<std::string, MudFailure> get(const std::string& url) override {
    std::unique_lock<std::mutex> lock(mu);
    ++started;
    changed.notify_all();
    changed.wait(lock, [&] { return released >= started; });
    return MudFailure{MudRefusal::kHttpError, url + ": 404"};
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu);
    ++released;
    changed.notify_all();
  }
  void waitStarted(int n) {
    std::unique_lock<std::mutex> lock(mu);
    changed.wait(lock, [&] { return started >= n; });
  }
  std::mutex mu;
  std::condition_variable changed;
  int started = 0, released = 0;
};

struct Delivered {
  std::mutex mu;
  std::condition_variable changed;
  std::vector<std::pair<std::string, MudRefusal>> got;

  MudFetchWorker::Deliver sink() {
    return [this](const std::string& url, MudFetchWorker::Outcome outcome) {
      std::lock_guard<std::mutex> lock(mu);
      REQUIRE(std::holds_alternative<MudFailure>(outcome));
      got.emplace_back(url, std::get<MudFailure>(outcome).reason);
      changed.notify_all();
    };
  }
  void waitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu);
    changed.wait(lock, [&] { return got.size() >= n; });
  }
};

using Q = MudFetchWorker::Queued;

TEST_CASE("an outcome comes back through deliver, and the URL may then be asked for again") {
  auto web = std::make_unique<GatedWeb>();
  GatedWeb& w = *web;
  Delivered d;
  MudFetchWorker worker(std::move(web), nullptr, d.sink());
  CHECK(worker.request("https://a.example/cam.json", "") == Q::kQueued);
  w.waitStarted(1);
  CHECK(worker.request("https://a.example/cam.json", "") == Q::kAlreadyQueued);
  w.release();
  d.waitFor(1);
  CHECK(d.got[0].first == "https://a.example/cam.json");
  CHECK(d.got[0].second == MudRefusal::kHttpError);
  CHECK(worker.request("https://a.example/cam.json", "") == Q::kQueued);
  w.release();
  d.waitFor(2);
}

TEST_CASE("past max_pending URLs waiting or running, requests are refused") {
  auto web = std::make_unique<GatedWeb>();
  GatedWeb& w = *web;
  Delivered d;
  MudFetchWorker worker(std::move(web), nullptr, d.sink(), 2);
  CHECK(worker.request("https://a.example/1.json", "") == Q::kQueued);
  w.waitStarted(1);
  CHECK(worker.request("https://a.example/2.json", "") == Q::kQueued);
  CHECK(worker.request("https://a.example/3.json", "") == Q::kFull);
  CHECK(std::string(mudQueuedName(Q::kFull)) == "full");
  w.release();
  w.release();
  d.waitFor(2);
  CHECK(d.got[1].first == "https://a.example/2.json");  // in order
  CHECK(worker.request("https://a.example/3.json", "") == Q::kQueued);
  w.release();
  d.waitFor(3);
}

TEST_CASE("destroying the worker lets the running fetch deliver, then joins") {
  auto web = std::make_unique<GatedWeb>();
  GatedWeb& w = *web;
  Delivered d;
  {
    MudFetchWorker worker(std::move(web), nullptr, d.sink());
    worker.request("https://a.example/1.json", "");
    w.waitStarted(1);
    worker.request("https://a.example/2.json", "");
    w.release();
    // The waiting one may or may not start before the destructor stops the loop; released, it
    // cannot hang the join either way.
    w.release();
  }
  CHECK(d.got.size() <= 2);
  CHECK(d.got.at(0).first == "https://a.example/1.json");
}

}  // namespace
}  // namespace muzzle

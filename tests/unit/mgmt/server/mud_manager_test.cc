// MudManager over a Box (store, audit, committer; a fake engine whose posted work runs on the
// test's thread) and a MUD fetch worker over a fake web that serves files signed by a lab CA
// made here: the URL checks before any fetch, a proposal (diff, device assignment) and its
// apply, apply: auto, a tampered file, a full queue, a proposal made stale by another change.
#include "mgmt/server/mud_manager.h"

#include <doctest/doctest.h>

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <map>
#include <mutex>

#include "mgmt/server/service_calls.h"
#include "muzzle/v1/mud.grpc.pb.h"

#include "tests/unit/fw/mud/mud_pki.h"
#include "tests/unit/mgmt/revisions/test_box.h"
#include "tests/unit/mgmt/server/local_api.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using namespace testing;
using test::TestIdentity;

const std::string kUrl = "https://maker.example.com/cam.json";
const std::string kSigUrl = "https://maker.example.com/cam.p7s";
const MacAddress kCam = *MacAddress::parse("44:47:cc:00:00:11");

constexpr const char* kSite = R"(version: 1
# the site's own comment
profiles:
  quarantine: {egress: [{allow: [gateway], proto: udp, ports: [53]}]}
)";

std::string camFile() { return test::camMudFile(kUrl); }

// Answers from a table, on the worker's thread; `hold` keeps every get() waiting until released.
class FakeWeb : public MudFetcher {
 public:
  std::variant<std::string, MudFailure> get(const std::string& url) override {
    std::unique_lock<std::mutex> lock(mu);
    asked.push_back(url);
    ++entered;
    cv.notify_all();
    cv.wait_for(lock, kPatience, [this] { return !hold; });
    auto it = pages.find(url);
    if (it == pages.end()) return MudFailure{MudRefusal::kHttpError, url + ": 404"};
    return it->second;
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu);
    hold = false;
    cv.notify_all();
  }
  bool waitEntered(int n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, kPatience, [&] { return entered >= n; });
  }
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, std::string> pages;
  std::vector<std::string> asked;
  bool hold = false;
  int entered = 0;
};

struct Site {
  explicit Site(size_t max_pending = kMaxMudFetchesPending)
      : box(dir.path, clock),
        manager(box.engine, box.commits, box.log,
                [this, max_pending](MudFetchWorker::Deliver deliver) {
                  auto web_ptr = std::make_unique<ForwardingWeb>(web);
                  return std::make_unique<MudFetchWorker>(std::move(web_ptr), nullptr,
                                                          std::move(deliver), max_pending);
                }) {
    // The engine runs what boot chose, as muzzled's Daemon would at start.
    REQUIRE(box.engine.applyPolicyText(box.boot(kSite), "policy.yaml").ok());
    publish(camFile());
  }
  // The worker owns its fetcher; this one hands every get() to the Site's web.
  struct ForwardingWeb : MudFetcher {
    explicit ForwardingWeb(FakeWeb& w) : web(w) {}
    std::variant<std::string, MudFailure> get(const std::string& url) override {
      return web.get(url);
    }
    FakeWeb& web;
  };
  void publish(const std::string& file) {
    web.pages[kUrl] = file;
    web.pages[kSigUrl] = signer.signDetached(file);
  }
  // The installed policy as if it had `mud: {fetch: true, trust: <the lab CA>, apply: ...}`
  // (the fake engine compiles without a policy folder to read a trust file from).
  void enableFetch(bool apply_auto) {
    auto copy = std::make_shared<CompiledPolicy>(*box.engine.policy);
    copy->mud.fetch = true;
    copy->mud.apply_auto = apply_auto;
    copy->mud.trust_pem = ca.certPem();
    box.engine.policy = copy;
  }
  bool has(const std::string& line) { return box.logText().find(line) != std::string::npos; }

  TestIdentity ca{"Lab MUD CA", nullptr, true};
  TestIdentity signer{"maker.example.com", &ca, false};
  TempDir dir{"muzzle-mud-manager"};
  ManualClock clock;
  FakeWeb web;
  Box box;
  MudManager manager;
};

TEST_CASE("a URL a device chose is refused before any fetch unless https to a DNS name") {
  CHECK(!mudUrlRefusal("https://maker.example.com/cam.json"));
  CHECK(!mudUrlRefusal("https://maker.example.com:8443/cam.json"));
  CHECK(mudUrlRefusal("http://maker.example.com/cam.json")->first == "not-https");
  CHECK(mudUrlRefusal("ftp://maker.example.com/cam.json")->first == "not-https");
  CHECK(mudUrlRefusal("https://" + std::string(2100, 'a') + ".com/")->first == "too-long");
  for (const char* ip : {"https://198.51.100.7/cam.json", "https://198.51.100.7:443/x",
                         "https://[2001:db8::1]/cam.json", "https://2130706433/x",
                         "https://0x7f.1/x", "https://127.1/x", "https://10.0.0.1./x"}) {
    CAPTURE(ip);
    auto no = mudUrlRefusal(ip);
    REQUIRE(no);
    CHECK(no->first == "ip-literal");
  }
  CHECK(mudUrlRefusal("https://admin@maker.example.com/x")->first == "bad-url");
}

TEST_CASE("a refused URL is an event and nothing is fetched; without fetch: true nothing at all") {
  Site s;
  s.manager.announced(kCam, kUrl);  // the policy does not fetch
  s.enableFetch(false);
  s.manager.announced(kCam, "https://198.51.100.7/cam.json");
  s.manager.announced(kCam, "http://maker.example.com/cam.json");
  CHECK(s.has("event=mud-refused device=44:47:cc:00:00:11 url=https://198.51.100.7/cam.json "
              "reason=ip-literal"));
  CHECK(s.has("url=http://maker.example.com/cam.json reason=not-https"));
  std::lock_guard<std::mutex> lock(s.web.mu);
  CHECK(s.web.asked.empty());
}

TEST_CASE("propose: a fetched file becomes a proposal; applying it adds the profile and assigns") {
  Site s;
  s.enableFetch(false);
  s.manager.announced(kCam, kUrl);
  REQUIRE(s.box.engine.runUntil([&] { return s.manager.proposal(kCam) != nullptr; }));
  CHECK(s.has("event=mud-fetched device=44:47:cc:00:00:11 url=" + kUrl +
              " profile=cam from_cache=no"));
  CHECK(s.has("event=mud-proposed device=44:47:cc:00:00:11"));
  const MudProposal& p = *s.manager.proposal(kCam);
  CHECK(p.base_revision == 1);
  CHECK(p.assign);
  CHECK(p.diff->find("+  cam:") != std::string::npos);
  CHECK(p.diff->find("cloud.maker.example.com") != std::string::npos);
  CHECK(s.box.commits.current() == 1);  // nothing applied yet
  REQUIRE(s.manager.proposals().size() == 1);
  const std::string proposed = *p.text;  // the proposal goes once applied

  auto reply = s.box.await<CommitReply>([&](auto done) {
    s.manager.applyProposal(kCam, 0, 0, "", Caller{"admin-1", "unix"}, done);
  });
  REQUIRE_MESSAGE(reply.outcome.ok(), reply.outcome.status().message());
  CHECK(reply.outcome->revision.number() == 2);  // the profile and the device, one revision
  CHECK(s.manager.proposal(kCam) == nullptr);
  auto policy = s.box.engine.installedPolicy();
  const int listed = policy->deviceByMac(kCam);
  REQUIRE(listed >= 0);
  CHECK(policy->profiles[policy->devices[listed].profile].name == "cam");
  AuditChain chain = s.box.commits.auditChain();
  REQUIRE(!chain.entries.empty());
  CHECK(chain.entries.back().action() == "apply");
  CHECK(chain.entries.back().comment() ==
        "MUD fetch of " + kUrl + " for 44:47:cc:00:00:11 (the device assigned to cam)");
  // The proposal's text (the admin's, with the profile placed) plus the device's entry.
  CHECK(s.box.engine.installed == proposed + "devices:\n"
                                            "  - name: device-44-47-cc-00-00-11\n"
                                            "    mac: \"44:47:cc:00:00:11\"\n"
                                            "    profile: cam\n");
}

TEST_CASE("propose: devices of one model share one copy of the proposed text") {
  Site s;
  s.enableFetch(false);
  const MacAddress other = *MacAddress::parse("44:47:cc:00:00:99");
  s.manager.announced(kCam, kUrl);
  REQUIRE(s.box.engine.runUntil([&] { return s.manager.proposal(kCam) != nullptr; }));
  s.manager.announced(other, kUrl);
  REQUIRE(s.box.engine.runUntil([&] { return s.manager.proposal(other) != nullptr; }));
  const MudProposal& a = *s.manager.proposal(kCam);
  const MudProposal& b = *s.manager.proposal(other);
  CHECK(a.text == b.text);  // the same object, not two equal strings
  CHECK(a.diff == b.diff);
  CHECK(a.text.use_count() == 2);
}

TEST_CASE("apply: auto applies the profile and assigns the device, audited") {
  Site s;
  s.enableFetch(true);
  s.manager.announced(kCam, kUrl);
  REQUIRE(s.box.engine.runUntil([&] { return s.box.commits.current() == 2; }));
  REQUIRE(s.box.engine.runUntil([&] { return s.has("event=mud-applied"); }));
  CHECK(s.has("event=mud-applied device=44:47:cc:00:00:11 url=" + kUrl +
              " profile=cam revision=2"));
  auto policy = s.box.engine.installedPolicy();
  REQUIRE(policy->deviceByMac(kCam) >= 0);
  CHECK(policy->profiles[policy->devices[policy->deviceByMac(kCam)].profile].name == "cam");
  CHECK(s.box.engine.installed.find("# the site's own comment") != std::string::npos);
  CHECK(s.manager.proposal(kCam) == nullptr);
}

TEST_CASE("apply: auto for two devices of one model: both end in the profile") {
  Site s;
  s.enableFetch(true);
  const MacAddress twin = *MacAddress::parse("44:47:cc:00:00:12");
  s.manager.announced(kCam, kUrl);
  s.manager.announced(twin, kUrl);  // the same URL: one fetch, two outcomes
  auto assigned = [&](MacAddress mac) {
    auto policy = s.box.engine.installedPolicy();
    const int listed = policy->deviceByMac(mac);
    return listed >= 0 && policy->profiles[policy->devices[listed].profile].name == "cam";
  };
  // The second apply finds the policy moved on (ABORTED) and is made again from the new one.
  // Every install replaces the fake engine's policy, so the fetch flag is set again each time.
  REQUIRE(s.box.engine.runUntil([&] {
    if (!s.box.engine.policy->mud.fetch) s.enableFetch(true);
    return assigned(kCam) && assigned(twin);
  }));
  // (The profile with the first device; the second device's retry finds the profile placed and
  // adds its own entry.)
  CHECK(s.box.commits.current() >= 3);
  CHECK(s.box.engine.installed.find("# the site's own comment") != std::string::npos);
  CHECK(!s.has("reason=apply-failed"));
}

TEST_CASE("a tampered file is refused (bad-signature): no proposal, no revision") {
  Site s;
  const std::string file = camFile();
  s.publish(file);
  std::string tampered = file;
  tampered.replace(tampered.find("443"), 3, "444");
  s.web.pages[kUrl] = tampered;  // the signature is still the original's
  s.enableFetch(true);
  s.manager.announced(kCam, kUrl);
  REQUIRE(s.box.engine.runUntil([&] { return s.has("event=mud-refused"); }));
  CHECK(s.has("event=mud-refused device=44:47:cc:00:00:11 url=" + kUrl +
              " reason=bad-signature"));
  s.box.engine.runPending();
  CHECK(s.manager.proposal(kCam) == nullptr);
  CHECK(s.box.commits.current() == 1);
}

TEST_CASE("a fetch that fails says its reason; a full queue is refused with an event") {
  Site s(1);
  s.enableFetch(false);
  s.web.hold = true;
  s.manager.announced(kCam, "https://maker.example.com/other.json");
  REQUIRE(s.web.waitEntered(1));
  const MacAddress other = *MacAddress::parse("44:47:cc:00:00:12");
  s.manager.announced(other, kUrl);  // one URL running, the bound is one
  CHECK(s.has("event=mud-refused device=44:47:cc:00:00:12 url=" + kUrl + " reason=queue-full"));
  s.web.release();
  REQUIRE(s.box.engine.runUntil([&] { return s.has("reason=http-error"); }));
  CHECK(s.has("event=mud-refused device=44:47:cc:00:00:11 url=https://maker.example.com/other.json "
              "reason=http-error"));
}

TEST_CASE("a proposal the policy moved past is refused (ABORTED) and made again") {
  Site s;
  s.enableFetch(false);
  s.manager.announced(kCam, kUrl);
  REQUIRE(s.box.engine.runUntil([&] { return s.manager.proposal(kCam) != nullptr; }));
  REQUIRE(s.box.apply(kPolicyB).ok());  // revision 2, made by someone else
  s.enableFetch(false);
  auto reply = s.box.await<CommitReply>([&](auto done) {
    s.manager.applyProposal(kCam, 0, 0, "", Caller{"admin-1", "unix"}, done);
  });
  REQUIRE(!reply.outcome.ok());
  CHECK(reply.outcome.status().code() == StatusCode::kAborted);
  CHECK(reply.outcome.status().message().find("made from revision 1") != std::string::npos);
  CHECK(s.box.commits.current() == 2);
  REQUIRE(s.box.engine.runUntil([&] { return s.manager.proposal(kCam) != nullptr; }));
  CHECK(s.manager.proposal(kCam)->base_revision == 2);

  auto none = s.box.await<CommitReply>([&](auto done) {
    s.manager.applyProposal(*MacAddress::parse("44:47:cc:00:00:99"), 0, 0, "",
                            Caller{"admin-1", "unix"}, done);
  });
  CHECK(none.outcome.status().code() == StatusCode::kNotFound);
}

TEST_CASE("apply with a confirm window: the profile and the assignment are one pending revision") {
  Site s;
  s.enableFetch(false);
  s.manager.announced(kCam, kUrl);
  REQUIRE(s.box.engine.runUntil([&] { return s.manager.proposal(kCam) != nullptr; }));
  REQUIRE(s.manager.proposal(kCam)->assign);
  auto confirm = s.box.await<CommitReply>([&](auto done) {
    s.manager.applyProposal(kCam, 0, 60, "", Caller{"admin-1", "unix"}, done);
  });
  REQUIRE_MESSAGE(confirm.outcome.ok(), confirm.outcome.status().message());
  CHECK(confirm.outcome->revision.number() == 2);
  REQUIRE(confirm.outcome->pending);
  CHECK(confirm.outcome->pending->rollback_to() == 1);
  auto policy = s.box.engine.installedPolicy();
  REQUIRE(policy->deviceByMac(kCam) >= 0);
  CHECK(policy->profiles[policy->devices[policy->deviceByMac(kCam)].profile].name == "cam");
  // Not confirmed: the window closes and both go, together.
  s.clock.advance(std::chrono::seconds(61));
  s.box.commits.tick();
  REQUIRE(s.box.engine.runUntil([&] { return s.box.commits.current() == 3; }));
  CHECK(s.box.engine.installed == kSite);
  CHECK(!s.box.commits.pending());
}

// The API over the same Site, through a real gRPC server on a unix socket (a local admin).
struct ProposalServer {
  explicit ProposalServer(bool with_manager = true)
      : api(site.box, site.dir.path, site.clock, with_manager ? &site.manager : nullptr),
        stub(api.stub<v1::MudService>()) {}

  template <typename F>
  grpc::Status call(F f) {
    return api.call(f);
  }
  grpc::Status list(v1::ListMudProposalsResponse* r) {
    return call([&](grpc::ClientContext& ctx) {
      return stub->ListMudProposals(&ctx, v1::ListMudProposalsRequest{}, r);
    });
  }
  grpc::Status apply(const std::string& device, v1::ApplyMudProposalResponse* r,
                     uint64_t expected = 0) {
    v1::ApplyMudProposalRequest req;
    req.set_device(device);
    req.set_expected_revision(expected);
    return call([&](grpc::ClientContext& ctx) { return stub->ApplyMudProposal(&ctx, req, r); });
  }

  Site site;
  LocalApi api;
  std::unique_ptr<v1::MudService::Stub> stub;
};

TEST_CASE("ListMudProposals and ApplyMudProposal: the proposal, its apply, unknown and stale") {
  ProposalServer s;
  v1::ListMudProposalsResponse empty;
  REQUIRE(s.list(&empty).ok());
  CHECK(empty.proposals_size() == 0);

  s.site.enableFetch(false);
  s.site.manager.announced(kCam, kUrl);
  REQUIRE(s.site.box.engine.runUntil([&] { return s.site.manager.proposal(kCam) != nullptr; }));
  v1::ListMudProposalsResponse listed;
  REQUIRE(s.list(&listed).ok());
  REQUIRE(listed.proposals_size() == 1);
  const v1::MudProposal& p = listed.proposals(0);
  CHECK(p.device() == "44:47:cc:00:00:11");
  CHECK(p.url() == kUrl);
  CHECK(p.profile() == "cam");
  CHECK(p.base_revision() == 1);
  CHECK(p.assign_device());
  CHECK(!p.from_cache());
  CHECK(p.metadata().mud_url() == kUrl);
  CHECK(p.diff().find("+  cam:") != std::string::npos);

  v1::ApplyMudProposalResponse r;
  CHECK(s.apply("44:47:cc:00:00:99", &r).error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(s.apply("not-a-mac", &r).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.apply("44:47:cc:00:00:11", &r, 7).error_code() == grpc::StatusCode::ABORTED);
  // Refused as stale, the proposal is made again (from revision 1, where the box still is).
  REQUIRE(s.site.box.engine.runUntil([&] { return s.site.manager.proposal(kCam) != nullptr; }));
  grpc::Status st = s.apply("44:47:cc:00:00:11", &r);
  REQUIRE_MESSAGE(st.ok(), st.error_message());
  CHECK(r.profile() == "cam");
  CHECK(r.assigned());
  CHECK(r.revision().number() == 2);
  CHECK(r.previous_revision() == 1);
  v1::ListMudProposalsResponse after;
  REQUIRE(s.list(&after).ok());
  CHECK(after.proposals_size() == 0);
}

TEST_CASE("without a MUD manager the proposal calls are UNAVAILABLE") {
  ProposalServer s(false);
  v1::ListMudProposalsResponse r;
  CHECK(s.list(&r).error_code() == grpc::StatusCode::UNAVAILABLE);
}

TEST_CASE("roles: a viewer may list MUD proposals, only an admin may apply one") {
  CHECK(roleToListMudProposals() == Role::kViewer);
  CHECK(roleToApplyMudProposal() == Role::kAdmin);
}

}  // namespace
}  // namespace muzzle

// GrpcBoxLink (mgmt/ctl/fleet_link.h) against a fake box: the management services answered by
// a small in-test gRPC server on a unix socket, so what the rollout reads of GetStatus,
// GetPolicy, ApplyPolicy, ConfirmCommit and WatchEvents, and how failures come back, are checked
// over the wire. And the sleeper a signal stops.
#include "mgmt/ctl/fleet_link.h"

#include <doctest/doctest.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "mgmt/ctl/client.h"
#include "mgmt/fleet/rollout.h"
#include "mgmt/fleet/rollout_state.h"
#include "mgmt/server/callback_queue.h"
#include "tests/unit/support/temp_dir.h"

namespace muzzle::ctl {
namespace MUZZLE_UNITY_ID {

using grpc::ServerContext;

// What the fake box holds; guarded by mu.
struct BoxState {
  std::mutex mu;
  uint64_t revision = 4;
  std::string text = "old policy";
  uint64_t pending = 0;
  uint64_t epoch = 9, sequence = 20;
  std::vector<v1::Event> events;
  grpc::Status refuse_apply = grpc::Status::OK;
  v1::ApplyPolicyRequest last_apply;
  v1::WatchEventsRequest last_watch;
  int confirms = 0;
  int applies = 0;
};

class FakeStatus final : public v1::StatusService::Service {
 public:
  explicit FakeStatus(BoxState& s) : s_(s) {}
  grpc::Status GetStatus(ServerContext*, const v1::GetStatusRequest*,
                         v1::GetStatusResponse* r) override {
    std::lock_guard<std::mutex> lock(s_.mu);
    r->set_policy_revision(s_.revision);
    for (uint64_t k : {1, 2}) {
      v1::QueueStatus* q = r->add_queues();
      q->set_rejected(10 * k);
      q->set_dropped(k);
      q->set_allowed(1000);
    }
    if (s_.pending) r->mutable_pending()->set_revision(s_.pending);
    r->set_event_epoch(s_.epoch);
    r->set_last_event_sequence(s_.sequence);
    return grpc::Status::OK;
  }

 private:
  BoxState& s_;
};

class FakePolicy final : public v1::PolicyService::Service {
 public:
  explicit FakePolicy(BoxState& s) : s_(s) {}
  grpc::Status GetPolicy(ServerContext*, const v1::GetPolicyRequest*,
                         v1::GetPolicyResponse* r) override {
    std::lock_guard<std::mutex> lock(s_.mu);
    r->mutable_revision()->set_number(s_.revision);
    r->set_content(s_.text);
    if (s_.pending) r->mutable_pending()->set_revision(s_.pending);
    return grpc::Status::OK;
  }
  grpc::Status ApplyPolicy(ServerContext*, const v1::ApplyPolicyRequest* req,
                           v1::ApplyPolicyResponse* r) override {
    std::lock_guard<std::mutex> lock(s_.mu);
    s_.last_apply = *req;
    if (!s_.refuse_apply.ok()) return s_.refuse_apply;
    ++s_.applies;
    r->set_previous_revision(s_.revision);
    r->mutable_revision()->set_number(++s_.revision);
    s_.text = req->content();
    s_.pending = s_.revision;
    r->mutable_pending()->set_revision(s_.revision);
    r->mutable_pending()->mutable_deadline()->set_seconds(1796331600);  // 2026-12-03T21:00:00Z
    ++s_.sequence;
    return grpc::Status::OK;
  }
  grpc::Status ConfirmCommit(ServerContext*, const v1::ConfirmCommitRequest* req,
                             v1::ConfirmCommitResponse* r) override {
    std::lock_guard<std::mutex> lock(s_.mu);
    if (s_.pending == 0 || req->revision() != s_.pending) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "no commit awaits confirmation");
    }
    s_.pending = 0;
    ++s_.confirms;
    r->mutable_revision()->set_number(s_.revision);
    return grpc::Status::OK;
  }

 private:
  BoxState& s_;
};

class FakeEvents final : public v1::EventService::Service {
 public:
  explicit FakeEvents(BoxState& s) : s_(s) {}
  grpc::Status WatchEvents(ServerContext*, const v1::WatchEventsRequest* req,
                           grpc::ServerWriter<v1::Event>* w) override {
    std::vector<v1::Event> events;
    {
      std::lock_guard<std::mutex> lock(s_.mu);
      s_.last_watch = *req;
      events = s_.events;
    }
    for (const v1::Event& e : events) {
      if (e.sequence() > req->after_sequence() && !w->Write(e)) break;
    }
    return grpc::Status::OK;
  }

 private:
  BoxState& s_;
};

v1::Event event(uint64_t sequence, const std::string& name) {
  v1::Event e;
  e.set_sequence(sequence);
  e.set_name(name);
  e.set_epoch(9);
  return e;
}

// The fake box listening on DIR/box.sock.
struct FakeBox {
  FakeBox() : status(state), policy(state), events(state) {
    holdCallbackQueue();  // this server goes at the end of the case (callback_queue.h)
    target = "unix:" + (dir / "box.sock").string();
    grpc::ServerBuilder b;
    b.AddListeningPort(target, grpc::InsecureServerCredentials());
    b.RegisterService(&status);
    b.RegisterService(&policy);
    b.RegisterService(&events);
    server = b.BuildAndStart();
    REQUIRE(server);
  }
  ~FakeBox() { server->Shutdown(); }
  std::unique_ptr<GrpcBoxLink> link() {
    auto ch = connect(Box{"gw", target}, TlsFiles{});
    REQUIRE(ch.ok());
    return std::make_unique<GrpcBoxLink>(*ch, std::chrono::seconds(5));
  }

  muzzle::testing::TempDir dir{"fleet_link_test"};
  std::string target;
  BoxState state;
  FakeStatus status;
  FakePolicy policy;
  FakeEvents events;
  std::unique_ptr<grpc::Server> server;
};

TEST_CASE("GrpcBoxLink reads GetStatus and GetPolicy as the gate needs them") {
  FakeBox box;
  box.state.pending = 3;
  auto link = box.link();
  const auto before = std::chrono::steady_clock::now();
  auto s = link->sample();
  REQUIRE(s.ok());
  CHECK(s->denied == 10 + 1 + 20 + 2);  // every queue's rejected + dropped
  CHECK(s->queues == 2);
  CHECK(s->revision == 4);
  CHECK(s->pending_revision == 3);
  CHECK(s->event_epoch == 9);
  CHECK(s->last_event_sequence == 20);
  CHECK(s->at >= before);
  auto p = link->policy();
  REQUIRE(p.ok());
  CHECK(p->revision == 4);
  CHECK(p->text == "old policy");
  CHECK(p->pending_revision == 3);
}

TEST_CASE("GrpcBoxLink applies with commit-confirmed, whatever runs, and confirms") {
  FakeBox box;
  auto link = box.link();
  auto a = link->apply("new policy", 600, "issue 16");
  REQUIRE(a.ok());
  CHECK(a->revision == 5);
  CHECK(a->previous_revision == 4);
  CHECK_FALSE(a->unchanged);
  CHECK(a->deadline == "2026-12-03T21:00:00Z");
  CHECK(box.state.last_apply.content() == "new policy");
  CHECK(box.state.last_apply.confirm_timeout_seconds() == 600);
  CHECK(box.state.last_apply.comment() == "issue 16");
  CHECK(box.state.last_apply.expected_revision() == 0);
  CHECK(link->confirm(5).ok());
  CHECK(box.state.confirms == 1);
  Status again = link->confirm(5);
  CHECK(again.code() == StatusCode::kFailedPrecondition);
  CHECK(again.message().find("no commit awaits confirmation") != std::string::npos);
}

TEST_CASE("GrpcBoxLink keeps the box's code and message, on one line") {
  FakeBox box;
  box.state.refuse_apply = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                        "policy.yaml:3: profiles: unknown\npolicy.yaml:9: x: bad\n");
  auto a = box.link()->apply("bad", 600, "");
  REQUIRE_FALSE(a.ok());
  CHECK(a.status().code() == StatusCode::kInvalidArgument);
  CHECK(a.status().message() ==
        "ApplyPolicy: INVALID_ARGUMENT: policy.yaml:3: profiles: unknown; policy.yaml:9: x: bad");
}

TEST_CASE("GrpcBoxLink looks for a policy-error after the position given") {
  FakeBox box;
  box.state.events = {event(21, "policy-applied"), event(22, "deny"), event(23, "policy-error")};
  auto link = box.link();
  auto found = link->policyErrorSince(9, 20);
  REQUIRE(found.ok());
  CHECK(*found);
  CHECK(box.state.last_watch.epoch() == 9);
  CHECK(box.state.last_watch.after_sequence() == 20);
  CHECK_FALSE(box.state.last_watch.follow());
  auto none = link->policyErrorSince(9, 23);
  REQUIRE(none.ok());
  CHECK_FALSE(*none);
}

TEST_CASE("a box nobody answers for is kUnavailable") {
  muzzle::testing::TempDir dir("fleet_link_test");
  auto ch = connect(Box{"gw", "unix:" + (dir / "none.sock").string()}, TlsFiles{});
  REQUIRE(ch.ok());
  GrpcBoxLink link(*ch, std::chrono::seconds(2));
  auto s = link.sample();
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().code() == StatusCode::kUnavailable);
  CHECK(s.status().message().find("GetStatus: UNAVAILABLE") == 0);
  CHECK(statusOf(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "x"), "GetPolicy").code() ==
        StatusCode::kUnavailable);
}

TEST_CASE("a rollout over gRPC: applied, gated, confirmed") {
  FakeBox box;
  StoppableSleeper sleeper;
  fleet::RolloutOptions o;
  o.waves = "1";
  o.window = std::chrono::milliseconds(20);
  muzzle::testing::TempDir dir("fleet_link_test");
  std::vector<std::string> lines;
  auto r = fleet::runRollout(
      {fleet::RolloutBox{"gw", "new policy", [&box] { return std::unique_ptr<fleet::BoxLink>(box.link()); }}},
      o, (dir / "state.json").string(), sleeper,
      [&](const std::string& line) { lines.push_back(line); });
  CHECK(r.done);
  CHECK(box.state.confirms == 1);
  CHECK(box.state.pending == 0);
  CHECK(box.state.text == "new policy");
}

TEST_CASE("the sleeper sleeps until stopped, then never again") {
  StoppableSleeper sleeper;
  CHECK(sleeper.sleepFor(std::chrono::milliseconds(0)));
  CHECK(sleeper.sleepFor(std::chrono::milliseconds(5)));
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    sleeper.stop();
  });
  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(sleeper.sleepFor(std::chrono::hours(1)));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(30));
  stopper.join();
  CHECK(sleeper.stopped());
  CHECK_FALSE(sleeper.sleepFor(std::chrono::milliseconds(0)));
}

// Starts muzzlectl with `args`, its stdout and stderr into `out`.
pid_t spawnMuzzlectl(const std::vector<std::string>& args, const std::string& out) {
  std::vector<std::string> all = {MUZZLECTL};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&files, 1, 2);
  pid_t pid = -1;
  REQUIRE(posix_spawn(&pid, MUZZLECTL, &files, nullptr, argv.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&files);
  return pid;
}

// Its exit code; 128 + the signal when killed. Kills it (and fails) after 60 s.
int exitOf(pid_t pid) {
  for (int i = 0; i < 600; ++i) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  FAIL("muzzlectl did not end");
  return -1;
}

std::string contents(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST_CASE("fleet apply stopped by SIGINT saves its state, exits 130, and resumes") {
  FakeBox box;
  muzzle::testing::TempDir fleet("fleet_link_test");
  std::ofstream(fleet / "policy.yaml") << "version: 1\n";
  std::ofstream(fleet / "fleet.yaml") << "version: 1\n"
                                         "groups: [{name: all, policy: policy.yaml}]\n"
                                         "boxes: [{name: gw, target: \"" + box.target + "\"}]\n";
  const std::vector<std::string> args = {"fleet", "apply", fleet.path, "--window", "1s",
                                         "--confirm", "2m", "--timeout", "5"};
  const std::string out = (fleet / "out.txt").string();
  const pid_t first = spawnMuzzlectl(args, out);
  // In its health window after the apply (1 s before it, then the apply), or still before it.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  kill(first, SIGINT);
  CHECK(exitOf(first) == 130);
  const std::string said = contents(out);
  INFO(said);
  CHECK(said.find("muzzlectl: interrupted") != std::string::npos);
  CHECK(said.find("rollout interrupted in wave 1/1: state saved in ") != std::string::npos);
  auto saved = fleet::loadRolloutState((fleet / ".fleet-rollout.json").string());
  REQUIRE(saved.ok());
  REQUIRE(saved->has_value());
  CHECK((*saved)->halted().empty());
  CHECK((*saved)->boxes(0).step() != v1::RolloutBoxState::STEP_CONFIRMED);
  {
    std::lock_guard<std::mutex> lock(box.state.mu);
    CHECK(box.state.confirms == 0);
  }

  const pid_t second = spawnMuzzlectl(args, out);
  CHECK(exitOf(second) == 0);
  const std::string resumed = contents(out);
  INFO(resumed);
  CHECK(resumed.find("resuming the rollout") != std::string::npos);
  CHECK(resumed.find("rollout done: 1 box confirmed (0 already ran their policy)") !=
        std::string::npos);
  std::lock_guard<std::mutex> lock(box.state.mu);
  CHECK(box.state.applies == 1);  // applied once, across both runs
  CHECK(box.state.confirms == 1);
  CHECK(box.state.pending == 0);
}

}  // namespace
}  // namespace muzzle::ctl

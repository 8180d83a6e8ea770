#include "mgmt/web/console.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <sys/random.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <cstdio>

#include "fw/common/excerpt.h"
#include "fw/config/yaml_proto.h"
#include "mgmt/revisions/text_diff.h"
#include "mgmt/server/auth.h"
#include "muzzle/v1/learn.grpc.pb.h"
#include "muzzle/v1/management.grpc.pb.h"
#include "muzzle/v1/policy.pb.h"

namespace muzzle::web {
namespace {

constexpr auto kCallDeadline = std::chrono::seconds(20);
constexpr char kComment[] = "web console";

int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The HTTP status a management refusal maps to, for the page that says it.
int httpStatusOf(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::PERMISSION_DENIED:
      return 403;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 401;
    case grpc::StatusCode::NOT_FOUND:
      return 404;
    case grpc::StatusCode::INVALID_ARGUMENT:
      return 400;
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::FAILED_PRECONDITION:
      return 409;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 429;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 503;
    default:
      return 500;
  }
}

Response html(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response redirect(std::string location, std::string cookie = "") {
  Response r;
  r.status = 303;
  r.headers.emplace_back("Location", std::move(location));
  if (!cookie.empty()) r.headers.emplace_back("Set-Cookie", std::move(cookie));
  return r;
}

// The outcomes a change redirects with (?notice=...): a fixed set, so no text a client sends
// is ever shown back to it.
const char* noticeText(std::string_view code) {
  if (code == "quarantined") return "The device is quarantined: it reaches nothing now.";
  if (code == "released") return "The device is released from quarantine.";
  if (code == "assigned") return "The device has its new profile.";
  if (code == "confirmed") return "The policy change is confirmed.";
  if (code == "rolled-back") return "The policy is rolled back (as a new revision).";
  if (code == "learning") return "Learning: what the device does is recorded from now on.";
  if (code == "learning-stopped") return "Learning stopped; what it recorded stays for review.";
  if (code == "proposal-applied") return "The proposed profile is applied (as a new revision).";
  return nullptr;
}

std::string queryValue(std::string_view query, const std::string& name) {
  auto form = parseForm(query);
  auto it = form.find(name);
  return it == form.end() ? std::string() : it->second;
}

std::string eventJson(const v1::Event& e) {
  v1::Event copy = e;
  copy.clear_fields();  // the text holds them; the page shows the text
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(copy, &out, options).ok()) return "{}";
  return out;
}

}  // namespace

std::string makeConsoleKey() {
  unsigned char bytes[32];
  size_t got = 0;
  while (got < sizeof(bytes)) {
    const ssize_t n = ::getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  std::string out;
  char hex[3];
  for (unsigned char b : bytes) {
    std::snprintf(hex, sizeof(hex), "%02x", b);
    out += hex;
  }
  return out;
}

// ------------------------------------------------------------------------------------------
// The management calls

// A page that needs several answers: renders once all came, or answers the first refusal.
template <typename Data>
struct Gather {
  Data data;
  std::mutex mu;
  int waiting = 0;
  bool failed = false;
};

// Who a call is made for: the signed-in user, or the console itself (its event watch).
struct Caller {
  std::string user;
  Role role = Role::kViewer;
  std::string peer;
};

// One event watch over the in-process channel: each event goes to `sink` (false: stop).
class EventFeed final : public grpc::ClientReadReactor<v1::Event> {
 public:
  using Sink = std::function<bool(const v1::Event&)>;
  using Done = std::function<void(EventFeed*)>;
  EventFeed(v1::EventService::Stub* stub, const std::string& key, const Caller& who,
            v1::WatchEventsRequest request, Sink sink, Done done)
      : request_(std::move(request)), sink_(std::move(sink)), done_(std::move(done)) {
    ctx_.AddMetadata(kConsoleKeyHeader, key);
    ctx_.AddMetadata(kConsoleUserHeader, who.user);
    ctx_.AddMetadata(kConsoleRoleHeader, roleName(who.role));
    ctx_.AddMetadata(kConsolePeerHeader, who.peer);
    stub->async()->WatchEvents(&ctx_, &request_, this);
  }
  // Starts the watch. Called once the owner has recorded the feed, outside the owner's lock:
  // from here on `sink` and `done` may run at once, on any thread (`done` deletes the feed).
  void start() {
    StartRead(&event_);
    StartCall();
  }
  void cancel() { ctx_.TryCancel(); }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (!sink_(event_)) {
      ctx_.TryCancel();
      return;
    }
    StartRead(&event_);
  }
  void OnDone(const grpc::Status&) override {
    done_(this);
    delete this;
  }

 private:
  grpc::ClientContext ctx_;
  v1::WatchEventsRequest request_;
  v1::Event event_;
  Sink sink_;
  Done done_;
};

class Console::Impl {
 public:
  Impl(Console& console, std::shared_ptr<grpc::Channel> channel, std::string key, EventLog& log)
      : console_(console),
        key_(std::move(key)),
        log_(log),
        policy_(v1::PolicyService::NewStub(channel)),
        devices_(v1::DeviceService::NewStub(channel)),
        status_(v1::StatusService::NewStub(channel)),
        events_(v1::EventService::NewStub(channel)),
        learn_(v1::LearnService::NewStub(channel)) {}

  ~Impl() { stop(); }

  // Makes one unary call for `who`; `done(status, response)` runs on a gRPC thread.
  template <typename Stub, typename Req, typename Resp, typename Method, typename Done>
  void call(Stub* stub, Method method, const Caller& who, Req request, Done done) {
    struct State {
      grpc::ClientContext ctx;
      Req request;
      Resp response;
    };
    auto state = std::make_shared<State>();
    state->request = std::move(request);
    state->ctx.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    state->ctx.AddMetadata(kConsoleKeyHeader, key_);
    state->ctx.AddMetadata(kConsoleUserHeader, who.user);
    state->ctx.AddMetadata(kConsoleRoleHeader, roleName(who.role));
    state->ctx.AddMetadata(kConsolePeerHeader, who.peer);
    method(
        stub->async(), &state->ctx, &state->request, &state->response,
        std::function<void(grpc::Status)>(
            [state, done = std::move(done)](grpc::Status s) mutable { done(s, state->response); }));
  }

  // The console's own watch (denials per minute, attempts): started again, at most every 5 s,
  // when a page finds it ended.
  void ensureTracking() {
    std::unique_lock<std::mutex> lock(mu_);
    if (stopped_ || tracking_ != nullptr) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_track_start_ < std::chrono::seconds(5)) return;
    last_track_start_ = now;
    v1::WatchEventsRequest req;
    req.set_follow(true);
    req.set_epoch(track_epoch_);
    req.set_after_sequence(track_after_);
    EventFeed* feed = tracking_ = new EventFeed(
        events_.get(), key_, Caller{"console", Role::kViewer, "muzzled"}, req,
        [this](const v1::Event& e) {
          if (e.sequence() != 0) {
            std::lock_guard<std::mutex> lock(mu_);
            track_epoch_ = e.epoch();
            track_after_ = e.sequence();
          }
          console_.tracker_.add(e);
          sweepStreams();
          return true;
        },
        [this](EventFeed* ended) {
          std::lock_guard<std::mutex> lock(mu_);
          if (tracking_ == ended) tracking_ = nullptr;
          done_.notify_all();
        });
    lock.unlock();
    feed->start();
  }

  // A browser's live events: a watch of its own, resumed from Last-Event-ID ("EPOCH:SEQ").
  void openStream(const Caller& who, const std::string& last_event_id,
                  std::shared_ptr<EventStream> stream) {
    v1::WatchEventsRequest req;
    req.set_follow(true);
    if (auto position = parseEventId(last_event_id)) {
      req.set_epoch(position->epoch);
      req.set_after_sequence(position->sequence);
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (stopped_) {
      stream->close();
      return;
    }
    auto* feed = new EventFeed(
        events_.get(), key_, who, req,
        [stream](const v1::Event& e) {
          std::string chunk;
          if (e.sequence() != 0) {
            chunk += "id: " + std::to_string(e.epoch()) + ":" + std::to_string(e.sequence()) + "\n";
          }
          chunk += "data: " + eventJson(e) + "\n\n";
          return stream->push(std::move(chunk));
        },
        [this, stream](EventFeed* f) {
          stream->close();
          std::lock_guard<std::mutex> lock(mu_);
          streams_.erase(f);
          done_.notify_all();
        });
    streams_[feed] = stream;
    lock.unlock();
    feed->start();
  }

  // A management refusal as the page that says it.
  static Response refusal(const grpc::Status& s, const PageContext& ctx) {
    const int status = httpStatusOf(s.error_code());
    return html(status, renderError(status, s.error_message(), &ctx));
  }

  void get(const Request& req, const Caller& who, const PageContext& ctx, Respond respond) {
    const std::string& path = req.path;
    if (path == "/") return overview(who, ctx, std::move(respond));
    if (path == "/events") return respond(html(200, renderEvents(ctx)));
    if (path == "/events/stream") {
      Response r;
      r.content_type = "text/event-stream";
      r.on_stream = [this, who, last = req.last_event_id](std::shared_ptr<EventStream> stream) {
        openStream(who, last, std::move(stream));
      };
      return respond(std::move(r));
    }
    if (path == "/policy") {
      const uint64_t selected = parseDecimal(queryValue(req.query, "revision")).value_or(0);
      return policyPage(who, ctx, selected, std::move(respond));
    }
    if (path.starts_with("/devices/")) {
      const auto target = parseDeviceTarget(path);
      if (!target) return respond(noSuchDevice(ctx));
      if (target->action.empty()) return devicePage(who, ctx, target->mac, std::move(respond));
      if (target->action == "proposal") {
        auto profile = formName(queryValue(req.query, "profile"));
        if (!profile) return respond(badProfile(ctx));
        return proposalPage(who, ctx, target->mac, *profile, std::move(respond));
      }
    }
    respond(html(404, renderError(404, "There is no such page.", &ctx)));
  }

  void overview(const Caller& who, const PageContext& ctx, Respond respond) {
    auto g = std::make_shared<Gather<OverviewPage>>();
    g->waiting = 3;
    auto finish = [g, ctx, respond, this](const grpc::Status& s) {
      std::lock_guard<std::mutex> lock(g->mu);
      if (g->failed) return;
      if (!s.ok()) {
        g->failed = true;
        return respond(refusal(s, ctx));
      }
      if (--g->waiting > 0) return;
      g->data.denials_per_minute = console_.tracker_.denialsPerMinute(unixNow());
      respond(html(200, renderOverview(g->data, ctx)));
    };
    call<v1::StatusService::Stub, v1::GetStatusRequest, v1::GetStatusResponse>(
        status_.get(), [](auto* a, auto&&... x) { a->GetStatus(x...); }, who, {},
        [g, finish](const grpc::Status& s, v1::GetStatusResponse& r) {
          if (s.ok()) g->data.status = std::move(r);
          finish(s);
        });
    call<v1::DeviceService::Stub, v1::ListDevicesRequest, v1::ListDevicesResponse>(
        devices_.get(), [](auto* a, auto&&... x) { a->ListDevices(x...); }, who, {},
        [g, finish](const grpc::Status& s, v1::ListDevicesResponse& r) {
          if (s.ok()) g->data.devices = std::move(r);
          finish(s);
        });
    call<v1::PolicyService::Stub, v1::ListRevisionsRequest, v1::ListRevisionsResponse>(
        policy_.get(), [](auto* a, auto&&... x) { a->ListRevisions(x...); }, who, {},
        [g, finish](const grpc::Status& s, v1::ListRevisionsResponse& r) {
          if (s.ok()) g->data.revisions = std::move(r);
          finish(s);
        });
  }

  void devicePage(const Caller& who, const PageContext& ctx, const std::string& mac,
                  Respond respond) {
    auto g = std::make_shared<Gather<DevicePage>>();
    g->waiting = 3;
    g->data.attempts = console_.tracker_.attempts(mac);
    // The learning session as the learning service has it now (the device's record notes it
    // only with the device's next packet).
    auto session = std::make_shared<v1::LearnSession>();
    auto finish = [g, ctx, respond, session](const grpc::Status& s) {
      std::lock_guard<std::mutex> lock(g->mu);
      if (g->failed) return;
      if (!s.ok()) {
        g->failed = true;
        return respond(refusal(s, ctx));
      }
      if (--g->waiting > 0) return;
      g->data.device.set_learning(!session->active()   ? ""
                                  : session->observe() ? "observe"
                                                       : "learning");
      respond(html(200, renderDevice(g->data, ctx)));
    };
    v1::ShowLearningRequest lreq;
    lreq.set_mac(mac);
    call<v1::LearnService::Stub, v1::ShowLearningRequest, v1::ShowLearningResponse>(
        learn_.get(), [](auto* a, auto&&... x) { a->ShowLearning(x...); }, who, lreq,
        [finish, session](const grpc::Status& s, v1::ShowLearningResponse& r) {
          if (s.ok()) *session = r.session();
          finish(s.ok() || s.error_code() == grpc::StatusCode::NOT_FOUND ? grpc::Status::OK : s);
        });
    v1::GetDeviceRequest dreq;
    dreq.set_mac(mac);
    call<v1::DeviceService::Stub, v1::GetDeviceRequest, v1::DeviceInfo>(
        devices_.get(), [](auto* a, auto&&... x) { a->GetDevice(x...); }, who, dreq,
        [g, finish](const grpc::Status& s, v1::DeviceInfo& r) {
          if (s.ok()) g->data.device = std::move(r);
          finish(s);
        });
    call<v1::PolicyService::Stub, v1::GetPolicyRequest, v1::GetPolicyResponse>(
        policy_.get(), [](auto* a, auto&&... x) { a->GetPolicy(x...); }, who, {},
        [g, finish](const grpc::Status& s, v1::GetPolicyResponse& r) {
          if (s.ok()) g->data.profiles = profileNames(r.content());
          finish(s.ok() || s.error_code() == grpc::StatusCode::NOT_FOUND ? grpc::Status::OK : s);
        });
  }

  // A path under /devices/ that names no Ethernet address (form.h, parseDeviceTarget): no API
  // call is made for it.
  static Response noSuchDevice(const PageContext& ctx) {
    return html(404, renderError(404,
                                 "There is no such device: the page's address names no Ethernet "
                                 "address such as 44:47:cc:00:00:21.",
                                 &ctx));
  }
  // A profile name the API could not carry (form.h, formName).
  static Response badProfile(const PageContext& ctx) {
    return html(400, renderError(400,
                                 "A profile name is at most " + std::to_string(kMaxFormName) +
                                     " bytes of text (UTF-8, no control characters).",
                                 &ctx));
  }

  // The device, then the proposal its recorded flows make (a preview: never applied here).
  void proposalPage(const Caller& who, const PageContext& ctx, const std::string& mac,
                    const std::string& profile, Respond respond) {
    auto page = std::make_shared<ProposalPage>();
    page->profile = profile;
    v1::GetDeviceRequest dreq;
    dreq.set_mac(mac);
    call<v1::DeviceService::Stub, v1::GetDeviceRequest, v1::DeviceInfo>(
        devices_.get(), [](auto* a, auto&&... x) { a->GetDevice(x...); }, who, dreq,
        [this, who, ctx, mac, page, respond](const grpc::Status& s, v1::DeviceInfo& d) {
          if (!s.ok()) return respond(refusal(s, ctx));
          page->device = std::move(d);
          v1::ProposeProfileRequest preq;
          preq.set_mac(mac);
          preq.set_profile(page->profile);
          call<v1::LearnService::Stub, v1::ProposeProfileRequest, v1::ProposeProfileResponse>(
              learn_.get(), [](auto* a, auto&&... x) { a->ProposeProfile(x...); }, who, preq,
              [ctx, page, respond](const grpc::Status& ps, v1::ProposeProfileResponse& p) {
                // No recording yet, or a default-profile device without a name for its
                // profile: the page says why, with the form to try again.
                if (ps.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
                  return respond(refusal(ps, ctx));
                }
                if (ps.ok()) {
                  page->proposal = std::move(p);
                } else {
                  page->problem = ps.error_message();
                }
                respond(html(200, renderProposal(*page, ctx)));
              });
        });
  }

  // The profiles the current policy defines, for "assign": read with the policy's own YAML
  // reader (bounded); none when it does not read.
  static std::vector<std::string> profileNames(const std::string& text) {
    v1::Policy policy;
    std::vector<std::string> out;
    if (!yamlToProto(text, "policy", &policy, nullptr).ok()) return out;
    for (const auto& [name, profile] : policy.profiles()) out.push_back(name);
    std::sort(out.begin(), out.end());
    return out;
  }

  void policyPage(const Caller& who, const PageContext& ctx, uint64_t selected, Respond respond) {
    auto g = std::make_shared<Gather<PolicyPage>>();
    g->data.selected = selected;
    g->waiting = 2;
    auto texts = std::make_shared<std::pair<std::string, std::string>>();
    auto finish = [g, ctx, respond, texts](const grpc::Status& s) {
      std::lock_guard<std::mutex> lock(g->mu);
      if (g->failed) return;
      if (!s.ok()) {
        g->failed = true;
        return respond(refusal(s, ctx));
      }
      if (--g->waiting > 0) return;
      if (g->data.selected != 0) {
        g->data.diff = unifiedDiff(texts->first, texts->second, "parent",
                                   "revision " + std::to_string(g->data.selected));
      }
      respond(html(200, renderPolicy(g->data, ctx)));
    };
    call<v1::PolicyService::Stub, v1::ListRevisionsRequest, v1::ListRevisionsResponse>(
        policy_.get(), [](auto* a, auto&&... x) { a->ListRevisions(x...); }, who, {},
        [g, finish](const grpc::Status& s, v1::ListRevisionsResponse& r) {
          if (s.ok()) {
            g->data.current = r.current();
            g->data.revisions = std::move(r);
          }
          finish(s);
        });
    call<v1::PolicyService::Stub, v1::GetPolicyRequest, v1::GetPolicyResponse>(
        policy_.get(), [](auto* a, auto&&... x) { a->GetPolicy(x...); }, who, {},
        [g, finish](const grpc::Status& s, v1::GetPolicyResponse& r) {
          if (s.ok() && r.has_pending()) g->data.pending = r.pending();
          finish(s.ok() || s.error_code() == grpc::StatusCode::NOT_FOUND ? grpc::Status::OK : s);
        });
    if (selected == 0) return;
    // The selected revision and its parent, for the diff.
    {
      std::lock_guard<std::mutex> lock(g->mu);
      g->waiting += 1;
    }
    v1::GetPolicyRequest sreq;
    sreq.set_revision(selected);
    call<v1::PolicyService::Stub, v1::GetPolicyRequest, v1::GetPolicyResponse>(
        policy_.get(), [](auto* a, auto&&... x) { a->GetPolicy(x...); }, who, sreq,
        [this, who, g, finish, texts](const grpc::Status& s, v1::GetPolicyResponse& r) {
          if (!s.ok()) return finish(s);
          texts->second = r.content();
          const uint64_t parent = r.revision().parent();
          if (parent == 0) return finish(grpc::Status::OK);
          v1::GetPolicyRequest preq;
          preq.set_revision(parent);
          call<v1::PolicyService::Stub, v1::GetPolicyRequest, v1::GetPolicyResponse>(
              policy_.get(), [](auto* a, auto&&... x) { a->GetPolicy(x...); }, who, preq,
              [finish, texts](const grpc::Status& ps, v1::GetPolicyResponse& pr) {
                // A pruned parent: the diff is against nothing.
                if (ps.ok()) texts->first = pr.content();
                finish(grpc::Status::OK);
              });
        });
  }

  void post(const std::string& path, std::map<std::string, std::string>& form, const Caller& who,
            const PageContext& ctx, Respond respond) {
    auto after = [ctx, respond](std::string location) {
      return [ctx, respond, location](const grpc::Status& s, auto&) {
        respond(s.ok() ? redirect(location) : refusal(s, ctx));
      };
    };
    if (path == "/policy/confirm") {
      return call<v1::PolicyService::Stub, v1::ConfirmCommitRequest, v1::ConfirmCommitResponse>(
          policy_.get(), [](auto* a, auto&&... x) { a->ConfirmCommit(x...); }, who, {},
          after("/policy?notice=confirmed"));
    }
    if (path == "/policy/rollback") {
      v1::RollbackRequest req;
      const uint64_t revision = parseDecimal(form["revision"]).value_or(0);
      if (revision == 0) {
        return respond(html(400, renderError(400, "Name the revision to roll back to.", &ctx)));
      }
      req.set_revision(revision);
      req.set_comment(kComment);
      return call<v1::PolicyService::Stub, v1::RollbackRequest, v1::RollbackResponse>(
          policy_.get(), [](auto* a, auto&&... x) { a->Rollback(x...); }, who, req,
          after("/policy?notice=rolled-back"));
    }
    if (path.starts_with("/devices/")) {
      const auto target = parseDeviceTarget(path);
      if (!target) return respond(noSuchDevice(ctx));
      const std::string& mac = target->mac;
      const std::string& action = target->action;
      const std::string page = "/devices/" + mac;
      if (action == "quarantine") {
        v1::QuarantineRequest req;
        req.set_mac(mac);
        req.set_comment(kComment);
        return call<v1::DeviceService::Stub, v1::QuarantineRequest, v1::DeviceChangeResponse>(
            devices_.get(), [](auto* a, auto&&... x) { a->Quarantine(x...); }, who, req,
            after(page + "?notice=quarantined"));
      }
      if (action == "release") {
        v1::ReleaseRequest req;
        req.set_mac(mac);
        req.set_comment(kComment);
        return call<v1::DeviceService::Stub, v1::ReleaseRequest, v1::DeviceChangeResponse>(
            devices_.get(), [](auto* a, auto&&... x) { a->Release(x...); }, who, req,
            after(page + "?notice=released"));
      }
      if (action == "assign") {
        auto profile = formName(form["profile"]);
        if (!profile) return respond(badProfile(ctx));
        v1::SetDeviceRequest req;
        req.set_mac(mac);
        req.set_profile(*profile);
        req.set_comment(kComment);
        return call<v1::DeviceService::Stub, v1::SetDeviceRequest, v1::DeviceChangeResponse>(
            devices_.get(), [](auto* a, auto&&... x) { a->SetDevice(x...); }, who, req,
            after(page + "?notice=assigned"));
      }
      if (action == "learn") {
        v1::StartLearningRequest req;
        req.set_mac(mac);
        // The API bounds it; past 32 bits it is refused there as too long, never wrapped to a
        // short session. Not a number: 0, which the API refuses.
        const uint64_t seconds = parseDecimal(form["seconds"]).value_or(0);
        req.set_duration_seconds(static_cast<uint32_t>(std::min<uint64_t>(seconds, UINT32_MAX)));
        return call<v1::LearnService::Stub, v1::StartLearningRequest, v1::LearnSession>(
            learn_.get(), [](auto* a, auto&&... x) { a->StartLearning(x...); }, who, req,
            after(page + "?notice=learning"));
      }
      if (action == "learn/stop") {
        v1::StopLearningRequest req;
        req.set_mac(mac);
        return call<v1::LearnService::Stub, v1::StopLearningRequest, v1::LearnSession>(
            learn_.get(), [](auto* a, auto&&... x) { a->StopLearning(x...); }, who, req,
            after(page + "?notice=learning-stopped"));
      }
      if (action == "proposal/apply") {
        auto profile = formName(form["profile"]);
        if (!profile) return respond(badProfile(ctx));
        v1::ProposeProfileRequest req;
        req.set_mac(mac);
        req.set_profile(*profile);
        req.set_apply(true);
        // The revision the admin reviewed: applied only if the box is still there.
        req.set_expected_revision(parseDecimal(form["base"]).value_or(0));
        req.set_comment("web console: learning proposal for " + mac);
        return call<v1::LearnService::Stub, v1::ProposeProfileRequest, v1::ProposeProfileResponse>(
            learn_.get(), [](auto* a, auto&&... x) { a->ProposeProfile(x...); }, who, req,
            after(page + "?notice=proposal-applied"));
      }
    }
    respond(html(404, renderError(404, "There is no such action.", &ctx)));
  }

  // Browsers that left: their watches end (noticed when any event comes).
  void sweepStreams() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [feed, stream] : streams_) {
      if (stream->closed()) feed->cancel();
    }
  }

  void stop() {
    std::unique_lock<std::mutex> lock(mu_);
    stopped_ = true;
    if (tracking_) tracking_->cancel();
    for (auto& [feed, stream] : streams_) feed->cancel();
    done_.wait_for(lock, std::chrono::seconds(3),
                   [this] { return tracking_ == nullptr && streams_.empty(); });
  }

  Console& console_;
  const std::string key_;
  EventLog& log_;
  std::unique_ptr<v1::PolicyService::Stub> policy_;
  std::unique_ptr<v1::DeviceService::Stub> devices_;
  std::unique_ptr<v1::StatusService::Stub> status_;
  std::unique_ptr<v1::EventService::Stub> events_;
  std::unique_ptr<v1::LearnService::Stub> learn_;

  std::mutex mu_;
  std::condition_variable done_;
  bool stopped_ = false;
  EventFeed* tracking_ = nullptr;
  std::chrono::steady_clock::time_point last_track_start_{};
  uint64_t track_epoch_ = 0, track_after_ = 0;
  std::map<EventFeed*, std::shared_ptr<EventStream>> streams_;
};

// ------------------------------------------------------------------------------------------
// Console

Console::Console(ConsoleOptions options, std::string key, Accounts& accounts, EventLog& log,
                 Clock& clock)
    : options_(std::move(options)),
      key_(std::move(key)),
      accounts_(accounts),
      log_(log),
      clock_(clock),
      sessions_(clock, options_.session_idle),
      limiter_(clock) {}

Console::~Console() { stop(); }

void Console::connect(std::shared_ptr<grpc::Channel> channel) {
  impl_ = std::make_unique<Impl>(*this, std::move(channel), key_, log_);
  // From the start, so the first page already counts what the event ring holds.
  impl_->ensureTracking();
}

void Console::stop() {
  logins_.stop();
  if (impl_) impl_->stop();
}

void Console::log(LogLine line) { log_.write(std::move(line)); }

void Console::status(v1::WebConsoleStatus* out) const {
  out->set_url(options_.url);
  out->set_fingerprint(options_.fingerprint);
  out->set_certificate_made_here(options_.certificate_made_here);
  out->set_accounts(static_cast<uint32_t>(accounts_.list().size()));
  out->set_sessions(static_cast<uint32_t>(sessions_.size()));
  out->set_requests(requests_.load());
  out->set_logins_refused(logins_refused_.load());
}

void Console::login(const std::string& peer, const std::string& body, const Respond& respond) {
  std::chrono::seconds retry{0};
  if (!limiter_.allowed(peer, &retry)) {
    logins_refused_++;
    Response r =
        html(429, renderLogin("Too many failed logins from this address: wait and try again."));
    r.headers.emplace_back("Retry-After", std::to_string(retry.count()));
    return respond(std::move(r));
  }
  auto form = parseForm(body);
  auto account = accounts_.check(form["name"], form["password"]);
  if (!account.ok()) {
    limiter_.failed(peer);
    logins_refused_++;
    log_.writeLimited(
        // The name as the client sent it may be any bytes: escaped to printable ASCII, as a
        // log line and an event's proto fields can carry it.
        LogLine("web-login-refused").add("user", excerpt(form["name"], 32)).add("peer", peer));
    return respond(html(401, renderLogin("Wrong name or password.")));
  }
  limiter_.succeeded(peer);
  Session s = sessions_.create(*account);
  log_.write(LogLine("web-login")
                 .add("user", account->name)
                 .add("role", roleName(account->role))
                 .add("peer", peer));
  respond(redirect("/", sessions_.cookie(s)));
}

void Console::handle(Request req, Respond respond) {
  requests_++;
  if (!impl_) return respond(html(503, renderError(503, "The console is starting.", nullptr)));
  if (!options_.allow.empty()) {
    auto ip = IpAddress::parse(req.peer);
    if (!ip || !options_.allow.contains(*ip)) {
      return respond(html(403, renderError(403,
                                           "This address may not use the console "
                                           "(management.web.allow).",
                                           nullptr)));
    }
  }
  const std::string& path = req.path;
  if (path.starts_with("/static/")) {
    if (req.method != "GET" && req.method != "HEAD")
      return respond(html(405, renderError(405, "Method not allowed.", nullptr)));
    const Asset* asset = findAsset(path);
    if (asset == nullptr) return respond(html(404, renderError(404, "No such file.", nullptr)));
    Response r;
    r.content_type = std::string(asset->content_type);
    r.body = std::string(asset->body);
    r.headers.emplace_back("Cache-Control", "max-age=3600");
    return respond(std::move(r));
  }
  if (path == "/login") {
    if (req.method == "GET") return respond(html(200, renderLogin("")));
    if (req.method != "POST")
      return respond(html(405, renderError(405, "Method not allowed.", nullptr)));
    // The password check (yescrypt) runs on the login worker, never on the server's thread.
    auto job = [this, peer = req.peer, body = std::move(req.body), respond]() {
      login(peer, body, respond);
    };
    if (!logins_.submit(std::move(job))) {
      return respond(html(503, renderLogin("Too many logins at once: try again in a moment.")));
    }
    return;
  }

  auto session = sessions_.find(req.cookie);
  if (!session) {
    if (req.method == "GET" && path != "/events/stream") return respond(redirect("/login"));
    return respond(html(401, renderError(401, "Your session ended: log in again.", nullptr)));
  }
  const Caller who{session->account.name, session->account.role, req.peer};
  PageContext ctx;
  ctx.user = session->account.name;
  ctx.role = session->account.role;
  ctx.csrf = session->csrf;
  ctx.now_unix = unixNow();
  if (const char* notice = noticeText(queryValue(req.query, "notice"))) ctx.notice = notice;
  impl_->ensureTracking();

  if (req.method == "POST") {
    auto form = parseForm(req.body);
    const std::string sent = !req.csrf.empty() ? req.csrf : form["csrf"];
    if (!Sessions::csrfMatches(*session, sent)) {
      return respond(
          html(403, renderError(403,
                                "This change did not come from the console's own page (its CSRF "
                                "token is missing or wrong): reload the page and try again.",
                                &ctx)));
    }
    if (path == "/logout") {
      sessions_.end(session->token);
      return respond(redirect("/login", Sessions::clearingCookie()));
    }
    return impl_->post(path, form, who, ctx, std::move(respond));
  }
  if (req.method != "GET") return respond(html(405, renderError(405, "Method not allowed.", &ctx)));
  return impl_->get(req, who, ctx, std::move(respond));
}

}  // namespace muzzle::web

#include "mgmt/server/services.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <unordered_map>

#include "mgmt/server/convert.h"
#include "mgmt/server/health_service.h"

namespace muzzle {
namespace {

constexpr char kVersion[] = "muzzled 0.1.0";

// Authorizes, then runs `work(principal, finish)` on the engine thread; `work` calls `finish`
// once, on the engine thread, at once or after a compile (PolicyCommitter).
using Finish = std::function<void(const Status&)>;
template <typename Work>
grpc::ServerUnaryReactor* serveLater(ServiceDeps& deps, grpc::CallbackServerContext* ctx, Role need,
                                     const char* what, Work work) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  auto principal = deps.auth.identify(ctx->peer(), ctx->auth_context().get());
  if (!principal.ok()) {
    reactor->Finish(toGrpc(principal.status()));
    return reactor;
  }
  if (principal->role < need) {
    reactor->Finish(toGrpc(Status::error(
        StatusCode::kPermissionDenied, std::string("role ") + roleName(principal->role) + " (" +
                                           principal->who + ") may not " + what + "; it needs " +
                                           roleName(need))));
    return reactor;
  }
  deps.engine.post([reactor, work = std::move(work), p = std::move(principal).value()]() mutable {
    work(p, Finish([reactor](const Status& s) { reactor->Finish(toGrpc(s)); }));
  });
  return reactor;
}

// Authorizes, then runs `work(principal)` on the engine thread and finishes with its status.
template <typename Work>
grpc::ServerUnaryReactor* serve(ServiceDeps& deps, grpc::CallbackServerContext* ctx, Role need,
                                const char* what, Work work) {
  return serveLater(deps, ctx, need, what,
                    [work = std::move(work)](const Principal& p, const Finish& finish) mutable {
                      finish(work(p));
                    });
}

Caller callerOf(const Principal& p) { return Caller{p.who, p.peer}; }

Status fillValidate(const ValidateOutcome& v, v1::ValidatePolicyResponse* resp) {
  resp->set_valid(v.valid);
  for (const auto& x : v.violations) *resp->add_violations() = x;
  resp->set_base_revision(v.base_revision);
  resp->set_diff(v.diff);
  return Status();
}

Status fillApply(const CommitOutcome& c, v1::ApplyPolicyResponse* resp) {
  *resp->mutable_revision() = c.revision;
  resp->set_previous_revision(c.previous_revision);
  resp->set_unchanged(c.unchanged);
  if (c.pending) *resp->mutable_pending() = *c.pending;
  return Status();
}

Result<MacAddress> parseMac(const std::string& text) {
  auto mac = MacAddress::parse(text);
  if (!mac) {
    return Status::error(StatusCode::kInvalidArgument,
                         "mac: \"" + text + "\" is not an Ethernet address (like 44:47:cc:12:34:56)");
  }
  return *mac;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

class PolicyServiceImpl final : public v1::PolicyService::CallbackService {
 public:
  explicit PolicyServiceImpl(ServiceDeps& deps) : deps_(deps) {}

  grpc::ServerUnaryReactor* GetPolicy(grpc::CallbackServerContext* ctx, const v1::GetPolicyRequest* req,
                                      v1::GetPolicyResponse* resp) override {
    return serve(deps_, ctx, Role::kViewer, "read the policy", [this, req, resp](const Principal&) -> Status {
      RevisionStore& store = deps_.commits.store();
      const uint64_t n = req->revision() ? req->revision() : store.current();
      auto rev = store.revision(n);
      if (!rev.ok()) return rev.status();
      auto text = store.content(n);
      if (!text.ok()) return text.status();
      *resp->mutable_revision() = *rev;
      resp->set_content(*text);
      if (deps_.commits.pending()) *resp->mutable_pending() = *deps_.commits.pending();
      return Status();
    });
  }

  grpc::ServerUnaryReactor* ListRevisions(grpc::CallbackServerContext* ctx, const v1::ListRevisionsRequest*,
                                          v1::ListRevisionsResponse* resp) override {
    return serve(deps_, ctx, Role::kViewer, "list revisions", [this, resp](const Principal&) -> Status {
      for (auto& r : deps_.commits.store().list()) *resp->add_revisions() = std::move(r);
      resp->set_current(deps_.commits.current());
      return Status();
    });
  }

  grpc::ServerUnaryReactor* ValidatePolicy(grpc::CallbackServerContext* ctx, const v1::ValidatePolicyRequest* req,
                                           v1::ValidatePolicyResponse* resp) override {
    return serveLater(deps_, ctx, Role::kViewer, "validate policies", [this, req, resp](const Principal&, Finish finish) {
      deps_.commits.validate(req->content(), [resp, finish](Result<ValidateOutcome> v) {
        finish(v.ok() ? fillValidate(*v, resp) : v.status());
      });
    });
  }

  grpc::ServerUnaryReactor* ApplyPolicy(grpc::CallbackServerContext* ctx, const v1::ApplyPolicyRequest* req,
                                        v1::ApplyPolicyResponse* resp) override {
    return serveLater(deps_, ctx, Role::kAdmin, "apply policies", [this, req, resp](const Principal& p, Finish finish) {
      deps_.commits.apply(req->content(), req->expected_revision(), req->confirm_timeout_seconds(), req->comment(),
                          callerOf(p), [resp, finish](Result<CommitOutcome> c) {
                            finish(c.ok() ? fillApply(*c, resp) : c.status());
                          });
    });
  }

  grpc::ServerUnaryReactor* ConfirmCommit(grpc::CallbackServerContext* ctx, const v1::ConfirmCommitRequest* req,
                                          v1::ConfirmCommitResponse* resp) override {
    return serve(deps_, ctx, Role::kOperator, "confirm commits", [this, req, resp](const Principal& p) -> Status {
      auto r = deps_.commits.confirm(req->revision(), callerOf(p));
      if (!r.ok()) return r.status();
      *resp->mutable_revision() = *r;
      return Status();
    });
  }

  grpc::ServerUnaryReactor* Rollback(grpc::CallbackServerContext* ctx, const v1::RollbackRequest* req,
                                     v1::RollbackResponse* resp) override {
    return serveLater(deps_, ctx, Role::kOperator, "roll back", [this, req, resp](const Principal& p, Finish finish) {
      deps_.commits.rollback(req->revision(), req->expected_revision(), req->comment(), callerOf(p),
                             [resp, finish](Result<CommitOutcome> c) {
                               if (c.ok()) {
                                 *resp->mutable_revision() = c->revision;
                                 resp->set_previous_revision(c->previous_revision);
                               }
                               finish(c.status());
                             });
    });
  }

  grpc::ServerUnaryReactor* GetAuditLog(grpc::CallbackServerContext* ctx, const v1::GetAuditLogRequest*,
                                        v1::GetAuditLogResponse* resp) override {
    return serve(deps_, ctx, Role::kViewer, "read the audit log", [this, resp](const Principal&) -> Status {
      AuditChain chain = deps_.commits.auditChain();
      for (auto& e : chain.entries) *resp->add_entries() = std::move(e);
      resp->set_chain_ok(chain.ok);
      resp->set_chain_error(chain.error);
      return Status();
    });
  }

 private:
  ServiceDeps& deps_;
};

// ---------------------------------------------------------------------------------------------

class DeviceServiceImpl final : public v1::DeviceService::CallbackService {
 public:
  explicit DeviceServiceImpl(ServiceDeps& deps) : deps_(deps) {}

  grpc::ServerUnaryReactor* ListDevices(grpc::CallbackServerContext* ctx, const v1::ListDevicesRequest*,
                                        v1::ListDevicesResponse* resp) override {
    return serve(deps_, ctx, Role::kViewer, "list devices", [this, resp](const Principal&) -> Status {
      auto policy = deps_.engine.installedPolicy();
      auto seen = deps_.engine.devicesSeen();
      const auto now = deps_.clock.now();
      std::set<uint64_t> done;
      for (const v1::DeviceRecord& d : seen) {
        auto mac = MacAddress::parse(d.mac());
        if (!mac) continue;
        *resp->add_devices() = toDevice(*policy, &d, policy->deviceByMac(*mac), now);
        done.insert(mac->value);
      }
      for (size_t i = 0; i < policy->devices.size(); ++i) {
        if (done.count(policy->devices[i].mac.value)) continue;
        *resp->add_devices() = toDevice(*policy, nullptr, static_cast<int>(i), now);
      }
      auto& list = *resp->mutable_devices();
      std::sort(list.begin(), list.end(), [](const v1::DeviceInfo& a, const v1::DeviceInfo& b) { return a.mac() < b.mac(); });
      return Status();
    });
  }

  grpc::ServerUnaryReactor* GetDevice(grpc::CallbackServerContext* ctx, const v1::GetDeviceRequest* req,
                                      v1::DeviceInfo* resp) override {
    return serve(deps_, ctx, Role::kViewer, "read devices", [this, req, resp](const Principal&) -> Status {
      auto found = lookup(req->mac());
      if (!found.ok()) return found.status();
      *resp = *found;
      return Status();
    });
  }

  grpc::ServerUnaryReactor* SetDevice(grpc::CallbackServerContext* ctx, const v1::SetDeviceRequest* req,
                                      v1::DeviceChangeResponse* resp) override {
    return serveLater(deps_, ctx, Role::kOperator, "change devices", [this, req, resp](const Principal& p, Finish finish) {
      change(req->mac(), "device-set", req->comment(), p, resp, finish, [req](v1::Device* d) -> Status {
        if (!req->name().empty()) d->set_name(req->name());
        if (!req->profile().empty()) d->set_profile(req->profile());
        return Status();
      });
    });
  }

  grpc::ServerUnaryReactor* Quarantine(grpc::CallbackServerContext* ctx, const v1::QuarantineRequest* req,
                                       v1::DeviceChangeResponse* resp) override {
    return serveLater(deps_, ctx, Role::kOperator, "quarantine devices", [this, req, resp](const Principal& p, Finish finish) {
      change(req->mac(), "quarantine", req->comment(), p, resp, finish, [req](v1::Device* d) -> Status {
        if (d->profile() == kQuarantine) {
          return Status::error(StatusCode::kFailedPrecondition, req->mac() + " is already quarantined");
        }
        d->set_quarantined_from(d->profile());
        d->set_profile(kQuarantine);
        return Status();
      });
    });
  }

  grpc::ServerUnaryReactor* Release(grpc::CallbackServerContext* ctx, const v1::ReleaseRequest* req,
                                    v1::DeviceChangeResponse* resp) override {
    return serveLater(deps_, ctx, Role::kOperator, "release devices", [this, req, resp](const Principal& p, Finish finish) {
      change(req->mac(), "release", req->comment(), p, resp, finish, [req](v1::Device* d) -> Status {
        if (d->profile() != kQuarantine || d->quarantined_from().empty()) {
          return Status::error(StatusCode::kFailedPrecondition,
                               req->mac() + " was not quarantined with Quarantine; set its profile instead");
        }
        d->set_profile(d->quarantined_from());
        d->clear_quarantined_from();
        return Status();
      });
    });
  }

 private:
  static constexpr char kQuarantine[] = "quarantine";

  Result<v1::DeviceInfo> lookup(const std::string& mac_text) {
    auto mac = parseMac(mac_text);
    if (!mac.ok()) return mac.status();
    auto policy = deps_.engine.installedPolicy();
    const int index = policy->deviceByMac(*mac);
    for (const v1::DeviceRecord& d : deps_.engine.devicesSeen()) {
      if (d.mac() == mac->toString()) return toDevice(*policy, &d, index, deps_.clock.now());
    }
    if (index >= 0) return toDevice(*policy, nullptr, index, deps_.clock.now());
    return Status::error(StatusCode::kNotFound, "no device " + mac->toString() + " is listed or was seen");
  }

  // Edits the policy entry for `mac` (adding one if needed) as a new revision, and finishes with
  // the device as it is then. `edit` runs on the compile thread (PolicyCommitter::edit).
  void change(const std::string& mac_text, const std::string& action, const std::string& comment,
              const Principal& p, v1::DeviceChangeResponse* resp, const Finish& finish,
              std::function<Status(v1::Device*)> edit) {
    auto mac = parseMac(mac_text);
    if (!mac.ok()) return finish(mac.status());
    const MacAddress m = *mac;
    deps_.commits.edit(
        [m, edit](v1::Policy* policy) -> Status {
          v1::Device* entry = nullptr;
          for (auto& d : *policy->mutable_devices()) {
            auto parsed = MacAddress::parse(d.mac());
            if (parsed && *parsed == m) entry = &d;
          }
          if (entry == nullptr) {
            entry = policy->add_devices();
            entry->set_mac(m.toString());
            std::string name = "device-" + m.toString();
            std::replace(name.begin(), name.end(), ':', '-');
            entry->set_name(name);
            entry->set_profile(policy->defaults().profile().empty() ? kQuarantine : policy->defaults().profile());
          }
          return edit(entry);
        },
        action, comment, callerOf(p), [this, m, resp, finish](Result<CommitOutcome> c) {
          if (!c.ok()) return finish(c.status());
          *resp->mutable_revision() = c->revision;
          auto d = lookup(m.toString());
          if (d.ok()) *resp->mutable_device() = *d;
          finish(Status());
        });
  }

  ServiceDeps& deps_;
};

// ---------------------------------------------------------------------------------------------

namespace {

// One WatchEvents stream: at most one write in flight; woken by the ring when events arrive.
// Holds a StreamQuota slot from construction until OnDone, however the stream ends.
class EventWatch final : public grpc::ServerWriteReactor<v1::Event> {
 public:
  EventWatch(EventRing& ring, uint64_t after, bool follow, size_t max_lag, StreamQuota::Lease lease,
             std::function<void(EventWatch*, bool)> registry)
      : ring_(ring),
        next_(after + 1),
        follow_(follow),
        max_lag_(max_lag),
        lease_(std::move(lease)),
        registry_(std::move(registry)) {
    registry_(this, true);  // before mu_: stopAll() takes the registry's lock, then mu_
    std::lock_guard<std::mutex> lock(mu_);
    // Subscribe before the first read so no event slips between the two.
    if (follow_) sub_ = ring_.subscribe([this] { wake(); });
    sendNextLocked();
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    in_flight_ = false;
    if (!ok) {
      finishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the stream broke"));
      return;
    }
    sendNextLocked();
  }

  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    finishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    sub_.reset();  // not under mu_: it waits for a wake() in progress, which takes mu_
    registry_(this, false);
    delete this;
  }

  void stop(const std::string& why) {
    std::lock_guard<std::mutex> lock(mu_);
    finishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, why));
  }

 private:
  void wake() {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    if (!in_flight_) {
      sendNextLocked();
      return;
    }
    // The client is not reading fast enough. Drop it rather than buffer without bound or make
    // anyone wait: the event log's delivery thread is the one calling us.
    const uint64_t last = ring_.lastSequence();
    if (last + 1 > next_ + max_lag_) dropLocked(last + 1 - next_);
  }

  void dropLocked(uint64_t behind) {
    finishLocked(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                              "watcher too slow: " + std::to_string(behind) + " events behind (limit " +
                                  std::to_string(max_lag_) + "); reconnect with after_sequence=" +
                                  std::to_string(next_ - 1)));
  }

  void sendNextLocked() {
    if (finished_ || in_flight_) return;
    EventRing::Batch batch = ring_.after(next_ - 1, 1);
    if (batch.gap) {
      if (sent_any_) {
        dropLocked(ring_.lastSequence() + 1 - next_);
        return;
      }
      msg_.Clear();
      *msg_.mutable_gap() = *batch.gap;
      next_ = batch.gap->first_available();
    } else if (!batch.events.empty()) {
      msg_ = std::move(batch.events.front());
      next_ = msg_.sequence() + 1;
    } else {
      if (!follow_) finishLocked(grpc::Status::OK);
      return;  // idle until wake()
    }
    sent_any_ = true;
    in_flight_ = true;
    StartWrite(&msg_);
  }

  void finishLocked(const grpc::Status& s) {
    if (finished_) return;
    finished_ = true;
    Finish(s);
  }

  EventRing& ring_;
  std::mutex mu_;
  uint64_t next_;
  bool follow_;
  size_t max_lag_;
  StreamQuota::Lease lease_;
  std::function<void(EventWatch*, bool)> registry_;
  std::unique_ptr<EventRing::Subscription> sub_;
  v1::Event msg_;
  bool in_flight_ = false;
  bool finished_ = false;
  bool sent_any_ = false;
};

}  // namespace

class EventServiceImpl final : public v1::EventService::CallbackService {
 public:
  EventServiceImpl(ServiceDeps& deps, StreamQuota& streams) : deps_(deps), streams_(streams) {}

  grpc::ServerWriteReactor<v1::Event>* WatchEvents(grpc::CallbackServerContext* ctx,
                                                   const v1::WatchEventsRequest* req) override {
    auto principal = deps_.auth.identify(ctx->peer(), ctx->auth_context().get());
    Status refused;
    if (!principal.ok()) refused = principal.status();
    if (refused.ok() && stopping_) refused = Status::error(StatusCode::kUnavailable, "muzzled is stopping");
    // A stream holds memory for as long as the client keeps it: count it against the caller.
    StreamQuota::Lease lease;
    if (refused.ok()) {
      auto acquired = streams_.acquire(clientOf(*principal));
      if (acquired.ok()) {
        lease = std::move(acquired).value();
      } else {
        refused = acquired.status();
      }
    }
    if (!refused.ok()) {
      struct Refusal : grpc::ServerWriteReactor<v1::Event> {
        explicit Refusal(const grpc::Status& s) { Finish(s); }
        void OnDone() override { delete this; }
      };
      return new Refusal(toGrpc(refused));
    }
    // Reading events needs no engine state: the ring is thread-safe.
    return new EventWatch(deps_.events, req->after_sequence(), req->follow(), deps_.max_watcher_lag,
                          std::move(lease), [this](EventWatch* w, bool add) {
                            std::lock_guard<std::mutex> lock(mu_);
                            if (add) {
                              watches_.insert(w);
                            } else {
                              watches_.erase(w);
                            }
                          });
  }

  void stopAll() {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (EventWatch* w : watches_) w->stop("muzzled is stopping");
  }

 private:
  ServiceDeps& deps_;
  StreamQuota& streams_;
  std::mutex mu_;
  std::set<EventWatch*> watches_;
  std::atomic<bool> stopping_{false};
};

// ---------------------------------------------------------------------------------------------

class StatusServiceImpl final : public v1::StatusService::CallbackService {
 public:
  explicit StatusServiceImpl(ServiceDeps& deps) : deps_(deps) {}

  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* ctx, const v1::GetStatusRequest*,
                                      v1::GetStatusResponse* resp) override {
    return serve(deps_, ctx, Role::kViewer, "read the status", [this, resp](const Principal& p) -> Status {
      const EngineStatus st = deps_.engine.engineStatus();
      resp->set_version(kVersion);
      resp->set_uptime_seconds(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::seconds>(deps_.clock.now() - deps_.started).count()));
      resp->set_policy_revision(deps_.commits.current());
      resp->set_policy_generation(st.generation);
      resp->set_queue_mode(queueModeText(st.queue_mode));
      resp->set_fail_mode(st.fail_mode == FailMode::kOpen ? "open" : "closed");
      // The engine's queues share one Judge and one counter set: one row for the range.
      v1::QueueStatus* q = resp->add_queues();
      q->set_first(st.queue_first);
      q->set_count(st.queue_count);
      q->set_packets(st.judge.packets);
      q->set_allowed(st.judge.allowed);
      q->set_rejected(st.judge.rejected);
      q->set_dropped(st.judge.dropped);
      q->set_malformed(st.judge.malformed);
      q->set_verdicts_sent(st.queue.verdicts_sent);
      q->set_verdict_batches(st.queue.send_batches);
      q->set_socket_overruns(st.queue.enobufs);
      q->set_kernel_waiting(st.kernel.waiting);
      q->set_kernel_queue_dropped(st.kernel.queue_dropped);
      q->set_kernel_user_dropped(st.kernel.user_dropped);
      for (const KernelQueueStats& k : st.kernel_queues) {
        v1::KernelQueueCounters* kq = q->add_kernel_queues();
        kq->set_queue(k.queue);
        kq->set_waiting(k.waiting);
        kq->set_queue_dropped(k.queue_dropped);
        kq->set_user_dropped(k.user_dropped);
        kq->set_id_sequence(k.id_sequence);
      }
      q->set_kernel_counters_error(st.kernel_error);
      if (deps_.commits.pending()) *resp->mutable_pending() = *deps_.commits.pending();
      resp->set_devices_known(deps_.engine.devicesSeen().size());
      resp->set_new_devices(st.judge.new_devices);
      resp->set_log_suppressed(st.log_suppressed);
      resp->set_events_dropped(st.events_dropped);
      resp->set_last_event_sequence(deps_.events.lastSequence());
      for (const auto& seg : deps_.engine.config().segments) resp->add_segments(seg.name + ":" + seg.ifname);
      resp->set_role(roleName(p.role));
      *resp->mutable_state() = toStateStatus(deps_.commits.state());
      return Status();
    });
  }

 private:
  ServiceDeps& deps_;
};

// ---------------------------------------------------------------------------------------------

ManagementServices::ManagementServices(ServiceDeps deps)
    : deps_(std::move(deps)),
      streams_(deps_.stream_limits),
      policy_(std::make_unique<PolicyServiceImpl>(deps_)),
      device_(std::make_unique<DeviceServiceImpl>(deps_)),
      event_(std::make_unique<EventServiceImpl>(deps_, streams_)),
      status_(std::make_unique<StatusServiceImpl>(deps_)),
      health_(std::make_unique<HealthService>(deps_.auth, streams_)) {}

ManagementServices::~ManagementServices() = default;

std::vector<grpc::Service*> ManagementServices::services() {
  return {policy_.get(), device_.get(), event_.get(), status_.get(), health_.get()};
}

void ManagementServices::stopWatchers() {
  event_->stopAll();
  health_->stop();
}

}  // namespace muzzle

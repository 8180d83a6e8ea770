#include "mgmt/server/services.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <mutex>
#include <set>

#include "fw/engine/setup_check.h"
#include "mgmt/server/health_service.h"
#include "mgmt/server/idle_box.h"
#include "mgmt/server/service_calls.h"
#include "mgmt/web/console.h"

namespace muzzle {
namespace {

constexpr char kVersion[] = "muzzled " MUZZLE_VERSION;  // the project's version (CMake)

}  // namespace

namespace {

// One WatchEvents stream: at most one write in flight; woken by the ring when events arrive.
// Holds a StreamQuota slot from construction until OnDone, however the stream ends.
class EventWatch final : public grpc::ServerWriteReactor<v1::Event> {
 public:
  EventWatch(EventRing& ring, EventRing::Resume from, bool follow, size_t max_lag,
             StreamQuota::Lease lease, std::function<void(EventWatch*, bool)> registry)
      : ring_(ring),
        next_(from.after + 1),
        restarted_(std::move(from.restarted)),
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
                              "watcher too slow: " + std::to_string(behind) +
                                  " events behind (limit " + std::to_string(max_lag_) +
                                  "); reconnect with after_sequence=" + std::to_string(next_ - 1)));
  }

  void sendNextLocked() {
    if (finished_ || in_flight_) return;
    if (restarted_) {  // first, before anything of this run
      msg_.Clear();
      msg_.set_epoch(ring_.epoch());
      *msg_.mutable_gap() = std::move(*restarted_);
      restarted_.reset();
      sent_any_ = true;
      in_flight_ = true;
      StartWrite(&msg_);
      return;
    }
    EventRing::Batch batch = ring_.after(next_ - 1, 1);
    if (batch.gap) {
      if (sent_any_) {
        dropLocked(ring_.lastSequence() + 1 - next_);
        return;
      }
      msg_.Clear();
      msg_.set_epoch(ring_.epoch());
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
  std::optional<v1::Gap> restarted_;  // to send before anything else
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
    auto principal = deps_.auth.identifyCall(*ctx);
    Status refused;
    if (!principal.ok()) refused = principal.status();
    if (refused.ok() && stopping_)
      refused = Status::error(StatusCode::kUnavailable, "muzzled is stopping");
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
    return new EventWatch(deps_.events, deps_.events.resume(req->epoch(), req->after_sequence()),
                          req->follow(), deps_.max_watcher_lag,
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
    return serve(
        deps_, ctx, Role::kViewer, "read the status", [this, resp](const Principal& p) -> Status {
          if (deps_.idle != nullptr) return idleStatus(p, resp);
          resp->set_segments_from(deps_.engine.config().segments_from);
          const EngineStatus st = deps_.engine.engineStatus();
          resp->set_version(kVersion);
          resp->set_uptime_seconds(static_cast<uint64_t>(
              std::chrono::duration_cast<std::chrono::seconds>(deps_.clock.now() - deps_.started)
                  .count()));
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
          q->set_stalls(st.queue_stalls);
          q->set_threads_stalled(static_cast<uint32_t>(st.queue_threads_stalled));
          if (deps_.commits.pending()) *resp->mutable_pending() = *deps_.commits.pending();
          resp->set_devices_known(deps_.engine.devicesSeen().size());
          resp->set_new_devices(st.judge.new_devices);
          if (st.admission.per_minute > 0) {
            v1::DeviceAdmissionStatus* da = resp->mutable_device_admission();
            da->set_new_per_minute(st.admission.per_minute);
            da->set_new_burst(st.admission.burst);
            da->set_refused(st.admission.refused);
            for (const DeviceAdmission::SegmentStatus& seg : st.admission.segments) {
              v1::SegmentAdmission* out = da->add_segments();
              out->set_segment(seg.name);
              out->set_admitted(seg.admitted);
              out->set_refused(seg.refused);
              out->set_tokens(seg.tokens);
            }
          }
          resp->set_log_suppressed(st.log_suppressed);
          resp->set_events_dropped(st.events_dropped);
          resp->set_last_event_sequence(deps_.events.lastSequence());
          resp->set_event_epoch(deps_.events.epoch());
          v1::AccountingStatus* a = resp->mutable_accounting();
          a->set_on(st.accounting.on);
          a->set_interval_seconds(st.accounting.interval_seconds);
          a->set_groups(st.accounting.groups);
          a->set_room(st.accounting.room);
          a->set_reads(st.accounting.reads);
          a->set_read_errors(st.accounting.read_errors);
          a->set_last_error(st.accounting.last_error);
          a->set_unattributed_bytes(st.accounting.unattributed_bytes);
          a->set_limit_windows(st.accounting.limit_windows);
          a->set_blocked_devices(st.accounting.blocked_devices);
          a->set_events(st.accounting.events);
          a->set_event_overruns(st.accounting.event_overruns);
          a->set_event_errors(st.accounting.event_errors);
          a->set_uncounted(st.accounting.uncounted);
          a->set_lost_bytes(st.accounting.lost_bytes);
          a->set_tracked_connections(st.accounting.tracked);
          a->set_untracked(st.accounting.untracked);
          if (!deps_.engine.config().segments.empty()) {
            v1::FloodGuardStatus* fg = resp->mutable_flood_guard();
            fg->set_new_flows_per_second(st.flood_guard.rate);
            fg->set_burst(st.flood_guard.burst);
            fg->set_dropped(st.flood_guard.dropped);
            fg->set_devices(st.flood_guard.devices);
            fg->set_read_errors(st.flood_guard.read_errors);
            fg->set_last_error(st.flood_guard.last_error);
            fg->set_connections(st.flood_guard.connections);
            fg->set_connection_dropped(st.flood_guard.conn_dropped);
            fg->set_connection_devices(st.flood_guard.conn_devices);
            if (st.flood_guard.connections > 0) {
              fg->set_connections_counted_by(st.flood_guard.conn_counted_by_muzzled ? "muzzled"
                                                                                    : "kernel");
            }
            fg->set_segment_new_flows_per_second(st.flood_guard.segment_rate);
            fg->set_segment_burst(st.flood_guard.segment_burst);
            fg->set_segment_dropped(st.flood_guard.segment_dropped);
            fg->set_segments(st.flood_guard.segments);
            for (const SegmentGuardTotal& t : st.flood_guard.segment_totals) {
              v1::SegmentGuardDrops* d = fg->add_segment_drops();
              d->set_segment(t.segment);
              d->set_interface(t.interface);
              d->set_dropped(t.dropped);
            }
          }
          if (st.conntrack || !st.conntrack_error.empty()) {
            v1::ConntrackTableStatus* ct = resp->mutable_conntrack();
            if (st.conntrack) {
              ct->set_entries(st.conntrack->entries);
              ct->set_max(st.conntrack->max);
              ct->set_early_drops(st.conntrack->early_drops);
              ct->set_drops(st.conntrack->drops);
            }
            ct->set_error(st.conntrack_error);
          }
          for (const auto& seg : deps_.engine.config().segments)
            resp->add_segments(seg.name + ":" + seg.ifname);
          resp->set_role(roleName(p.role));
          *resp->mutable_state() = toStateStatus(deps_.commits.state());
          if (deps_.web != nullptr) deps_.web->status(resp->mutable_web());
          if (deps_.syslog != nullptr) {
            for (const SyslogCollectorStatus& c : deps_.syslog->status()) {
              v1::SyslogCollectorStatus* out = resp->add_syslog();
              out->set_target(c.target);
              out->set_state(c.state);
              out->set_sent(c.sent);
              out->set_dropped(c.dropped);
              out->set_queued(c.queued);
              out->set_last_error(c.last_error);
            }
          }
          if (deps_.journal != nullptr) {
            const JournalStatus j = deps_.journal->status();
            v1::SyslogCollectorStatus* out = resp->add_syslog();
            out->set_target("journal");
            out->set_state(j.failing ? "failing" : "ready");
            out->set_sent(j.sent);
            out->set_dropped(j.dropped);
            out->set_last_error(j.last_error);
          }
          return Status();
        }, Needs::kAnyBox);
  }

 private:
  // An idle box: what it is, what to configure, and the interfaces to choose from. Nothing of
  // the (never booted) PolicyCommitter is read.
  Status idleStatus(const Principal& p, v1::GetStatusResponse* resp) {
    const DaemonConfig& config = deps_.engine.config();
    const EngineStatus st = deps_.engine.engineStatus();
    resp->set_version(kVersion);
    resp->set_uptime_seconds(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::seconds>(deps_.clock.now() - deps_.started)
            .count()));
    resp->set_fail_mode(st.fail_mode == FailMode::kOpen ? "open" : "closed");
    resp->set_role(roleName(p.role));
    resp->set_log_suppressed(st.log_suppressed);
    resp->set_events_dropped(st.events_dropped);
    resp->set_last_event_sequence(deps_.events.lastSequence());
    resp->set_event_epoch(deps_.events.epoch());
    if (deps_.web != nullptr) deps_.web->status(resp->mutable_web());
    v1::IdleStatus* idle = resp->mutable_idle();
    idle->add_to_configure(
        "segments: none named; the interfaces your IoT devices are on (muzzlectl setup "
        "--segment IFACE)");
    if (config.uplinks.empty()) {
      idle->add_to_configure(
          "uplink: none named; the interface towards the rest of the network (--uplink IFACE)");
    }
    idle->add_to_configure("policy: none yet; without --policy FILE the box starts from " +
                           config.shipped_policies_dir + "/" + kStarterPolicy +
                           " (devices keep working, new ones are logged, the known risks are "
                           "stopped)");
    for (const HostInterface& h : listHostInterfaces()) {
      toNetworkInterface(h, idle->add_interfaces());
    }
    idle->set_last_setup_error(deps_.idle->lastSetupError());
    return Status();
  }

  ServiceDeps& deps_;
};

// ---------------------------------------------------------------------------------------------

ManagementServices::ManagementServices(ServiceDeps deps)
    : deps_(std::move(deps)),
      streams_(deps_.stream_limits),
      policy_(makePolicyService(deps_)),
      device_(makeDeviceService(deps_)),
      mud_(makeMudService(deps_)),
      learn_(makeLearnService(deps_)),
      web_(makeWebService(deps_)),
      setup_(makeSetupService(deps_)),
      event_(std::make_unique<EventServiceImpl>(deps_, streams_)),
      status_(std::make_unique<StatusServiceImpl>(deps_)),
      health_(std::make_unique<HealthService>(deps_.auth, streams_)) {}

ManagementServices::~ManagementServices() = default;

std::vector<grpc::Service*> ManagementServices::services() {
  return {policy_.get(), device_.get(), mud_.get(), learn_.get(), web_.get(), setup_.get(),
          event_.get(), status_.get(), health_.get()};
}

void ManagementServices::stopWatchers() {
  event_->stopAll();
  health_->stop();
}

}  // namespace muzzle

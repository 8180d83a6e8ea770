// The gRPC services: thin shells. Each handler authorizes the caller (on the gRPC thread: it
// touches no engine state), then posts the work to the engine thread, where it calls the library
// (PolicyCommitter, EngineControl, EventRing) and finishes the reactor with the translated
// status; calls that compile a policy finish later, when the compile thread's result is back on
// the engine thread. No handler blocks a gRPC thread or the engine thread.
#pragma once

#include <chrono>
#include <memory>

#include "fw/common/clock.h"
#include "fw/engine/engine_control.h"
#include "mgmt/events/event_ring.h"
#include "mgmt/events/journal_sink.h"
#include "mgmt/events/syslog_sink.h"
#include "mgmt/revisions/policy_committer.h"
#include "mgmt/server/auth.h"
#include "mgmt/server/stream_quota.h"
#include "muzzle/v1/management.grpc.pb.h"

namespace muzzle {
namespace web {
class Console;
}  // namespace web


class MudManager;
class IdleBox;

struct ServiceDeps {
  EngineControl& engine;
  PolicyCommitter& commits;  // engine thread only
  EventRing& events;
  Authorizer& auth;
  const Clock& clock;
  std::chrono::steady_clock::time_point started;
  size_t max_watcher_lag = 1024;
  StreamLimits stream_limits{};  // WatchEvents and health Watch streams
  // Devices' fetched MUD files (mgmt/server/mud_manager.h), engine thread; null: muzzled
  // fetches none (its MUD proposal calls answer UNAVAILABLE).
  MudManager* mud = nullptr;
  // The syslog collectors, read by GetStatus (any thread); null: none configured.
  const SyslogSinks* syslog = nullptr;
  // The journal's sink, read by GetStatus (any thread); null: `journal:` is off.
  const JournalSink* journal = nullptr;
  // The web console (mgmt/web/console.h): its accounts (WebService) and status; null when
  // management.web is off.
  web::Console* web = nullptr;
  // Set while the box is idle (no segment configured; mgmt/server/idle_box.h): calls that need
  // an enforcing box are refused, GetStatus says what to configure, Setup hands over through
  // it. Null while the box enforces.
  IdleBox* idle = nullptr;
};

class EventServiceImpl;
class StatusServiceImpl;
class HealthService;

// Owns the service objects (the four management services and health) and the stream quota
// they share; register them with a ServerBuilder.
class ManagementServices {
 public:
  explicit ManagementServices(ServiceDeps deps);
  ~ManagementServices();
  std::vector<grpc::Service*> services();
  // Ends every stream (UNAVAILABLE, "muzzled is stopping"); for shutdown.
  void stopWatchers();
  Authorizer& authorizer() { return deps_.auth; }
  const StreamQuota& streams() const { return streams_; }

 private:
  ServiceDeps deps_;
  StreamQuota streams_;
  std::unique_ptr<grpc::Service> policy_;  // services_policy.cc
  std::unique_ptr<grpc::Service> device_;  // services_devices.cc
  std::unique_ptr<grpc::Service> mud_;     // services_mud.cc
  std::unique_ptr<grpc::Service> learn_;   // services_learn.cc
  std::unique_ptr<grpc::Service> web_;     // services_web.cc
  std::unique_ptr<grpc::Service> setup_;   // services_setup.cc
  std::unique_ptr<EventServiceImpl> event_;
  std::unique_ptr<StatusServiceImpl> status_;
  std::unique_ptr<HealthService> health_;
};

}  // namespace muzzle

// Console: the web console's brain. It answers each HTTP request the HttpsServer hands it
// (http_types.h): sessions and logins (sessions.h, accounts.h), then every page is read and
// every button acts through the management API itself — the same gRPC services the CLI uses,
// called over the server's in-process channel with the console's key and the signed-in user's
// name and role (Authorizer::identifyCall). So a viewer in the browser is a viewer of the API:
// the handlers check the role, validate, and audit the change as "web:NAME", and there is no
// second management API to keep in step.
//
// It also watches the event stream once, in-process, for what the pages show that the API
// keeps no history of: denials per minute over the last hour, and what each device tried to
// reach (bounded: kMaxTrackedDevices devices, kMaxAttempts destinations each, the least
// recently seen forgotten first).
//
// Threads: handle() runs on the server's thread and never blocks; password checks run on the
// console's login worker (WorkQueue); management answers arrive on gRPC's threads and answer
// from there (Respond is thread-safe). The tracker has its own lock.
#pragma once

#include <grpcpp/channel.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fw/common/clock.h"
#include "fw/common/net.h"
#include "fw/common/status.h"
#include "fw/engine/event_log.h"
#include "mgmt/web/accounts.h"
#include "mgmt/web/event_tracker.h"
#include "mgmt/web/form.h"
#include "mgmt/web/http_types.h"
#include "mgmt/web/pages.h"
#include "mgmt/web/sessions.h"
#include "mgmt/web/work_queue.h"
#include "muzzle/v1/management.pb.h"

namespace muzzle::web {

struct ConsoleOptions {
  std::string url;          // "https://198.18.0.1:8443/"
  std::string fingerprint;  // of the certificate the server presents
  bool certificate_made_here = false;
  AddressSet allow;  // browsers' networks; empty: any
  std::chrono::seconds session_idle{std::chrono::minutes(30)};
};

class Console {
 public:
  // `key` is the one the management server's Authorizer was given (setConsoleKey).
  // `accounts`, `log` and `clock` must outlive the console.
  Console(ConsoleOptions options, std::string key, Accounts& accounts, EventLog& log, Clock& clock);
  ~Console();  // stop()

  // The management server, reached in-process (ManagementServer::inProcessChannel): made
  // after the server starts, which already holds this console for GetStatus and WebService.
  // Call once, before the first handle().
  void connect(std::shared_ptr<grpc::Channel> channel);
  // The HttpsServer's Handler.
  void handle(Request request, Respond respond);
  // Ends the event watches (the console's own and the browsers' streams). Idempotent.
  void stop();

  Accounts& accounts() { return accounts_; }
  Sessions& sessions() { return sessions_; }
  // Writes a line to muzzled's log (account changes made over the API).
  void log(LogLine line);
  // For GetStatus (any thread).
  void status(v1::WebConsoleStatus* out) const;
  EventTracker& tracker() { return tracker_; }

  class Impl;  // console.cc: the routes and the management calls

 private:
  ConsoleOptions options_;
  std::string key_;
  Accounts& accounts_;
  EventLog& log_;
  Clock& clock_;
  Sessions sessions_;
  LoginLimiter limiter_;
  EventTracker tracker_;
  std::atomic<uint64_t> requests_{0}, logins_refused_{0};
  std::unique_ptr<Impl> impl_;
  // Password checks, off the server's thread (16 waiting at most, then 503). Last: its thread
  // stops before the members it uses go.
  WorkQueue logins_{16};

  // POST /login, on the login worker: the per-source limit, the password, the session.
  void login(const std::string& peer, const std::string& body, const Respond& respond);
};

// A new console key: 32 random bytes as hex.
std::string makeConsoleKey();

}  // namespace muzzle::web

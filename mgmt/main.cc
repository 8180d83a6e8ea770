// muzzled: both planes in one process. Wires the data plane (fw/engine Daemon) to the
// management plane (revisions, commit-confirmed, audit, events, gRPC) and nothing else.
#include <CLI/CLI.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <iostream>
#include <thread>

#include "fw/common/confined_file.h"
#include "fw/config/daemon_config.h"
#include "fw/config/setup_file.h"
#include "fw/engine/daemon.h"
#include "fw/engine/service_notifier.h"
#include "fw/nft/ruleset.h"
#include "fw/policy/policy_loader.h"
#include "mgmt/events/event_ring.h"
#include "mgmt/events/journal_sink.h"
#include "mgmt/events/syslog_sink.h"
#include "mgmt/revisions/compile_queue.h"
#include "mgmt/revisions/policy_committer.h"
#include "mgmt/server/idle_box.h"
#include "mgmt/server/mud_manager.h"
#include "mgmt/server/instance_lock.h"
#include "mgmt/server/metrics_server.h"
#include "mgmt/server/web_setup.h"
#include "mgmt/server/sandbox.h"
#include "mgmt/server/server.h"

namespace {

// What --version and muzzle_build_info say.
constexpr char kVersion[] = MUZZLE_VERSION;  // the project's version (CMake)
// How often the commit-confirmed deadline is checked: the rollback happens at most this late.
constexpr auto kCommitTick = std::chrono::milliseconds(250);

// The policy's presets and lists are looked for where the config says (shipped_policies,
// preset_dirs), or where the package puts them when the config cannot be read.
int checkPolicy(const std::string& path, const std::string& config_path) {
  std::string shipped = muzzle::kShippedPoliciesDir;
  std::vector<std::string> preset_dirs;
  if (auto config = muzzle::loadDaemonConfig(config_path); config.ok()) {
    shipped = config->shipped_policies_dir;
    preset_dirs = config->preset_dirs;
  }
  auto compiled = muzzle::compilePolicyFile(path, muzzle::SiteFacts{}, shipped, preset_dirs);
  if (!compiled.ok()) {
    std::cerr << compiled.status().message() << "\n";
    return 1;
  }
  const muzzle::CompiledPolicy& p = **compiled;
  size_t rules = 0;
  for (const auto& profile : p.profiles) rules += profile.egress.size() + profile.inbound.size();
  std::cout << path << ": OK (" << p.profiles.size() << " profiles, " << rules << " rules, "
            << p.devices.size() << " devices)\n";
  return 0;
}

// runEnforcing's answer when a setup could not be enforced: the process goes back to idle.
constexpr int kBackToIdle = -2;

// What lives for the whole process, across an idle phase and the enforcing one after it. Every
// reference outlives both phases (main owns them).
struct Process {
  const std::string& mud_fetch_socket;
  muzzle::SystemClock& clock;
  std::chrono::steady_clock::time_point started;
  muzzle::EventLog& log;
  muzzle::EventRing& events;
  muzzle::JournalSink* journal;  // null: `journal:` is off
  muzzle::RulesetWriter& ruleset;
  muzzle::ServiceNotifier* notifier;  // null: not under systemd
  const muzzle::OuiDatabase& oui;
  muzzle::HostInfo& host;
};

// An idle phase handing over to an enforcing one (`muzzlectl setup`): the setup call waits on
// the idle phase's server until `answer` is called; `close_idle` then shuts that server down, so
// the enforcing phase can listen on the same socket and ports.
struct Handover {
  std::function<void(muzzle::Result<muzzle::SetupDone>)> answer;
  std::function<void()> close_idle;
  std::string error;  // why enforcing failed, when it did
};

// Stops `server` while `daemon`'s engine loop keeps turning (calls in flight wait for it). A
// stop must not hang on a stream that never completes (systemd would have to kill us): after
// the grace period plus a margin, the process exits without waiting for gRPC any longer.
void drainServer(muzzle::Daemon& daemon, muzzle::ManagementServer& server, muzzle::EventLog& log,
                 int rc) {
  std::atomic<bool> drained{false};
  std::thread stopper([&] {
    server.shutdown(std::chrono::milliseconds(2000));
    drained = true;
  });
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (!drained && std::chrono::steady_clock::now() < give_up) {
    daemon.runFor(std::chrono::milliseconds(20));
  }
  if (!drained) {
    log.write(muzzle::LogLine("warning")
                  .add("problem", "management calls did not drain within 3 s of stopping")
                  .add("what", "exiting without them; the ruleset stays as it is"));
    stopper.detach();
    log.stop();  // every buffered line reaches stderr first
    std::fflush(nullptr);
    std::_Exit(rc < 0 ? 1 : rc);
  }
  stopper.join();
}

std::string segmentList(const std::vector<muzzle::DaemonSegment>& segments) {
  std::string out;
  for (const auto& seg : segments) out += (out.empty() ? "" : ",") + seg.name + ":" + seg.ifname;
  return out;
}

// The idle phase as the Setup handler sees it (mgmt/server/idle_box.h). Engine thread.
class IdlePhase final : public muzzle::IdleBox {
 public:
  IdlePhase(muzzle::Daemon& daemon, muzzle::EventLog& log, std::string last_error)
      : daemon_(daemon), log_(log), last_error_(std::move(last_error)) {}
  std::string lastSetupError() const override { return last_error_; }
  bool handingOver() const override { return choice_.has_value(); }
  void enforce(muzzle::SetupChoice choice, std::string who,
               std::function<void(muzzle::Result<muzzle::SetupDone>)> done) override {
    std::string uplinks;
    for (const auto& u : choice.uplinks) uplinks += (uplinks.empty() ? "" : ",") + u;
    log_.write(muzzle::LogLine("setup")
                   .add("segments", segmentList(choice.segments))
                   .add("uplink", uplinks)
                   .add("policy", choice.policy_path)
                   .add("by", who)
                   .add("what", "enforcing in this process"));
    choice_ = std::move(choice);
    done_ = std::move(done);
    daemon_.handOver();
  }
  const std::optional<muzzle::SetupChoice>& choice() const { return choice_; }
  std::function<void(muzzle::Result<muzzle::SetupDone>)>& done() { return done_; }

 private:
  muzzle::Daemon& daemon_;
  muzzle::EventLog& log_;
  std::string last_error_;
  std::optional<muzzle::SetupChoice> choice_;
  std::function<void(muzzle::Result<muzzle::SetupDone>)> done_;
};

int runEnforcing(Process& p, const muzzle::DaemonConfig& config, Handover* handover);

// The web console (management.web) joined to `server` through its in-process channel, behind
// its own HTTPS listener; both phases, idle and enforcing, start it the same way.
muzzle::Result<std::unique_ptr<muzzle::web::HttpsServer>> startConsole(
    muzzle::web::Console& console, muzzle::ManagementServer& server,
    const muzzle::web::ServerOptions& options) {
  console.connect(server.inProcessChannel());
  auto started = muzzle::web::HttpsServer::start(
      options, [&console](muzzle::web::Request request, muzzle::web::Respond respond) {
        console.handle(std::move(request), std::move(respond));
      });
  if (!started.ok()) return started.status().withContext("management.web: ");
  return started;
}

// A box whose config names no segment (and no usable state_dir/setup.yaml): it touches no
// firewall state, and serves the management API (unix socket, and TCP and the web console when
// configured) so that `muzzlectl setup` can name its segments. Returns the exit code, or
// kBackToIdle when a setup failed to enforce (`*last_error` then says why).
int runIdle(Process& p, const muzzle::DaemonConfig& config, std::string* last_error) {
  muzzle::StateReport state;
  muzzle::GenerationStore generations(config.state_dir);
  muzzle::Daemon daemon(config, p.ruleset, p.host, &muzzle::openNfqPacketQueue, p.log, p.clock,
                        &p.oui, generations);
  daemon.setServiceNotifier(p.notifier);
  daemon.setStateReport(&state);
  auto fail = [&](const muzzle::Status& s) {
    p.log.write(muzzle::LogLine("start-failed").add("error", s.message()));
    return 1;
  };
  // The services take a PolicyCommitter; an idle box never boots one, and every call that would
  // reach it is refused while idle (mgmt/server/service_calls.h, Needs).
  muzzle::RevisionStore store(config.state_dir);
  muzzle::AuditLog audit(config.state_dir);
  muzzle::PolicyCommitter commits(daemon, store, audit, p.log, p.clock, state);
  IdlePhase idle(daemon, p.log, *last_error);
  const muzzle::v1::Management& mcfg = config.management;
  auto authorizer = muzzle::Authorizer::create(mcfg.tcp(), config.config_dir);
  if (!authorizer.ok()) return fail(authorizer.status());
  auto web_setup = muzzle::webSetupOf(config, {});
  if (!web_setup.ok()) return fail(web_setup.status());
  muzzle::web::Accounts web_accounts(config.state_dir + "/web-users");
  std::unique_ptr<muzzle::web::Console> console;
  if (web_setup->on) {
    if (muzzle::Status s = web_accounts.load(); !s.ok()) {
      p.log.write(muzzle::LogLine("web-accounts-damaged").add("error", s.message()));
    }
    const std::string key = muzzle::web::makeConsoleKey();
    (*authorizer)->setConsoleKey(key);
    console = std::make_unique<muzzle::web::Console>(web_setup->console, key, web_accounts, p.log,
                                                      p.clock);
  }
  muzzle::ServiceDeps deps{daemon,
                           commits,
                           p.events,
                           **authorizer,
                           p.clock,
                           p.started,
                           mcfg.has_max_watcher_lag() ? mcfg.max_watcher_lag() : 1024,
                           muzzle::streamLimitsOf(mcfg),
                           nullptr,
                           nullptr,
                           p.journal,
                           console.get(),
                           &idle};
  muzzle::ManagementServices services(deps);
  auto server = muzzle::ManagementServer::start(config, services, p.log, p.clock);
  if (!server.ok()) return fail(server.status());
  std::unique_ptr<muzzle::web::HttpsServer> web_server;
  if (console) {
    auto started_web = startConsole(*console, **server, web_setup->server);
    if (!started_web.ok()) return fail(started_web.status());
    web_server = std::move(started_web).value();
  }
  if (muzzle::Status s = daemon.start(); !s.ok()) {
    (*server)->shutdown(std::chrono::milliseconds(0));
    return fail(s);
  }
  p.log.write(muzzle::LogLine("management")
                  .add("socket", (*server)->socketPath())
                  .add("socket_access", (*server)->socketAccess())
                  .add("tcp", mcfg.tcp().listen().empty() ? "off" : mcfg.tcp().listen())
                  .add("web", console ? web_setup->console.url : std::string("off"))
                  .add("state", "idle")
                  .add("what_to_do", "muzzlectl setup"));
  int rc = daemon.run();
  // The console's listener goes first either way: an enforcing phase binds its own.
  if (web_server) web_server->stop();
  if (console) console->stop();
  if (rc != muzzle::Daemon::kHandedOver) {
    drainServer(daemon, **server, p.log, rc);
    return rc;
  }

  // `muzzlectl setup`: the enforcing phase runs inside this scope, so that this server (and the
  // setup call waiting on it) lives until the box enforces or has failed to.
  muzzle::DaemonConfig enforcing = config;
  muzzle::applySetup(*idle.choice(), config.state_dir + "/" + muzzle::kSetupFileName, &enforcing);
  bool closed = false;
  Handover handover{idle.done(),
                    [&] {
                      drainServer(daemon, **server, p.log, 1);
                      closed = true;
                    },
                    ""};
  rc = runEnforcing(p, enforcing, &handover);
  if (rc != kBackToIdle) return rc;
  // Nothing is enforced: the stored choice goes, so a restart comes back idle too rather than
  // failing over and over; the next idle phase says why.
  for (const char* name : {muzzle::kSetupFileName, muzzle::kSetupPolicyFileName}) {
    std::remove((config.state_dir + "/" + name).c_str());
  }
  *last_error = handover.error;
  p.log.write(muzzle::LogLine("setup-failed")
                  .add("error", handover.error)
                  .add("what", "the box stays idle and enforces nothing; fix the cause and run "
                               "`muzzlectl setup` again"));
  if (!closed) drainServer(daemon, **server, p.log, 1);
  return kBackToIdle;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "muzzled: enforces per-device egress policies for IoT network segments, and serves the\n"
      "management API (gRPC) on a unix socket and optionally on TCP with mutual TLS.\n"
      "Runs on the gateway in front of the segments named in its config (or by `muzzlectl\n"
      "setup` on a box whose config names none: muzzled then idles until setup, and starts\n"
      "enforcing in the same process); needs CAP_NET_ADMIN.\n"
      "Signals: SIGHUP applies the config's policy file as a new revision (an invalid file is\n"
      "refused, the running policy stays), SIGUSR1 logs counters, SIGTERM stops (the kernel\n"
      "ruleset stays; fail_mode applies)."};
  std::string config_path = "/etc/muzzle/muzzled.yaml";
  std::string check_path;
  bool remove_ruleset = false;
  bool print_ruleset = false;
  bool print_unit_dropin = false;
  std::string run_as;
  std::string mud_fetch_socket;
  app.add_option("--config,-c", config_path, "daemon config file")->capture_default_str();
  app.add_option("--check-policy", check_path,
                 "validate a policy file and exit; touches no network state");
  app.add_flag("--remove-ruleset", remove_ruleset,
               "delete table inet muzzle (stop enforcing) and exit");
  app.add_flag("--print-ruleset", print_ruleset,
               "print the nft ruleset the config would install and exit");
  app.add_flag("--print-unit-dropin", print_unit_dropin,
               "print the systemd drop-in the config needs (muzzle-generator writes it) and exit");
  app.add_option("--user", run_as,
                 "started as root, become this user keeping CAP_NET_ADMIN alone (default: "
                 "muzzle); `--user root` stays root");
  app.add_option("--mud-fetch-socket", mud_fetch_socket,
                 "fetch devices' MUD files through the helper systemd starts on this socket "
                 "(muzzle-mud-fetch.socket; the shipped unit passes it), not by starting "
                 "muzzle-mud-fetch itself");
  app.set_version_flag("--version", std::string("muzzled ") + kVersion);
  app.footer(
      "FILES\n"
      "  /etc/muzzle/muzzled.yaml          this config; as shipped it names no segment, and\n"
      "                                    muzzled idles (event=idle) touching no firewall\n"
      "                                    state, serving the management API, until\n"
      "                                    `muzzlectl setup` names the segments and the uplink\n"
      "  /var/lib/muzzle/setup.yaml        what `muzzlectl setup` chose; used only while this\n"
      "                                    config names no segment (the config wins)\n"
      "  /usr/share/muzzle/policies/       presets and the example site policy to start from\n"
      "  /var/lib/muzzle/                  state: policy revisions, audit log, generation,\n"
      "                                    device inventory\n"
      "  /run/muzzle/muzzled.sock          the management socket (muzzlectl); root, group muzzle\n"
      "                                    and management.socket_access may connect\n"
      "  /usr/lib/muzzle/muzzle-mud-fetch  fetches devices' MUD files, one process per fetch:\n"
      "                                    started by muzzled, or by systemd on\n"
      "                                    /run/muzzle-mud-fetch.sock (--mud-fetch-socket)\n"
      "\n"
      "SERVICE\n"
      "  systemctl status muzzled; journalctl -u muzzled. Under systemd (Type=notify) muzzled\n"
      "  reports ready once its ruleset is installed and its queues are bound, and pings the\n"
      "  watchdog from its engine loop while every queue thread turns (a queue thread stuck\n"
      "  for 5 s is logged as event=queue-stalled, and systemd restarts muzzled). After\n"
      "  turning management.tcp on or changing its allow list: systemctl daemon-reload\n"
      "  (muzzle-generator adapts the unit), then restart.\n"
      "\n"
      "PRIVILEGES\n"
      "  Started as root, muzzled becomes the user muzzle (--user) with CAP_NET_ADMIN alone\n"
      "  before it reads any packet or request; its state and socket folders must be that\n"
      "  user's, and the policy and certificates readable by it (it says which are not).\n"
      "\n"
      "EXIT STATUS\n"
      "  0 stopped by SIGTERM/SIGINT, or a --check/--print/--remove action succeeded;\n"
      "  1 start-up or runtime failure (logged as event=start-failed or event=fatal), e.g.\n"
      "    another muzzled already runs in this network namespace;\n"
      "  2 the config is invalid (the message names file:line: field).\n"
      "\n"
      "Logs are one logfmt line per event on stderr: event=deny, event=new-device, event=ready, "
      "...");
  CLI11_PARSE(app, argc, argv);

  if (!check_path.empty()) return checkPolicy(check_path, config_path);

  if (remove_ruleset) {
    muzzle::Status s = muzzle::makeNftRulesetWriter()->remove();
    if (!s.ok()) {
      std::cerr << "muzzled: " << s.message() << "\n";
      return 1;
    }
    return 0;
  }

  auto config = muzzle::loadDaemonConfig(config_path);
  if (!config.ok()) {
    std::cerr << config.status().message() << "\n";
    return 2;
  }
  if (print_unit_dropin) {
    auto text = muzzle::unitDropIn(*config, config_path);
    std::cerr << (text.ok() ? "" : config_path + ": " + text.status().message() + "\n");
    std::cout << (text.ok() ? *text : "");
    return text.ok() ? 0 : 2;
  }
  if (print_ruleset) {
    muzzle::RulesetSpec spec;
    for (const auto& seg : config->segments) spec.segment_ifnames.push_back(seg.ifname);
    spec.queue_first = config->queue_first;
    spec.queue_count = config->queue_count;
    spec.fail_open = config->fail_mode == muzzle::FailMode::kOpen;
    spec.flood_rate = config->flood_rate;
    spec.flood_burst = config->flood_burst;
    // As on a kernel with conntrack labels: muzzled probes for them at start (its log's
    // event=connection-count says who counts).
    spec.conn_limit = config->countsConnections() ? 0 : config->conn_limit;
    spec.new_connection_hint = config->countsConnections();
    spec.segment_rate = config->segment_rate;
    spec.segment_burst = config->segment_burst;
    // Nothing in the table comes from the policy (the DoH list is decide()'s, in user space), so
    // the policy is not read; the generation shown is the default, 1.
    std::cout << muzzle::describeRuleset(spec);
    return 0;
  }

  // Before any thread exists: the compile's memory is reused by the next one (compile_queue.h).
  muzzle::CompileQueue::tuneMalloc();

  // A peer that closes mid-answer (a browser, a syslog collector) must cost an EPIPE error on
  // that connection, never the process: OpenSSL writes with plain write(2).
  std::signal(SIGPIPE, SIG_IGN);
  muzzle::SystemClock clock;
  const auto started = clock.now();
  // The kernel's queue counters are root's to open: opened before root is dropped just below,
  // also by an idle box, which `muzzlectl setup` may make enforce without a restart.
  auto host = muzzle::makeSystemHostInfo(muzzle::KernelQueueStatsFile::open());
  // Root becomes the muzzle user here, before any thread (the log's included) or untrusted
  // input (sandbox.h); what it has to say is logged once the log runs.
  std::vector<muzzle::LogLine> sandbox_lines;
  const muzzle::Status sandboxed = muzzle::enterSandbox(*config, run_as, &sandbox_lines);
  const muzzle::v1::Management& mcfg = config->management;
  // Before the log, so it outlives it: the log's delivery thread feeds it until the log stops.
  muzzle::EventRing events(mcfg.has_event_buffer() ? mcfg.event_buffer() : 4096);
  // The journal's entries (`journal:`), for the same reason before the log.
  std::unique_ptr<muzzle::JournalSink> journal;
  muzzle::Status journal_opened;
  if (config->journal.enabled) {
    auto sink = muzzle::JournalSink::open(config->journal);
    if (sink.ok()) {
      journal = std::move(sink).value();
    } else {
      journal_opened = sink.status();
    }
  }
  muzzle::EventLog log(stderr, clock);
  log.addConsumer(events);
  if (journal) log.addConsumer(*journal);
  for (muzzle::LogLine& line : sandbox_lines) log.write(std::move(line));
  if (!sandboxed.ok() || !journal_opened.ok()) {
    const muzzle::Status& first = !sandboxed.ok() ? sandboxed : journal_opened;
    log.write(muzzle::LogLine("start-failed").add("error", first.message()));
    return 1;
  }
  // One muzzled per network namespace, settled before the ruleset, the queues or the socket
  // are touched: a second one must leave the running one alone.
  auto instance = muzzle::InstanceLock::acquire();
  if (!instance.ok()) {
    log.write(muzzle::LogLine("start-failed").add("error", instance.status().message()));
    return 1;
  }
  auto ruleset = muzzle::makeNftRulesetWriter();
  auto notifier = muzzle::SystemdNotifier::fromEnvironment();
  // The Daemon's stores, opened here so tests can give it their own: vendor names (none when
  // ieee-data is missing).
  auto oui_loaded = muzzle::OuiDatabase::load();
  const muzzle::OuiDatabase oui =
      oui_loaded.ok() ? std::move(oui_loaded).value() : muzzle::OuiDatabase();
  Process process{mud_fetch_socket, clock,       started, log,  events, journal.get(),
                  *ruleset,         notifier.get(), oui,     *host};

  int rc = 0;
  if (!config->segments.empty()) {
    rc = runEnforcing(process, *config, nullptr);
  } else {
    // Idle until a setup makes the box enforce (runIdle then runs the enforcing phase itself);
    // a setup that fails to enforce comes back here, idle again, saying why.
    std::string last_error = config->setup_problem;
    if (!last_error.empty()) {
      log.write(muzzle::LogLine("warning")
                    .add("problem", last_error)
                    .add("fix", "the box stays idle; run `muzzlectl setup` again (it replaces "
                                "the file) or name the segments in " + config_path));
    }
    do {
      rc = runIdle(process, *config, &last_error);
    } while (rc == kBackToIdle);
  }
  log.stop();
  return rc;
}

namespace {

// The box with its segments: the policy booted from the revisions in state_dir, the ruleset,
// the queues, and the management plane. With `handover` (a setup on an idle box), the ruleset
// is installed and the queues bound before anything listens, the setup call is answered, and
// only then does this phase take the socket and ports over from the idle one; anything that
// fails before the answer returns kBackToIdle with `handover->error` set, having installed
// nothing.
int runEnforcing(Process& p, const muzzle::DaemonConfig& config, Handover* handover) {
  muzzle::EventLog& log = p.log;
  const muzzle::v1::Management& mcfg = config.management;
  bool answered = false;
  auto fail = [&](const muzzle::Status& s) {
    if (handover != nullptr && !answered) {
      handover->error = s.message();
      handover->answer(muzzle::Status::error(
          muzzle::StatusCode::kUnavailable,
          "the box could not start enforcing, so it stays idle: " + s.message()));
      return kBackToIdle;
    }
    log.write(muzzle::LogLine("start-failed").add("error", s.message()));
    return 1;
  };
  // What is wrong with the state folder, for GetStatus; found by the Daemon (its generation)
  // and the PolicyCommitter (revisions, audit), both on the engine thread.
  muzzle::StateReport state;
  // The policy generation kept in state_dir.
  muzzle::GenerationStore generations(config.state_dir);
  muzzle::Daemon daemon(config, p.ruleset, p.host, &muzzle::openNfqPacketQueue, log, p.clock,
                        &p.oui, generations);
  daemon.setServiceNotifier(p.notifier);
  daemon.setStateReport(&state);

  // Events to the syslog collectors from here on: the policy's boot and everything after.
  // Declared after the log, so destroyed (and removed from it) first.
  std::unique_ptr<muzzle::SyslogSinks> syslog;
  if (!config.syslog.empty()) {
    auto sinks = muzzle::SyslogSinks::start(config.syslog, log, p.clock);
    if (!sinks.ok()) return fail(sinks.status());
    syslog = std::move(sinks).value();
  }
  muzzle::RevisionStore store(config.state_dir);
  muzzle::AuditLog audit(config.state_dir);
  muzzle::PolicyCommitter commits(daemon, store, audit, log, p.clock, state);
  auto initial = commits.boot(config.policy_path);
  if (!initial.ok()) return fail(initial.status());
  // As boot() compiled it: the box compiles its first policy once.
  auto [compiled, compile_time] = commits.takeBootPolicy();
  daemon.setInitialPolicy(std::move(initial).value(), std::string(muzzle::PolicyCommitter::kLabel),
                          std::move(compiled), compile_time);

  // SIGHUP: the policy file is applied as a new revision, so edits made the old way are
  // versioned and audited too; an unchanged file re-applies the current revision (re-reading
  // the segments' addresses).
  const std::string policy_path = config.policy_path;
  // It compiles on the compile thread like any apply; the engine thread carries on meanwhile.
  daemon.setReloadHandler([&, policy_path] {
    auto failed = [&](const muzzle::Status& s) {
      log.write(muzzle::LogLine("policy-error").add("error", s.message()).add("kept_revision", commits.current()));
    };
    auto text = muzzle::readRegularFile(policy_path);
    if (!text.ok()) return failed(text.status());
    commits.apply(std::move(text).value(), 0, 0, "SIGHUP: " + policy_path,
                  muzzle::Caller{"local-file", "signal"},
                  [&daemon, failed](muzzle::CommitReply reply) {
                    const muzzle::Result<muzzle::CommitOutcome>& c = reply.outcome;
                    muzzle::Status s = c.status();
                    if (c.ok() && c->unchanged)
                      s = daemon.applyPolicy(c->compiled, c->compile_time).status();
                    if (!s.ok()) failed(s);
                  });
  });
  daemon.addTicker(std::chrono::duration_cast<std::chrono::milliseconds>(kCommitTick), [&] { commits.tick(); });

  // Devices' MUD files: the engine reports announced URLs, the manager fetches off the engine
  // thread (its own worker) and proposes or applies through the committer.
  std::string mud_server_ca = mcfg.mud_server_ca();
  if (!mud_server_ca.empty() && mud_server_ca.front() != '/') {
    mud_server_ca = config.config_dir + "/" + mud_server_ca;
  }
  muzzle::MudManager mud(daemon, commits, log,
                         muzzle::MudManager::helperWorker(
                             config.state_dir, mud_server_ca,
                             p.mud_fetch_socket.empty()
                                 ? muzzle::MudHelper{muzzle::MudHelper::Via::kSpawn,
                                                     muzzle::mudFetchHelperPath()}
                                 : muzzle::MudHelper{muzzle::MudHelper::Via::kSocket,
                                                     p.mud_fetch_socket},
                             p.clock));
  mud.observeEngine();

  auto authorizer = muzzle::Authorizer::create(mcfg.tcp(), config.config_dir);
  if (!authorizer.ok()) return fail(authorizer.status());
  std::vector<std::string> segment_ifnames;
  for (const auto& seg : config.segments) segment_ifnames.push_back(seg.ifname);
  const std::vector<std::string> segment_addresses = muzzle::interfaceAddresses(segment_ifnames);
  // The web console (management.web): checked and its certificate loaded (or made) before
  // anything listens. It acts through the management API in-process, with its own key.
  auto web_setup = muzzle::webSetupOf(config, segment_addresses);
  if (!web_setup.ok()) return fail(web_setup.status());
  muzzle::web::Accounts web_accounts(config.state_dir + "/web-users");
  std::unique_ptr<muzzle::web::Console> console;
  if (web_setup->on) {
    // A damaged accounts file lets nobody in; the box keeps enforcing and says why.
    if (muzzle::Status s = web_accounts.load(); !s.ok()) {
      log.write(muzzle::LogLine("web-accounts-damaged").add("error", s.message()));
    }
    const std::string key = muzzle::web::makeConsoleKey();
    (*authorizer)->setConsoleKey(key);
    console = std::make_unique<muzzle::web::Console>(web_setup->console, key, web_accounts, log,
                                                      p.clock);
  }
  muzzle::ManagementServices services(muzzle::ServiceDeps{
      daemon, commits, p.events, **authorizer, p.clock, p.started,
      mcfg.has_max_watcher_lag() ? mcfg.max_watcher_lag() : 1024, muzzle::streamLimitsOf(mcfg),
      &mud, syslog.get(), p.journal, console.get(), /*idle=*/nullptr});
  // Prometheus scrapes (management.metrics): checked before anything listens; served on the
  // metrics server's own thread; each scrape's snapshot is copied on the engine thread, as
  // GetStatus copies its answer.
  auto metrics_options = muzzle::metricsOptionsOf(config, segment_addresses);
  if (!metrics_options.ok()) return fail(metrics_options.status());
  if (handover != nullptr) {
    // A setup waits for this: the ruleset installed and the queues bound, or why not.
    muzzle::Status s = daemon.start();
    if (!s.ok()) return fail(s);
    const muzzle::EngineStatus st = daemon.engineStatus();
    handover->answer(muzzle::SetupDone{
        "enforcing generation " + std::to_string(st.generation) + " on " +
            segmentList(config.segments) + " (queue_mode=" + muzzle::queueModeName(st.queue_mode) +
            ")",
        commits.current()});
    answered = true;
    handover->close_idle();
  }
  // Otherwise listening before the engine is ready is fine: calls are posted to the engine
  // thread and run once it runs. It means a client never sees "ready" in the log and then a
  // refused socket.
  auto server = muzzle::ManagementServer::start(config, services, log, p.clock);
  if (!server.ok()) return fail(server.status());
  std::unique_ptr<muzzle::MetricsServer> metrics;
  if (!metrics_options->listen.empty()) {
    auto started_metrics = muzzle::MetricsServer::start(
        std::move(metrics_options).value(), [&daemon, &commits](muzzle::MetricsServer::Done done) {
          daemon.post([&daemon, &commits, done = std::move(done)] {
            done(muzzle::metricsSnapshotOf(kVersion, daemon.engineStatus(), daemon.devicesSeen(),
                                           daemon.installedPolicy().get(), commits.current(),
                                           commits.pending().has_value()));
          });
        });
    if (!started_metrics.ok()) return fail(started_metrics.status());
    metrics = std::move(started_metrics).value();
  }
  std::unique_ptr<muzzle::web::HttpsServer> web_server;
  if (console) {
    auto started_web = startConsole(*console, **server, web_setup->server);
    if (!started_web.ok()) return fail(started_web.status());
    web_server = std::move(started_web).value();
  }

  if (handover == nullptr) {
    muzzle::Status s = daemon.start();
    if (!s.ok()) {
      (*server)->shutdown(std::chrono::milliseconds(0));
      return fail(s);
    }
  }
  log.write(muzzle::LogLine("management")
                .add("socket", (*server)->socketPath())
                .add("socket_access", (*server)->socketAccess())
                .add("tcp", mcfg.tcp().listen().empty() ? "off" : mcfg.tcp().listen())
                .add("metrics", metrics ? mcfg.metrics().listen() : std::string("off"))
                .add("web", console ? web_setup->console.url : std::string("off"))
                .add("revision", commits.current())
                .add("segments_from", config.segments_from));
  if (console) {
    log.write(muzzle::LogLine("web-console")
                  .add("url", web_setup->console.url)
                  .add("fingerprint", web_setup->console.fingerprint)
                  .add("certificate", web_setup->console.certificate_made_here ? "made-here"
                                                                              : "configured")
                  .add("accounts", web_accounts.list().size()));
  }
  int rc = daemon.run();
  if (metrics) metrics->stop();
  if (web_server) web_server->stop();
  if (console) console->stop();
  drainServer(daemon, **server, log, rc);
  return rc;
}

}  // namespace

// muzzlectl fleet apply: mgmt/fleet/rollout.h over gRPC (fleet_link.h), the fleet directory's
// desired policies rolled out in waves, progress printed as it happens.
#include "mgmt/ctl/commands/fleet_apply.h"

#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <filesystem>
#include <thread>

#include "mgmt/ctl/commands/commands.h"
#include "mgmt/ctl/duration.h"
#include "mgmt/ctl/fleet_link.h"
#include "mgmt/ctl/fleet_support.h"
#include "mgmt/ctl/output.h"
#include "mgmt/fleet/rollout_state.h"

namespace muzzle::ctl {
namespace {

// The most a box waits for a confirmation (ApplyPolicyRequest: 1..86400).
constexpr uint32_t kMaxConfirmOnBox = 86400;
// 128 + SIGINT, as shells report a program ended by Ctrl-C.
constexpr int kExitInterrupted = 130;

constexpr const char* kExitCodes =
    "Exit codes of fleet apply: 0 every box confirmed (or already ran its policy);\n"
    "11 the rollout halted: a box's apply was refused, a box could not be reached, failed its\n"
    "health gate or its confirm, or the state file could not be written; or a halted rollout\n"
    "was not resumed (the last line says why; boxes applied and not confirmed roll back by\n"
    "themselves, later waves are untouched); 130 interrupted (Ctrl-C, SIGTERM): the state is\n"
    "saved, run the same command again to resume; 3 the fleet directory, its TLS files or the\n"
    "state file is invalid; 2 usage (also a confirm window too short for the health windows).";

// Every call fails with the reason the box could not get a channel.
class UnconnectedLink : public fleet::BoxLink {
 public:
  explicit UnconnectedLink(Status why) : why_(std::move(why)) {}
  Result<fleet::BoxSample> sample() override { return why_; }
  Result<Policy> policy() override { return why_; }
  Result<fleet::Applied> apply(const std::string&, uint32_t, const std::string&) override {
    return why_;
  }
  Status confirm(uint64_t) override { return why_; }
  Result<bool> policyErrorSince(uint64_t, uint64_t) override { return why_; }

 private:
  Status why_;
};

// A duration from fleet.yaml: the same words as on the command line, its key in the error.
Result<uint32_t> fileDuration(const std::string& key, const std::string& text) {
  auto seconds = parseDuration("fleet.yaml: " + key, text);
  if (!seconds.ok()) return seconds.status().withCode(StatusCode::kInvalidArgument);
  return *seconds;
}

// SIGINT and SIGTERM stop the rollout: the sleeper returns at once and no new step starts;
// calls in flight end within --timeout. The signals are blocked in every thread (blocked here,
// before any thread of the rollout or of gRPC starts, so they inherit it) and taken by a
// watching thread with sigtimedwait: no work in a signal handler. The mask is put back when
// the watch ends (after every rollout thread has ended; gRPC's own threads keep it).
class SignalWatch {
 public:
  SignalWatch(StoppableSleeper& sleeper, std::ostream& err) : sleeper_(sleeper), err_(err) {
    thread_ = std::thread([this] {
      while (!done_) {
        const int sig = signals_.wait(std::chrono::milliseconds(200));
        if (sig == SIGINT || sig == SIGTERM) {
          if (!sleeper_.stopped()) {
            err_ << "muzzlectl: " << (sig == SIGINT ? "interrupted" : "terminated")
                 << ": stopping after the calls in progress; the state is saved" << std::endl;
          }
          sleeper_.stop();
        }
      }
    });
  }
  ~SignalWatch() {
    done_ = true;
    thread_.join();
  }

 private:
  StoppableSleeper& sleeper_;
  std::ostream& err_;
  const StopSignals signals_;  // before the thread: it starts with the signals blocked
  std::atomic<bool> done_{false};
  std::thread thread_;
};

int fleetApply(const FleetApplyArgs& args, const GlobalOptions& global, std::ostream& out,
               std::ostream& err) {
  // First of all: every thread started from here on (gRPC's own, from the first channel on)
  // inherits the blocked signals, so none of them is killed by a SIGINT meant for the watch.
  StoppableSleeper sleeper;
  SignalWatch watch(sleeper, err);
  auto dir = loadFleet(args.dir, err);
  if (!dir) return kExitInvalid;
  auto options = rolloutOptions(args, dir->file());
  if (!options.ok()) {
    err << "muzzlectl: " << args.dir << ": " << options.status().message() << "\n";
    return kExitInvalid;
  }
  if (std::string problem = confirmWindowProblem(*options, dir->members().size());
      !problem.empty()) {
    err << "muzzlectl: " << problem << "\n";
    return kExitUsage;
  }
  const std::string state_path = rolloutStatePath(args);
  if (!options->restart) {
    // Read here first so that a damaged file is exit 3, not a halt.
    if (auto saved = fleet::loadRolloutState(state_path); !saved.ok()) {
      err << "muzzlectl: " << saved.status().message() << "\n";
      return kExitInvalid;
    }
  }

  const TlsFiles tls = fleetTls(*dir, global);
  for (const fleet::Member& m : dir->members()) {
    // The TLS files are the same for every box: one connect() finds what is wrong with them.
    if (m.target.rfind("unix:", 0) == 0) continue;
    if (auto ch = connect(boxOf(m), tls); !ch.ok()) {
      err << "muzzlectl: " << ch.status().message() << "\n";
      return kExitInvalid;
    }
    break;
  }
  const auto timeout = std::chrono::seconds(std::max(global.timeout_s, 1));
  std::vector<fleet::RolloutBox> boxes;
  boxes.reserve(dir->members().size());
  for (const fleet::Member& m : dir->members()) {
    boxes.push_back(fleet::RolloutBox{
        m.name, *m.text, [box = boxOf(m), &tls, timeout]() -> std::unique_ptr<fleet::BoxLink> {
          auto ch = connect(box, tls);
          if (!ch.ok()) return std::make_unique<UnconnectedLink>(ch.status());
          return std::make_unique<GrpcBoxLink>(*ch, timeout);
        }});
  }

  // With --json, stdout carries the final state alone; progress goes to stderr.
  std::ostream& progress_out = global.json ? err : out;
  const fleet::RolloutResult result =
      fleet::runRollout(boxes, *options, state_path, sleeper, [&progress_out](const std::string& line) {
        progress_out << line << std::endl;  // flushed: seen as it goes
      });
  if (global.json) out << toJson(result.state);
  if (sleeper.stopped() && !result.done) return kExitInterrupted;
  if (result.done) return kExitOk;
  return kExitRolloutHalted;
}

}  // namespace

Result<fleet::RolloutOptions> rolloutOptions(const FleetApplyArgs& args, const v1::Fleet& file) {
  fleet::RolloutOptions o;
  const v1::FleetRollout& rollout = file.rollout();
  const v1::FleetHealth& health = file.health();
  if (!args.waves.empty()) {
    o.waves = args.waves;
  } else if (!rollout.waves().empty()) {
    // Checked against a fleet of any size: only the spelling can be wrong.
    if (auto sizes = fleet::waveSizes(rollout.waves(), 100); !sizes.ok()) {
      return Status::error(StatusCode::kInvalidArgument,
                           "fleet.yaml: rollout.waves: " + sizes.status().message());
    }
    o.waves = rollout.waves();
  }
  if (!args.confirm.empty()) {
    auto s = parseDuration("--confirm", args.confirm);
    if (!s.ok()) return s.status().withCode(StatusCode::kInvalidArgument);
    o.confirm_seconds = *s;
  } else if (!rollout.confirm().empty()) {
    auto s = fileDuration("rollout.confirm", rollout.confirm());
    if (!s.ok()) return s.status();
    o.confirm_seconds = *s;
  }
  if (args.parallel > 0) {
    o.parallel = args.parallel;
  } else if (rollout.parallel() > 0) {
    o.parallel = rollout.parallel();
  }
  uint32_t window_s = static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::seconds>(o.window).count());
  if (!args.window.empty()) {
    auto s = parseDuration("--window", args.window);
    if (!s.ok()) return s.status().withCode(StatusCode::kInvalidArgument);
    window_s = *s;
  } else if (!health.window().empty()) {
    auto s = fileDuration("health.window", health.window());
    if (!s.ok()) return s.status();
    window_s = *s;
  }
  if (window_s == 0) {
    return Status::error(StatusCode::kInvalidArgument,
                         std::string(args.window.empty() ? "fleet.yaml: health.window" : "--window") +
                             " is 0: the deny rate is measured over it; give a few seconds, "
                             "like 10s");
  }
  o.window = std::chrono::seconds(window_s);
  // proto3: 0 is "not set"; a negative value is a mistake.
  if (health.deny_rate_multiple() < 0 || health.deny_rate_floor() < 0) {
    return Status::error(StatusCode::kInvalidArgument,
                         "fleet.yaml: health.deny_rate_multiple and health.deny_rate_floor may not "
                         "be negative");
  }
  if (health.deny_rate_multiple() > 0) o.deny_rate_multiple = health.deny_rate_multiple();
  if (health.deny_rate_floor() > 0) o.deny_rate_floor = health.deny_rate_floor();
  o.comment = args.comment.empty() ? "muzzlectl fleet apply" : args.comment;
  o.restart = args.restart;
  return o;
}

std::string rolloutStatePath(const FleetApplyArgs& args) {
  if (!args.state.empty()) return args.state;
  return (std::filesystem::path(args.dir) / kRolloutStateName).string();
}

std::string confirmWindowProblem(const fleet::RolloutOptions& options, size_t boxes) {
  const uint64_t window =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(options.window).count());
  if (options.confirm_seconds > kMaxConfirmOnBox) {
    return "--confirm " + std::to_string(options.confirm_seconds) +
           "s is longer than a box waits for a confirmation (" + std::to_string(kMaxConfirmOnBox) +
           "s, 24h): give 24h or less";
  }
  size_t largest = 1;
  if (auto sizes = fleet::waveSizes(options.waves, boxes); sizes.ok()) {
    for (size_t s : *sizes) largest = std::max(largest, s);
  }
  const uint64_t parallel = std::max<uint32_t>(options.parallel, 1);
  const uint64_t rounds = (largest + parallel - 1) / parallel;
  const uint64_t need = rounds * 2 * window + kConfirmMarginSeconds;
  if (options.confirm_seconds >= need) return "";
  return "the confirm window (--confirm or fleet.yaml rollout.confirm, " +
         std::to_string(options.confirm_seconds) + "s) is too short: a box is confirmed once its "
         "whole wave passed the health gate, and the largest wave (" + std::to_string(largest) +
         (largest == 1 ? " box" : " boxes") + ", " + std::to_string(parallel) + " at once) takes " +
         std::to_string(rounds) + (rounds == 1 ? " round" : " rounds") + " of two " +
         std::to_string(window) + "s health windows, plus " +
         std::to_string(kConfirmMarginSeconds) + "s of margin: give --confirm " +
         std::to_string(need) + "s or more (or raise --parallel, or shorten --window)";
}

void addFleetApplyCommand(CLI::App& fleet, Invocation& invocation) {
  auto args = std::make_shared<FleetApplyArgs>();
  auto* sub = fleet.add_subcommand(
      "apply",
      "roll the fleet directory's policies out in waves: each box applied with commit-confirmed, "
      "a wave confirmed once all its boxes pass the health gate (reachable, queues bound, no "
      "policy-error, deny rate not above health.deny_rate_multiple x its rate before, or "
      "health.deny_rate_floor); any failure halts the rollout and leaves unconfirmed boxes to "
      "roll back by themselves. Running it again resumes an interrupted rollout");
  sub->add_option("DIR", args->dir, "the fleet directory (fleet.yaml)")->required();
  auto duration = [](const char* option) {
    return CLI::Validator(
        [option](std::string& text) {
          auto s = parseDuration(option, text);
          if (!s.ok()) return s.status().message();
          if (*s == 0) return std::string(option) + " is 0: give a duration of a second or more";
          return std::string();
        },
        "DURATION");
  };
  sub->add_option("--waves", args->waves,
                  "wave sizes: counts, percentages of the fleet (rounded up) and \"rest\", like "
                  "1,10%,rest (default: fleet.yaml rollout.waves, else 1,10%,rest)")
      ->check(CLI::Validator(
          [](std::string& text) {
            auto sizes = fleet::waveSizes(text, 100);
            return sizes.ok() ? std::string() : sizes.status().message();
          },
          "SPEC"));
  sub->add_option("--confirm", args->confirm,
                  "each box rolls back by itself unless confirmed within this (default: "
                  "fleet.yaml rollout.confirm, else 10m)")
      ->check(duration("--confirm"));
  sub->add_option("--parallel", args->parallel,
                  "boxes worked on at once (default: fleet.yaml rollout.parallel, else 16)")
      ->check(CLI::Range(1, 10'000));
  sub->add_option("--window", args->window,
                  "the health gate's window, before and after the change (default: fleet.yaml "
                  "health.window, else 10s)")
      ->check(duration("--window"));
  sub->add_option("--comment", args->comment, "why, for each box's audit log");
  sub->add_flag("--restart", args->restart,
                "ignore the saved state (a halted or unfinished rollout) and start over");
  sub->add_option("--state", args->state,
                  std::string("the rollout's state file (default: DIR/") + kRolloutStateName +
                      ")");
  sub->footer(
      std::string("Progress, one line per step, on stdout (stderr with --json, which prints the "
                  "final state as JSON).\n") +
      kExitCodes);
  fleet.footer(fleet.get_footer() + (fleet.get_footer().empty() ? "" : "\n") + kExitCodes);
  sub->callback([&invocation, args] {
    invocation.whole = [a = *args](const GlobalOptions& global, std::ostream& out,
                                   std::ostream& err) { return fleetApply(a, global, out, err); };
  });
}

}  // namespace muzzle::ctl

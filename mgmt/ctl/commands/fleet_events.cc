// muzzlectl fleet events DIR [--follow]: every box's event stream (WatchEvents) merged, each line
// prefixed "[box] " as `--targets ... events` prints it. Each box resumes after the last event
// printed from it, kept in a state file (fleet_reads.h: FleetEventsState, default
// DIR/.fleet-events.json) so the next run goes on where this one stopped.
//
// Threads: with --follow a thread per box (every stream stays open); without it at most
// --parallel boxes at once, each read to its end. The main thread waits for SIGINT/SIGTERM
// (blocked in every thread, taken with sigtimedwait), saves the state at most once a second and
// at the end. A line is printed before its event counts as seen, so an interruption between the
// two shows that event again next time: at least once, never lost.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "mgmt/ctl/commands/commands.h"
#include "mgmt/ctl/commands/fleet_selection.h"
#include "mgmt/ctl/event_text.h"
#include "mgmt/ctl/fleet_reads.h"
#include "mgmt/ctl/fleet_support.h"
#include "mgmt/ctl/invocation.h"
#include "mgmt/ctl/output.h"
#include "muzzle/v1/management.grpc.pb.h"

namespace muzzle::ctl {
namespace {

using Clock = std::chrono::steady_clock;

struct EventsArgs {
  FleetSelectArgs select;
  bool follow = false;
  bool from_start = false;
  std::string state;  // "" for DIR/.fleet-events.json
};

std::string tokenOf(const ResumePoint& p) {
  return std::to_string(p.epoch) + ":" + std::to_string(p.sequence);
}

class FleetEvents {
 public:
  FleetEvents(const SelectedFleet& fleet, const EventsArgs& args, const GlobalOptions& options,
              FleetEventsState base, std::ostream& out, std::ostream& err)
      : fleet_(fleet), args_(args), options_(options), base_(std::move(base)),
        points_(fleet.members.size()), out_(out), err_(err) {
    for (size_t i = 0; i < points_.size(); ++i) {
      auto it = base_.boxes().find(fleet.members[i]->name);
      if (!args.from_start && it != base_.boxes().end()) {
        points_[i] = ResumePoint{it->second.epoch(), it->second.sequence()};
      }
    }
    // Boxes no longer in the fleet are forgotten; the others keep their entries (a --select run
    // leaves the boxes it did not watch where they were).
    auto& boxes = *base_.mutable_boxes();
    for (auto it = boxes.begin(); it != boxes.end();) {
      it = fleet.fleet.find(it->first) ? std::next(it) : boxes.erase(it);
    }
    base_.set_version(1);
  }

  // Reads box `i`'s stream (with --follow: again and again, until stop()).
  void watchBox(size_t i) {
    const fleet::Member& member = *fleet_.members[i];
    const std::string prefix = "[" + member.name + "] ";
    auto channel = connect(boxOf(member), fleet_.tls);
    if (!channel.ok()) {  // a missing TLS file: trying again would not help
      note(prefix + "not watched: " + channel.status().message());
      ++failures_;
      return;
    }
    auto stub = v1::EventService::NewStub(*channel);
    unsigned tries = 0;
    while (true) {
      grpc::ClientContext ctx;
      if (!args_.follow) {
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(options_.timeout_s));
      }
      if (!track(&ctx)) return;
      v1::WatchEventsRequest req;
      const ResumePoint from = point(i);
      req.set_epoch(from.epoch);
      req.set_after_sequence(from.sequence);
      req.set_follow(args_.follow);
      const auto started = Clock::now();
      auto reader = stub->WatchEvents(&ctx, req);
      v1::Event e;
      uint64_t n = 0;
      while (reader->Read(&e)) {
        print(member.name, prefix, e);
        advanceTo(i, resumeAfter(e));
        ++n;
      }
      const grpc::Status s = reader->Finish();
      untrack(&ctx);
      if (stopping()) return;
      if (!args_.follow) {
        if (!s.ok()) {
          note("muzzlectl: " + prefix + "(" + member.target + ") " + failed(s).summary);
          ++failures_;
        }
        return;
      }
      // A stream that brought something, or lived a while, was not a failed try.
      tries = (n > 0 || Clock::now() - started >= kMaxRetryDelay) ? 1 : tries + 1;
      const auto delay = retryDelay(tries);
      note(prefix + (s.ok() ? std::string("the stream ended") : failed(s).summary) +
           "; trying again in " + std::to_string(delay.count()) + " s, after " +
           tokenOf(point(i)));
      if (!sleep(delay)) return;
    }
  }

  // Ends every stream and every wait; watchBox returns soon after.
  void stop() {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (grpc::ClientContext* ctx : live_) ctx->TryCancel();
    wake_.notify_all();
  }

  // The state to save when it changed since the last call; nullopt otherwise.
  std::optional<FleetEventsState> changedState() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!changed_) return std::nullopt;
    changed_ = false;
    FleetEventsState state = base_;
    for (size_t i = 0; i < points_.size(); ++i) {
      if (points_[i] == ResumePoint{}) continue;
      FleetEventsResume& r = (*state.mutable_boxes())[fleet_.members[i]->name];
      r.set_epoch(points_[i].epoch);
      r.set_sequence(points_[i].sequence);
    }
    return state;
  }

  // A state that could not be written is tried again with the next save.
  void markUnsaved() {
    std::lock_guard<std::mutex> lock(mu_);
    changed_ = true;
  }

  int failures() const { return failures_; }

 private:
  bool track(grpc::ClientContext* ctx) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return false;
    live_.insert(ctx);
    return true;
  }
  void untrack(grpc::ClientContext* ctx) {
    std::lock_guard<std::mutex> lock(mu_);
    live_.erase(ctx);
  }
  bool stopping() {
    std::lock_guard<std::mutex> lock(mu_);
    return stopping_;
  }
  // False when stop() ended the wait.
  bool sleep(std::chrono::seconds delay) {
    std::unique_lock<std::mutex> lock(mu_);
    return !wake_.wait_for(lock, delay, [&] { return stopping_; });
  }
  ResumePoint point(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return points_[i];
  }
  void advanceTo(size_t i, ResumePoint p) {
    std::lock_guard<std::mutex> lock(mu_);
    if (points_[i] == p) return;
    points_[i] = p;
    changed_ = true;
  }

  void print(const std::string& box, const std::string& prefix, const v1::Event& e) {
    std::string line;
    if (options_.json) {
      FleetEventRow row;
      row.set_box(box);
      *row.mutable_event() = e;
      line = toJson(row, false);
    } else {
      line = prefix + eventLine(e, false) + "\n";
    }
    std::lock_guard<std::mutex> lock(out_mu_);
    out_ << line << std::flush;
  }
  void note(const std::string& text) {
    std::lock_guard<std::mutex> lock(out_mu_);
    err_ << text << std::endl;
  }

  const SelectedFleet& fleet_;
  const EventsArgs& args_;
  const GlobalOptions& options_;
  std::atomic<int> failures_{0};

  std::mutex mu_;  // guards what follows, up to out_mu_
  FleetEventsState base_;  // the loaded state, boxes not watched kept
  std::vector<ResumePoint> points_;  // by member index
  bool changed_ = false;
  bool stopping_ = false;
  std::set<grpc::ClientContext*> live_;
  std::condition_variable wake_;

  std::mutex out_mu_;  // one line at a time on out_ and err_
  std::ostream& out_;
  std::ostream& err_;
};

int events(const EventsArgs& a, const GlobalOptions& options, std::ostream& out,
           std::ostream& err) {
  // Before any thread (gRPC's included) exists, so that every one inherits the block.
  const StopSignals signals;
  int exit = kExitOk;
  auto fleet = selectFleet(a.select, options, err, &exit);
  if (!fleet) return exit;
  const std::string path =
      a.state.empty() ? fleet->fleet.dir() + "/.fleet-events.json" : a.state;
  auto loaded = readEventsState(path);
  if (!loaded.ok()) {
    if (!a.from_start) {
      err << "muzzlectl: " << loaded.status().message() << "\n";
      return kExitInvalid;
    }
    loaded = FleetEventsState();  // replaced at the first save
  }

  FleetEvents watch(*fleet, a, options, std::move(*loaded), out, err);
  std::atomic<bool> done{false};
  std::thread runner([&] {
    const size_t n = fleet->members.size();
    forEachBounded(n, a.follow ? n : fleet->parallel, [&](size_t i) { watch.watchBox(i); });
    done = true;
  });

  bool save_failed = false;
  auto save = [&] {
    auto state = watch.changedState();
    if (!state) return;
    const Status written = writeEventsState(path, *state);
    if (!written.ok()) {
      watch.markUnsaved();
      if (!save_failed) err << "muzzlectl: " << written.message() << "\n";
    }
    save_failed = !written.ok();
  };
  int signal = 0;
  auto last_save = Clock::now();
  while (!done && signal == 0) {
    signal = signals.wait(std::chrono::milliseconds(100));
    if (Clock::now() - last_save >= std::chrono::seconds(1)) {
      save();
      last_save = Clock::now();
    }
  }
  watch.stop();
  runner.join();
  save();
  if (save_failed) {
    err << "muzzlectl: the resume points were not saved to " << path
        << ": the next run repeats events\n";
  }
  if (signal != 0) return 128 + signal;
  if (watch.failures() > 0) return kExitFleetFailed;
  return save_failed ? kExitError : kExitOk;
}

}  // namespace

void addFleetEventsCommand(CLI::App& fleet, Invocation& invocation) {
  auto args = std::make_shared<EventsArgs>();
  auto* sub = fleet.add_subcommand(
      "events",
      "every box's events, each line prefixed [box], each box resumed after the last event "
      "seen (kept in --state); --follow watches every box at once, --parallel bounds a run "
      "without it");
  addFleetSelectOptions(*sub, args->select);
  sub->add_flag("--follow,-f", args->follow,
                "keep streaming; a box that is down or whose stream ends is tried again (1 s, "
                "doubling to 30 s)");
  sub->add_option("--state", args->state,
                  "where each box's last event is kept (default DIR/.fleet-events.json)");
  sub->add_flag("--from-start", args->from_start,
                "ignore the saved state: everything each box still holds (the state is "
                "replaced)");
  sub->callback([&invocation, args] {
    invocation.streams = true;
    invocation.whole = [a = *args](const GlobalOptions& options, std::ostream& out,
                                   std::ostream& err) { return events(a, options, out, err); };
  });
}

}  // namespace muzzle::ctl

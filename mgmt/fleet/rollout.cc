// The rollout procedure of rollout.h. How it runs:
//
// - One Rollout object per runRollout call. The waves run one after the other on the calling
//   thread; inside a wave, `parallel` worker threads take the wave's boxes in order. Each box is
//   worked on by one thread at a time, through its own BoxLink (made by the box's `connect` the
//   first time the box is worked on, kept for the confirm).
// - `state_` (the RolloutState) and the file it is saved to are guarded by `state_mu_`; every
//   change is saved at once. A save that fails stops the wave and halts the rollout: a box whose
//   state cannot be recorded is never confirmed, so it rolls back by itself.
// - Progress lines go through `say()`, one at a time (`progress_mu_`).
// - A failure in a wave stops the wave early: boxes of the wave not yet applied are left
//   untouched (STEP_WAITING), boxes applied and still in their health window are not gated
//   further (STEP_APPLIED, "not confirmed: the rollout halted"): none of the wave is confirmed,
//   so gating them on would only delay the halt. Boxes that had passed their gate keep
//   STEP_APPLIED too. Every applied box of the wave rolls back by itself at its deadline.
// - A stop (the Sleeper returning false) ends every worker at its next step; what was applied is
//   saved as STEP_APPLIED, so running again resumes it.
#include "mgmt/fleet/rollout.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>

#include "mgmt/fleet/rollout_state.h"

namespace muzzle::fleet {
namespace {

using Step = v1::RolloutBoxState;
using std::chrono::milliseconds;

// Names listed in a wave's first line; the rest are counted.
constexpr size_t kNamesListed = 10;

std::string plural(size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string rateText(double per_second) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.1f/s", per_second);
  return buf;
}

std::string numberText(double x) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}

// Denials a second between two samples. A counter that went down means muzzled restarted in
// between: its count starts from zero, so what it holds now is what was denied since. Samples
// less than a millisecond apart are taken as a millisecond apart (never a division by zero).
double denyRate(const BoxSample& from, const BoxSample& to) {
  const double seconds = std::max(
      std::chrono::duration<double>(to.at - from.at).count(), 0.001);
  const uint64_t denied = to.denied >= from.denied ? to.denied - from.denied : to.denied;
  return static_cast<double>(denied) / seconds;
}

// The gate's rule: the rate after fails when above both `multiple` times the rate before and
// `floor`. Empty when it passes.
std::string rateProblem(double before, double after, double multiple, double floor) {
  const double limit = std::max(multiple * before, floor);
  if (after <= limit) return "";
  return "deny rate " + rateText(after) + ", was " + rateText(before) + " (limit " +
         numberText(multiple) + "x, floor " + rateText(floor) + ")";
}

// A link's failure for a person: unreachable boxes said so, otherwise the box's own message.
std::string describe(const Status& s) {
  if (s.code() == StatusCode::kUnavailable) return "unreachable: " + s.message();
  return s.message();
}

// "10m", "90s", "1h": what the admin typed, most likely.
std::string durationText(uint64_t seconds) {
  if (seconds % 3600 == 0) return std::to_string(seconds / 3600) + "h";
  if (seconds % 60 == 0) return std::to_string(seconds / 60) + "m";
  return std::to_string(seconds) + "s";
}

std::string nowText() {
  google::protobuf::Timestamp t;
  t.set_seconds(google::protobuf::util::TimeUtil::GetCurrentTime().seconds());
  return google::protobuf::util::TimeUtil::ToString(t);
}

// What a box's worker ended with.
enum class Outcome {
  kPassed,       // gated (or nothing to gate); `confirm` says whether a confirm is due
  kFailed,       // STEP_FAILED, with the reason in the state
  kLeft,         // stopped because the wave failed elsewhere (untouched, or applied and left)
  kInterrupted,  // the sleeper stopped the rollout
};

struct BoxResult {
  Outcome outcome = Outcome::kLeft;
  bool confirm = false;
};

class Rollout {
 public:
  Rollout(const std::vector<RolloutBox>& boxes, const RolloutOptions& options,
          const std::string& state_path, Sleeper& sleeper, const Progress& progress)
      : boxes_(boxes),
        options_(options),
        path_(state_path),
        sleeper_(sleeper),
        progress_(progress),
        links_(boxes.size()) {}

  RolloutResult run();

 private:
  // Sets up state_ (new or resumed); false (with result_ filled) when the rollout must not run.
  bool start(const std::vector<size_t>& sizes);
  void newState(const std::vector<size_t>& sizes, const std::string& desired);
  bool runWave(uint32_t wave, uint32_t waves, const std::vector<size_t>& members);
  BoxResult work(size_t i);
  BoxResult applyAndGate(size_t i, BoxLink& link, const BoxLink::Policy& policy);
  BoxResult gateAfter(size_t i, BoxLink& link, uint64_t revision, double before_rate,
                      uint64_t epoch, uint64_t sequence, std::optional<BoxSample> first);
  bool confirmWave(const std::vector<size_t>& members, const std::vector<BoxResult>& results);
  void finishHalted(uint32_t wave, uint32_t waves, const std::string& why);
  RolloutResult finish();

  // Runs fn(box index) for each of `members`, at most options_.parallel at once.
  void forEach(const std::vector<size_t>& members, const std::function<void(size_t)>& fn);

  // Changes box i's state and saves; false when the save failed (the wave then stops).
  bool update(size_t i, const std::function<void(Step&)>& change);
  Step snapshot(size_t i) {
    std::lock_guard<std::mutex> lock(state_mu_);
    return state_.boxes(static_cast<int>(i));
  }
  bool saveLocked();
  BoxResult fail(size_t i, const std::string& line_prefix, const std::string& why);
  bool stopping() const { return wave_failed_ || interrupted_; }
  bool sleep(milliseconds d) {
    if (!sleeper_.sleepFor(d)) interrupted_ = true;
    return !interrupted_;
  }
  void say(const std::string& line) {
    if (!progress_) return;
    std::lock_guard<std::mutex> lock(progress_mu_);
    progress_(line);
  }
  BoxLink* linkOf(size_t i);
  // Boxes applied and not confirmed (they roll back by themselves), their latest deadline, and
  // boxes not touched yet.
  void counts(size_t* unconfirmed, std::string* deadline, size_t* untouched);

  const std::vector<RolloutBox>& boxes_;
  const RolloutOptions& options_;
  const std::string path_;
  Sleeper& sleeper_;
  const Progress& progress_;
  std::vector<std::unique_ptr<BoxLink>> links_;  // [i] used only by the thread working on box i

  std::mutex state_mu_;
  v1::RolloutState state_;    // guarded by state_mu_
  std::string save_error_;    // guarded by state_mu_: the first save that failed
  std::mutex progress_mu_;
  std::atomic<bool> wave_failed_{false};
  std::atomic<bool> interrupted_{false};
  RolloutResult result_;
};

BoxLink* Rollout::linkOf(size_t i) {
  if (!links_[i] && boxes_[i].connect) links_[i] = boxes_[i].connect();
  return links_[i].get();
}

bool Rollout::saveLocked() {
  const Status s = saveRolloutState(path_, state_);
  if (s.ok()) return true;
  if (save_error_.empty()) save_error_ = s.message();
  wave_failed_ = true;
  return false;
}

bool Rollout::update(size_t i, const std::function<void(Step&)>& change) {
  std::lock_guard<std::mutex> lock(state_mu_);
  change(*state_.mutable_boxes(static_cast<int>(i)));
  return saveLocked();
}

BoxResult Rollout::fail(size_t i, const std::string& line_prefix, const std::string& why) {
  wave_failed_ = true;
  update(i, [&](Step& b) {
    b.set_step(Step::STEP_FAILED);
    b.set_detail(why);
  });
  say(boxes_[i].name + ": " + line_prefix + why);
  return {Outcome::kFailed, false};
}

void Rollout::forEach(const std::vector<size_t>& members, const std::function<void(size_t)>& fn) {
  const size_t threads =
      std::min<size_t>(members.size(), std::max<uint32_t>(options_.parallel, 1));
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (size_t k = next++; k < members.size(); k = next++) fn(members[k]);
    });
  }
  for (auto& t : pool) t.join();
}

void Rollout::newState(const std::vector<size_t>& sizes, const std::string& desired) {
  state_ = v1::RolloutState();
  state_.set_desired_sha256(desired);
  state_.set_waves(options_.waves);
  state_.set_confirm_seconds(options_.confirm_seconds);
  state_.set_started(nowText());
  state_.set_comment(options_.comment);
  size_t i = 0;
  for (size_t w = 0; w < sizes.size(); ++w) {
    for (size_t k = 0; k < sizes[w]; ++k, ++i) {
      Step* b = state_.add_boxes();
      b->set_name(boxes_[i].name);
      b->set_wave(static_cast<uint32_t>(w + 1));
    }
  }
}

bool Rollout::start(const std::vector<size_t>& sizes) {
  const std::string desired = desiredSha256(boxes_);
  std::optional<v1::RolloutState> saved;
  if (!options_.restart) {
    auto loaded = loadRolloutState(path_);
    if (!loaded.ok()) {
      result_.halted = true;
      result_.state.set_halted(loaded.status().message());
      say("cannot resume: " + loaded.status().message());
      return false;
    }
    saved = std::move(*loaded);
  }
  std::string why_new;
  if (saved && saved->desired_sha256() != desired) {
    why_new = "the saved rollout in " + path_ +
              " was for another desired state (the fleet directory changed): starting a new one";
  } else if (saved && !saved->finished().empty()) {
    why_new = "the saved rollout finished at " + saved->finished() + ": starting a new one";
  } else if (saved && !saved->halted().empty()) {
    result_.halted = true;
    result_.state = *saved;
    say("rollout halted earlier: " + saved->halted() +
        "; nothing done: fix the fleet directory (a changed desired state is a new rollout) or "
        "pass --restart to start over");
    return false;
  } else if (saved && saved->waves() != options_.waves) {
    result_.halted = true;
    result_.state = *saved;
    say("the saved rollout in " + path_ + " runs in waves \"" + saved->waves() + "\", not \"" +
        options_.waves + "\"; nothing done: run with --waves " + saved->waves() +
        " to resume it, or pass --restart to start over");
    return false;
  }
  if (saved && why_new.empty()) {
    // Resume: the saved boxes must be this fleet's, wave for wave.
    bool same = saved->boxes_size() == static_cast<int>(boxes_.size());
    size_t i = 0;
    for (size_t w = 0; same && w < sizes.size(); ++w) {
      for (size_t k = 0; same && k < sizes[w]; ++k, ++i) {
        const Step& b = saved->boxes(static_cast<int>(i));
        same = b.name() == boxes_[i].name && b.wave() == w + 1;
      }
    }
    if (!same) {
      result_.halted = true;
      result_.state.set_halted(path_ + ": its boxes are not this fleet's, wave for wave: move it "
                                       "away, or pass --restart to start over");
      say("cannot resume: " + result_.state.halted());
      return false;
    }
    size_t confirmed = 0, applied = 0;
    for (const Step& b : saved->boxes()) {
      confirmed += b.step() == Step::STEP_CONFIRMED;
      applied += b.step() == Step::STEP_APPLIED;
    }
    state_ = std::move(*saved);
    state_.set_confirm_seconds(options_.confirm_seconds);
    say("resuming the rollout started at " + state_.started() + ": " +
        plural(confirmed, "box", "boxes") + " confirmed, " + std::to_string(applied) +
        " applied and awaiting confirmation, " +
        std::to_string(boxes_.size() - confirmed - applied) + " to go");
  } else {
    if (!why_new.empty()) say(why_new);
    newState(sizes, desired);
    say("rollout of " + plural(boxes_.size(), "box", "boxes") + " in " +
        plural(sizes.size(), "wave", "waves") + " (" + options_.waves +
        "), each rolling back by itself unless confirmed within " +
        durationText(options_.confirm_seconds) + "; state in " + path_);
  }
  std::lock_guard<std::mutex> lock(state_mu_);
  if (!saveLocked()) {
    result_.halted = true;
    state_.set_halted(save_error_);
    result_.state = state_;
    say("rollout halted before it began: " + save_error_);
    return false;
  }
  return true;
}

RolloutResult Rollout::run() {
  auto sizes = waveSizes(options_.waves, boxes_.size());
  if (!sizes.ok()) {
    result_.halted = true;
    result_.state.set_halted(sizes.status().message());
    say("rollout not started: " + sizes.status().message());
    return result_;
  }
  if (options_.confirm_seconds == 0) {
    result_.halted = true;
    result_.state.set_halted("a rollout needs a confirm window (confirm_seconds 0)");
    say("rollout not started: " + result_.state.halted());
    return result_;
  }
  if (!start(*sizes)) return result_;

  const uint32_t waves = static_cast<uint32_t>(sizes->size());
  size_t first = 0;
  for (uint32_t w = 1; w <= waves; ++w) {
    std::vector<size_t> members((*sizes)[w - 1]);
    for (size_t k = 0; k < members.size(); ++k) members[k] = first + k;
    first += members.size();
    if (!runWave(w, waves, members)) return result_;
  }
  return finish();
}

RolloutResult Rollout::finish() {
  size_t confirmed = 0, unchanged = 0;
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    for (const Step& b : state_.boxes()) {
      confirmed += b.step() == Step::STEP_CONFIRMED;
      unchanged += b.unchanged();
    }
    state_.set_finished(nowText());
    if (!saveLocked()) {
      // Every box is confirmed: only the record of it is missing.
      say("warning: " + save_error_);
    }
    result_.state = state_;
  }
  result_.done = true;
  say("rollout done: " + plural(confirmed, "box", "boxes") + " confirmed (" +
      std::to_string(unchanged) + " already ran their policy)");
  return result_;
}

void Rollout::counts(size_t* unconfirmed, std::string* deadline, size_t* untouched) {
  *unconfirmed = 0;
  *untouched = 0;
  deadline->clear();
  for (const Step& b : state_.boxes()) {
    if (b.step() == Step::STEP_WAITING) ++*untouched;
    const bool applied = b.step() == Step::STEP_APPLIED ||
                         (b.step() == Step::STEP_FAILED && b.revision() != 0 && !b.unchanged());
    if (!applied) continue;
    ++*unconfirmed;
    // RFC 3339 in UTC ("...Z") from the boxes: later sorts later.
    if (b.deadline() > *deadline) *deadline = b.deadline();
  }
}

void Rollout::finishHalted(uint32_t wave, uint32_t waves, const std::string& why) {
  size_t unconfirmed = 0, untouched = 0;
  std::string deadline;
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    state_.set_halted(why);
    saveLocked();  // a failure here is already the reason, or reported below
    counts(&unconfirmed, &deadline, &untouched);
    result_.state = state_;
  }
  result_.halted = true;
  std::string left = unconfirmed == 0
                         ? std::string("no box left unconfirmed")
                         : plural(unconfirmed, "box", "boxes") + " left unconfirmed " +
                               (unconfirmed == 1 ? "rolls back by itself" : "roll back by themselves") +
                               " by " + (deadline.empty() ? "its deadline" : deadline);
  say("rollout halted at wave " + std::to_string(wave) + "/" + std::to_string(waves) + ": " + why +
      "; " + left + "; " + plural(untouched, "box", "boxes") + " untouched");
}

bool Rollout::runWave(uint32_t wave, uint32_t waves, const std::vector<size_t>& members) {
  std::string names;
  for (size_t k = 0; k < members.size() && k < kNamesListed; ++k) {
    names += (k ? ", " : "") + boxes_[members[k]].name;
  }
  if (members.size() > kNamesListed) {
    names += " and " + std::to_string(members.size() - kNamesListed) + " more";
  }
  const std::string tag = "wave " + std::to_string(wave) + "/" + std::to_string(waves);
  say(tag + ": " + plural(members.size(), "box", "boxes") + ": " + names);

  std::vector<BoxResult> results(boxes_.size());
  forEach(members, [&](size_t i) {
    // A box not started when the wave failed (or the rollout was stopped) stays untouched.
    if (stopping()) return;
    results[i] = work(i);
  });

  if (interrupted_) {
    size_t unconfirmed = 0, untouched = 0;
    std::string deadline;
    {
      std::lock_guard<std::mutex> lock(state_mu_);
      saveLocked();
      counts(&unconfirmed, &deadline, &untouched);
      result_.state = state_;
    }
    say("rollout interrupted in " + tag + ": state saved in " + path_ +
        "; run the same command again to resume" +
        (unconfirmed ? " (" + plural(unconfirmed, "box", "boxes") + " applied and not confirmed " +
                           (unconfirmed == 1 ? "rolls back by itself" : "roll back by themselves") +
                           " by " + deadline + " unless resumed before)"
                     : std::string()));
    return false;
  }

  std::string why;
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    for (size_t i : members) {
      const Step& b = state_.boxes(static_cast<int>(i));
      if (b.step() == Step::STEP_FAILED && why.empty()) why = b.name() + ": " + b.detail();
    }
    if (why.empty() && !save_error_.empty()) why = save_error_;
    // Boxes of the failed wave still applied: say why they were not confirmed.
    if (!why.empty()) {
      for (size_t i : members) {
        Step* b = state_.mutable_boxes(static_cast<int>(i));
        if (b->step() == Step::STEP_APPLIED) {
          b->set_detail(std::string(results[i].outcome == Outcome::kPassed ? "passed its gate; "
                                                                           : "") +
                        "not confirmed: the rollout halted");
        }
      }
    }
  }
  if (!why.empty()) {
    finishHalted(wave, waves, why);
    return false;
  }
  if (!confirmWave(members, results)) {
    std::string confirm_why;
    {
      std::lock_guard<std::mutex> lock(state_mu_);
      for (size_t i : members) {
        const Step& b = state_.boxes(static_cast<int>(i));
        if (b.step() == Step::STEP_FAILED && confirm_why.empty()) {
          confirm_why = b.name() + ": " + b.detail();
        }
      }
      if (confirm_why.empty()) confirm_why = save_error_;
    }
    finishHalted(wave, waves, confirm_why);
    return false;
  }
  size_t confirmed = 0;
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    for (size_t i : members) confirmed += state_.boxes(static_cast<int>(i)).step() == Step::STEP_CONFIRMED;
  }
  say(tag + ": confirmed " + plural(confirmed, "box", "boxes"));
  return true;
}

bool Rollout::confirmWave(const std::vector<size_t>& members,
                          const std::vector<BoxResult>& results) {
  std::vector<size_t> due;
  for (size_t i : members) {
    if (results[i].outcome == Outcome::kPassed && results[i].confirm) due.push_back(i);
  }
  std::atomic<bool> all{true};
  forEach(due, [&](size_t i) {
    const Step b = snapshot(i);
    BoxLink* link = linkOf(i);
    Status s = link ? link->confirm(b.revision())
                    : Status::error(StatusCode::kUnavailable, "no link to the box");
    if (!s.ok() && link) {
      // The confirm may have arrived with its answer lost, or someone confirmed it meanwhile.
      auto p = link->policy();
      if (p.ok() && p->revision == b.revision() && p->pending_revision == 0) s = Status();
    }
    if (!s.ok()) {
      all = false;
      update(i, [&](Step& st) {
        st.set_step(Step::STEP_FAILED);
        st.set_detail("confirm failed: " + describe(s));
      });
      say(boxes_[i].name + ": FAILED: confirm failed: " + describe(s));
      return;
    }
    if (!update(i, [&](Step& st) {
          st.set_step(Step::STEP_CONFIRMED);
          st.set_detail("confirmed revision " + std::to_string(b.revision()));
        })) {
      all = false;
    }
    say(boxes_[i].name + ": confirmed revision " + std::to_string(b.revision()));
  });
  return all;
}

BoxResult Rollout::work(size_t i) {
  const RolloutBox& box = boxes_[i];
  const Step saved = snapshot(i);
  if (saved.step() == Step::STEP_CONFIRMED) {
    say(box.name + ": confirmed earlier (" + saved.detail() + ")");
    return {Outcome::kPassed, false};
  }
  BoxLink* link = linkOf(i);
  if (!link) return fail(i, "FAILED: ", "cannot make a link to the box");
  auto policy = link->policy();
  if (!policy.ok()) return fail(i, "FAILED: ", describe(policy.status()));

  if (saved.step() == Step::STEP_APPLIED && saved.revision() != 0) {
    const uint64_t ours = saved.revision();
    if (policy->pending_revision == ours) {
      say(box.name + ": revision " + std::to_string(ours) +
          " still awaits confirmation (rolls back at " + saved.deadline() +
          "): checking its health");
      return gateAfter(i, *link, ours, saved.deny_rate_before(), saved.event_epoch(),
                       saved.event_sequence(), std::nullopt);
    }
    if (policy->revision == ours && policy->pending_revision == 0) {
      update(i, [&](Step& b) {
        b.set_step(Step::STEP_CONFIRMED);
        b.set_detail("revision " + std::to_string(ours) + " was confirmed meanwhile");
      });
      say(box.name + ": revision " + std::to_string(ours) + " was confirmed meanwhile");
      return {Outcome::kPassed, false};
    }
    say(box.name + ": revision " + std::to_string(ours) + " was rolled back (the box runs revision " +
        std::to_string(policy->revision) + "): applying again");
  }
  if (saved.step() == Step::STEP_APPLIED && saved.revision() == 0 &&
      policy->pending_revision != 0 && policy->pending_revision == policy->revision &&
      policy->pending_revision > saved.previous_revision() &&
      policy->text == box.desired_text) {
    // The last run was stopped between its apply and the state's save (killed): the box's
    // pending revision, newer than what it ran then and holding the desired text, is that apply.
    const uint64_t ours = policy->pending_revision;
    update(i, [&](Step& b) {
      b.set_revision(ours);
      b.set_detail("applied; in its health window");
    });
    say(box.name + ": revision " + std::to_string(ours) +
        " (the desired text) awaits confirmation: applied by the interrupted run; checking its "
        "health");
    return gateAfter(i, *link, ours, saved.deny_rate_before(), saved.event_epoch(),
                     saved.event_sequence(), std::nullopt);
  }
  return applyAndGate(i, *link, *policy);
}

BoxResult Rollout::applyAndGate(size_t i, BoxLink& link, const BoxLink::Policy& policy) {
  const RolloutBox& box = boxes_[i];
  if (policy.pending_revision == 0 && policy.text == box.desired_text) {
    update(i, [&](Step& b) {
      b.set_step(Step::STEP_CONFIRMED);
      b.set_unchanged(true);
      b.set_revision(policy.revision);
      b.set_detail("already ran its policy (revision " + std::to_string(policy.revision) + ")");
    });
    say(box.name + ": already runs its policy (revision " + std::to_string(policy.revision) + ")");
    return {Outcome::kPassed, false};
  }
  if (policy.pending_revision != 0) {
    // ApplyPolicy would be refused; say so before spending a window on the box.
    return fail(i, "FAILED: ",
                "revision " + std::to_string(policy.pending_revision) +
                    " awaits confirmation on the box, and this rollout has no record of applying "
                    "it: confirm or roll it back there, or wait for its deadline");
  }
  auto before_start = link.sample();
  if (!before_start.ok()) return fail(i, "FAILED: ", describe(before_start.status()));
  if (before_start->queues == 0) {
    return fail(i, "FAILED: ", "no queue bound before the change: the box is not enforcing");
  }
  if (!sleep(options_.window)) return {Outcome::kInterrupted, false};
  auto before_end = link.sample();
  if (!before_end.ok()) return fail(i, "FAILED: ", describe(before_end.status()));
  const double before = denyRate(*before_start, *before_end);
  // Nothing new is applied once the wave failed or a stop was asked for (a zero sleep asks the
  // sleeper without waiting).
  if (stopping() || !sleep(milliseconds(0))) {
    return {stopping() && !interrupted_ ? Outcome::kLeft : Outcome::kInterrupted, false};
  }

  // The intent first (applied, revision not known yet): a run killed between the apply and the
  // next save finds the box's pending revision its own on resume (work()), instead of a commit
  // it has no record of.
  const bool intent = update(i, [&](Step& b) {
    b.set_step(Step::STEP_APPLIED);
    b.set_revision(0);
    b.set_previous_revision(policy.revision);
    b.set_deny_rate_before(before);
    b.set_event_epoch(before_end->event_epoch);
    b.set_event_sequence(before_end->last_event_sequence);
    b.set_detail("applying");
  });
  if (!intent) return {Outcome::kLeft, false};
  auto applied = link.apply(box.desired_text, options_.confirm_seconds, options_.comment);
  if (!applied.ok()) return fail(i, "FAILED: ", "apply refused: " + describe(applied.status()));
  if (applied->unchanged) {
    update(i, [&](Step& b) {
      b.set_step(Step::STEP_CONFIRMED);
      b.set_unchanged(true);
      b.set_revision(applied->revision);
      b.set_detail("already ran its policy (revision " + std::to_string(applied->revision) + ")");
    });
    say(box.name + ": already runs its policy (revision " + std::to_string(applied->revision) +
        ")");
    return {Outcome::kPassed, false};
  }
  auto after_start = link.sample();
  // The gate looks for a policy-error after where the box's events stood just before the apply
  // (the last sample before it), not after it: an error the apply itself set off may be logged
  // before the first sample after the apply answers.
  const bool saved = update(i, [&](Step& b) {
    b.set_step(Step::STEP_APPLIED);
    b.set_revision(applied->revision);
    b.set_previous_revision(applied->previous_revision);
    b.set_deadline(applied->deadline);
    b.set_deny_rate_before(before);
    b.set_event_epoch(before_end->event_epoch);
    b.set_event_sequence(before_end->last_event_sequence);
    b.set_detail("applied; in its health window");
  });
  say(box.name + ": applied revision " + std::to_string(applied->revision) + " (was " +
      std::to_string(applied->previous_revision) + "), rolls back at " + applied->deadline +
      " unless confirmed");
  if (!saved) return {Outcome::kLeft, false};
  if (!after_start.ok()) {
    return fail(i, "HEALTH GATE FAILED: ", describe(after_start.status()));
  }
  return gateAfter(i, link, applied->revision, before, before_end->event_epoch,
                   before_end->last_event_sequence, *after_start);
}

BoxResult Rollout::gateAfter(size_t i, BoxLink& link, uint64_t revision, double before_rate,
                             uint64_t epoch, uint64_t sequence, std::optional<BoxSample> first) {
  const RolloutBox& box = boxes_[i];
  if (!first) {
    auto s = link.sample();
    if (!s.ok()) return fail(i, "HEALTH GATE FAILED: ", describe(s.status()));
    first = *s;
    if (epoch == 0) {
      // A state saved without the event position (not by this muzzlectl): from now on, then.
      epoch = s->event_epoch;
      sequence = s->last_event_sequence;
    }
  }
  if (stopping()) return {interrupted_ ? Outcome::kInterrupted : Outcome::kLeft, false};
  if (!sleep(options_.window)) return {Outcome::kInterrupted, false};
  if (stopping()) return {Outcome::kLeft, false};
  auto last = link.sample();
  if (!last.ok()) return fail(i, "HEALTH GATE FAILED: ", describe(last.status()));
  if (last->queues == 0) return fail(i, "HEALTH GATE FAILED: ", "no queue bound");
  if (last->revision != revision && last->pending_revision != revision) {
    return fail(i, "HEALTH GATE FAILED: ",
                "runs revision " + std::to_string(last->revision) + ", not the applied " +
                    std::to_string(revision) + " (rolled back?)");
  }
  auto policy_error = link.policyErrorSince(epoch, sequence);
  if (!policy_error.ok()) {
    return fail(i, "HEALTH GATE FAILED: ",
                "cannot read its events: " + describe(policy_error.status()));
  }
  if (*policy_error) {
    return fail(i, "HEALTH GATE FAILED: ", "a policy-error event since the apply");
  }
  const double after = denyRate(*first, *last);
  const std::string problem =
      rateProblem(before_rate, after, options_.deny_rate_multiple, options_.deny_rate_floor);
  if (!problem.empty()) return fail(i, "HEALTH GATE FAILED: ", problem);
  update(i, [&](Step& b) {
    b.set_detail("healthy (deny rate " + rateText(after) + ", was " + rateText(before_rate) +
                 "); awaiting the wave's confirm");
  });
  say(box.name + ": healthy (deny rate " + rateText(after) + ", was " + rateText(before_rate) +
      ")");
  return {Outcome::kPassed, true};
}

}  // namespace

Result<std::vector<size_t>> waveSizes(const std::string& spec, size_t boxes) {
  auto bad = [&](const std::string& part, const std::string& why) {
    return Status::error(StatusCode::kInvalidArgument,
                         "waves \"" + spec + "\": \"" + part + "\" " + why);
  };
  const std::string kHow =
      ": write a count (5), a percentage of the fleet (10%) or \"rest\" (last only), separated "
      "by commas, like 1,10%,rest";
  std::vector<std::string> parts;
  size_t from = 0;
  while (true) {
    const size_t comma = spec.find(',', from);
    std::string part = spec.substr(from, comma == std::string::npos ? std::string::npos
                                                                    : comma - from);
    const size_t b = part.find_first_not_of(' ');
    const size_t e = part.find_last_not_of(' ');
    part = b == std::string::npos ? "" : part.substr(b, e - b + 1);
    parts.push_back(part);
    if (comma == std::string::npos) break;
    from = comma + 1;
  }
  std::vector<size_t> sizes;
  size_t left = boxes;
  for (size_t k = 0; k < parts.size(); ++k) {
    const std::string& part = parts[k];
    size_t size = 0;
    if (part == "rest") {
      if (k + 1 != parts.size()) return bad(part, "must be the last wave");
      size = left;
    } else {
      const bool percent = !part.empty() && part.back() == '%';
      const std::string digits = percent ? part.substr(0, part.size() - 1) : part;
      if (part.empty()) return bad(part, "is an empty wave" + kHow);
      if (digits.empty() || digits.size() > 9 ||
          digits.find_first_not_of("0123456789") != std::string::npos) {
        return bad(part, "is not a wave size" + kHow);
      }
      const size_t n = std::stoul(digits);
      if (n == 0) return bad(part, "is an empty wave: each wave has at least one box");
      if (percent) {
        if (n > 100) return bad(part, "is more than the whole fleet");
        size = std::max<size_t>(1, (n * boxes + 99) / 100);  // rounded up
      } else {
        size = n;
      }
    }
    size = std::min(size, left);
    if (size == 0) continue;  // past the fleet's end
    sizes.push_back(size);
    left -= size;
  }
  if (left > 0) sizes.push_back(left);
  return sizes;
}

std::string denyRateProblem(const GateInput& in, double multiple, double floor) {
  return rateProblem(denyRate(in.before_start, in.before_end),
                     denyRate(in.after_start, in.after_end), multiple, floor);
}

RolloutResult runRollout(const std::vector<RolloutBox>& boxes, const RolloutOptions& options,
                         const std::string& state_path, Sleeper& sleeper,
                         const Progress& progress) {
  // One rollout per state file at a time: a second `fleet apply` (an orphaned first one still
  // running, a colleague) would otherwise resume from the same state and trip over the first
  // one's pending commits. The lock ends with this process, however it ends.
  const std::string lock_path = state_path + ".lock";
  const int lock = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (lock < 0 || ::flock(lock, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    if (lock >= 0) ::close(lock);
    RolloutResult refused;
    refused.halted = true;
    refused.state.set_halted(
        error == EWOULDBLOCK
            ? "another fleet apply runs this rollout (" + lock_path +
                  " is locked): wait for it to end, or stop it, then run again"
            : "cannot lock " + lock_path + ": " + std::strerror(error) +
                  " (the state file's folder must exist and be writable)");
    if (progress) progress(refused.state.halted());
    return refused;
  }
  Rollout rollout(boxes, options, state_path, sleeper, progress);
  RolloutResult result = rollout.run();
  ::close(lock);
  return result;
}

}  // namespace muzzle::fleet

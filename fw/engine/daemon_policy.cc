// The Daemon's policy lifecycle (fw/engine/daemon.h): what a policy is compiled against, the
// compile, the install (generation, ruleset, Judge, in that order) and re-judging every flow.

#include <bit>
#include <cstdio>

#include "fw/engine/daemon.h"
#include "fw/policy/policy_loader.h"

namespace muzzle {
namespace {

// Milliseconds with one decimal: a reload of a big policy is tens of ms, a small one well under 1.
std::string millisText(std::chrono::steady_clock::duration d) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f", std::chrono::duration<double, std::milli>(d).count());
  return text;
}

}  // namespace

Result<PolicyContext> Daemon::policyContext() {
  auto site = host_.siteFacts(config_.segments);
  if (!site.ok()) return site.status();
  PolicyContext context;
  context.site = std::move(site).value();
  // Lists the policy names live next to the configured policy file, or among the shipped ones.
  const std::string& path = config_.policy_path;
  const size_t slash = path.rfind('/');
  context.folders = PolicyFolders{slash == std::string::npos ? "."
                                  : slash == 0               ? "/"
                                                             : path.substr(0, slash),
                                  config_.shipped_policies_dir, config_.preset_dirs};
  context.lists = list_cache_;
  return context;
}

PolicyCompileResult Daemon::compilePolicy(std::string_view text, std::string_view label,
                                          const PolicyContext& context) const {
  return compilePolicyText(text, label, context.site, context.folders, context.lists.get())
      .withCode(StatusCode::kInvalidArgument);
}

Result<uint32_t> Daemon::applyPolicyText(std::string_view text, std::string_view label) {
  const auto compile_start = clock_.now();
  auto compiled = checkPolicyText(text, label);
  if (!compiled.ok()) return compiled.status();
  return applyPolicy(std::move(compiled).value(), clock_.now() - compile_start);
}

Result<uint32_t> Daemon::applyPolicy(std::shared_ptr<const CompiledPolicy> policy,
                                     std::chrono::steady_clock::duration compile_time) {
  Status s = install(std::move(policy), /*initial=*/false, compile_time);
  if (!s.ok()) return s;
  return generation_;
}

Status Daemon::loadPolicy(bool initial) {
  const auto compile_start = clock_.now();
  if (initial && initial_policy_) {
    // Read once: kept, a large site's text would stay resident for as long as muzzled runs.
    InitialPolicy policy = std::move(*initial_policy_);
    initial_policy_.reset();
    if (policy.compiled) return install(std::move(policy.compiled), initial, policy.compile_time);
    auto compiled = checkPolicyText(policy.text, policy.label);
    if (!compiled.ok()) return compiled.status();
    return install(std::move(compiled).value(), initial, clock_.now() - compile_start);
  }
  auto site = host_.siteFacts(config_.segments);
  if (!site.ok()) return site.status();
  auto compiled = compilePolicyFile(config_.policy_path, *site, config_.shipped_policies_dir,
                                    config_.preset_dirs, list_cache_.get());
  if (!compiled.ok()) return compiled.status();
  return install(std::move(compiled).value(), initial, clock_.now() - compile_start);
}

Status Daemon::install(std::shared_ptr<const CompiledPolicy> compiled, bool initial,
                       std::chrono::steady_clock::duration compile_time) {
  // Never fails: a damaged or unwritable state folder must not leave the segments unprotected.
  // A policy with schedules starts on a fresh generation: the marks of the previous run were
  // given under the windows that held then, which may have opened or closed since.
  // Keyed by the mark contract too: marks saved by a muzzled that read them otherwise must not
  // be honoured after an upgrade.
  const std::string key = generationKey(compiled->digest);
  const GenerationChoice choice = initial && !compiled->schedules.empty()
                                      ? generations_.advance(key)
                                      : generations_.generationFor(key);
  reportGeneration(choice);
  const uint32_t generation = choice.generation;
  // Devices that announced a MUD URL while fetching was off are fetched once a policy turns
  // it on, not only at their next DHCP request.
  auto turnsMudFetchOn = [&](const std::shared_ptr<const CompiledPolicy>& before) {
    return compiled->mud.fetch && (!before || !before->mud.fetch);
  };
  if (!initial && generation == generation_) {
    bool fetch_on = false;
    {
      std::lock_guard<std::mutex> lock(judge_mu_);
      fetch_on = turnsMudFetchOn(judge_.policy());
      // The same digest, the same schedules: the Judge's schedule state stays, and the timer
      // keeps it current.
      judge_.setPolicy(compiled, generation_);
    }
    log_.write(LogLine("policy-unchanged").add("generation", generation_));
    if (fetch_on) announceKnownMudUrls();
    return Status();
  }
  // The kernel's counts name classes by number: what grew under the old numbering is read and
  // given out under it, before the new policy numbers them anew.
  if (auto before = installedPolicy();
      !initial && before && before->traffic_classes != compiled->traffic_classes) {
    accountTraffic();
  }
  const auto install_start = clock_.now();
  // Taken out of the Judge under the lock and destroyed after it: freeing a large policy takes
  // milliseconds the queue threads need not wait for.
  std::shared_ptr<const CompiledPolicy> previous;
  // Which windows hold now, installed with the policy: the new generation judges every flow
  // again anyway.
  const ScheduleMask schedules = activeSchedules(
      compiled->schedules, std::chrono::system_clock::to_time_t(clock_.wallNow()));
  {
    // The kernel honours only marks of the new generation once the batch is in; every flow is
    // judged again on its next packet, against the policy swapped in here. The queue threads
    // wait on the lock meanwhile (the packets wait in the kernel's queues, none is lost), so no
    // packet gets a mark of the generation the kernel just stopped honouring.
    std::lock_guard<std::mutex> lock(judge_mu_);
    Status s = ruleset_.install(specFor(generation));
    if (!s.ok()) return s;
    previous = judge_.policy();
    judge_.setPolicy(compiled, generation);
    judge_.setActiveSchedules(schedules);
  }
  const auto swapped = clock_.now();
  const bool fetch_on = turnsMudFetchOn(previous);
  previous.reset();
  const CompiledPolicy& p = *compiled;
  LogLine loaded(initial ? "policy-loaded" : "policy-reloaded");
  loaded.add("generation", generation)
      .add("profiles", p.profiles.size())
      .add("devices", p.devices.size())
      .add("digest", p.digest.substr(0, 16))
      // compile: read, validate, compile, pick the generation; install: the ruleset
      // batch and the swap of the judge's policy (tests/bench measures both).
      .add("compile_ms", millisText(compile_time))
      .add("install_ms", millisText(swapped - install_start));
  if (!p.schedules.empty()) {
    loaded.add("schedules", p.schedules.size())
        .add("schedules_open", static_cast<uint64_t>(std::popcount(schedules)));
  }
  log_.write(std::move(loaded));
  generation_ = generation;
  armScheduleTimer();
  if (fetch_on) announceKnownMudUrls();
  // No malloc_trim here (start() trims once, after the first load): what the old policy and the
  // compile freed stays with the allocator for the next compile. Giving it back lowered no peak
  // (old and new policy are both held during a swap) but made the next compile fault every page
  // in again, half its CPU at 10,000 devices (bench_compile --daemon), and a trim walks every
  // arena under its lock, which the queue threads must not wait on.
  return Status();
}

Status Daemon::reload() {
  if (idle()) {
    log_.write(LogLine("policy-unchanged").add("why", "idle: no segment is configured"));
    return Status();
  }
  Status s = loadPolicy(/*initial=*/false);
  if (!s.ok()) {
    log_.write(
        LogLine("policy-error").add("error", s.message()).add("kept_generation", generation_));
  }
  return s;
}

RulesetSpec Daemon::specFor(uint32_t generation) const {
  RulesetSpec spec;
  spec.generation = generation;
  for (const auto& seg : config_.segments) spec.segment_ifnames.push_back(seg.ifname);
  spec.queue_first = config_.queue_first;
  spec.queue_count = config_.queue_count;
  spec.fail_open = config_.fail_mode == FailMode::kOpen;
  spec.queue_mode = queue_mode_;
  spec.flood_rate = config_.flood_rate;
  spec.flood_burst = config_.flood_burst;
  spec.conn_limit = counts_connections_ ? 0 : config_.conn_limit;
  spec.new_connection_hint = counts_connections_;
  spec.segment_rate = config_.segment_rate;
  spec.segment_burst = config_.segment_burst;
  if (config_.accounting_interval_seconds > 0) {
    spec.udp_ends =
        udp_ends_by_dump_ ? RulesetSpec::UdpEnds::kDumps : RulesetSpec::UdpEnds::kEvents;
  }
  return spec;
}

bool Daemon::rejudgeAll(std::string_view why, std::optional<ScheduleMask> schedules) {
  rejudge_pending_ = false;
  if (idle()) return false;
  auto policy = installedPolicy();
  const GenerationChoice generation = generations_.advance(generationKey(policy->digest));
  reportGeneration(generation);
  Status s;
  {
    // Under the judge's lock: no packet is judged between the kernel's switch to the new
    // generation and the Judge's, so none is answered with a mark the kernel no longer honours.
    std::lock_guard<std::mutex> lock(judge_mu_);
    s = ruleset_.install(specFor(generation.generation));
    if (s.ok()) {
      judge_.setPolicy(policy, generation.generation);
      if (schedules) judge_.setActiveSchedules(*schedules);
    }
  }
  if (!s.ok()) {
    log_.write(
        LogLine("rejudge-failed").add("error", s.message()).add("kept_generation", generation_));
    return false;
  }
  generation_ = generation.generation;
  log_.write(LogLine("rejudge")
                 .add("generation", generation_)
                 .add("why", why));
  return true;
}

void Daemon::reportGeneration(const GenerationChoice& choice) {
  if (!choice.damaged.empty()) {
    log_.write(
        LogLine("state-damaged")
            .add("file", generations_.path())
            .add("problem", choice.damaged)
            .add("kept_as", choice.kept_as)
            .add("generation", choice.generation)
            .add("what", "a fresh generation: every flow is judged again on its next packet"));
    if (state_report_ != nullptr) {
      state_report_->add({StateProblem::Kind::kDamaged, generations_.path(),
                          choice.damaged + "; a fresh generation " +
                              std::to_string(choice.generation) + " was chosen",
                          choice.kept_as});
    }
  }
  if (choice.write_error.empty()) {
    generation_unwritable_ = false;
    return;
  }
  if (state_report_ != nullptr) {
    state_report_->add({StateProblem::Kind::kUnwritable, generations_.path(),
                        choice.write_error + "; generation " + std::to_string(choice.generation) +
                            " is kept in memory only",
                        ""});
  }
  if (generation_unwritable_) return;  // said once until it can be stored again
  generation_unwritable_ = true;
  log_.write(LogLine("state-unwritable")
                 .add("file", generations_.path())
                 .add("error", choice.write_error)
                 .add("generation", choice.generation)
                 .add("what", "enforcing with the generation kept in memory")
                 .add("what_to_do",
                      "make state_dir " + config_.state_dir + " writable and give it free space"));
}

}  // namespace muzzle

// The Daemon's side of learning mode (fw/learn/): sessions started and stopped for the
// management plane, their end times, and learn.state in state_dir. The recorder itself lives in
// the Judge, under its mutex; learn.state is gathered a session at a time under it and written
// outside it.
#include <string>
#include <vector>

#include "fw/common/atomic_file.h"
#include "fw/common/confined_file.h"
#include "fw/engine/daemon.h"

namespace muzzle {
namespace {

constexpr const char* kLearnFile = "learn.state";

}  // namespace

void Daemon::loadLearning() {
  const std::string path = config_.state_dir + "/" + kLearnFile;
  auto bytes = readRegularFile(path, kLearnMaxFileBytes);
  if (!bytes.ok()) {
    if (bytes.status().code() != StatusCode::kNotFound) {
      log_.write(LogLine("warning")
                     .add("problem", bytes.status().message())
                     .add("fix", "learning starts with no session"));
    }
    return;
  }
  Status s;
  size_t sessions = 0;
  size_t flows = 0;
  uint64_t dropped = 0;
  {
    std::lock_guard<std::mutex> lock(judge_mu_);
    FlowRecorder& r = judge_.learning();
    s = r.load(*bytes, path);
    sessions = r.sessionCount();
    flows = r.flowCount();
    dropped = r.loadDropped();
  }
  if (!s.ok()) {
    // Kept for a person to read, never read again: the next save writes a fresh file.
    auto aside = setAsideDamaged(path);
    log_.write(LogLine("warning")
                   .add("problem", s.message())
                   .add("kept_as", aside.ok() ? *aside : aside.status().message()));
    return;
  }
  log_.write(LogLine("learn-loaded")
                 .add("sessions", sessions)
                 .add("flows", flows)
                 .add("left_out", dropped));
  expireLearning();  // sessions that ended while muzzled was down
}

void Daemon::saveLearning() {
  // A session at a time under the Judge's lock: the whole text of a full recorder (65,536 flows)
  // took ~40 ms to write, every minute, while each queue thread's next verdict waited for the
  // lock; one session's (at most 1,024 flows) takes ~1 ms. The buffer is reserved first, outside
  // the lock, so appending rarely reallocates under it.
  std::vector<MacAddress> macs;
  size_t size_hint = 0;
  {
    std::lock_guard<std::mutex> lock(judge_mu_);
    macs = judge_.learning().sessionMacs();
    size_hint = judge_.learning().serializedSizeHint();
  }
  std::string text;
  text.reserve(size_hint + size_hint / 8);
  FlowRecorder::appendHeader(text);
  for (MacAddress mac : macs) {
    std::lock_guard<std::mutex> lock(judge_mu_);
    judge_.learning().appendSession(mac, text);
  }
  Status s = writeFileAtomically(config_.state_dir, kLearnFile, text);
  if (!s.ok()) {
    log_.writeLimited(
        LogLine("warning").add("problem", "saving the learning sessions: " + s.message()));
  }
}

void Daemon::logLearnEnd(const LearnSession& s, std::string_view why) {
  log_.write(LogLine("learn-end")
                 .add("mac", s.mac.toString())
                 .add("observe", s.observe ? "yes" : "no")
                 .add("why", why)
                 .add("evictions", s.evictions));
}

void Daemon::expireLearning() {
  std::vector<LearnSession> ended;
  {
    std::lock_guard<std::mutex> lock(judge_mu_);
    if (judge_.learning().sessionCount() == 0) return;
    ended = judge_.learning().expire();
  }
  if (ended.empty()) return;
  for (const LearnSession& s : ended) logLearnEnd(s, "end-time");
  // An observed device goes back under its profile: its flows are judged again.
  rejudgeAll("a learning session ended");
  saveLearning();
}

Status Daemon::startLearning(MacAddress mac, std::chrono::seconds duration, bool observe) {
  Status s;
  LearnSession session;
  {
    std::lock_guard<std::mutex> lock(judge_mu_);
    s = judge_.learning().start(mac, duration, observe);
    if (s.ok()) session = *judge_.learning().session(mac);
  }
  if (!s.ok()) return s;
  log_.write(LogLine("learn-start")
                 .add("mac", mac.toString())
                 .add("end_unix", static_cast<uint64_t>(session.end_unix))
                 .add("observe", observe ? "yes" : "no"));
  // Flows already decided keep their verdict in the kernel: a new generation has every flow
  // judged (and so recorded, and for observe allowed) again on its next packet.
  rejudgeAll("a learning session started");
  saveLearning();
  return Status();
}

Status Daemon::stopLearning(MacAddress mac) {
  std::optional<LearnSession> session;
  {
    std::lock_guard<std::mutex> lock(judge_mu_);
    if (judge_.learning().stop(mac)) session = judge_.learning().session(mac);
  }
  if (!session) {
    return Status::error(StatusCode::kNotFound,
                         mac.toString() + " is not learning; `muzzlectl learn show` lists sessions");
  }
  logLearnEnd(*session, "stopped");
  rejudgeAll("a learning session ended");
  saveLearning();
  return Status();
}

Result<LearnReport> Daemon::learnReport(MacAddress mac) const {
  std::lock_guard<std::mutex> lock(judge_mu_);
  auto session = judge_.learning().session(mac);
  if (!session) {
    return Status::error(StatusCode::kNotFound,
                         mac.toString() + " has no learning session; start one with `muzzlectl "
                                          "learn start " + mac.toString() + " --for 24h`");
  }
  return LearnReport{*session, judge_.learning().flows(mac)};
}

}  // namespace muzzle

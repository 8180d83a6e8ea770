// libFuzzer target for FlowRecorder::load, the reader of `state_dir/learn.state` (learning
// mode's sessions and flows, which muzzled loads at start; a disk may tear or corrupt it, a
// person may edit it): the bytes are loaded as the Daemon loads them (fw/engine/daemon_learn.cc),
// then the recorder is used as the Judge uses it (sessions started again, flows seen again and
// new ones until the bounds push some out, a session stopped, end times passed), saved whole and
// in pieces as the Daemon saves it, and loaded again.
//
// The recorder has small limits (4 sessions, 6 flows a device, 10 in all), so the files the
// fuzzer writes reach every bound.
// Oracle: the sanitizers, and:
//  - a refused file names learn.state and its line, in one printable line (the message goes to
//    the log and the event stream), and the running sessions stay as they were;
//  - a loaded file holds the bounds, and every session and flow line in it is either loaded or
//    left out and counted (loadDropped);
//  - no allocation during load is larger than the file's own lines call for (a number in the
//    file never sizes a buffer);
//  - what the recorder saves loads again with nothing left out, and reads back the same:
//    sessions, flows in their order, counts, times, verdicts;
//  - a flow seen again is counted once more, a new one is recorded first in its device's list.
#include <sanitizer/allocator_interface.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fw/learn/flow_recorder.h"

namespace {

using std::chrono::hours;
using std::chrono::seconds;

constexpr char kFile[] = "learn.state";
constexpr muzzle::LearnLimits kLimits{.sessions = 4, .per_device = 6, .total = 10};

// The largest allocation made while a load runs (sanitizer malloc hook); only counted while
// `watching`.
std::atomic<bool> watching{false};
std::atomic<size_t> largest{0};

void onMalloc(const volatile void*, size_t size) {
  if (!watching.load(std::memory_order_relaxed)) return;
  size_t seen = largest.load(std::memory_order_relaxed);
  while (size > seen && !largest.compare_exchange_weak(seen, size)) {
  }
}
void onFree(const volatile void*) {}

// One printable line: what a log line and a proto `string` field can carry.
bool printableLine(const std::string& text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

bool sameFlow(const muzzle::LearnedFlow& a, const muzzle::LearnedFlow& b) {
  return a.key.name == b.key.name && a.key.address == b.key.address &&
         a.key.direction == b.key.direction && a.key.protocol == b.key.protocol &&
         a.key.port == b.key.port && a.last_address == b.last_address && a.verdict == b.verdict &&
         a.allowed_by_rule == b.allowed_by_rule && a.to_device == b.to_device &&
         a.count == b.count && a.first_seen_unix == b.first_seen_unix &&
         a.last_seen_unix == b.last_seen_unix;
}

bool sameSession(const muzzle::LearnSession& a, const muzzle::LearnSession& b) {
  return a.mac == b.mac && a.start_unix == b.start_unix && a.end_unix == b.end_unix &&
         a.observe == b.observe && a.active == b.active && a.evictions == b.evictions;
}

void checkBounds(const muzzle::FlowRecorder& r) {
  if (r.sessionCount() > kLimits.sessions || r.flowCount() > kLimits.total) std::abort();
  size_t flows = 0;
  for (const muzzle::LearnSession& s : r.sessions()) {
    const size_t n = r.flows(s.mac).size();
    if (n > kLimits.per_device) std::abort();
    flows += n;
  }
  if (flows != r.flowCount()) std::abort();
}

// `back` holds exactly what `r` holds.
void checkSame(const muzzle::FlowRecorder& r, const muzzle::FlowRecorder& back) {
  const std::vector<muzzle::LearnSession> a = r.sessions(), b = back.sessions();
  if (a.size() != b.size() || back.flowCount() != r.flowCount()) std::abort();
  for (size_t i = 0; i < a.size(); ++i) {
    if (!sameSession(a[i], b[i])) std::abort();
    const std::vector<muzzle::LearnedFlow> fa = r.flows(a[i].mac), fb = back.flows(b[i].mac);
    if (fa.size() != fb.size()) std::abort();
    for (size_t j = 0; j < fa.size(); ++j) {
      if (!sameFlow(fa[j], fb[j])) std::abort();
    }
  }
}

// Saved, loaded into a recorder with the same limits: nothing left out, the same content, the
// same text. The Daemon's save in pieces gives the same text as serialize().
void checkRoundTrip(const muzzle::FlowRecorder& r, muzzle::Clock& clock) {
  const std::string text = r.serialize();
  std::string pieces;
  muzzle::FlowRecorder::appendHeader(pieces);
  for (muzzle::MacAddress mac : r.sessionMacs()) {
    if (!r.appendSession(mac, pieces)) std::abort();
  }
  if (pieces != text) std::abort();
  muzzle::FlowRecorder back(clock, kLimits);
  if (!back.load(text, kFile).ok() || back.loadDropped() != 0) std::abort();
  checkSame(r, back);
  if (back.serialize() != text) std::abort();
}

// The session and flow lines of a file that loaded (every other line is blank or a comment).
size_t entryLines(std::string_view text) {
  size_t n = 0;
  while (!text.empty()) {
    const size_t end = std::min(text.find('\n'), text.size());
    const std::string_view line = text.substr(0, end);
    const size_t first = line.find_first_not_of(' ');
    if (first != std::string_view::npos && line[0] != '#') {
      const std::string_view rest = line.substr(first);
      if (rest.starts_with("session ") || rest.starts_with("flow ")) ++n;
    }
    text.remove_prefix(std::min(end + 1, text.size()));
  }
  return n;
}

muzzle::FlowAttempt attemptOf(const muzzle::LearnedFlow& f) {
  muzzle::FlowAttempt a;
  a.direction = f.key.direction;
  a.name = f.key.name;
  a.address = f.key.name.empty() ? f.key.address : f.last_address;
  a.protocol = f.key.protocol;
  a.port = f.key.port;
  a.verdict = f.verdict;
  a.allowed_by_rule = f.allowed_by_rule;
  a.to_device = f.to_device;
  return a;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  __sanitizer_install_malloc_and_free_hooks(onMalloc, onFree);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  muzzle::ManualClock clock;
  muzzle::FlowRecorder r(clock, kLimits);
  const muzzle::MacAddress running = *muzzle::MacAddress::parse("02:00:00:00:00:01");
  if (!r.start(running, hours(1), false).ok()) std::abort();

  largest = 0;
  watching = true;
  const muzzle::Status loaded = r.load(text, kFile);
  watching = false;
  // splitLines' views (16 bytes a line, in a vector that may have doubled past them) and the
  // chunk of flow slots the first flow takes.
  if (largest.load() > 32 * size + (256u << 10)) std::abort();
  if (!loaded.ok()) {
    if (loaded.message().rfind(std::string(kFile) + ":", 0) != 0) std::abort();
    if (!printableLine(loaded.message())) std::abort();
    if (r.sessionCount() != 1 || !r.learning(running)) std::abort();  // nothing changed
    return 0;
  }
  checkBounds(r);
  if (r.sessionCount() + r.flowCount() + r.loadDropped() != entryLines(text)) std::abort();
  checkRoundTrip(r, clock);

  // The Judge at work: each loaded device learning again, a flow of each seen again, new flows
  // by name and by address until the bounds push older ones out.
  clock.advance(seconds(30));
  const std::vector<muzzle::LearnSession> sessions = r.sessions();
  uint32_t fresh = 0;
  for (const muzzle::LearnSession& s : sessions) {
    if (!r.start(s.mac, hours(2), s.observe).ok()) std::abort();
    const std::vector<muzzle::LearnedFlow> before = r.flows(s.mac);
    if (!before.empty()) {
      const muzzle::LearnedFlow& last = before.back();  // the least recently seen
      r.record(s.mac, attemptOf(last));
      const std::vector<muzzle::LearnedFlow> after = r.flows(s.mac);
      if (after.size() != before.size()) std::abort();
      // Seen again: counted once more (a count at its largest wraps: not checked), first now.
      if (last.count != UINT64_MAX && after.front().count != last.count + 1) std::abort();
      if (after.front().last_seen_unix != muzzle::unixSeconds(clock.wallNow())) std::abort();
    }
    for (int i = 0; i < 3; ++i, ++fresh) {
      muzzle::FlowAttempt a;
      a.address = muzzle::IpAddress::v4FromHostOrder(0xCB007100u + fresh);  // 203.0.113.x
      a.protocol = 6;
      a.port = static_cast<uint16_t>(443 + i);
      const std::string name = "n" + std::to_string(fresh) + ".example.com";
      if (i == 1) a.name = name;
      // The file may hold this flow already: then it is seen again.
      uint64_t count = 1;
      for (const muzzle::LearnedFlow& f : r.flows(s.mac)) {
        if (f.key.direction == a.direction && f.key.protocol == a.protocol &&
            f.key.port == a.port && f.key.name == a.name &&
            (!a.name.empty() || f.key.address == a.address)) {
          count = f.count + 1;
        }
      }
      r.record(s.mac, a);
      const std::vector<muzzle::LearnedFlow> now = r.flows(s.mac);
      if (now.empty() || now.front().key.port != a.port || now.front().key.name != a.name) {
        std::abort();
      }
      if (count != 0 && now.front().count != count) std::abort();
      checkBounds(r);
    }
  }
  if (!sessions.empty()) (void)r.stop(sessions.front().mac);
  (void)r.start(*muzzle::MacAddress::parse("02:00:00:00:00:02"), hours(1), true);
  clock.advance(hours(3));
  (void)r.expire();
  checkBounds(r);
  checkRoundTrip(r, clock);
  return 0;
}

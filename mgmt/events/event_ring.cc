#include "mgmt/events/event_ring.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <string>

namespace muzzle {

v1::EventKind eventKindOf(std::string_view name) {
  if (name == "deny") return v1::EVENT_KIND_DENY;
  if (name == "allow") return v1::EVENT_KIND_ALLOW;
  if (name == "new-device") return v1::EVENT_KIND_NEW_DEVICE;
  if (name.substr(0, 7) == "policy-") return v1::EVENT_KIND_POLICY;
  return v1::EVENT_KIND_OTHER;
}

void EventRing::onEvent(const LogLine& line) {
  using google::protobuf::util::TimeUtil;
  v1::Event e;
  // When the event happened, not when it was delivered: a busy delivery thread runs late.
  const auto since_epoch = line.time().time_since_epoch();
  *e.mutable_time() =
      since_epoch.count() == 0
          ? TimeUtil::GetCurrentTime()
          : TimeUtil::NanosecondsToTimestamp(
                std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch).count());
  e.set_kind(eventKindOf(line.event()));
  e.set_name(line.event());
  auto& fields = *e.mutable_fields();
  for (const auto& [k, v] : line.fields()) fields[k] = v;
  e.set_text(line.text());
  push(std::move(e));
}

void EventRing::push(v1::Event event) {
  std::vector<std::shared_ptr<Waker>> wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    event.set_sequence(++last_);
    event.set_epoch(epoch_);
    events_.push_back(std::move(event));
    while (events_.size() > capacity_) events_.pop_front();
    wake = wakers_;
  }
  for (const auto& w : wake) {
    std::lock_guard<std::mutex> lock(w->mu);
    if (w->fn) w->fn();
  }
}

EventRing::Batch EventRing::after(uint64_t sequence, size_t max) const {
  Batch batch;
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t first = events_.empty() ? last_ + 1 : events_.front().sequence();
  if (sequence != 0 && sequence + 1 < first && sequence < last_) {
    v1::Gap gap;
    gap.set_first_missing(sequence + 1);
    gap.set_first_available(first);
    gap.set_reason("the event buffer (" + std::to_string(capacity_) +
                   " events) no longer holds events " + std::to_string(sequence + 1) + ".." +
                   std::to_string(first - 1));
    batch.gap = gap;
    sequence = first - 1;
  }
  if (sequence >= last_) return batch;
  // Sequence 0 (or any before the oldest without a gap) means "from the oldest held".
  const size_t skip = events_.empty() || sequence + 1 < first ? 0 : sequence + 1 - first;
  for (size_t i = skip; i < events_.size() && batch.events.size() < max; ++i) {
    batch.events.push_back(events_[i]);
  }
  return batch;
}

uint64_t EventRing::newEpoch() {
  std::random_device random;  // getrandom(2)
  uint64_t epoch = 0;
  while (epoch == 0) epoch = (uint64_t{random()} << 32) | random();
  return epoch;
}

EventRing::Resume EventRing::resume(uint64_t epoch, uint64_t sequence) const {
  std::lock_guard<std::mutex> lock(mu_);
  const bool other_run = epoch != 0 && epoch != epoch_;
  // Without an epoch, a sequence this run never reached can only be an earlier run's.
  const bool unreached = epoch == 0 && sequence > last_;
  if (!other_run && !unreached) return Resume{sequence, std::nullopt};
  const uint64_t first = events_.empty() ? last_ + 1 : events_.front().sequence();
  v1::Gap gap;
  gap.set_restarted(true);
  gap.set_first_missing(sequence + 1);
  gap.set_first_available(first);
  gap.set_reason(
      (other_run ? "muzzled restarted since event " + std::to_string(epoch) + ":" +
                       std::to_string(sequence)
                 : "this run of muzzled never reached event " + std::to_string(sequence) +
                       " (it has " + std::to_string(last_) + "): muzzled restarted since") +
      "; what came after it is not in this stream; this run's events follow from " +
      std::to_string(epoch_) + ":" + std::to_string(first));
  return Resume{0, gap};
}

uint64_t EventRing::lastSequence() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_;
}

uint64_t EventRing::firstSequence() const {
  std::lock_guard<std::mutex> lock(mu_);
  return events_.empty() ? last_ + 1 : events_.front().sequence();
}

std::unique_ptr<EventRing::Subscription> EventRing::subscribe(std::function<void()> waker) {
  auto w = std::make_shared<Waker>();
  w->fn = std::move(waker);
  std::lock_guard<std::mutex> lock(mu_);
  wakers_.push_back(w);
  return std::make_unique<Subscription>(*this, std::move(w));
}

EventRing::Subscription::~Subscription() {
  {
    std::lock_guard<std::mutex> lock(ring_.mu_);
    auto& v = ring_.wakers_;
    v.erase(std::remove(v.begin(), v.end(), waker_), v.end());
  }
  // Waits for a wake-up in progress, and stops any later one.
  std::lock_guard<std::mutex> lock(waker_->mu);
  waker_->fn = nullptr;
}

}  // namespace muzzle

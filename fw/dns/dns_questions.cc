#include "fw/dns/dns_questions.h"

#include <algorithm>
#include <bit>

namespace muzzle {
namespace {

bool sameName(const DnsName& a, const DnsName& b) { return a.view() == b.view(); }

}  // namespace

DnsQuestionTable::DnsQuestionTable(const Clock& clock, DnsQuestionLimits limits)
    : clock_(clock),
      limits_{std::max<size_t>(limits.total, 1), std::max<size_t>(limits.per_device, 1),
              limits.lifetime},
      questions_(limits_.total),
      // Every device in the table has at least one question, so `total` devices is the most
      // there can be.
      devices_(limits_.total) {
  const size_t bucket_count = std::bit_ceil(limits_.total);
  buckets_ = std::make_unique<DeviceSet::bucket_type[]>(bucket_count);
  by_mac_ = std::make_unique<DeviceSet>(DeviceSet::bucket_traits(buckets_.get(), bucket_count),
                                        MacHash{});
}

DnsQuestionTable::~DnsQuestionTable() {
  // The intrusive containers must be empty (or cleared) before the nodes they link go away.
  by_mac_->clear();
  for (size_t i = 0; i < devices_.taken(); ++i) devices_[i].questions.clear();
  by_age_.clear();
  free_questions_.clear();
  free_devices_.clear();
}

size_t DnsQuestionTable::deviceCount() const { return by_mac_->size(); }

void DnsQuestionTable::remove(Question& q) {
  Device& device = *q.device;
  device.questions.erase(device.questions.iterator_to(q));
  by_age_.erase(by_age_.iterator_to(q));
  free_questions_.push_back(q);
  q.device = nullptr;
  --size_;
  if (device.questions.empty()) {
    by_mac_->erase(by_mac_->iterator_to(device));
    free_devices_.push_back(device);
  }
}

void DnsQuestionTable::expireOld(Time now) {
  // by_age_ is in order of expiry (every question lives the same time from its last ask), so
  // the expired ones are at the front.
  while (!by_age_.empty() && by_age_.front().expires <= now) {
    remove(by_age_.front());
    ++expired_;
  }
}

DnsQuestionTable::Question* DnsQuestionTable::find(Device& device, const DnsFlowKey& flow,
                                                   uint16_t id, const DnsName& name, uint16_t qtype,
                                                   uint16_t qclass) {
  for (Question& q : device.questions) {
    if (q.id == id && q.qtype == qtype && q.qclass == qclass && q.flow == flow &&
        sameName(q.name, name)) {
      return &q;
    }
  }
  return nullptr;
}

void DnsQuestionTable::ask(const DnsFlowKey& flow, const DnsQuestion& asked) {
  const Time now = clock_.now();
  expireOld(now);
  auto it = by_mac_->find(flow.device.value);
  Device* device = it != by_mac_->end() ? &*it : nullptr;
  if (device != nullptr) {
    if (Question* q = find(*device, flow, asked.id, asked.name, asked.qtype, asked.qclass)) {
      q->expires = now + limits_.lifetime;
      by_age_.erase(by_age_.iterator_to(*q));
      by_age_.push_back(*q);
      device->questions.erase(device->questions.iterator_to(*q));
      device->questions.push_back(*q);
      return;
    }
    if (device->questions.size() >= limits_.per_device) {
      remove(device->questions.front());
      ++evictions_;
      // Removing the device's last question would free its record: look it up again.
      it = by_mac_->find(flow.device.value);
      device = it != by_mac_->end() ? &*it : nullptr;
    }
  }
  if (free_questions_.empty()) {
    if (Question* fresh = questions_.take()) free_questions_.push_back(*fresh);
  }
  if (free_questions_.empty()) {
    Question& oldest = by_age_.front();
    const bool own = oldest.device == device;
    remove(oldest);
    ++evictions_;
    if (own) {
      it = by_mac_->find(flow.device.value);
      device = it != by_mac_->end() ? &*it : nullptr;
    }
  }
  if (device == nullptr) {
    // Fewer devices than questions are in use, so one is free or can still be taken.
    if (free_devices_.empty()) free_devices_.push_back(*devices_.take());
    device = &free_devices_.front();
    free_devices_.pop_front();
    device->mac = flow.device;
    by_mac_->insert(*device);
  }
  Question& q = free_questions_.front();
  free_questions_.pop_front();
  q.device = device;
  q.flow = flow;
  q.id = asked.id;
  q.qtype = asked.qtype;
  q.qclass = asked.qclass;
  q.name = asked.name;
  q.expires = now + limits_.lifetime;
  by_age_.push_back(q);
  device->questions.push_back(q);
  ++size_;
}

bool DnsQuestionTable::answer(const DnsFlowKey& flow, uint16_t id, const DnsName& name,
                              uint16_t qtype, uint16_t qclass) {
  expireOld(clock_.now());
  auto it = by_mac_->find(flow.device.value);
  if (it == by_mac_->end()) return false;
  Question* q = find(*it, flow, id, name, qtype, qclass);
  if (q == nullptr) return false;
  remove(*q);
  return true;
}

}  // namespace muzzle

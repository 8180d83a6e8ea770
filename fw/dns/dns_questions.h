// DnsQuestionTable: the DNS questions managed devices asked and have not had answered yet, so
// that Muzzle learns a name only from an answer to a question the device really asked, on the
// flow it asked it on: same device, same 5-tuple, same DNS ID, same question (name compared
// case-insensitively, type and class). An answer consumes its question: one answer per question,
// so a second answer (a spoofed or replayed one racing the real one) teaches nothing.
//
// Bounded, with every table allocated once at construction (nothing is allocated per packet; a
// record's memory is touched only when first used, fw/common/node_store.h):
//   - a question lives `lifetime` (kDnsQuestionLifetime) after it was last asked; resolvers
//     answer in milliseconds and clients give up after a few seconds, so a later answer is one
//     nobody waits for;
//   - at most `per_device` outstanding questions per device (the device's oldest goes first),
//     so a device that floods queries only pushes out its own questions;
//   - at most `total` in all (the oldest of all goes first). Evictions are counted.
// A question pushed out early makes its answer pass unlearned (the device's connections are
// then judged as if it had never asked, `no-dns`): never a wrong name, at worst a missing one.
// Lookups walk only the asking device's own list (at most `per_device` entries).
//
// Time comes from the Clock seam. Not thread-safe: the Judge owns it (under its lock).
#pragma once

#include <boost/intrusive/list.hpp>
#include <boost/intrusive/unordered_set.hpp>
#include <chrono>
#include <cstdint>
#include <memory>

#include "fw/common/clock.h"
#include "fw/common/keyed_hash.h"
#include "fw/common/node_store.h"
#include "fw/dns/dns_flow.h"
#include "fw/dns/dns_message.h"

namespace muzzle {

constexpr size_t kDnsMaxQuestions = 4096;
constexpr size_t kDnsMaxQuestionsPerDevice = 32;
constexpr std::chrono::seconds kDnsQuestionLifetime{10};

struct DnsQuestionLimits {
  size_t total = kDnsMaxQuestions;
  size_t per_device = kDnsMaxQuestionsPerDevice;
  std::chrono::seconds lifetime = kDnsQuestionLifetime;
};

class DnsQuestionTable {
 public:
  // "*clock" must outlive the table. Limits of 0 are taken as 1.
  explicit DnsQuestionTable(const Clock& clock, DnsQuestionLimits limits = {});
  ~DnsQuestionTable();
  DnsQuestionTable(const DnsQuestionTable&) = delete;
  DnsQuestionTable& operator=(const DnsQuestionTable&) = delete;

  // Records that the device of `flow` asked `q` on `flow`. Asking the same thing again (a
  // retransmission) renews it rather than adding a second entry.
  void ask(const DnsFlowKey& flow, const DnsQuestion& q);

  // Whether an outstanding question of `flow`'s device, on `flow`, with this ID and question,
  // exists; if so it is consumed.
  bool answer(const DnsFlowKey& flow, uint16_t id, const DnsName& name, uint16_t qtype,
              uint16_t qclass);

  size_t size() const { return size_; }
  size_t deviceCount() const;
  uint64_t evictions() const { return evictions_; }  // pushed out unanswered, before expiry
  uint64_t expired() const { return expired_; }      // never answered within the lifetime

 private:
  using Time = std::chrono::steady_clock::time_point;
  using ListHook = boost::intrusive::list_member_hook<>;
  struct Device;
  struct Question {
    ListHook by_age;     // all questions, oldest first; the free list when unused
    ListHook by_device;  // the device's questions, oldest first
    Device* device = nullptr;
    DnsFlowKey flow;
    uint16_t id = 0;
    uint16_t qtype = 0;
    uint16_t qclass = 0;
    DnsName name;
    Time expires;
  };
  using AgeList =
      boost::intrusive::list<Question,
                             boost::intrusive::member_hook<Question, ListHook, &Question::by_age>>;
  using DeviceList = boost::intrusive::list<
      Question, boost::intrusive::member_hook<Question, ListHook, &Question::by_device>>;
  struct Device {
    boost::intrusive::unordered_set_member_hook<> by_mac;
    ListHook free;
    MacAddress mac;
    DeviceList questions;
  };
  struct MacOf {
    using type = uint64_t;
    uint64_t operator()(const Device& d) const { return d.mac.value; }
  };
  using MacHash = MacValueHash;
  using DeviceSet = boost::intrusive::unordered_set<
      Device,
      boost::intrusive::member_hook<Device, boost::intrusive::unordered_set_member_hook<>,
                                    &Device::by_mac>,
      boost::intrusive::key_of_value<MacOf>, boost::intrusive::hash<MacHash>,
      boost::intrusive::power_2_buckets<true>>;
  using FreeDevices =
      boost::intrusive::list<Device,
                             boost::intrusive::member_hook<Device, ListHook, &Device::free>>;

  Question* find(Device& device, const DnsFlowKey& flow, uint16_t id, const DnsName& name,
                 uint16_t qtype, uint16_t qclass);
  void remove(Question& q);
  void expireOld(Time now);

  const Clock& clock_;
  DnsQuestionLimits limits_;
  NodeStore<Question> questions_;
  NodeStore<Device> devices_;
  std::unique_ptr<DeviceSet::bucket_type[]> buckets_;
  AgeList by_age_;
  AgeList free_questions_;
  FreeDevices free_devices_;
  std::unique_ptr<DeviceSet> by_mac_;
  size_t size_ = 0;
  uint64_t evictions_ = 0;
  uint64_t expired_ = 0;
};

}  // namespace muzzle

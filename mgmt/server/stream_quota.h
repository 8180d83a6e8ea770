// StreamQuota: how many long-lived streams (WatchEvents, health Watch) each client holds open,
// and all clients together. A stream costs memory and a subscription for as long as the client
// keeps it, so without a bound one viewer could hold the box's memory (20,000 streams are
// hundreds of MB). A stream past either limit is refused with kResourceExhausted, whose message
// names the limit and the muzzled.yaml key that raises it.
//
// The client is the caller's identity (clientOf): the certificate identity over TCP, "local"
// for every caller on the unix socket, the peer address for a caller without an identity.
//
// Thread-safe; the lock is held only to count. A Lease gives its slot back when destroyed, so a
// stream returns it however it ends (finished, cancelled, client gone, dropped as too slow,
// muzzled stopping). Leases must not outlive their StreamQuota.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "fw/common/status.h"
#include "mgmt/server/auth.h"
#include "muzzle/v1/config.pb.h"

namespace muzzle {

inline constexpr uint32_t kDefaultMaxStreamsPerClient = 16;
inline constexpr uint32_t kDefaultMaxStreams = 256;

struct StreamLimits {
  uint32_t per_client = kDefaultMaxStreamsPerClient;
  uint32_t total = kDefaultMaxStreams;
};
// management.max_streams_per_client and max_streams, defaults where unset.
StreamLimits streamLimitsOf(const v1::Management& management);

// The key a caller's streams are counted under.
std::string clientOf(const Principal& principal);

class StreamQuota {
 public:
  explicit StreamQuota(StreamLimits limits) : limits_(limits) {}
  StreamQuota(const StreamQuota&) = delete;
  StreamQuota& operator=(const StreamQuota&) = delete;

  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept { *this = std::move(other); }
    Lease& operator=(Lease&& other) noexcept;
    ~Lease() { release(); }
    bool held() const { return quota_ != nullptr; }
    void release();

   private:
    friend class StreamQuota;
    Lease(StreamQuota* quota, std::string client) : quota_(quota), client_(std::move(client)) {}
    StreamQuota* quota_ = nullptr;
    std::string client_;
  };

  // A slot for one more stream of `client`, or kResourceExhausted.
  Result<Lease> acquire(const std::string& client);

  size_t open() const;
  size_t openBy(const std::string& client) const;
  const StreamLimits& limits() const { return limits_; }

 private:
  void give(const std::string& client);

  const StreamLimits limits_;
  mutable std::mutex mu_;
  size_t total_ = 0;
  std::unordered_map<std::string, uint32_t> by_client_;
};

}  // namespace muzzle

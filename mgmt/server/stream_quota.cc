#include "mgmt/server/stream_quota.h"

namespace muzzle {

StreamLimits streamLimitsOf(const v1::Management& m) {
  StreamLimits l;
  if (m.has_max_streams_per_client()) l.per_client = m.max_streams_per_client();
  if (m.has_max_streams()) l.total = m.max_streams();
  return l;
}

std::string clientOf(const Principal& p) { return p.who.empty() ? "peer " + p.peer : p.who; }

StreamQuota::Lease& StreamQuota::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    release();
    quota_ = other.quota_;
    client_ = std::move(other.client_);
    other.quota_ = nullptr;
  }
  return *this;
}

void StreamQuota::Lease::release() {
  if (quota_ == nullptr) return;
  quota_->give(client_);
  quota_ = nullptr;
}

Result<StreamQuota::Lease> StreamQuota::acquire(const std::string& client) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_client_.find(client);
  const uint32_t mine = it == by_client_.end() ? 0 : it->second;
  if (mine >= limits_.per_client) {
    return Status::error(StatusCode::kResourceExhausted,
                         client + " already holds " + std::to_string(mine) +
                             " streams open, its limit (management.max_streams_per_client: " +
                             std::to_string(limits_.per_client) +
                             " in muzzled.yaml); close one first, or raise the limit");
  }
  if (total_ >= limits_.total) {
    return Status::error(
        StatusCode::kResourceExhausted,
        "muzzled already serves " + std::to_string(total_) +
            " streams, its limit (management.max_streams: " + std::to_string(limits_.total) +
            " in muzzled.yaml); try again once others close, or raise the limit");
  }
  ++by_client_[client];
  ++total_;
  return Lease(this, client);
}

void StreamQuota::give(const std::string& client) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_client_.find(client);
  if (it == by_client_.end()) return;
  // Forget a client with no stream left, so the map holds only clients with open streams.
  if (--it->second == 0) by_client_.erase(it);
  --total_;
}

size_t StreamQuota::open() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_;
}

size_t StreamQuota::openBy(const std::string& client) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_client_.find(client);
  return it == by_client_.end() ? 0 : it->second;
}

}  // namespace muzzle

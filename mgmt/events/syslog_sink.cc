#include "mgmt/events/syslog_sink.h"

#include <netinet/in.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "mgmt/events/syslog_sender.h"

namespace muzzle {

namespace asio = boost::asio;

// ------------------------------------------------------------------------------------------

SyslogEndpoint SyslogEndpoint::fromConfig(const SyslogCollectorConfig& config) {
  SyslogEndpoint e;
  e.protocol = config.transport == SyslogTransport::kUdp ? IPPROTO_UDP : IPPROTO_TCP;
  if (config.address.v6) {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&e.address);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(config.port);
    std::memcpy(&sa->sin6_addr, config.address.bytes.data(), 16);
    e.length = sizeof(sockaddr_in6);
  } else {
    auto* sa = reinterpret_cast<sockaddr_in*>(&e.address);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(config.port);
    std::memcpy(&sa->sin_addr, config.address.bytes.data(), 4);
    e.length = sizeof(sockaddr_in);
  }
  return e;
}

SyslogEndpoint SyslogEndpoint::unixPath(const std::string& path) {
  SyslogEndpoint e;
  auto* sa = reinterpret_cast<sockaddr_un*>(&e.address);
  sa->sun_family = AF_UNIX;
  std::strncpy(sa->sun_path, path.c_str(), sizeof(sa->sun_path) - 1);
  e.length =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + std::strlen(sa->sun_path) + 1);
  return e;
}

// ------------------------------------------------------------------------------------------

std::chrono::milliseconds SyslogSink::nextBackoff(std::chrono::milliseconds current) {
  return std::min<std::chrono::milliseconds>(current * 2, kMaxBackoff);
}

SyslogSink::SyslogSink(const SyslogCollectorConfig& config, SyslogOrigin origin, EventLog& log,
                       const Clock& clock)
    : config_(config),
      origin_([&] {
        origin.facility = config.facility;
        return origin;
      }()),
      max_bytes_(config.transport == SyslogTransport::kUdp ? kSyslogUdpMaxBytes
                                                           : kSyslogStreamMaxBytes),
      log_(log),
      clock_(clock) {}

Result<std::unique_ptr<SyslogSink>> SyslogSink::start(const SyslogCollectorConfig& config,
                                                      SyslogOrigin origin, EventLog& log,
                                                      const Clock& clock) {
  return start(config, std::move(origin), log, clock, SyslogEndpoint::fromConfig(config));
}

Result<std::unique_ptr<SyslogSink>> SyslogSink::start(const SyslogCollectorConfig& config,
                                                      SyslogOrigin origin, EventLog& log,
                                                      const Clock& clock, SyslogEndpoint endpoint) {
  std::unique_ptr<asio::ssl::context> tls;
  if (config.transport == SyslogTransport::kTls) {
    tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    boost::system::error_code ec;
    tls->set_options(asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                     asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    tls->set_verify_mode(asio::ssl::verify_peer);
    auto failedFile = [&](const char* field, const std::string& path) {
      return Status::error(StatusCode::kInvalidArgument,
                           "syslog " + config.target + ": " + field + " " + path + ": " +
                               ec.message() + " (a PEM file readable by muzzled's user)");
    };
    if (tls->load_verify_file(config.ca, ec); ec) return failedFile("ca", config.ca);
    if (!config.cert.empty()) {
      if (tls->use_certificate_chain_file(config.cert, ec); ec) {
        return failedFile("cert", config.cert);
      }
      if (tls->use_private_key_file(config.key, asio::ssl::context::pem, ec); ec) {
        return failedFile("key", config.key);
      }
    }
  }
  std::unique_ptr<SyslogSink> sink(new SyslogSink(config, std::move(origin), log, clock));
  sink->sender_ = std::make_unique<Sender>(*sink, endpoint, std::move(tls));
  return sink;
}

SyslogSink::~SyslogSink() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    idle_.wait_for(lock, kDrainOnStop, [&] {
      return (queue_.empty() && in_flight_ == 0) || (state_ != "connected" && state_ != "ready");
    });
  }
  sender_.reset();
}

bool SyslogSink::aboutThisCollector(const LogLine& line) const {
  if (line.event() != "syslog-up" && line.event() != "syslog-down") return false;
  for (const auto& [key, value] : line.fields()) {
    if (key == "collector") return value == config_.target;
  }
  return false;
}

void SyslogSink::onEvent(const LogLine& line) {
  if (!config_.wants(line.event())) return;
  std::string message = formatSyslog(line, origin_, max_bytes_);
  std::lock_guard<std::mutex> lock(mu_);
  if (queue_.size() >= config_.queue + (aboutThisCollector(line) ? kStatusReserve : 0)) {
    ++dropped_;
    return;
  }
  queue_.push_back(std::move(message));
  if (!wake_posted_) {
    wake_posted_ = true;
    sender_->wake();
  }
}

SyslogCollectorStatus SyslogSink::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return SyslogCollectorStatus{config_.target, state_, sent_, dropped_, queue_.size() + in_flight_,
                               last_error_};
}

// ------------------------------------------------------------------------------------------

Result<std::unique_ptr<SyslogSinks>> SyslogSinks::start(
    const std::vector<SyslogCollectorConfig>& collectors, EventLog& log, const Clock& clock) {
  std::unique_ptr<SyslogSinks> sinks(new SyslogSinks(log));
  SyslogOrigin origin;
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) == 0) origin.hostname = host;
  origin.procid = static_cast<uint32_t>(::getpid());
  for (const SyslogCollectorConfig& c : collectors) {
    auto sink = SyslogSink::start(c, origin, log, clock);
    if (!sink.ok()) return sink.status();
    sinks->sinks_.push_back(std::move(sink).value());
    log.addConsumer(*sinks->sinks_.back());
    std::string events;
    for (const std::string& e : c.events) events += (events.empty() ? "" : ",") + e;
    log.write(LogLine("syslog")
                  .add("collector", c.target)
                  .add("facility", syslogFacilityName(c.facility))
                  .add("events", events.empty() ? "all" : events)
                  .add("queue", c.queue));
  }
  return sinks;
}

SyslogSinks::~SyslogSinks() {
  for (auto& sink : sinks_) log_.removeConsumer(*sink);
}

std::vector<SyslogCollectorStatus> SyslogSinks::status() const {
  std::vector<SyslogCollectorStatus> out;
  for (const auto& sink : sinks_) out.push_back(sink->status());
  return out;
}

}  // namespace muzzle

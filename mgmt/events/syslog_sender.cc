#include "mgmt/events/syslog_sender.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>

#include "fw/common/thread_priority.h"

namespace muzzle {

namespace asio = boost::asio;

namespace {

// One write gathers at most this much: a backlog after a reconnect goes out in a few writes,
// and what a broken connection loses (counted) stays small.
constexpr size_t kBatchBytes = 64 * 1024;
constexpr size_t kBatchMessages = 256;

std::string errorText(const boost::system::error_code& ec) { return ec.message(); }

}  // namespace

SyslogSink::Sender::Sender(SyslogSink& sink, SyslogEndpoint endpoint,
                           std::unique_ptr<asio::ssl::context> tls)
    : sink_(sink),
      endpoint_(endpoint),
      tls_context_(std::move(tls)),
      retry_(io_),
      work_(asio::make_work_guard(io_)) {
  asio::post(io_, [this] { begin(); });
  thread_ = std::thread([this] {
    runAsBackgroundThread();
    io_.run();
  });
  pthread_setname_np(thread_.native_handle(), "muzzle-syslog");
}

SyslogSink::Sender::~Sender() {
  asio::post(io_, [this] {
    closeConnection();
    retry_.cancel();
    work_.reset();
    io_.stop();
  });
  thread_.join();
}

void SyslogSink::Sender::wake() {
  asio::post(io_, [this] {
    {
      std::lock_guard<std::mutex> lock(sink_.mu_);
      sink_.wake_posted_ = false;
    }
    pump();
  });
}

void SyslogSink::Sender::begin() {
  if (udp()) {
    boost::system::error_code ec;
    datagram_.emplace(io_);
    const Datagram::endpoint to(&endpoint_.address, endpoint_.length, endpoint_.protocol);
    datagram_->open(to.protocol(), ec);
    // connect() only fixes the destination, and lets an ICMP port unreachable come back as
    // ECONNREFUSED on a later send.
    if (!ec) datagram_->connect(to, ec);
    if (ec) return failed("cannot open a socket: " + errorText(ec));
    markUp("ready");
    return pump();
  }
  connect();
}

void SyslogSink::Sender::connect() {
  closeConnection();
  auto c = std::make_shared<Connection>(io_);
  conn_ = c;
  setState("connecting");
  const Stream::endpoint to(&endpoint_.address, endpoint_.length, endpoint_.protocol);
  if (tls()) {
    c->tls.emplace(io_, *tls_context_);
    // The collector is named by its address: its certificate must carry it (an IP SAN).
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->tls->native_handle()),
                                  sink_.config_.address.toString().c_str());
  } else {
    c->plain.emplace(io_);
  }
  armTimer(c, "connecting took longer than 10 s");
  c->lowest().async_connect(to, [this, c](const boost::system::error_code& ec) {
    if (c != conn_) return;
    if (ec) return broken(c, "cannot connect: " + errorText(ec));
    if (!tls()) return connected(c);
    c->tls->async_handshake(
        asio::ssl::stream_base::client, [this, c](const boost::system::error_code& ec2) {
          if (c != conn_) return;
          if (ec2) {
            // Which check failed: "IP address mismatch", "unable to get local issuer ...".
            const long verify = SSL_get_verify_result(c->tls->native_handle());
            return broken(
                c, "TLS handshake: " + errorText(ec2) +
                       (verify == X509_V_OK
                            ? std::string()
                            : std::string(" (") + X509_verify_cert_error_string(verify) + ")"));
          }
          connected(c);
        });
  });
}

void SyslogSink::Sender::connected(const ConnectionPtr& c) {
  c->timer.cancel();
  connected_ = true;
  backoff_ = kMinBackoff;
  watchForClose(c);
  // The backlog leaves first, so the syslog-up line finds room in the queue behind it.
  pump();
  markUp("connected");
}

void SyslogSink::Sender::watchForClose(const ConnectionPtr& c) {
  auto done = [this, c](const boost::system::error_code& ec, size_t) {
    if (c != conn_) return;
    if (ec)
      return broken(c, ec == asio::error::eof ? std::string("the collector closed the connection")
                                              : "the connection failed: " + errorText(ec));
    watchForClose(c);  // it did send something; ignore it
  };
  if (c->tls) {
    c->tls->async_read_some(asio::buffer(c->discard), done);
  } else {
    c->plain->async_read_some(asio::buffer(c->discard), done);
  }
}

void SyslogSink::Sender::broken(const ConnectionPtr& c, const std::string& error) {
  if (c != conn_) return;
  closeConnection();
  connected_ = false;
  writing_ = false;
  {
    std::lock_guard<std::mutex> lock(sink_.mu_);
    sink_.dropped_ += sink_.in_flight_;
    sink_.in_flight_ = 0;
  }
  failed(error);
  retry_.expires_after(backoff_);
  backoff_ = nextBackoff(backoff_);
  retry_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) connect();
  });
}

void SyslogSink::Sender::armTimer(const ConnectionPtr& c, std::string what) {
  c->timer.expires_after(kIoTimeout);
  c->timer.async_wait([this, c, what = std::move(what)](const boost::system::error_code& ec) {
    if (!ec) broken(c, what);
  });
}

void SyslogSink::Sender::closeConnection() {
  if (!conn_) return;
  boost::system::error_code ignored;
  conn_->timer.cancel();
  conn_->lowest().close(ignored);
  conn_.reset();
}

void SyslogSink::Sender::pump() {
  if (writing_) return;
  if (udp() ? !datagram_ : !connected_) return;
  const ConnectionPtr c = conn_;
  std::string& batch = udp() ? datagram_batch_ : c->batch;
  batch.clear();
  size_t count = 0;
  {
    std::lock_guard<std::mutex> lock(sink_.mu_);
    while (!sink_.queue_.empty() && count < (udp() ? 1 : kBatchMessages) &&
           (count == 0 || batch.size() + sink_.queue_.front().size() < kBatchBytes)) {
      if (udp()) {
        batch = std::move(sink_.queue_.front());
      } else {
        appendOctetCounted(sink_.queue_.front(), batch);
      }
      sink_.queue_.pop_front();
      ++count;
    }
    sink_.in_flight_ = count;
  }
  if (count == 0) {
    sink_.idle_.notify_all();
    return;
  }
  writing_ = true;
  if (udp()) {
    datagram_->async_send(asio::buffer(batch), [this](const boost::system::error_code& ec, size_t) {
      writing_ = false;
      {
        std::lock_guard<std::mutex> lock(sink_.mu_);
        (ec ? sink_.dropped_ : sink_.sent_) += sink_.in_flight_;
        sink_.in_flight_ = 0;
      }
      if (ec) {
        failed("sending: " + errorText(ec));
      } else {
        markUp("ready");
      }
      pump();
    });
    return;
  }
  armTimer(c, "a write took longer than 10 s (the collector does not read)");
  auto done = [this, c](const boost::system::error_code& ec, size_t) {
    if (c != conn_) return;
    if (ec) return broken(c, "sending: " + errorText(ec));
    c->timer.cancel();
    writing_ = false;
    {
      std::lock_guard<std::mutex> lock(sink_.mu_);
      sink_.sent_ += sink_.in_flight_;
      sink_.in_flight_ = 0;
    }
    pump();
  };
  if (c->tls) {
    asio::async_write(*c->tls, asio::buffer(batch), done);
  } else {
    asio::async_write(*c->plain, asio::buffer(batch), done);
  }
}

void SyslogSink::Sender::setState(const char* state) {
  std::lock_guard<std::mutex> lock(sink_.mu_);
  sink_.state_ = state;
}

void SyslogSink::Sender::markUp(const char* state) {
  bool was_reported = false;
  uint64_t dropped = 0;
  {
    std::lock_guard<std::mutex> lock(sink_.mu_);
    sink_.state_ = state;
    if (!udp()) {
      was_reported = sink_.down_logged_;
      dropped = sink_.dropped_;
      sink_.down_logged_ = false;
    }
  }
  if (was_reported) {
    sink_.log_.write(
        LogLine("syslog-up").add("collector", sink_.config_.target).add("dropped", dropped));
  }
}

void SyslogSink::Sender::failed(const std::string& error) {
  const auto now = sink_.clock_.now();
  std::optional<LogLine> line;
  {
    std::lock_guard<std::mutex> lock(sink_.mu_);
    sink_.state_ = udp() ? "failing" : "down";
    sink_.last_error_ = error;
    if (!sink_.down_logged_ || now - sink_.last_down_log_ >= kDownLogInterval) {
      sink_.down_logged_ = true;
      sink_.last_down_log_ = now;
      line.emplace("syslog-down");
      line->add("collector", sink_.config_.target)
          .add("error", error)
          .add("dropped", sink_.dropped_)
          .add("queued", sink_.queue_.size());
    }
  }
  sink_.idle_.notify_all();
  if (line) sink_.log_.write(std::move(*line));
}

}  // namespace muzzle

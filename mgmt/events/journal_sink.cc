#include "mgmt/events/journal_sink.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "mgmt/events/syslog_format.h"

namespace muzzle {
namespace {

// journald's field names: upper-case letters, digits and '_', not starting with '_' (those are
// the journal's own, trusted fields), at most 64 bytes.
constexpr size_t kMaxFieldName = 64;

// "MUZZLE_" + the key, upper case, '-' as '_'; empty when the key cannot be a field name.
std::string fieldName(std::string_view key) {
  std::string name = "MUZZLE_";
  for (char c : key) {
    if (c >= 'a' && c <= 'z') {
      name += static_cast<char>(c - 'a' + 'A');
    } else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') {
      name += c;
    } else if (c == '-') {
      name += '_';
    } else {
      return {};
    }
  }
  return key.empty() || name.size() > kMaxFieldName ? std::string() : name;
}

// NAME=value\n, or, for a value with a newline, NAME\n + its length (64-bit little endian) +
// value + \n: the protocol's two forms.
void appendField(std::string_view name, std::string_view value, std::string& out) {
  out += name;
  if (value.find('\n') == std::string_view::npos) {
    out += '=';
    out += value;
  } else {
    out += '\n';
    uint64_t n = value.size();
    for (int i = 0; i < 8; ++i, n >>= 8) out += static_cast<char>(n & 0xff);
    out += value;
  }
  out += '\n';
}

}  // namespace

std::string formatJournalEntry(const LogLine& line) {
  std::string out;
  out.reserve(line.text().size() * 2 + 128);
  std::string text = line.text();
  if (!text.empty() && text.back() == '\n') text.pop_back();
  appendField("MESSAGE", text, out);
  appendField("PRIORITY", std::to_string(static_cast<int>(syslogSeverity(line.event()))), out);
  appendField("SYSLOG_IDENTIFIER", "muzzled", out);
  appendField("MUZZLE_EVENT", line.event(), out);
  appendField("MUZZLE_TIME", syslogTimestamp(line.time()), out);
  for (const auto& [key, value] : line.fields()) {
    const std::string name = fieldName(key);
    // EVENT and TIME are set above; a line's own key of that name cannot replace them.
    if (name.empty() || name == "MUZZLE_EVENT" || name == "MUZZLE_TIME") continue;
    appendField(name, value, out);
  }
  return out;
}

Result<std::unique_ptr<JournalSink>> JournalSink::open(JournalConfig config,
                                                      std::string socket_path) {
  sockaddr_un probe{};
  if (socket_path.empty() || socket_path.size() >= sizeof(probe.sun_path)) {
    return Status::error("journal: socket path \"" + socket_path + "\" cannot be a unix socket");
  }
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return Status::error(std::string("journal: cannot open a unix datagram socket: ") +
                         std::strerror(errno));
  }
  return std::unique_ptr<JournalSink>(
      new JournalSink(std::move(config), std::move(socket_path), fd));
}

JournalSink::JournalSink(JournalConfig config, std::string socket_path, int fd)
    : config_(std::move(config)), socket_path_(std::move(socket_path)), fd_(fd) {
  address_.sun_family = AF_UNIX;
  std::memcpy(address_.sun_path, socket_path_.data(), socket_path_.size());  // open() checked it
  address_length_ =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_path_.size() + 1);
}

JournalSink::~JournalSink() { ::close(fd_); }

void JournalSink::onEvent(const LogLine& line) {
  if (!config_.wants(line.event())) return;
  const std::string entry = formatJournalEntry(line);
  ssize_t sent;
  do {
    sent = ::sendto(fd_, entry.data(), entry.size(), MSG_NOSIGNAL,
                    reinterpret_cast<const sockaddr*>(&address_), address_length_);
  } while (sent < 0 && errno == EINTR);
  if (sent >= 0) {
    sent_.fetch_add(1, std::memory_order_relaxed);
    failing_.store(false, std::memory_order_relaxed);
    return;
  }
  const int err = errno;
  dropped_.fetch_add(1, std::memory_order_relaxed);
  failing_.store(true, std::memory_order_relaxed);
  std::string why = err == EAGAIN ? std::string("the journal's socket queue is full")
                                  : std::string(std::strerror(err));
  std::lock_guard<std::mutex> lock(error_mu_);
  last_error_ = "sending to " + socket_path_ + ": " + why;
}

JournalStatus JournalSink::status() const {
  JournalStatus s;
  s.sent = sent_.load(std::memory_order_relaxed);
  s.dropped = dropped_.load(std::memory_order_relaxed);
  s.failing = failing_.load(std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(error_mu_);
  s.last_error = last_error_;
  return s;
}

}  // namespace muzzle

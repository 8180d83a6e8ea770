#include "mgmt/revisions/audit_log.h"

#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ext/stdio_filebuf.h>
#include <istream>
#include <memory>

#include "fw/common/atomic_file.h"
#include "fw/common/confined_file.h"
#include "fw/common/sha256.h"

namespace muzzle {
namespace {

const std::string kGenesis(64, '0');

std::string chainHash(const std::string& prev, const std::string& json) {
  return sha256Hex(prev + "\n" + json);
}

std::string shortHash(const std::string& h) { return h.substr(0, 12); }

// A chain hash as sha256Hex writes it: 64 lowercase hexadecimal digits. Anything else in the
// log, audit.head or a revision's metadata came from a damaged or edited file: it must not become
// the next entry's prev_hash (an entry's string fields must be UTF-8) nor be quoted in errors.
bool isChainHash(std::string_view h) {
  return h.size() == 64 && std::all_of(h.begin(), h.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

AuditLog::AuditLog(std::string state_dir)
    : dir_(state_dir), path_(state_dir + "/audit.log"), head_path_(state_dir + "/audit.head") {}

std::optional<AuditAnchor> AuditLog::readHead(std::string* error) const {
  auto head = readRegularFile(head_path_);
  if (!head.ok()) {
    if (head.status().code() != StatusCode::kNotFound) *error = head.status().message();
    return std::nullopt;
  }
  const size_t space = head->find(' ');
  AuditAnchor a{"audit.head", 0, ""};
  if (space != std::string::npos && space > 0 && space <= 18 &&
      head->find_first_not_of("0123456789") == space) {
    a.sequence = std::strtoull(head->c_str(), nullptr, 10);
    a.hash = head->substr(space + 1);
    if (!a.hash.empty() && a.hash.back() == '\n') a.hash.pop_back();
  }
  if (a.sequence == 0 || !isChainHash(a.hash)) {
    *error = head_path_ + ": damaged: not '<sequence> <hash>'";
    return std::nullopt;
  }
  return a;
}

Status AuditLog::open(const std::vector<AuditAnchor>& anchors) {
  AuditChain chain = read();
  last_hash_ = kGenesis;
  last_sequence_ = 0;
  last_.reset();
  if (!chain.entries.empty()) {
    last_ = chain.entries.back();
    if (last_->sequence() <= kMaxSequence) {
      last_hash_ = last_->hash();
      last_sequence_ = last_->sequence();
    }
  }
  std::string ignored;
  std::vector<AuditAnchor> all = anchors;
  if (auto head = readHead(&ignored)) all.push_back(*head);
  for (const AuditAnchor& a : all) {
    if (a.sequence > last_sequence_ && a.sequence <= kMaxSequence && isChainHash(a.hash)) {
      last_sequence_ = a.sequence;
      last_hash_ = a.hash;
    }
  }
  return Status();
}

Result<v1::AuditEntry> AuditLog::append(v1::AuditEntry entry) {
  entry.set_sequence(last_sequence_ + 1);
  *entry.mutable_time() = google::protobuf::util::TimeUtil::GetCurrentTime();
  entry.set_prev_hash(last_hash_);
  entry.clear_hash();
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(entry, &json, options).ok()) {
    return Status::error("cannot encode an audit entry");
  }
  const std::string hash = chainHash(last_hash_, json);
  std::string line = hash + " " + json + "\n";
  int fd =
      ::open(path_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0640);
  if (fd < 0) return Status::error(path_ + ": cannot open: " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::error(path_ + ": not a regular file; move it aside so a new log can start");
  }
  const off_t before = ::lseek(fd, 0, SEEK_END);
  // A write torn just before its newline (or an edit) leaves the last line unterminated: the
  // entry would be glued onto it, and both lost to read(). Start on a line of its own; the torn
  // one stays visible as broken.
  if (before > 0) {
    char last = '\n';
    if (::pread(fd, &last, 1, before - 1) == 1 && last != '\n') line.insert(line.begin(), '\n');
  }
  // Puts the file back as it was: a partial line (a full disk) or an unanchored one must not stay.
  auto undo = [&](const std::string& why) {
    std::string message = why;
    if (before >= 0 && (::ftruncate(fd, before) != 0 || ::fsync(fd) != 0)) {
      message += "; and cannot cut the entry off again: " + std::string(std::strerror(errno));
    }
    ::close(fd);
    return Status::error(message);
  };
  size_t written = 0;
  while (written < line.size()) {
    ssize_t n = ::write(fd, line.data() + written, line.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return undo(path_ + ": cannot append: " + std::strerror(errno));
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return undo(path_ + ": cannot sync: " + std::strerror(errno));
  Status head =
      writeFileAtomically(dir_, "audit.head", std::to_string(entry.sequence()) + " " + hash + "\n");
  if (!head.ok()) return undo(head.message());
  ::close(fd);
  entry.set_hash(hash);
  last_hash_ = hash;
  last_sequence_ = entry.sequence();
  last_ = entry;
  return entry;
}

AuditChain AuditLog::read(const std::vector<AuditAnchor>& revision_anchors) const {
  AuditChain chain;
  auto broken = [&](const std::string& why) {
    if (chain.ok) {
      chain.ok = false;
      chain.error = why;
    }
  };
  // Opened without blocking and read only when it is a regular file: a FIFO left in its place
  // must not hold the engine, and a log muzzled may not read is not an empty one.
  const int fd = ::open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  const bool present = fd >= 0 || errno != ENOENT;
  struct stat st;
  if (fd < 0 && present) {
    broken(path_ + ": cannot read: " + std::strerror(errno));
  } else if (fd >= 0 && (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
    broken(path_ + ": not a regular file; move it aside");
  }
  // The buffer owns and closes fd. A log that cannot be read has no lines (`broken` said why).
  std::unique_ptr<__gnu_cxx::stdio_filebuf<char>> file;
  if (chain.ok && fd >= 0) {
    file = std::make_unique<__gnu_cxx::stdio_filebuf<char>>(fd, std::ios::in);
  } else if (fd >= 0) {
    ::close(fd);
  }
  std::istream in(file.get());
  std::string line;
  std::string prev = kGenesis;
  uint64_t expected_sequence = 1;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    const std::string where = path_ + ":" + std::to_string(line_no) + ": ";
    const size_t space = line.find(' ');
    if (space != 64) {
      broken(where + "not '<hash> <entry>'");
      continue;
    }
    const std::string hash = line.substr(0, space);
    if (!isChainHash(hash)) {
      broken(where + "hash is not 64 hexadecimal digits");
      continue;
    }
    const std::string json = line.substr(space + 1);
    v1::AuditEntry entry;
    if (!google::protobuf::util::JsonStringToMessage(json, &entry).ok()) {
      broken(where + "entry is not valid JSON");
      continue;
    }
    if (entry.prev_hash() != prev)
      broken(where + "prev_hash does not match the line before (lines removed or reordered)");
    if (chainHash(entry.prev_hash(), json) != hash)
      broken(where + "hash does not match the entry (entry edited)");
    if (entry.sequence() != expected_sequence)
      broken(where + "sequence " + std::to_string(entry.sequence()) + ", expected " +
             std::to_string(expected_sequence));
    entry.set_hash(hash);
    prev = hash;
    expected_sequence = entry.sequence() + 1;
    chain.entries.push_back(std::move(entry));
  }

  // The anchors, the newest first: the head file, then the revisions.
  std::vector<AuditAnchor> anchors;
  std::string head_error;
  if (auto head = readHead(&head_error)) anchors.push_back(*head);
  if (!head_error.empty()) broken(head_error);
  anchors.insert(anchors.end(), revision_anchors.begin(), revision_anchors.end());
  std::stable_sort(anchors.begin(), anchors.end(), [](const AuditAnchor& a, const AuditAnchor& b) {
    return a.sequence > b.sequence;
  });
  for (const AuditAnchor& a : anchors) {
    if (!isChainHash(a.hash)) {
      broken(a.source + " records a damaged audit hash (not 64 hexadecimal digits)");
      continue;
    }
    const std::string recorded = a.source + " records entry " + std::to_string(a.sequence) +
                                 " (hash " + shortHash(a.hash) + "...)";
    if (!present) {
      broken(path_ + " is missing, but " + recorded + ": the log was deleted");
      break;
    }
    auto it = std::find_if(chain.entries.begin(), chain.entries.end(),
                           [&](const v1::AuditEntry& e) { return e.sequence() == a.sequence; });
    if (it == chain.entries.end()) {
      broken(path_ + " ends at entry " +
             std::to_string(chain.entries.empty() ? 0 : chain.entries.back().sequence()) +
             ", but " + recorded +
             ": entries were cut from its end, or it was replaced by a shorter log");
      break;
    }
    if (it->hash() != a.hash) {
      broken(path_ + ": entry " + std::to_string(a.sequence) + " is not the one " + a.source +
             " recorded (hash " + shortHash(it->hash()) + "..., expected " + shortHash(a.hash) +
             "...): the log was rewritten or replaced");
      break;
    }
  }
  return chain;
}

}  // namespace muzzle

#include "mgmt/revisions/audit_log.h"

#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "fw/common/sha256.h"

namespace muzzle {
namespace {

const std::string kGenesis(64, '0');

std::string chainHash(const std::string& prev, const std::string& json) {
  return sha256Hex(prev + "\n" + json);
}

}  // namespace

AuditLog::AuditLog(std::string state_dir) : path_(std::move(state_dir) + "/audit.log") {}

Status AuditLog::open() {
  AuditChain chain = read();
  last_hash_ = kGenesis;
  last_sequence_ = 0;
  if (!chain.entries.empty()) {
    last_hash_ = chain.entries.back().hash();
    last_sequence_ = chain.entries.back().sequence();
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
  int fd = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return Status::error(path_ + ": cannot open: " + std::strerror(errno));
  // A write torn just before its newline (or an edit) leaves the last line unterminated: the
  // entry would be glued onto it, and both lost to read(). Start on a line of its own.
  if (const off_t size = ::lseek(fd, 0, SEEK_END); size > 0) {
    char last = '\n';
    if (::pread(fd, &last, 1, size - 1) == 1 && last != '\n') line.insert(line.begin(), '\n');
  }
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok) return Status::error(path_ + ": cannot append: " + std::strerror(err));
  entry.set_hash(hash);
  last_hash_ = hash;
  last_sequence_ = entry.sequence();
  return entry;
}

AuditChain AuditLog::read() const {
  AuditChain chain;
  std::ifstream in(path_);
  std::string line;
  std::string prev = kGenesis;
  uint64_t expected_sequence = 1;
  size_t line_no = 0;
  auto broken = [&](const std::string& why) {
    if (chain.ok) {
      chain.ok = false;
      chain.error = path_ + ":" + std::to_string(line_no) + ": " + why;
    }
  };
  while (std::getline(in, line)) {
    ++line_no;
    const size_t space = line.find(' ');
    if (space != 64) {
      broken("not '<hash> <entry>'");
      continue;
    }
    const std::string hash = line.substr(0, space);
    const std::string json = line.substr(space + 1);
    v1::AuditEntry entry;
    if (!google::protobuf::util::JsonStringToMessage(json, &entry).ok()) {
      broken("entry is not valid JSON");
      continue;
    }
    if (entry.prev_hash() != prev) broken("prev_hash does not match the line before (lines removed or reordered)");
    if (chainHash(entry.prev_hash(), json) != hash) broken("hash does not match the entry (entry edited)");
    if (entry.sequence() != expected_sequence) broken("sequence " + std::to_string(entry.sequence()) + ", expected " + std::to_string(expected_sequence));
    entry.set_hash(hash);
    prev = hash;
    expected_sequence = entry.sequence() + 1;
    chain.entries.push_back(std::move(entry));
  }
  return chain;
}

}  // namespace muzzle

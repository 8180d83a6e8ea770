#include "mgmt/revisions/revision_store.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "fw/common/atomic_file.h"
#include "fw/common/sha256.h"

namespace muzzle {
namespace {

using google::protobuf::util::JsonParseOptions;
using google::protobuf::util::JsonPrintOptions;

template <typename Message>
Result<std::string> toJson(const Message& m) {
  std::string out;
  JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(m, &out, options).ok()) {
    return Status::error("cannot encode " + m.GetTypeName());
  }
  return out + "\n";
}

template <typename Message>
Status fromJson(const std::string& text, const std::string& path, Message* m) {
  JsonParseOptions options;
  options.ignore_unknown_fields = true;  // a newer muzzled may have added fields
  auto s = google::protobuf::util::JsonStringToMessage(text, m, options);
  if (!s.ok()) return Status::error(path + ": damaged: " + std::string(s.message()));
  return Status();
}

}  // namespace

RevisionStore::RevisionStore(std::string state_dir, size_t keep)
    : dir_(std::move(state_dir) + "/revisions"), keep_(keep) {}

std::string RevisionStore::path(uint64_t number, const char* ext) const {
  char name[32];
  std::snprintf(name, sizeof(name), "/r%08llu.%s", static_cast<unsigned long long>(number), ext);
  return dir_ + name;
}

Status RevisionStore::open() {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Status::error("revisions " + dir_ + ": cannot create: " + ec.message());
  numbers_.clear();
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    // Only revisions whose metadata exists count: the metadata is written last.
    if (name.size() != 14 || name[0] != 'r' || name.substr(9) != ".meta") continue;
    numbers_.push_back(std::strtoull(name.c_str() + 1, nullptr, 10));
  }
  if (ec) return Status::error("revisions " + dir_ + ": cannot list: " + ec.message());
  std::sort(numbers_.begin(), numbers_.end());
  current_ = 0;
  auto cur = readWholeFile(dir_ + "/current");
  if (cur.ok()) {
    current_ = std::strtoull(cur->c_str(), nullptr, 10);
    if (!has(current_)) {
      return Status::error(dir_ + "/current names revision " + std::to_string(current_) +
                           ", which is missing; restore it or remove the file to reseed");
    }
  } else if (cur.status().code() != StatusCode::kNotFound) {
    return cur.status();
  }
  pending_.reset();
  auto pend = readWholeFile(dir_ + "/pending");
  if (pend.ok()) {
    v1::PendingCommit p;
    if (Status s = fromJson(*pend, dir_ + "/pending", &p); !s.ok()) return s;
    pending_ = p;
  } else if (pend.status().code() != StatusCode::kNotFound) {
    return pend.status();
  }
  return Status();
}

bool RevisionStore::has(uint64_t number) const {
  return std::binary_search(numbers_.begin(), numbers_.end(), number);
}

Result<v1::Revision> RevisionStore::revision(uint64_t number) const {
  if (!has(number)) {
    return Status::error(StatusCode::kNotFound, "revision " + std::to_string(number) +
                                                    " does not exist (or was pruned)");
  }
  auto text = readWholeFile(path(number, "meta"));
  if (!text.ok()) return text.status();
  v1::Revision r;
  if (Status s = fromJson(*text, path(number, "meta"), &r); !s.ok()) return s;
  return r;
}

Result<std::string> RevisionStore::content(uint64_t number) const {
  if (!has(number)) {
    return Status::error(StatusCode::kNotFound, "revision " + std::to_string(number) +
                                                    " does not exist (or was pruned)");
  }
  return readWholeFile(path(number, "policy"));
}

std::vector<v1::Revision> RevisionStore::list() const {
  std::vector<v1::Revision> out;
  for (auto it = numbers_.rbegin(); it != numbers_.rend(); ++it) {
    auto r = revision(*it);
    if (r.ok()) out.push_back(std::move(r).value());
  }
  return out;
}

Result<v1::Revision> RevisionStore::add(std::string_view text, const std::string& author,
                                        const std::string& comment, uint64_t parent) {
  const uint64_t number = latest() + 1;
  v1::Revision r;
  r.set_number(number);
  r.set_sha256(sha256Hex(text));
  *r.mutable_created() = google::protobuf::util::TimeUtil::GetCurrentTime();
  r.set_author(author);
  r.set_comment(comment);
  r.set_parent(parent);
  auto leaf = [](const std::string& p) { return p.substr(p.rfind('/') + 1); };
  if (Status s = writeFileAtomically(dir_, leaf(path(number, "policy")), std::string(text)); !s.ok()) {
    return s;
  }
  auto meta = toJson(r);
  if (!meta.ok()) return meta.status();
  if (Status s = writeFileAtomically(dir_, leaf(path(number, "meta")), *meta); !s.ok()) return s;
  numbers_.push_back(number);
  prune();
  return r;
}

Status RevisionStore::setCurrent(uint64_t number) {
  if (!has(number)) {
    return Status::error(StatusCode::kNotFound, "revision " + std::to_string(number) + " does not exist");
  }
  Status s = writeFileAtomically(dir_, "current", std::to_string(number) + "\n");
  if (s.ok()) current_ = number;
  return s;
}

Status RevisionStore::setPending(const v1::PendingCommit& pending) {
  auto json = toJson(pending);
  if (!json.ok()) return json.status();
  Status s = writeFileAtomically(dir_, "pending", *json);
  if (s.ok()) pending_ = pending;
  return s;
}

Status RevisionStore::clearPending() {
  if (::unlink((dir_ + "/pending").c_str()) != 0 && errno != ENOENT) {
    return Status::error(dir_ + "/pending: cannot remove: " + std::strerror(errno));
  }
  pending_.reset();
  return Status();
}

void RevisionStore::prune() {
  while (numbers_.size() > keep_) {
    auto victim = std::find_if(numbers_.begin(), numbers_.end(), [&](uint64_t n) {
      return n != current_ && !(pending_ && (pending_->rollback_to() == n || pending_->revision() == n));
    });
    if (victim == numbers_.end()) return;
    // Metadata first: a revision without metadata does not exist for open().
    ::unlink(path(*victim, "meta").c_str());
    ::unlink(path(*victim, "policy").c_str());
    numbers_.erase(victim);
  }
}

}  // namespace muzzle

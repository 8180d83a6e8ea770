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
#include "fw/common/confined_file.h"
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

// "7" or "7\n" and nothing else: a torn or garbled pointer must not pass for a number.
std::optional<uint64_t> parsePointer(const std::string& text) {
  std::string digits = text;
  if (!digits.empty() && digits.back() == '\n') digits.pop_back();
  if (digits.empty() || digits.size() > 18 ||
      digits.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  const uint64_t n = std::strtoull(digits.c_str(), nullptr, 10);
  if (n == 0) return std::nullopt;
  return n;
}

// A revision's file name: "r" and its number in at least 8 digits ("r00000007.meta"), as
// RevisionStore::path writes it, up to kMaxRevisionNumber's 18. Not one: number 0.
struct RevisionName {
  uint64_t number = 0;
  std::string_view ext;  // after the '.'
};
RevisionName parseRevisionName(std::string_view name) {
  if (name.empty() || name[0] != 'r') return {};
  const size_t dot = name.find('.');
  if (dot == std::string_view::npos || dot < 9 || dot > 19) return {};
  const std::string_view digits = name.substr(1, dot - 1);
  if (digits.find_first_not_of("0123456789") != std::string_view::npos) return {};
  // Only the spelling path() writes: "r000000007" is not revision 7's file.
  if (digits.size() > 8 && digits[0] == '0') return {};
  return {std::strtoull(std::string(digits).c_str(), nullptr, 10), name.substr(dot + 1)};
}

// Sets `path` aside and says so in `problem` (kept_as, or why it stayed).
StateProblem damagedFile(const std::string& path, const std::string& why) {
  StateProblem p{StateProblem::Kind::kDamaged, path, why, ""};
  auto aside = setAsideDamaged(path);
  if (aside.ok()) {
    p.kept_as = *aside;
  } else {
    p.problem += " (left in place: " + aside.status().message() + ")";
  }
  return p;
}

}  // namespace

RevisionStore::RevisionStore(std::string state_dir, size_t keep)
    : state_dir_(std::move(state_dir)), dir_(state_dir_ + "/revisions"), keep_(keep) {}

std::string RevisionStore::path(uint64_t number, const char* ext) const {
  char name[32];
  std::snprintf(name, sizeof(name), "/r%08llu.%s", static_cast<unsigned long long>(number), ext);
  return dir_ + name;
}

std::vector<StateProblem> RevisionStore::open() {
  std::vector<StateProblem> problems;
  numbers_.clear();
  current_ = 0;
  next_ = 1;
  current_damaged_ = pending_damaged_ = false;
  pending_.reset();
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) {
    problems.push_back(
        {StateProblem::Kind::kUnwritable, dir_, "cannot create: " + ec.message(), ""});
    if (!std::filesystem::is_directory(dir_)) return problems;
  }
  uint64_t highest = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    const RevisionName parsed = parseRevisionName(name);
    highest = std::max(highest, parsed.number);
    // Only revisions whose metadata exists count: the metadata is written last.
    if (parsed.number != 0 && parsed.ext == "meta") numbers_.push_back(parsed.number);
  }
  if (ec) {
    problems.push_back({StateProblem::Kind::kDamaged, dir_, "cannot list: " + ec.message(), ""});
  }
  std::sort(numbers_.begin(), numbers_.end());

  auto cur = readRegularFile(dir_ + "/current");
  if (cur.ok()) {
    const auto n = parsePointer(*cur);
    if (n) highest = std::max(highest, *n);  // a lost revision's number stays used
    if (n && has(*n)) {
      current_ = *n;
    } else {
      current_damaged_ = true;
      problems.push_back(damagedFile(
          dir_ + "/current", n ? "names revision " + std::to_string(*n) + ", which is missing"
                               : "is not a revision number (torn or garbled)"));
    }
  } else if (cur.status().code() != StatusCode::kNotFound) {
    current_damaged_ = true;
    problems.push_back(damagedFile(dir_ + "/current", cur.status().message()));
  } else if (!numbers_.empty()) {
    current_damaged_ = true;
    problems.push_back(
        {StateProblem::Kind::kDamaged, dir_ + "/current", "is missing, but revisions exist", ""});
  }
  next_ = highest + 1;

  auto pend = readRegularFile(dir_ + "/pending");
  if (pend.ok()) {
    v1::PendingCommit p;
    Status s = fromJson(*pend, dir_ + "/pending", &p);
    if (s.ok() && p.revision() != 0) {
      pending_ = p;
    } else {
      pending_damaged_ = true;
      problems.push_back(damagedFile(
          dir_ + "/pending", s.ok() ? "names no revision" : "does not parse: " + s.message()));
    }
  } else if (pend.status().code() != StatusCode::kNotFound) {
    pending_damaged_ = true;
    problems.push_back(damagedFile(dir_ + "/pending", pend.status().message()));
  }
  return problems;
}

bool RevisionStore::has(uint64_t number) const {
  return std::binary_search(numbers_.begin(), numbers_.end(), number);
}

Result<v1::Revision> RevisionStore::revision(uint64_t number) const {
  if (number == 0) {
    return Status::error(StatusCode::kNotFound,
                         "no revision is stored: the box runs the policy it started with (see "
                         "`muzzlectl status` for the state folder)");
  }
  if (!has(number)) {
    return Status::error(StatusCode::kNotFound,
                         "revision " + std::to_string(number) + " does not exist (or was pruned)");
  }
  auto text = readRegularFile(path(number, "meta"));
  if (!text.ok()) return text.status();
  v1::Revision r;
  if (Status s = fromJson(*text, path(number, "meta"), &r); !s.ok()) return s;
  return r;
}

Result<std::string> RevisionStore::content(uint64_t number) const {
  auto r = revision(number);
  if (!r.ok()) return r.status();
  auto text = readRegularFile(path(number, "policy"));
  if (!text.ok()) return text.status();
  if (sha256Hex(*text) != r->sha256()) {
    return Status::error("revision " + std::to_string(number) + " is damaged: " +
                         path(number, "policy") + " does not match the sha256 in its metadata");
  }
  return text;
}

std::string RevisionStore::damage(uint64_t number) const {
  auto r = revision(number);
  if (!r.ok()) return r.status().message();
  if (r->number() != number) {
    return path(number, "meta") + " names revision " + std::to_string(r->number());
  }
  auto text = readRegularFile(path(number, "policy"));
  if (!text.ok()) return text.status().message();
  if (sha256Hex(*text) != r->sha256()) {
    return path(number, "policy") + " does not match the sha256 in its metadata (torn or edited)";
  }
  return "";
}

StateProblem RevisionStore::setAside(uint64_t number, const std::string& why) {
  // Metadata first: without it the revision does not exist, even if the text stays.
  StateProblem p =
      damagedFile(path(number, "meta"), "revision " + std::to_string(number) + ": " + why);
  if (::access(path(number, "policy").c_str(), F_OK) == 0)
    (void)setAsideDamaged(path(number, "policy"));
  numbers_.erase(std::remove(numbers_.begin(), numbers_.end(), number), numbers_.end());
  return p;
}

std::vector<v1::Revision> RevisionStore::list() const {
  std::vector<v1::Revision> out;
  for (auto it = numbers_.rbegin(); it != numbers_.rend(); ++it) {
    auto r = revision(*it);
    if (r.ok()) out.push_back(std::move(r).value());
  }
  return out;
}

std::vector<AuditAnchor> RevisionStore::anchors() const {
  std::vector<AuditAnchor> out;
  for (const uint64_t n : numbers_) {
    auto r = revision(n);
    if (r.ok() && r->audit_sequence() != 0) {
      out.push_back({"revision " + std::to_string(n), r->audit_sequence(), r->audit_hash()});
    }
  }
  return out;
}

Result<v1::Revision> RevisionStore::prepare(std::string_view text, const std::string& author,
                                            const std::string& comment, uint64_t parent) {
  const uint64_t number = next_;
  if (number > kMaxRevisionNumber) {
    // Only a damaged or edited folder gets here: a pointer or a file name claimed the last
    // number. Refused, so no revision is written under a name open() would not read again.
    return Status::error(dir_ + ": revision numbers up to " + std::to_string(kMaxRevisionNumber) +
                         " are used; move the folder aside to number revisions from 1 again");
  }
  v1::Revision r;
  r.set_number(number);
  r.set_sha256(sha256Hex(text));
  *r.mutable_created() = google::protobuf::util::TimeUtil::GetCurrentTime();
  r.set_author(author);
  r.set_comment(comment);
  r.set_parent(parent);
  // The folder may be missing: open() could not create it on a read-only disk. Say why now.
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Status::error("cannot create " + dir_ + ": " + ec.message());
  const std::string file = path(number, "policy");
  if (Status s = writeFileAtomically(dir_, file.substr(dir_.size() + 1), std::string(text));
      !s.ok()) {
    return s;
  }
  // Handed out once: an audit entry may name it even if the revision is never finished.
  ++next_;
  return r;
}

Status RevisionStore::finish(const v1::Revision& revision) {
  auto meta = toJson(revision);
  if (!meta.ok()) return meta.status();
  const std::string file = path(revision.number(), "meta");
  if (Status s = writeFileAtomically(dir_, file.substr(dir_.size() + 1), *meta); !s.ok()) return s;
  numbers_.push_back(revision.number());
  std::sort(numbers_.begin(), numbers_.end());
  prune();
  return Status();
}

void RevisionStore::abandon(const v1::Revision& revision) {
  ::unlink(path(revision.number(), "policy").c_str());
}

Status RevisionStore::setCurrent(uint64_t number) {
  if (!has(number)) {
    return Status::error(StatusCode::kNotFound,
                         "revision " + std::to_string(number) + " does not exist");
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
      return n != current_ &&
             !(pending_ && (pending_->rollback_to() == n || pending_->revision() == n));
    });
    if (victim == numbers_.end()) return;
    // Metadata first: a revision without metadata does not exist for open().
    ::unlink(path(*victim, "meta").c_str());
    ::unlink(path(*victim, "policy").c_str());
    numbers_.erase(victim);
  }
}

}  // namespace muzzle

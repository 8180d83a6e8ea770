#include "fw/common/confined_file.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <vector>

#include "fw/common/excerpt.h"

namespace muzzle {
namespace {

// Closes a descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = other.fd_;
      other.fd_ = -1;
    }
    return *this;
  }
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

std::string sizeText(size_t bytes) {
  if (bytes % (size_t{1} << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  return std::to_string(bytes) + " bytes";
}

// What a non-regular file is, for "is a FIFO (named pipe), not a regular file".
const char* kindOf(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a file";
}

// Refuses what is not a regular file of at most `max_bytes`, from its fstat.
Status checkStat(const struct stat& st, const std::string& who, size_t max_bytes) {
  if (S_ISDIR(st.st_mode)) {
    return Status::error(StatusCode::kInvalidArgument, who + " is a folder; name a file in it");
  }
  if (!S_ISREG(st.st_mode)) {
    return Status::error(StatusCode::kInvalidArgument,
                         who + " is " + kindOf(st.st_mode) + ", not a regular file; name a file");
  }
  if (st.st_size < 0 || static_cast<uint64_t>(st.st_size) > max_bytes) {
    return Status::error(StatusCode::kInvalidArgument,
                         who + " is " + std::to_string(st.st_size) + " bytes, more than the " +
                             sizeText(max_bytes) + " a file may have here; split or trim it");
  }
  return Status();
}

// Reads an open regular file to its end, refusing it once it holds more than `max_bytes`.
Result<std::string> readAll(int fd, const struct stat& st, const std::string& who,
                            size_t max_bytes) {
  std::string text;
  text.reserve(static_cast<size_t>(st.st_size));
  char buffer[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return Status::error(who + " could not be read: " + std::strerror(errno));
    }
    if (n == 0) return text;
    if (text.size() + static_cast<size_t>(n) > max_bytes) {
      return Status::error(StatusCode::kInvalidArgument,
                           who + " grew past the " + sizeText(max_bytes) +
                               " a file may have here while it was read; split or trim it");
    }
    text.append(buffer, static_cast<size_t>(n));
  }
}

constexpr int kReadFlags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;

std::atomic<bool> walk_for_testing{false};

// Without openat2 (a kernel before 5.6, or a seccomp filter that answers ENOSYS): the same
// confinement by opening the name one component at a time beneath `dirfd`, following no
// symbolic link at all and refusing ".." (EXDEV, as openat2 refuses an escape). Stricter than
// openat2, which follows links that stay inside.
int openBeneathByWalking(int dirfd, const std::string& relative, int flags) {
  std::vector<std::string> parts;
  for (size_t start = 0; start <= relative.size();) {
    const size_t slash = std::min(relative.find('/', start), relative.size());
    std::string part = relative.substr(start, slash - start);
    if (part == "..") {
      errno = EXDEV;
      return -1;
    }
    if (!part.empty() && part != ".") parts.push_back(std::move(part));
    start = slash + 1;
  }
  if (parts.empty()) {
    errno = EISDIR;
    return -1;
  }
  Fd current(::fcntl(dirfd, F_DUPFD_CLOEXEC, 0));
  for (size_t i = 0; current.ok() && i + 1 < parts.size(); ++i) {
    const int next =
        ::openat(current.get(), parts[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) {
      // A symbolic link where a folder should be: ENOTDIR under O_NOFOLLOW | O_DIRECTORY.
      struct stat st;
      if (errno == ENOTDIR &&
          ::fstatat(current.get(), parts[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISLNK(st.st_mode)) {
        errno = EXDEV;
      }
      return -1;
    }
    current = Fd(next);
  }
  if (!current.ok()) return -1;
  const int fd = ::openat(current.get(), parts.back().c_str(), flags | O_NOFOLLOW);
  struct stat st;
  if (fd >= 0 && ::fstat(fd, &st) == 0 && S_ISLNK(st.st_mode)) {  // O_PATH opens a link itself
    ::close(fd);
    errno = EXDEV;
    return -1;
  }
  return fd;
}

// openat2 beneath `dirfd` (glibc 2.36 has no wrapper), else the walk above.
int openBeneath(int dirfd, const std::string& relative, uint64_t flags) {
  if (walk_for_testing) return openBeneathByWalking(dirfd, relative, static_cast<int>(flags));
  struct open_how how;
  std::memset(&how, 0, sizeof how);
  how.flags = flags;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  for (;;) {
    const long fd = ::syscall(SYS_openat2, dirfd, relative.c_str(), &how, sizeof how);
    // EAGAIN comes only with RESOLVE_CACHED, or when a rename raced the lookup: try again.
    if (fd < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (fd < 0 && errno == ENOSYS) {
      return openBeneathByWalking(dirfd, relative, static_cast<int>(flags));
    }
    return static_cast<int>(fd);
  }
}

std::string withoutTrailingSlashes(std::string folder) {
  while (folder.size() > 1 && folder.back() == '/') folder.pop_back();
  return folder;
}

std::string folderList(const std::vector<std::string>& folders) {
  std::string text;
  for (const std::string& folder : folders) {
    if (folder.empty()) continue;
    if (!text.empty()) text += " or ";
    text += folder;
  }
  return text.empty() ? "no folder" : text;
}

// True when ".." steps climb above the start of `relative` ("../x", "a/../../x"): refused before
// the kernel is asked, with a message that says so.
bool climbsOut(std::string_view relative) {
  int depth = 0;
  size_t start = 0;
  while (start <= relative.size()) {
    size_t end = relative.find('/', start);
    if (end == std::string_view::npos) end = relative.size();
    const std::string_view part = relative.substr(start, end - start);
    if (part == "..") {
      if (--depth < 0) return true;
    } else if (!part.empty() && part != ".") {
      ++depth;
    }
    start = end + 1;
  }
  return false;
}

enum class Found { kYes, kMissing };

// Opens and reads `relative` beneath `folder`. kMissing (with an OK status) when it is not
// there, so the next folder is tried.
Result<std::string> readBeneath(const std::string& folder, const std::string& relative,
                                const std::string& who, size_t max_bytes, Found* found) {
  *found = Found::kYes;
  Fd dir(::open(folder.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir.ok()) {
    if (errno == ENOENT) {
      *found = Found::kMissing;
      return std::string();
    }
    return Status::error(who + ": the folder " + folder +
                         " cannot be opened: " + std::strerror(errno));
  }
  // First without opening the file itself: a FIFO or a device is refused before it is opened.
  Fd path(openBeneath(dir.get(), relative, O_PATH | O_CLOEXEC));
  if (!path.ok()) {
    switch (errno) {
      case ENOENT:
        *found = Found::kMissing;
        return std::string();
      case EXDEV:
        return Status::error(StatusCode::kInvalidArgument,
                             who + " leads out of " + folder +
                                 " (through \"..\" or a symbolic link); keep the file, and any "
                                 "link to it, inside that folder (links relative to it)");
      case ELOOP:
        return Status::error(StatusCode::kInvalidArgument,
                             who +
                                 " loops through symbolic links, or goes through one of "
                                 "/proc's; name the file itself");
      case ENOTDIR:
        return Status::error(StatusCode::kInvalidArgument,
                             who + " goes through something that is not a folder in " + folder);
      case EACCES:
        return Status::error(StatusCode::kInvalidArgument,
                             who + " in " + folder +
                                 " cannot be read by muzzled (permission denied); make it "
                                 "readable by muzzled's user");
      default:
        return Status::error(who + " cannot be opened in " + folder + ": " + std::strerror(errno));
    }
  }
  struct stat before;
  if (::fstat(path.get(), &before) != 0) {
    return Status::error(who + " cannot be examined: " + std::strerror(errno));
  }
  if (Status s = checkStat(before, who, max_bytes); !s.ok()) return s;
  Fd file(openBeneath(dir.get(), relative, kReadFlags));
  if (!file.ok()) {
    if (errno == EACCES) {
      return Status::error(StatusCode::kInvalidArgument,
                           who + " in " + folder +
                               " cannot be read by muzzled (permission denied); make it readable "
                               "by muzzled's user");
    }
    return Status::error(who + " cannot be opened in " + folder + ": " + std::strerror(errno));
  }
  struct stat st;
  if (::fstat(file.get(), &st) != 0) {
    return Status::error(who + " cannot be examined: " + std::strerror(errno));
  }
  if (st.st_dev != before.st_dev || st.st_ino != before.st_ino) {
    return Status::error(StatusCode::kInvalidArgument,
                         who + " was replaced while it was opened; try again");
  }
  if (Status s = checkStat(st, who, max_bytes); !s.ok()) return s;
  return readAll(file.get(), st, who, max_bytes);
}

}  // namespace

void setConfinedWalkForTesting(bool on) { walk_for_testing = on; }

Result<std::string> readRegularFile(const std::string& path, size_t max_bytes) {
  Fd file(::open(path.c_str(), kReadFlags));
  if (!file.ok()) {
    if (errno == ENOENT) return Status::error(StatusCode::kNotFound, path + ": no such file");
    return Status::error(path + ": cannot open: " + std::strerror(errno));
  }
  struct stat st;
  if (::fstat(file.get(), &st) != 0) {
    return Status::error(path + ": cannot examine: " + std::strerror(errno));
  }
  if (Status s = checkStat(st, path + ":", max_bytes); !s.ok()) return s;
  return readAll(file.get(), st, path + ":", max_bytes);
}

Result<std::string> readConfinedFile(const std::vector<std::string>& folders, std::string_view name,
                                     size_t max_bytes) {
  const std::string who = quotedExcerpt(name);
  const std::string where = folderList(folders);
  if (name.empty()) {
    return Status::error(StatusCode::kInvalidArgument, "the file name is empty; name a file");
  }
  if (name.find('\0') != std::string_view::npos) {
    return Status::error(StatusCode::kInvalidArgument,
                         who + " holds a NUL byte, which no file name has");
  }
  std::vector<std::string> search;
  std::string relative;
  if (name.front() == '/') {
    // Absolute: only inside the folder it names, and resolved beneath it like a relative name.
    for (const std::string& raw : folders) {
      const std::string folder = withoutTrailingSlashes(raw);
      if (folder.empty() || folder.front() != '/') continue;
      const std::string prefix = folder == "/" ? folder : folder + "/";
      if (name.size() > prefix.size() && name.starts_with(prefix)) {
        search.push_back(folder);
        relative = std::string(name.substr(prefix.size()));
        break;
      }
    }
    if (search.empty()) {
      return Status::error(StatusCode::kInvalidArgument,
                           who + " is outside the folders a policy may name files in (" + where +
                               "); put the file in one of them and name it relative to it");
    }
  } else {
    relative = std::string(name);
    for (const std::string& folder : folders) {
      if (!folder.empty()) search.push_back(withoutTrailingSlashes(folder));
    }
  }
  if (climbsOut(relative)) {
    return Status::error(
        StatusCode::kInvalidArgument,
        who + " climbs out of its folder with \"..\"; name a file inside " + where);
  }
  for (const std::string& folder : search) {
    Found found = Found::kYes;
    auto text = readBeneath(folder, relative, who, max_bytes, &found);
    if (found == Found::kMissing) continue;
    return text;
  }
  return Status::error(StatusCode::kNotFound,
                       who + " does not exist in " + folderList(search) +
                           "; check the name (relative to the policy's folder)");
}

}  // namespace muzzle

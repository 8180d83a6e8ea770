#include "fw/engine/generation_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "fw/nft/marks.h"

namespace muzzle {
namespace {

Status writeFileAtomically(const std::string& dir, const std::string& name, const std::string& content) {
  const std::string path = dir + "/" + name;
  const std::string tmp = path + ".tmp";
  auto fail = [&](const std::string& what) {
    return Status::error(what + " " + tmp + ": " + std::strerror(errno));
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail("cannot create");
  bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return fail("cannot write");
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("cannot rename");
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);  // make the rename itself durable
    ::close(dfd);
  }
  return Status();
}

}  // namespace

Result<uint32_t> GenerationStore::generationFor(const std::string& digest) {
  if (::mkdir(dir_.c_str(), 0750) != 0 && errno != EEXIST) {
    return Status::error("state_dir " + dir_ + ": cannot create: " + std::strerror(errno));
  }
  uint32_t stored = 0;
  std::string stored_digest;
  std::ifstream in(dir_ + "/generation");
  if (in) in >> stored >> stored_digest;
  if (stored >= 1 && stored <= kMaxGeneration && stored_digest == digest) return stored;
  uint32_t next = stored >= kMaxGeneration ? 1 : stored + 1;
  Status s = writeFileAtomically(dir_, "generation", std::to_string(next) + " " + digest + "\n");
  if (!s.ok()) return s.withContext("state_dir: ");
  return next;
}

}  // namespace muzzle

#include "fw/common/thread_priority.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace muzzle {
namespace {

// PRIO_PROCESS with a thread id addresses that one thread (setpriority(2), "BUGS": the nice value
// is a per-thread attribute on Linux).
id_t thisThread() { return static_cast<id_t>(syscall(SYS_gettid)); }

}  // namespace

int currentThreadNice() {
  errno = 0;
  const int nice = getpriority(PRIO_PROCESS, thisThread());
  return errno == 0 ? nice : 0;
}

bool runAsBackgroundThread() {
  const int target = std::max(currentThreadNice(), kBackgroundNice);
  if (setpriority(PRIO_PROCESS, thisThread(), target) != 0) return false;
  return currentThreadNice() >= kBackgroundNice;
}

}  // namespace muzzle

// Runs a function in a forked child and returns the text it produced: for tests that must change
// what a process may do for good (drop to another user, install a seccomp filter) without
// changing it for the test binary.
#pragma once

#include <doctest/doctest.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>

namespace muzzle::testing {

// Forks; the child runs `body` and writes the string it returns to a pipe, then exits at once
// (_exit: no destructors or doctest teardown of the parent's state run twice). The parent reads
// until the child closes the pipe, reaps it and returns what it read. `body` must not return
// through an exception (a doctest REQUIRE in the child would report in the child only).
inline std::string outputOfChild(const std::function<std::string()>& body) {
  int pipefd[2];
  REQUIRE(pipe(pipefd) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(pipefd[0]);
    const std::string out = body();
    (void)!write(pipefd[1], out.data(), out.size());
    _exit(0);
  }
  close(pipefd[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(pipefd[0], buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  close(pipefd[0]);
  waitpid(pid, nullptr, 0);
  return out;
}

}  // namespace muzzle::testing

// Times the policy compile alone, in one process, as muzzled runs it on a reload (compile_ms of
// `event=policy-reloaded`), without a lab: compilePolicyFile once cold (first_*: as the load at
// start, on a fresh heap), then RUNS times (default 5) again. Prints one JSON line: the wall and
// CPU milliseconds of the first and of each later run, and the later runs' medians.
//   build/tests/bench/bench_compile POLICY.yaml [RUNS] [--daemon [--trim] [--no-list-cache]]
// Plain, each compile frees the one before it first, so the next reuses its memory (warm: the
// least a compile costs), and parses every list file. --daemon does what muzzled's reload does:
// malloc is tuned as muzzled's (CompileQueue::tuneMalloc), each compile runs on the thread of a
// CompileQueue (mgmt/revisions/compile_queue.h, muzzled's compile thread) while the previous
// policy is still installed (so it needs memory of its own), then the previous one is freed on
// the main thread (muzzled's engine thread), its memory left to the allocator for the next
// compile; and list files whose text did not change are not parsed again (muzzled's ListCache,
// fw/policy/list_cache.h: "list_hits" counts the reuses). --no-list-cache parses them every
// time, as a reload after the list itself changed. --trim gives the memory back after each swap
// (malloc_trim(0), as muzzled did until 2026-12-04): the next compile then faults every page in
// again.
// No site facts (as `muzzled --check-policy`): builtins resolve to no addresses.
#include <malloc.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fw/policy/policy_loader.h"
#include "mgmt/revisions/compile_queue.h"

namespace {

double millisecondsOf(clockid_t clock) {
  timespec t{};
  clock_gettime(clock, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

std::string list(const std::vector<double>& values) {
  std::string out;
  char one[32];
  for (double v : values) {
    std::snprintf(one, sizeof one, "%s%.1f", out.empty() ? "" : ",", v);
    out += one;
  }
  return "[" + out + "]";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const bool daemon = std::erase(args, "--daemon") > 0;
  const bool trim = std::erase(args, "--trim") > 0;
  const bool no_cache = std::erase(args, "--no-list-cache") > 0;
  if (args.empty() || args.size() > 2 || ((trim || no_cache) && !daemon)) {
    std::fprintf(stderr,
                 "usage: bench_compile POLICY.yaml [RUNS] [--daemon [--trim] [--no-list-cache]]\n");
    return 2;
  }
  const std::string path = args[0];
  const int runs = args.size() == 2 ? std::max(1, std::atoi(args[1].c_str())) : 5;
  std::vector<double> wall, cpu;
  size_t devices = 0;
  double first_wall = 0, first_cpu = 0;
  std::shared_ptr<const muzzle::CompiledPolicy> installed;  // --daemon: the running policy
  std::optional<muzzle::CompileQueue> compile_queue;  // --daemon: muzzled's compile thread
  if (daemon) {
    muzzle::CompileQueue::tuneMalloc();  // as muzzled's main
    compile_queue.emplace();
  }
  muzzle::ListCache list_cache;  // --daemon: muzzled's
  muzzle::ListCache* lists = daemon && !no_cache ? &list_cache : nullptr;
  for (int i = 0; i <= runs; ++i) {
    double w0 = 0, w1 = 0, c0 = 0, c1 = 0;
    std::optional<muzzle::PolicyCompileResult> compiled;
    auto compile = [&] {  // the thread's own CPU time: in --daemon mode it is not main's
      w0 = millisecondsOf(CLOCK_MONOTONIC);
      c0 = millisecondsOf(CLOCK_THREAD_CPUTIME_ID);
      compiled.emplace(muzzle::compilePolicyFile(path, muzzle::SiteFacts{}, "", {}, lists));
      c1 = millisecondsOf(CLOCK_THREAD_CPUTIME_ID);
      w1 = millisecondsOf(CLOCK_MONOTONIC);
    };
    if (daemon) {
      std::promise<void> done;
      const muzzle::Status queued = compile_queue->submit([&] {
        compile();
        done.set_value();
      });
      if (!queued.ok()) {  // one job at a time: never more than its bound
        std::fprintf(stderr, "%s\n", queued.message().c_str());
        return 1;
      }
      done.get_future().wait();
    } else {
      compile();
    }
    if (!compiled->ok()) {
      std::fprintf(stderr, "%s\n", compiled->status().message().c_str());
      return 1;
    }
    devices = (**compiled)->devices.size();
    if (daemon) {  // the swap: the old policy goes
      installed = std::move(*compiled).value();
      if (trim) malloc_trim(0);
    }
    if (i == 0) {  // as muzzled's load at start: fresh heap, cold caches
      first_wall = w1 - w0;
      first_cpu = c1 - c0;
      continue;
    }
    wall.push_back(w1 - w0);
    cpu.push_back(c1 - c0);
  }
  std::printf(
      "{\"policy\":\"%s\",\"mode\":\"%s\",\"devices\":%zu,\"first_wall_ms\":%.1f,"
      "\"first_cpu_ms\":%.1f,\"wall_ms\":%s,\"cpu_ms\":%s,\"median_wall_ms\":%.1f,"
      "\"median_cpu_ms\":%.1f,\"list_hits\":%zu}\n",
      path.c_str(),
      !daemon   ? "warm"
      : trim    ? "daemon-trim"
      : !lists  ? "daemon-no-list-cache"
                : "daemon",
      devices, first_wall, first_cpu, list(wall).c_str(), list(cpu).c_str(), median(wall),
      median(cpu), list_cache.hits());
  return 0;
}

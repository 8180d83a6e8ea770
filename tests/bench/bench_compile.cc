// Times the policy compile alone, in one process, as muzzled runs it on a reload (compile_ms of
// `event=policy-reloaded`), without a lab: compilePolicyFile once cold (first_*: as the load at
// start, on a fresh heap), then RUNS times (default 5) warm, as a running daemon's reloads are.
// Prints one JSON line: the wall and CPU milliseconds of the first and of each warm run, and the
// warm runs' medians.
//   build/tests/bench/bench_compile POLICY.yaml [RUNS]
// No site facts (as `muzzled --check-policy`): builtins resolve to no addresses.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fw/policy/policy_loader.h"

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
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: bench_compile POLICY.yaml [RUNS]\n");
    return 2;
  }
  const std::string path = argv[1];
  const int runs = argc == 3 ? std::max(1, std::atoi(argv[2])) : 5;
  std::vector<double> wall, cpu;
  size_t devices = 0;
  double first_wall = 0, first_cpu = 0;
  for (int i = 0; i <= runs; ++i) {
    const double w0 = millisecondsOf(CLOCK_MONOTONIC);
    const double c0 = millisecondsOf(CLOCK_PROCESS_CPUTIME_ID);
    auto compiled = muzzle::compilePolicyFile(path, muzzle::SiteFacts{}, "");
    const double c1 = millisecondsOf(CLOCK_PROCESS_CPUTIME_ID);
    const double w1 = millisecondsOf(CLOCK_MONOTONIC);
    if (!compiled.ok()) {
      std::fprintf(stderr, "%s\n", compiled.status().message().c_str());
      return 1;
    }
    devices = (*compiled)->devices.size();
    if (i == 0) {  // as muzzled's load at start: fresh heap, cold caches
      first_wall = w1 - w0;
      first_cpu = c1 - c0;
      continue;
    }
    wall.push_back(w1 - w0);
    cpu.push_back(c1 - c0);
  }
  std::printf(
      "{\"policy\":\"%s\",\"devices\":%zu,\"first_wall_ms\":%.1f,\"first_cpu_ms\":%.1f,"
      "\"wall_ms\":%s,\"cpu_ms\":%s,\"median_wall_ms\":%.1f,\"median_cpu_ms\":%.1f}\n",
      path.c_str(), devices, first_wall, first_cpu, list(wall).c_str(), list(cpu).c_str(),
      median(wall), median(cpu));
  return 0;
}

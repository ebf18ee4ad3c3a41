// Why: the benchmark's timer. A command's peak RSS (wait4's ru_maxrss) counts the memory of
// the process it was forked from until it execs, so commands timed from Python would all
// show Python's 16 MiB. This small program forks each command itself, times whole iterations
// with CLOCK_MONOTONIC and prints, per run, the wall time and the largest peak RSS of its
// steps.
//
//   ovlmount-bench-spawn RUNS WARMUP STEP [";;" STEP]...     (STEP: a program and its arguments)
//
// Each run executes the steps one after the other (stdout to /dev/null, stderr kept) and
// prints "<nanoseconds> <KiB>". Exits 1, after the failing step's stderr, when a step fails.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>

namespace {

using Step = std::vector<char*>;

long long now_ns() {
  timespec t{};
  ::clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<long long>(t.tv_sec) * 1000000000LL + t.tv_nsec;
}

// Runs `step` to completion; returns its peak RSS in KiB, or -1 when it failed.
long run_step(Step& step) {
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null < 0 || ::dup2(null, 1) < 0) ::_exit(127);
    ::execvp(step[0], step.data());
    std::fprintf(stderr, "ovlmount-bench-spawn: %s: %s\n", step[0], std::strerror(errno));
    ::_exit(127);
  }
  int status = 0;
  rusage usage{};
  while (::wait4(pid, &status, 0, &usage) < 0)
    if (errno != EINTR) return -1;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "ovlmount-bench-spawn: %s failed (status %d)\n", step[0], status);
    return -1;
  }
  return usage.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: ovlmount-bench-spawn RUNS WARMUP STEP [;; STEP]...\n");
    return 2;
  }
  const int runs = std::atoi(argv[1]);
  const int warmup = std::atoi(argv[2]);
  std::vector<Step> steps(1);
  for (int i = 3; i < argc; ++i) {
    if (std::strcmp(argv[i], ";;") == 0) {
      steps.emplace_back();
      continue;
    }
    steps.back().push_back(argv[i]);
  }
  for (Step& step : steps) {
    if (step.empty()) return 2;
    step.push_back(nullptr);
  }
  for (int run = -warmup; run < runs; ++run) {
    const long long start = now_ns();
    long peak = 0;
    for (Step& step : steps) {
      const long rss = run_step(step);
      if (rss < 0) return 1;
      peak = rss > peak ? rss : peak;
    }
    const long long elapsed = now_ns() - start;
    if (run >= 0) std::printf("%lld %ld\n", elapsed, peak);
  }
  return 0;
}

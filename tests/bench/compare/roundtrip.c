// roundtrip: the cost of the cheapest request a filesystem answers, for the benchmark's FUSE floor.
//
//   roundtrip PATH
//
// Calls getxattr(2) on PATH for a name that does not exist, 5 rounds of 40,000 calls, and prints
// "calls=N best_us=B median_us=M": the mean time of one call in the fastest round and in the
// median round, in microseconds. On a FUSE mount every call is one round trip to the daemon
// (a GETXATTR request answered ENODATA, which costs the daemon next to nothing), so the figure
// is what any request costs at least; on a kernel filesystem it is a system call. Exits 1 when a
// call succeeds or fails with anything but ENODATA (or ENOTSUP, for a filesystem without user
// xattrs), 2 for bad usage.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <time.h>

enum { kRounds = 5, kCallsPerRound = 40000 };

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int compare_doubles(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: roundtrip PATH\n");
    return 2;
  }
  const char* path = argv[1];
  double per_call[kRounds];
  char value[16];
  for (int round = 0; round < kRounds; ++round) {
    const double start = now_seconds();
    for (int i = 0; i < kCallsPerRound; ++i) {
      if (getxattr(path, "user.zsfs-bench.none", value, sizeof value) >= 0) {
        fprintf(stderr, "roundtrip: %s has user.zsfs-bench.none; expected no such attribute\n", path);
        return 1;
      }
      if (errno != ENODATA && errno != ENOTSUP) {
        fprintf(stderr, "roundtrip: getxattr %s: %s\n", path, strerror(errno));
        return 1;
      }
    }
    per_call[round] = (now_seconds() - start) / kCallsPerRound * 1e6;
  }
  qsort(per_call, kRounds, sizeof per_call[0], compare_doubles);
  printf("calls=%d best_us=%.3f median_us=%.3f\n", kRounds * kCallsPerRound, per_call[0],
         per_call[kRounds / 2]);
  return 0;
}

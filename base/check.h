// ZSFS_CHECK: a broken invariant is a bug, not an error. It logs where and what, then aborts.
//
// Checks stay on in release builds: the core's invariants guard users' data, and a crash that
// names the broken invariant is better than a filesystem that returns wrong bytes.
// ZSFS_DCHECK is for checks too costly for hot paths in release builds.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace zsfs::detail {

[[noreturn]] inline void check_failed(const char* file, int line, const char* expr,
                                      const char* message) {
  std::fprintf(stderr, "zsfs: invariant broken at %s:%d: %s%s%s\n", file, line, expr,
               message[0] != '\0' ? ": " : "", message);
  std::fflush(stderr);
  std::abort();
}

}  // namespace zsfs::detail

#define ZSFS_CHECK_MSG(cond, message)                                     \
  do {                                                                    \
    if (__builtin_expect(!(cond), 0)) {                                   \
      ::zsfs::detail::check_failed(__FILE__, __LINE__, #cond, (message)); \
    }                                                                     \
  } while (0)

#define ZSFS_CHECK(cond) ZSFS_CHECK_MSG(cond, "")

#ifdef NDEBUG
#define ZSFS_DCHECK(cond) \
  do {                    \
  } while (0)
#else
#define ZSFS_DCHECK(cond) ZSFS_CHECK(cond)
#endif

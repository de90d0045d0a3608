// request_loop: how zsfs takes requests from /dev/fuse, and how many threads it spends on them.
//
// threads=N (N > 1) is libfuse's multi-threaded loop. threads=1, the default, is zsfs's own loop,
// which spends threads only where they pay for themselves on the host it runs on:
//
// - Polling. A reply wakes the client, whose next request often comes within microseconds;
//   caught by polling the device, it costs this thread no sleep and wake-up, which dominate a
//   metadata request. Each poll is a system call, though, and on hosts where system calls are
//   dear (a hypervisor's trap on each) polling that rarely finds anything doubles the daemon's
//   CPU time. The PollGovernor learns how long clients take to ask again (the gaps) and polls
//   for the shortest of a few windows that catches at least half of them, or not at all.
//
// - A second request thread, on demand. One thread serves one request at a time, which caps
//   concurrent clients (4 fio jobs reading at random) at one request per round trip. When the
//   next request is already waiting each time the thread looks, several times running, and
//   another one waits behind it (a fast client alone can have its next request in before the
//   thread is back, but never two), the loop wakes a helper thread that serves beside it; the
//   helper goes back to sleep once it has waited kHelperLinger without a request. Serial
//   clients (tar, cp, a build's compiler) never queue two requests, so they never pay for the
//   second thread's wake-ups. One-way messages (forgets, interrupts), which arrive in bursts
//   whoever sends them, do not count.
//
// - Idle memory. Each thread's receive and reply buffers (over 1 MiB each, see thread_buffers.h)
//   give their pages back to the system when the thread goes idle, and its zstd contexts are
//   freed: the helper's as it parks. The first thread goes further: it serves in a turn of its
//   own, a thread that ends after kIdleReleaseAfter without a request (the helper with it), and
//   the next request starts another. Ending is the only way a thread gives back glibc's
//   per-thread cache of freed chunks (tcache, up to 7 of each size under 1 KiB): after a large
//   deletion those few chunks sat on hundreds of otherwise free heap pages that no malloc_trim()
//   could return (415 pages, 1.6 MiB, of the 4.3 MiB of anonymous memory left after the Linux
//   tree was deleted). The process's first thread only waits: for a turn to end, then for the
//   next request, with signals unblocked, so that a signal asking to stop interrupts it and it
//   passes the stop on.
//
// The decisions (PollGovernor, BacklogDetector) are in request_policy.h, apart from FUSE.
#pragma once

#include <chrono>

#include "mount/request_policy.h"

struct fuse_session;

namespace zsfs::mount {

// How long the helper thread waits for a request before it goes back to sleep.
inline constexpr auto kHelperLinger = std::chrono::milliseconds(5);
// How long a serving thread waits for a request before its turn ends (a parked helper gives back
// its idle memory as it parks).
inline constexpr auto kIdleReleaseAfter = std::chrono::seconds(1);

// Serves requests until unmounted or signalled; returns an exit status (kExitOk, or
// kExitFailure with the reason logged).
int serve_until_unmounted(fuse_session* session, unsigned threads);

}  // namespace zsfs::mount

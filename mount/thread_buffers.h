// thread_buffers: the large buffers each request thread keeps, and giving their pages back when
// the thread goes idle.
//
// A request thread holds two buffers sized for the largest request (max_write, 1 MiB, plus a
// header): libfuse's receive buffer (the mem of a fuse_buf the request loop owns, which libfuse
// allocates with malloc) and the reply buffer below, which READ replies and WRITE data that
// arrives in pieces are gathered in. Each is allocated once and kept, sparing an allocation per
// request; but once a 1 MiB READ or WRITE has passed, every page of it is resident, and would
// stay so for the life of the thread. release_idle_pages() drops those pages (madvise
// MADV_DONTNEED, best effort: a failure leaves them resident, nothing else) while keeping the
// allocations: the request loop calls it as its second thread parks, so an idle mount holds a few
// pages of them, and the next request faults in what it uses (the first thread's buffers go with
// it when its turn ends, see request_loop.h).
//
// Invariants: a released buffer keeps its address and size; its contents read as zeros, which
// neither buffer relies on (each request overwrites what it uses). Only whole pages inside an
// allocation are dropped. Thread safety: everything here is the calling thread's own. No FUSE
// here (the request loop passes its buffer's memory), so unit tests do without libfuse.
#pragma once

#include <cstddef>
#include <span>

namespace zsfs::mount {

// This thread's reply buffer, at least size bytes (grown, never shrunk); valid until the next
// call from the same thread.
std::span<std::byte> thread_buffer(size_t size);

// Gives the pages of this thread's reply buffer and of receive_buffer (memory from malloc, such
// as libfuse's receive buffer; may be null) back to the system.
void release_idle_pages(void* receive_buffer);

}  // namespace zsfs::mount

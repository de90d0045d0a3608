// thread_buffers (see thread_buffers.h).
#include "mount/thread_buffers.h"

#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

namespace zsfs::mount {

namespace {

thread_local std::vector<std::byte> t_reply_buffer;

// madvise(MADV_DONTNEED) on the whole pages inside [begin, begin + size).
void drop_whole_pages(void* begin, size_t size) {
  if (begin == nullptr) return;
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto start = reinterpret_cast<uintptr_t>(begin);
  const uintptr_t first = (start + page - 1) & ~(page - 1);
  const uintptr_t end = (start + size) & ~(page - 1);
  if (end > first) madvise(reinterpret_cast<void*>(first), end - first, MADV_DONTNEED);
}

}  // namespace

std::span<std::byte> thread_buffer(size_t size) {
  if (t_reply_buffer.size() < size) t_reply_buffer.resize(size);
  return {t_reply_buffer.data(), size};
}

void release_idle_pages(void* receive_buffer) {
  drop_whole_pages(t_reply_buffer.data(), t_reply_buffer.size());
  // libfuse allocates it at its session's buffer size, which a fuse_buf does not record (its
  // size is the last request's); the allocation's usable size covers it.
  if (receive_buffer != nullptr) {
    drop_whole_pages(receive_buffer, malloc_usable_size(receive_buffer));
  }
}

}  // namespace zsfs::mount

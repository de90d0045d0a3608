// thread_buffers: the reply buffer grows to the largest size asked and keeps its memory;
// release_idle_pages() makes the pages of it and of a receive buffer non-resident (mincore) while
// both stay usable, reading as zeros; a null receive buffer is fine.
#include "mount/thread_buffers.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

namespace zsfs::mount {
namespace {

constexpr size_t kBufferBytes = (1 << 20) + 4096;  // libfuse's: max_write and a header

// Resident pages among the whole pages inside [mem, mem + size).
size_t resident_pages(const void* mem, size_t size) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto start = reinterpret_cast<uintptr_t>(mem);
  const uintptr_t first = (start + page - 1) & ~(page - 1);
  const uintptr_t end = (start + size) & ~(page - 1);
  std::vector<unsigned char> resident((end - first) / page);
  EXPECT_EQ(mincore(reinterpret_cast<void*>(first), end - first, resident.data()), 0);
  return static_cast<size_t>(
      std::count_if(resident.begin(), resident.end(), [](unsigned char r) { return r & 1; }));
}

TEST(ThreadBuffers, TheReplyBufferGrowsAndKeepsItsMemory) {
  const std::span<std::byte> small = thread_buffer(100);
  EXPECT_EQ(small.size(), 100u);
  const std::span<std::byte> large = thread_buffer(kBufferBytes);
  EXPECT_EQ(large.size(), kBufferBytes);
  std::memset(large.data(), 0x5a, large.size());
  const std::span<std::byte> again = thread_buffer(4096);
  EXPECT_EQ(again.data(), large.data());  // not shrunk, not moved
  EXPECT_EQ(again[4095], std::byte{0x5a});
}

TEST(ThreadBuffers, IdlePagesGoBackAndTheBuffersStayUsable) {
  const std::span<std::byte> reply = thread_buffer(kBufferBytes);
  std::memset(reply.data(), 0x11, reply.size());
  void* receive = std::malloc(kBufferBytes);
  ASSERT_NE(receive, nullptr);
  std::memset(receive, 0x22, kBufferBytes);
  const size_t pages = kBufferBytes / 4096;
  ASSERT_GE(resident_pages(reply.data(), reply.size()), pages - 1);
  ASSERT_GE(resident_pages(receive, kBufferBytes), pages - 1);

  release_idle_pages(receive);
  // Only the partial pages at either end may stay.
  EXPECT_LE(resident_pages(reply.data(), reply.size()), 2u);
  EXPECT_LE(resident_pages(receive, kBufferBytes), 2u);

  // Still there, same place, zeros where whole pages were dropped.
  const std::span<std::byte> after = thread_buffer(kBufferBytes);
  EXPECT_EQ(after.data(), reply.data());
  EXPECT_EQ(after[kBufferBytes / 2], std::byte{0});
  after[kBufferBytes / 2] = std::byte{7};
  EXPECT_EQ(after[kBufferBytes / 2], std::byte{7});
  EXPECT_EQ(static_cast<unsigned char*>(receive)[kBufferBytes / 2], 0);
  std::free(receive);
}

TEST(ThreadBuffers, ANullReceiveBufferReleasesTheReplyBufferAlone) {
  const std::span<std::byte> reply = thread_buffer(kBufferBytes);
  std::memset(reply.data(), 0x33, reply.size());
  release_idle_pages(nullptr);
  EXPECT_LE(resident_pages(reply.data(), reply.size()), 2u);
}

}  // namespace
}  // namespace zsfs::mount

// Helpers shared by the pool tests: deterministic byte patterns, the test seed, resident memory.
//
// Owns nothing. A pattern is a pure function of (seed, length), so a test can refill or verify
// an object's bytes from its seed alone.
#pragma once

#include <unistd.h>

#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>

namespace zsfs::pool::testing {

// splitmix64: a tiny, good-enough mixer for test data and seeds.
inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

inline void fill_pattern(std::span<std::byte> bytes, uint64_t seed) {
  uint64_t word = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i % 8 == 0) word = mix64(seed + i);
    bytes[i] = static_cast<std::byte>(word >> (8 * (i % 8)));
  }
}

// Index of the first byte that differs from the pattern, or bytes.size() when all match.
inline size_t pattern_mismatch(std::span<const std::byte> bytes, uint64_t seed) {
  uint64_t word = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i % 8 == 0) word = mix64(seed + i);
    if (bytes[i] != static_cast<std::byte>(word >> (8 * (i % 8)))) return i;
  }
  return bytes.size();
}

// The seed for a randomized test: ZSFS_TEST_SEED from the environment if set (to replay a
// failure), else fallback.
inline uint64_t test_seed(uint64_t fallback) {
  if (const char* env = std::getenv("ZSFS_TEST_SEED"); env != nullptr && env[0] != '\0') {
    return std::strtoull(env, nullptr, 0);
  }
  return fallback;
}

// The process's resident set size in bytes, from /proc/self/statm.
inline uint64_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long long size_pages = 0;
  unsigned long long resident_pages = 0;
  const int n = std::fscanf(f, "%llu %llu", &size_pages, &resident_pages);
  std::fclose(f);
  if (n != 2) return 0;
  return resident_pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

// True when built with a sanitizer whose shadow memory or allocator changes RSS behaviour.
constexpr bool kSanitized =
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    true;
#else
    false;
#endif
#else
    false;
#endif

constexpr bool kThreadSanitized =
#if defined(__SANITIZE_THREAD__)
    true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
    true;
#else
    false;
#endif
#else
    false;
#endif

}  // namespace zsfs::pool::testing

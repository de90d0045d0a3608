// Helpers shared by the fs unit tests: a filesystem with a small budget, byte-string I/O, and
// the consistency check as an assertion.
#pragma once

#include <cstdlib>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "fs/filesystem.h"

namespace zsfs::fs::testing {

inline Config small_config(uint64_t size_bytes = 64 << 20, uint64_t nr_inodes = 10000) {
  Config config;
  config.size_bytes = size_bytes;
  config.nr_inodes = nr_inodes;
  config.root_mode = 0755;
  config.auto_compact = false;  // tests compact when they mean to
  return config;
}

inline std::unique_ptr<Filesystem> make_fs(const Config& config = small_config()) {
  Result<std::unique_ptr<Filesystem>> fs = Filesystem::create(config);
  EXPECT_TRUE(fs.ok());
  return fs.ok() ? std::move(*fs) : nullptr;
}

inline std::span<const std::byte> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// Writes s at offset and expects all of it written.
inline void write_str(Filesystem& fs, Ino ino, uint64_t offset, std::string_view s) {
  Result<size_t> written = fs.write(ino, offset, as_bytes(s), false);
  ASSERT_TRUE(written.ok()) << "errno " << written.error();
  ASSERT_EQ(*written, s.size());
}

// Reads up to length bytes at offset.
inline std::string read_str(Filesystem& fs, Ino ino, uint64_t offset, size_t length) {
  std::string out(length, '\0');
  Result<size_t> got = fs.read(ino, offset, {reinterpret_cast<std::byte*>(out.data()), out.size()});
  EXPECT_TRUE(got.ok());
  out.resize(got.ok() ? *got : 0);
  return out;
}

inline Caller user(uint32_t uid = 1000, uint32_t gid = 1000) {
  return Caller{uid, gid, 1};
}

// Data that compresses about 2:1 and differs with seed.
inline std::string text_block(uint64_t seed, size_t length = 4096) {
  std::mt19937_64 rng(seed);
  static constexpr std::string_view kWords[] = {"alpha ",   "beta ", "gamma ", "delta ",
                                                "epsilon ", "zeta ", "eta ",   "theta "};
  std::string s;
  while (s.size() < length) {
    s += kWords[rng() % 8];
    if (rng() % 5 == 0) s += std::to_string(rng() % 100000);
  }
  s.resize(length);
  return s;
}

inline std::string random_bytes(uint64_t seed, size_t length) {
  std::mt19937_64 rng(seed);
  std::string s(length, '\0');
  for (char& c : s)
    c = static_cast<char>(rng());
  return s;
}

#define EXPECT_FS_CONSISTENT(fs)                                        \
  do {                                                                  \
    const std::string report = (fs).check();                            \
    EXPECT_NE(report.find("\"ok\":true"), std::string::npos) << report; \
  } while (0)

// A fresh filesystem for each test, checked for consistency at its end, and the accessors most
// tests use.
class FsTest : public ::testing::Test {
 protected:
  void SetUp() override { fs_ = make_fs(); }
  void TearDown() override {
    if (fs_) EXPECT_FS_CONSISTENT(*fs_);
  }

  Attr attr(Ino ino) { return *fs_->getattr(ino); }
  static int error_of(const Status& s) { return s.ok() ? 0 : s.error(); }
  template <class T>
  static int error_of(const Result<T>& r) {
    return r.ok() ? 0 : r.error();
  }

  std::unique_ptr<Filesystem> fs_;
};

// The seed of a randomized test: ZSFS_TEST_SEED when set, else a fresh one. Printed by the
// caller through SCOPED_TRACE so that a failure can be replayed.
inline uint64_t test_seed() {
  if (const char* env = std::getenv("ZSFS_TEST_SEED")) return std::strtoull(env, nullptr, 10);
  return std::random_device{}();
}

}  // namespace zsfs::fs::testing

// A model-based randomized test of the filesystem core: random operations (create, write, read,
// truncate, punch, zero range, link, unlink, rename, copy_file_range) against an in-test model
// of names and file contents. File contents are compared byte for byte, the core's consistency
// check (reference counts, accounting, link counts) runs every few steps, and after everything
// is deleted memory must return to the figure of the empty filesystem.
//
// The seed is printed on failure; set ZSFS_TEST_SEED to replay it, ZSFS_TEST_STEPS for a longer
// run.
#include <fcntl.h>
#include <linux/falloc.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "fs/filesystem.h"
#include "tests/unit/fs/fs_test_util.h"

namespace zsfs::fs {
namespace {

using testing::as_bytes;

struct ModelFile {
  std::string data;
  uint32_t links = 0;
  uint64_t lookups = 0;
};

class FsModel {
 public:
  FsModel(Filesystem& fs, uint64_t seed) : fs_(fs), rng_(seed) {
    dirs_ = {kRootIno, fs.mkdir(kRootIno, "sub", 0755, testing::user())->ino};
  }

  void step() {
    switch (pick(10)) {
      case 0:
        create();
        break;
      case 1:
      case 2:
      case 3:
        write();
        break;
      case 4:
        truncate();
        break;
      case 5:
        punch_or_zero();
        break;
      case 6:
        link_or_unlink();
        break;
      case 7:
        rename();
        break;
      case 8:
        copy();
        break;
      default:
        break;
    }
    verify_one();
  }

  void verify_all() {
    for (const auto& [ino, file] : files_)
      verify(ino);
  }

  // Unlinks every name and drops every lookup, as the kernel would after rm -rf.
  void remove_everything() {
    for (const auto& [key, ino] : names_) {
      ASSERT_TRUE(fs_.unlink(key.first, key.second).ok());
    }
    names_.clear();
    for (auto& [ino, file] : files_)
      fs_.forget(ino, file.lookups);
    files_.clear();
    ASSERT_TRUE(fs_.rmdir(kRootIno, "sub").ok());
    fs_.forget(dirs_[1], 1);
  }

 private:
  using Key = std::pair<Ino, std::string>;

  uint64_t pick(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }

  // Offsets cluster near block boundaries and the start, with some far out.
  uint64_t offset() {
    switch (pick(4)) {
      case 0:
        return pick(3 * 4096);
      case 1:
        return pick(64) * 4096 + pick(3) * 2047;
      case 2:
        return pick(1 << 20);
      default:
        return (uint64_t{4} << 20) + pick(8192);  // sparse
    }
  }
  size_t length() { return pick(2) == 0 ? static_cast<size_t>(pick(9000)) : 4096 * (1 + pick(8)); }

  std::string content(size_t n) {
    switch (pick(5)) {
      case 0:
        return std::string(n, '\0');
      case 1:
        return std::string(n, static_cast<char>('a' + pick(3)));  // same-filled
      case 2:
        return testing::random_bytes(rng_(), n);
      case 3: {
        // Repeat bytes of an existing file: dedup candidates.
        if (!files_.empty()) {
          const std::string& src =
              std::next(files_.begin(), static_cast<long>(pick(files_.size())))->second.data;
          if (src.size() >= n) return src.substr(0, n);
        }
        return testing::text_block(pick(8), n);
      }
      default:
        return testing::text_block(pick(8), n);
    }
  }

  Ino random_file() {
    if (files_.empty()) return 0;
    return std::next(files_.begin(), static_cast<long>(pick(files_.size())))->first;
  }

  void create() {
    const Ino dir = dirs_[pick(2)];
    const std::string name = "f" + std::to_string(pick(40));
    Result<Attr> a = fs_.create(dir, name, 0644, O_RDWR, testing::user());
    if (names_.count({dir, name})) {
      EXPECT_FALSE(a.ok());
      return;
    }
    ASSERT_TRUE(a.ok()) << a.error();
    fs_.release(a->ino);
    names_[{dir, name}] = a->ino;
    ModelFile& f = files_[a->ino];
    f.links = 1;
    f.lookups = 1;
  }

  void write() {
    const Ino ino = random_file();
    if (ino == 0) return;
    const uint64_t at = offset();
    const std::string data = content(length());
    Result<size_t> w = fs_.write(ino, at, as_bytes(data), false);
    ASSERT_TRUE(w.ok()) << w.error();
    ASSERT_EQ(*w, data.size());
    if (data.empty()) return;  // a write of nothing leaves the size alone, even past the end
    std::string& model = files_[ino].data;
    if (model.size() < at + data.size()) model.resize(at + data.size(), '\0');
    model.replace(at, data.size(), data);
  }

  void truncate() {
    const Ino ino = random_file();
    if (ino == 0) return;
    std::string& model = files_[ino].data;
    const uint64_t size = pick(2) == 0 ? pick(model.size() + 1) : offset();
    SetAttr change;
    change.size = size;
    ASSERT_TRUE(fs_.setattr(ino, change, testing::user()).ok());
    model.resize(size, '\0');
  }

  void punch_or_zero() {
    const Ino ino = random_file();
    if (ino == 0) return;
    std::string& model = files_[ino].data;
    const uint64_t at = pick(model.size() + 4096);
    const uint64_t len = 1 + pick(5 * 4096);
    const bool punch = pick(2) == 0;
    const int mode = punch ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
                           : FALLOC_FL_ZERO_RANGE | (pick(2) == 0 ? FALLOC_FL_KEEP_SIZE : 0);
    ASSERT_TRUE(fs_.fallocate(ino, mode, at, len).ok());
    const uint64_t end =
        (mode & FALLOC_FL_KEEP_SIZE) ? std::min<uint64_t>(at + len, model.size()) : at + len;
    if (model.size() < end) model.resize(end, '\0');
    if (at < end) model.replace(at, end - at, std::string(end - at, '\0'));
  }

  void link_or_unlink() {
    if (names_.empty()) return;
    auto it = std::next(names_.begin(), static_cast<long>(pick(names_.size())));
    const Key key = it->first;
    const Ino ino = it->second;
    if (pick(2) == 0) {
      const Ino dir = dirs_[pick(2)];
      const std::string name = "l" + std::to_string(pick(40));
      Result<Attr> a = fs_.link(ino, dir, name);
      if (names_.count({dir, name})) {
        EXPECT_FALSE(a.ok());
        return;
      }
      ASSERT_TRUE(a.ok());
      names_[{dir, name}] = ino;
      ++files_[ino].links;
      ++files_[ino].lookups;
      EXPECT_EQ(a->nlink, files_[ino].links);
      return;
    }
    ASSERT_TRUE(fs_.unlink(key.first, key.second).ok());
    names_.erase(key);
    ModelFile& f = files_[ino];
    if (--f.links == 0) {
      fs_.forget(ino, f.lookups);
      files_.erase(ino);
    }
  }

  void rename() {
    if (names_.empty()) return;
    auto it = std::next(names_.begin(), static_cast<long>(pick(names_.size())));
    const Key from = it->first;
    const Ino ino = it->second;
    const Key to{dirs_[pick(2)], "r" + std::to_string(pick(20))};
    ASSERT_TRUE(fs_.rename(from.first, from.second, to.first, to.second, 0, testing::user()).ok());
    auto victim = names_.find(to);
    if (victim != names_.end() && victim->second != ino) {
      ModelFile& v = files_[victim->second];
      if (--v.links == 0) {
        fs_.forget(victim->second, v.lookups);
        files_.erase(victim->second);
      }
    }
    if (victim != names_.end() && victim->second == ino) return;  // same inode: no-op
    names_.erase(from);
    names_[to] = ino;
  }

  void copy() {
    const Ino in = random_file();
    const Ino out = random_file();
    if (in == 0) return;
    const std::string& src = files_[in].data;
    const uint64_t at_in = pick(2) == 0 ? pick(8) * 4096 : pick(src.size() + 1);
    const uint64_t at_out = pick(2) == 0 ? at_in % 4096 + pick(8) * 4096 : pick(1 << 16);
    const uint64_t len = 1 + pick(12 * 4096);
    Result<size_t> copied = fs_.copy_file_range(in, at_in, out, at_out, len, 0);
    // As the kernel: the length is cut at the source's end first, then overlap is refused.
    const uint64_t expect = at_in >= src.size() ? 0 : std::min<uint64_t>(len, src.size() - at_in);
    if (in == out && at_out < at_in + expect && at_in < at_out + expect) {
      EXPECT_FALSE(copied.ok());
      return;
    }
    ASSERT_TRUE(copied.ok()) << copied.error();
    ASSERT_EQ(*copied, expect);
    if (expect == 0) return;
    std::string& model = files_[out].data;
    if (model.size() < at_out + expect) model.resize(at_out + expect, '\0');
    const std::string piece = src.substr(at_in, expect);
    model.replace(at_out, expect, piece);
  }

  void verify(Ino ino) {
    const std::string& model = files_[ino].data;
    Result<Attr> a = fs_.getattr(ino);
    ASSERT_TRUE(a.ok());
    ASSERT_EQ(a->size, model.size());
    ASSERT_EQ(a->nlink, files_[ino].links);
    for (uint64_t at = 0; at < model.size();) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(256 * 1024, model.size() - at));
      ASSERT_EQ(testing::read_str(fs_, ino, at, n), model.substr(at, n))
          << "ino " << ino << " at " << at;
      at += n;
    }
  }

  void verify_one() {
    const Ino ino = random_file();
    if (ino != 0) verify(ino);
  }

  Filesystem& fs_;
  std::mt19937_64 rng_;
  std::vector<Ino> dirs_;
  std::map<Key, Ino> names_;
  std::map<Ino, ModelFile> files_;
};

TEST(FilesystemModel, RandomOperationsMatchTheModel) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + " (replay with ZSFS_TEST_SEED)");
  const char* steps_env = std::getenv("ZSFS_TEST_STEPS");
  const int steps = steps_env != nullptr ? std::atoi(steps_env) : 1500;

  Config config = testing::small_config(256 << 20);
  config.chain_pages = 4;  // a shorter chain than the default exercises other classes
  auto fs = testing::make_fs(config);
  ASSERT_NE(fs, nullptr);
  const uint64_t empty_bytes = fs->stats().mem_used_total;
  {
    FsModel model(*fs, seed);
    for (int i = 0; i < steps; ++i) {
      SCOPED_TRACE("step " + std::to_string(i));
      model.step();
      if (::testing::Test::HasFatalFailure()) return;
      if (i % 100 == 99) {
        EXPECT_FS_CONSISTENT(*fs);
        if (i % 300 == 299) fs->compact();
      }
    }
    model.verify_all();
    EXPECT_FS_CONSISTENT(*fs);
    model.remove_everything();
    EXPECT_FS_CONSISTENT(*fs);  // which lets the background finish first
    const Stats s = fs->stats();
    EXPECT_EQ(s.mem_used_total, empty_bytes) << s.to_json();
    EXPECT_EQ(s.unique_blocks, 0u);
    EXPECT_EQ(s.pool_pages, 0u);
    EXPECT_EQ(s.logical_bytes, 0u);
  }
}

}  // namespace
}  // namespace zsfs::fs

// Fuzz target: sequences of filesystem core operations, checked against a model of the files'
// bytes, link counts and names, with the core's full consistency check at the end and memory
// back to the empty figure once everything is removed.
//
// Input: a stream of operations, each one opcode byte and a few argument bytes; running out of
// bytes ends the sequence. A mismatch or a broken invariant aborts (ZSFS_CHECK), which the fuzzer
// reports with the input that caused it.
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "base/check.h"
#include "fs/filesystem.h"

namespace {

using zsfs::fs::Filesystem;
using zsfs::fs::Ino;
using zsfs::fs::kRootIno;

class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint32_t u16() { return static_cast<uint32_t>(byte()) | static_cast<uint32_t>(byte()) << 8; }
  // Offsets near block boundaries and the start are the interesting ones.
  uint64_t offset() {
    const uint32_t v = u16();
    switch (v % 4) {
      case 0:
        return v % 9000;
      case 1:
        return (v >> 2) % 32 * 4096;
      case 2:
        return (v >> 2) % 32 * 4096 + 4095;
      default:
        return (uint64_t{1} << 20) + v;
    }
  }
  size_t length() { return u16() % (5 * 4096) + 1; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

struct File {
  std::string bytes;
  uint32_t links = 0;
  uint64_t lookups = 0;
};

std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

class Runner {
 public:
  explicit Runner(Filesystem& fs) : fs_(fs) {}

  void run(Input& in) {
    int budget = 200;  // operations per input, to keep each run short
    while (!in.empty() && budget-- > 0)
      step(in);
    for (const auto& [ino, file] : files_)
      verify(ino);
  }

  void remove_everything() {
    for (const auto& [name, ino] : names_)
      ZSFS_CHECK(fs_.unlink(kRootIno, name).ok());
    for (const auto& [ino, file] : files_)
      fs_.forget(ino, file.lookups);
    names_.clear();
    files_.clear();
  }

 private:
  std::string name(Input& in) { return std::string(1, static_cast<char>('a' + in.byte() % 5)); }

  Ino ino_of(const std::string& n) {
    auto it = names_.find(n);
    return it == names_.end() ? 0 : it->second;
  }

  void drop_link(Ino ino) {
    File& f = files_[ino];
    if (--f.links == 0) {
      fs_.forget(ino, f.lookups);
      files_.erase(ino);
    }
  }

  void step(Input& in) {
    const uint8_t op = in.byte();
    const std::string n = name(in);
    const Ino ino = ino_of(n);
    switch (op % 11) {
      case 0: {  // create
        auto a = fs_.create(kRootIno, n, 0644, O_RDWR, {});
        ZSFS_CHECK(a.ok() == (ino == 0));
        if (a.ok()) {
          fs_.release(a->ino);
          names_[n] = a->ino;
          files_[a->ino] = File{{}, 1, 1};
        }
        break;
      }
      case 1:
      case 2: {  // write
        if (ino == 0) break;
        const uint64_t at = in.offset();
        std::string data(in.length(), static_cast<char>(in.byte() % 3 == 0 ? 0 : in.byte()));
        for (size_t i = 0; i < data.size(); i += 97)
          data[i] = static_cast<char>(i + at);
        auto w = fs_.write(ino, at, as_bytes(data), false);
        ZSFS_CHECK(w.ok() && *w == data.size());
        std::string& model = files_[ino].bytes;
        if (model.size() < at + data.size()) model.resize(at + data.size(), '\0');
        model.replace(at, data.size(), data);
        break;
      }
      case 3: {  // truncate
        if (ino == 0) break;
        zsfs::fs::SetAttr change;
        change.size = in.offset();
        ZSFS_CHECK(fs_.setattr(ino, change, {}).ok());
        files_[ino].bytes.resize(*change.size, '\0');
        break;
      }
      case 4: {  // punch hole, zero range, preallocate
        if (ino == 0) break;
        const uint64_t at = in.offset();
        const uint64_t len = in.length();
        const int kind = in.byte() % 3;
        std::string& model = files_[ino].bytes;
        if (kind == 2) {
          ZSFS_CHECK(fs_.fallocate(ino, 0, at, len).ok());
          if (model.size() < at + len) model.resize(at + len, '\0');
          break;
        }
        const int mode =
            kind == 0 ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE : FALLOC_FL_ZERO_RANGE;
        ZSFS_CHECK(fs_.fallocate(ino, mode, at, len).ok());
        const uint64_t end = kind == 0 ? std::min<uint64_t>(at + len, model.size()) : at + len;
        if (model.size() < end) model.resize(end, '\0');
        if (at < end) model.replace(at, end - at, std::string(end - at, '\0'));
        break;
      }
      case 5: {  // link
        const std::string target = name(in);
        if (ino == 0) break;
        auto a = fs_.link(ino, kRootIno, target);
        ZSFS_CHECK(a.ok() == (ino_of(target) == 0));
        if (a.ok()) {
          names_[target] = ino;
          ++files_[ino].links;
          ++files_[ino].lookups;
        }
        break;
      }
      case 6: {  // unlink
        ZSFS_CHECK(fs_.unlink(kRootIno, n).ok() == (ino != 0));
        if (ino != 0) {
          names_.erase(n);
          drop_link(ino);
        }
        break;
      }
      case 7: {  // rename, plain or exchange
        const std::string to = name(in);
        const bool exchange = in.byte() % 2 == 0;
        const Ino victim = ino_of(to);
        zsfs::Status s = fs_.rename(kRootIno, n, kRootIno, to, exchange ? RENAME_EXCHANGE : 0, {});
        if (ino == 0 || (exchange && victim == 0)) {
          ZSFS_CHECK(!s.ok());
          break;
        }
        ZSFS_CHECK(s.ok());
        if (victim == ino) break;  // two names of one inode: nothing happens
        if (exchange) {
          names_[n] = victim;
          names_[to] = ino;
        } else {
          names_.erase(n);
          names_[to] = ino;
          if (victim != 0) drop_link(victim);
        }
        break;
      }
      case 8: {  // copy_file_range
        const Ino out = ino_of(name(in));
        if (ino == 0 || out == 0) break;
        const uint64_t at_in = in.offset();
        const uint64_t at_out = in.byte() % 2 ? at_in % 4096 + in.byte() % 8 * 4096 : in.offset();
        const uint64_t len = in.length();
        const std::string src = files_[ino].bytes;
        const uint64_t expect =
            at_in >= src.size() ? 0 : std::min<uint64_t>(len, src.size() - at_in);
        auto c = fs_.copy_file_range(ino, at_in, out, at_out, len, 0);
        if (ino == out && at_out < at_in + expect && at_in < at_out + expect) {
          ZSFS_CHECK(!c.ok());
          break;
        }
        ZSFS_CHECK(c.ok() && *c == expect);
        if (expect == 0) break;
        std::string& model = files_[out].bytes;
        if (model.size() < at_out + expect) model.resize(at_out + expect, '\0');
        model.replace(at_out, expect, src.substr(at_in, expect));
        break;
      }
      case 9: {  // xattrs
        if (ino == 0) break;
        const std::string key = "user.k" + std::to_string(in.byte() % 4);
        const std::string value(in.byte(), 'v');
        ZSFS_CHECK(fs_.setxattr(ino, key, value, 0, {}).ok());
        auto got = fs_.getxattr(ino, key, {});
        ZSFS_CHECK(got.ok() && *got == value);
        if (in.byte() % 2) ZSFS_CHECK(fs_.removexattr(ino, key, {}).ok());
        break;
      }
      default:
        if (ino != 0) verify(ino);
        if (in.byte() % 4 == 0) fs_.compact();
        break;
    }
  }

  void verify(Ino ino) {
    const std::string& model = files_[ino].bytes;
    auto attr = fs_.getattr(ino);
    ZSFS_CHECK(attr.ok() && attr->size == model.size() && attr->nlink == files_[ino].links);
    std::string got(model.size(), '\0');
    auto r = fs_.read(ino, 0, {reinterpret_cast<std::byte*>(got.data()), got.size()});
    ZSFS_CHECK(r.ok() && *r == model.size());
    ZSFS_CHECK_MSG(got == model, "file contents differ from the model");
  }

  Filesystem& fs_;
  std::map<std::string, Ino> names_;
  std::map<Ino, File> files_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  zsfs::fs::Config config;
  config.size_bytes = 256 << 20;
  config.nr_inodes = 1000;
  config.auto_compact = false;
  config.chain_pages = 1 + (size > 0 ? data[0] % 16 : 7);
  auto fs = Filesystem::create(config);
  ZSFS_CHECK(fs.ok());
  const uint64_t empty_bytes = (*fs)->stats().mem_used_total;
  Input in(data, size);
  Runner runner(**fs);
  runner.run(in);
  ZSFS_CHECK_MSG((*fs)->check().find("\"ok\":true") != std::string::npos,
                 "consistency check failed");
  runner.remove_everything();
  ZSFS_CHECK_MSG((*fs)->check().find("\"ok\":true") != std::string::npos,
                 "consistency check failed after removing everything");
  const auto stats = (*fs)->stats();
  ZSFS_CHECK(stats.unique_blocks == 0 && stats.pool_pages == 0 && stats.logical_bytes == 0);
  ZSFS_CHECK_MSG(stats.mem_used_total == empty_bytes, "memory not given back");
  return 0;
}

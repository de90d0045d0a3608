// ScratchDir: a fresh directory for a unit test's files, removed with everything in it when the
// test ends. Shared by the unit tests of the modules that write files (disk, fs).
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

namespace zsfs::testing {

class ScratchDir {
 public:
  // In parent: the system's temporary directory unless a test needs a file system of its own.
  explicit ScratchDir(
      const std::filesystem::path& parent = std::filesystem::temp_directory_path()) {
    std::string pattern = (parent / "zsfs-unit-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace zsfs::testing

// Corpus loading for codec_bench (see corpus.h).
#include "tests/bench/codec/corpus.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace zsfs::codec::bench {
namespace {

// Larger files contribute their first MiB only, so that one big library does not make up the
// whole default corpus.
constexpr uint64_t kMaxBytesPerFile = uint64_t{1} << 20;

// Appends up to max_bytes of the stream, padded with zeros to whole blocks; returns bytes read.
uint64_t append_padded(std::istream& in, uint64_t max_bytes, std::vector<std::byte>& out) {
  const size_t start = out.size();
  out.resize(start + max_bytes);
  in.read(reinterpret_cast<char*>(out.data() + start), static_cast<std::streamsize>(max_bytes));
  const auto read = static_cast<uint64_t>(in.gcount());
  const uint64_t padded = (read + kBlockSize - 1) / kBlockSize * kBlockSize;
  out.resize(start + padded);
  std::fill(out.begin() + static_cast<ptrdiff_t>(start + read), out.end(), std::byte{0});
  return read;
}

}  // namespace

Corpus load_corpus_file(const std::string& path, uint64_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  std::error_code error;
  const uint64_t size = std::filesystem::file_size(path, error);
  if (!in || error) {
    std::fprintf(stderr, "codec_bench: cannot read corpus %s\n", path.c_str());
    std::exit(2);
  }
  Corpus corpus;
  corpus.bytes.reserve(std::min(size, max_bytes) + kBlockSize);
  const uint64_t read = append_padded(in, std::min(size, max_bytes), corpus.bytes);
  corpus.description = path + " (" + std::to_string(read) + " bytes)";
  return corpus;
}

Corpus build_machine_corpus(uint64_t max_bytes) {
  Corpus corpus;
  corpus.bytes.reserve(max_bytes + kMaxBytesPerFile);
  size_t nr_files = 0;
  for (const char* root : {"/usr/share/doc", "/usr/lib", "/usr/share"}) {
    std::error_code error;
    std::filesystem::recursive_directory_iterator it(
        root, std::filesystem::directory_options::skip_permission_denied, error);
    for (; !error && it != std::filesystem::recursive_directory_iterator(); it.increment(error)) {
      if (corpus.bytes.size() >= max_bytes) break;
      std::error_code status_error;
      if (it->is_symlink(status_error) || !it->is_regular_file(status_error)) continue;
      // Compressed manual pages and changelogs are a third of /usr/share/doc; keep them, they are
      // the incompressible part of a real tree.
      std::ifstream in(it->path(), std::ios::binary);
      if (!in) continue;
      const uint64_t room = max_bytes - corpus.bytes.size();
      if (append_padded(in, std::min(room, kMaxBytesPerFile), corpus.bytes) > 0) ++nr_files;
    }
  }
  corpus.description = std::to_string(nr_files) + " files under /usr, each padded to 4 KiB";
  return corpus;
}

}  // namespace zsfs::codec::bench

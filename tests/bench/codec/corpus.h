// The data codec_bench measures on: real files cut into 4 KiB blocks. Either one file named on the
// command line (compare_zstd_cli.sh passes the Linux source, each file padded to 4 KiB as zsfs
// stores it), or, by default, a corpus gathered from this machine's /usr at run time.
//
// Invariant: bytes.size() is a multiple of kBlockSize; a file's last partial block is padded with
// zeros, as the filesystem pads a file's tail block.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "codec/codec.h"

namespace zsfs::codec::bench {

struct Corpus {
  std::string description;
  std::vector<std::byte> bytes;

  size_t nr_blocks() const { return bytes.size() / kBlockSize; }
  Block block(size_t index) const { return Block(bytes.data() + index * kBlockSize, kBlockSize); }
};

// The file at path, cut into blocks, at most max_bytes of it. Exits with a message if it cannot
// be read.
Corpus load_corpus_file(const std::string& path, uint64_t max_bytes);

// Regular files under /usr/share/doc, /usr/lib and /usr/share (at most 1 MiB of each, each padded
// to whole blocks), until max_bytes: text, documentation, libraries, images, archives.
Corpus build_machine_corpus(uint64_t max_bytes);

}  // namespace zsfs::codec::bench

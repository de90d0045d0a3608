// Fuzz target: loading an image, whatever its records say, must refuse it with a message or load
// a filesystem that passes the core's full consistency check; never a crash, an abort or a leak.
//
// The checksums are the reader's first line (a changed byte fails them, which the disk unit tests
// show byte by byte); this target goes past them to what the loader does with records: the input
// is the three sections' payloads, each wrapped here into one frame with a valid checksum, and a
// trailer whose counts match the records found in them.
//
// Input: two 2-byte little-endian lengths, then the dictionaries' payload, the blocks' payload
// and (the rest) the metadata's payload, each a run of records as zsfs(5) lays them out.
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/check.h"
#include "disk/checksum.h"
#include "disk/image_format.h"
#include "fs/filesystem.h"

namespace {

using namespace zsfs;
using disk::ByteReader;
using disk::ByteWriter;
using disk::RecordType;
using disk::Section;

// Counts the records of a payload by their types, as far as their framing holds.
void count_records(std::span<const std::byte> payload, disk::ImageSummary* s) {
  ByteReader in(payload);
  while (!in.at_end()) {
    const auto type = static_cast<RecordType>(in.u8());
    in.bytes(in.varint());
    if (in.failed()) return;
    switch (type) {
      case RecordType::kInode:
        ++s->inodes;
        break;
      case RecordType::kEntry:
        ++s->entries;
        break;
      case RecordType::kBlock:
      case RecordType::kSameFilledBlock:
        ++s->blocks;
        break;
      case RecordType::kDictionary:
        ++s->dictionaries;
        break;
      default:
        break;
    }
  }
}

std::vector<std::byte> make_image(std::span<const std::byte> dicts,
                                  std::span<const std::byte> blocks,
                                  std::span<const std::byte> metadata) {
  disk::ImageSummary s;
  std::vector<std::byte> file(disk::kHeaderBytes);
  disk::encode_header(s, std::span<std::byte, disk::kHeaderBytes>(file.data(), disk::kHeaderBytes));
  for (auto [section, payload] : {std::pair{Section::kMetadata, metadata},
                                  {Section::kBlocks, blocks},
                                  {Section::kDictionaries, dicts}}) {
    s.extent(section).offset = file.size();
    if (!payload.empty() && payload.size() <= disk::kMaxFramePayloadBytes) {
      const uint64_t at = file.size();
      file.resize(at + disk::kFrameHeaderBytes + payload.size() + disk::kFrameChecksumBytes);
      ByteWriter head(file.data() + at);
      head.u8(static_cast<uint8_t>(section));
      head.u8(0);
      head.u8(0);
      head.u8(0);
      head.u32(static_cast<uint32_t>(payload.size()));
      std::memcpy(file.data() + at + disk::kFrameHeaderBytes, payload.data(), payload.size());
      const size_t framed = disk::kFrameHeaderBytes + payload.size();
      ByteWriter tail(file.data() + at + framed);
      tail.u64(disk::checksum(std::span(file.data() + at, framed), at));
      ++s.frames;
      count_records(payload, &s);
    }
    s.extent(section).bytes = file.size() - s.extent(section).offset;
  }
  const uint64_t trailer_at = file.size();
  s.file_bytes = trailer_at + disk::kTrailerBytes;
  file.resize(s.file_bytes);
  disk::encode_trailer(
      s, trailer_at,
      std::span<std::byte, disk::kTrailerBytes>(file.data() + trailer_at, disk::kTrailerBytes));
  return file;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto* bytes = reinterpret_cast<const std::byte*>(data);
  if (size < 4) return 0;
  const size_t dict_bytes = std::min<size_t>(size - 4, data[0] | size_t{data[1]} << 8);
  const size_t block_bytes =
      std::min<size_t>(size - 4 - dict_bytes, data[2] | size_t{data[3]} << 8);
  const std::span<const std::byte> rest(bytes + 4, size - 4);
  const std::vector<std::byte> image =
      make_image(rest.first(dict_bytes), rest.subspan(dict_bytes, block_bytes),
                 rest.subspan(dict_bytes + block_bytes));

  const int fd = memfd_create("zsfs-image-fuzz", MFD_CLOEXEC);
  ZSFS_CHECK(fd >= 0);
  ZSFS_CHECK(write(fd, image.data(), image.size()) == static_cast<ssize_t>(image.size()));
  const std::string path = "/proc/self/fd/" + std::to_string(fd);

  fs::Config config;
  config.size_bytes = 64 << 20;
  config.nr_inodes = 1000;
  config.root_mode = 0755;
  config.auto_compact = false;
  config.recompress = false;
  config.dict = false;
  config.encode_threads = 0;
  auto created = fs::Filesystem::create(config);
  ZSFS_CHECK(created.ok());
  std::unique_ptr<fs::Filesystem> filesystem = std::move(*created);
  const disk::Problem p = filesystem->load_image(path);
  if (!p) {
    // Loaded: it must be a consistent filesystem.
    const std::string report = filesystem->check();
    ZSFS_CHECK_MSG(report.find("\"ok\":true") != std::string::npos, report.c_str());
  } else {
    ZSFS_CHECK_MSG(p.error > 0 && !p.message.empty(), "a refusal without a reason");
  }
  close(fd);
  return 0;
}

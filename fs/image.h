// Images of a filesystem (the format: disk/image_format.h and zsfs(5)): what one save or load
// did, for the log, the statistics and zsfsctl.
#pragma once

#include <cstdint>

namespace zsfs::fs {

struct ImageSaveStats {
  uint64_t bytes = 0;  // the image's size
  uint64_t inodes = 0;
  uint64_t blocks = 0;
  uint64_t dictionaries = 0;
  // How long writes waited: the metadata walk, during which the filesystem was held still.
  double pause_seconds = 0;
  double sync_seconds = 0;  // fsync, rename and the directory's fsync
  double seconds = 0;       // the whole save
};

struct ImageLoadStats {
  uint64_t bytes = 0;  // the image's size
  uint64_t inodes = 0;
  uint64_t blocks = 0;
  uint64_t dictionaries = 0;
  // The two overlap: the blocks load on a thread of their own while the tree is made.
  double blocks_seconds = 0;    // the blocks thread: reading the blocks into the store
  double metadata_seconds = 0;  // making the tree, installing the block runs that waited for
                                // their blocks, and putting the times back
  double seconds = 0;           // the whole load
};

}  // namespace zsfs::fs

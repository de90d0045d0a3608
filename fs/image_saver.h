// ImageSaver: when a mount's image (Config::image_path) is written. On request (zsfsctl save,
// through the user.zsfs.save attribute), every save_interval when anything changed since the last
// save, and once more at unmount (close()) unless nothing changed. Requests and intervals are
// served by the saver's own thread, one save at a time (save_image() itself waits for any other
// save); close() saves on the caller's thread after stopping it.
//
// A request is served by a save that begins after it: each request takes a number, and a save
// serves every request numbered up to what was asked when it began. The statistics ("image" in
// user.zsfs.stats) show the numbers asked and served and the last save's outcome, which is how
// zsfsctl save waits for its own.
//
// Thread safety: every method may be called from any thread. Locks: mu_ only, a leaf; saves run
// without it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "base/json_fwd.h"
#include "disk/problem.h"
#include "fs/filesystem.h"
#include "fs/image.h"

namespace zsfs::fs {

class ImageSaver {
 public:
  // fs must outlive the saver. interval: nullopt for no periodic saves. Starts the thread.
  ImageSaver(Filesystem::Impl* fs, std::string path, std::optional<std::chrono::seconds> interval);
  ~ImageSaver();  // stops the thread, after the save it is running
  ImageSaver(const ImageSaver&) = delete;
  ImageSaver& operator=(const ImageSaver&) = delete;

  // Queues a save.
  void request();
  // Stops the thread, then saves unless nothing changed since the last save or load (*skipped
  // says which). Requests after it are not served: the mount is going away.
  disk::Problem close(ImageSaveStats* stats, bool* skipped);
  // Notes a load, for the statistics.
  void note_loaded(const ImageLoadStats& stats);
  // The "image" section of the statistics.
  Json stats_json() const;

 private:
  void run();
  // Saves and records the outcome.
  disk::Problem save(ImageSaveStats* stats);

  Filesystem::Impl* fs_;
  const std::string path_;
  const std::optional<std::chrono::seconds> interval_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool busy_ = false;
  uint64_t requested_ = 0;  // requests numbered 1..requested_
  uint64_t served_ = 0;     // requests served by a finished save (successful or not)
  uint64_t saves_ = 0;
  uint64_t failures_ = 0;
  uint64_t skipped_ = 0;  // periodic or final saves skipped: nothing had changed
  std::optional<ImageLoadStats> loaded_;
  // The last save: its outcome (an empty message for success), when it ended and its figures.
  std::optional<disk::Problem> last_problem_;
  int64_t last_at_ = 0;  // seconds since the epoch
  ImageSaveStats last_;

  std::thread thread_;  // last: started once everything above is ready
};

}  // namespace zsfs::fs

// ImageSaver (see image_saver.h).
#include "fs/image_saver.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "base/json.h"
#include "base/log.h"
#include "disk/file_io.h"
#include "disk/image_writer.h"
#include "fs/filesystem_impl.h"

namespace zsfs::fs {

ImageSaver::ImageSaver(Filesystem::Impl* fs, std::string path,
                       std::optional<std::chrono::seconds> interval)
    : fs_(fs), path_(std::move(path)), interval_(interval), thread_([this] { run(); }) {}

ImageSaver::~ImageSaver() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ImageSaver::request() {
  {
    std::lock_guard lock(mu_);
    ++requested_;
  }
  wake_.notify_all();
}

void ImageSaver::note_loaded(const ImageLoadStats& stats) {
  std::lock_guard lock(mu_);
  loaded_ = stats;
}

disk::Problem ImageSaver::save(ImageSaveStats* stats) {
  ImageSaveStats s;
  disk::Problem problem = fs_->save_image(path_, &s);
  if (problem) {
    log(LogLevel::kError, "image: %s", problem.message.c_str());
  } else {
    log(LogLevel::kInfo,
        "image: saved %s: %llu bytes, %llu inodes, %llu blocks in %.2f s (writes "
        "paused %.3f s)",
        path_.c_str(), static_cast<unsigned long long>(s.bytes),
        static_cast<unsigned long long>(s.inodes), static_cast<unsigned long long>(s.blocks),
        s.seconds, s.pause_seconds);
  }
  std::lock_guard lock(mu_);
  ++saves_;
  if (problem) ++failures_;
  last_problem_ = problem;
  last_at_ = static_cast<int64_t>(std::time(nullptr));
  last_ = s;
  if (stats != nullptr) *stats = s;
  return problem;
}

void ImageSaver::run() {
  using Clock = std::chrono::steady_clock;
  auto next_interval = interval_ ? Clock::now() + *interval_ : Clock::time_point::max();
  std::unique_lock lock(mu_);
  while (!stop_) {
    const bool requested = [&] {
      if (next_interval == Clock::time_point::max()) {
        wake_.wait(lock, [&] { return stop_ || requested_ > served_; });
      } else {
        wake_.wait_until(lock, next_interval, [&] { return stop_ || requested_ > served_; });
      }
      return requested_ > served_;
    }();
    if (stop_) break;
    const bool due = Clock::now() >= next_interval;
    if (!requested && !due) continue;
    if (due) next_interval = Clock::now() + *interval_;
    if (!requested && !fs_->changed_since_saved()) {
      ++skipped_;
      continue;
    }
    const uint64_t serving = requested_;
    busy_ = true;
    lock.unlock();
    (void)save(nullptr);
    lock.lock();
    busy_ = false;
    served_ = std::max(served_, serving);
  }
}

disk::Problem ImageSaver::close(ImageSaveStats* stats, bool* skipped) {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  *skipped = !fs_->changed_since_saved();
  if (*skipped) {
    std::lock_guard lock(mu_);
    ++skipped_;
    return {};
  }
  return save(stats);
}

Json ImageSaver::stats_json() const {
  std::lock_guard lock(mu_);
  Json json = {
      {"path", path_},
      {"save_interval", interval_ ? interval_->count() : 0},
      {"busy", busy_},
      {"requests", requested_},
      {"requests_done", served_},
      {"saves", saves_},
      {"failures", failures_},
      {"skipped", skipped_},
  };
  if (loaded_) {
    json["loaded"] = {
        {"bytes", loaded_->bytes},
        {"inodes", loaded_->inodes},
        {"blocks", loaded_->blocks},
        {"dictionaries", loaded_->dictionaries},
        {"blocks_seconds", loaded_->blocks_seconds},
        {"metadata_seconds", loaded_->metadata_seconds},
        {"seconds", loaded_->seconds},
    };
  } else {
    json["loaded"] = nullptr;
  }
  if (last_problem_) {
    json["last"] = {
        {"ok", !*last_problem_},
        {"error", last_problem_->message},
        {"time", last_at_},
        {"bytes", last_.bytes},
        {"inodes", last_.inodes},
        {"blocks", last_.blocks},
        {"dictionaries", last_.dictionaries},
        {"seconds", last_.seconds},
        {"pause_seconds", last_.pause_seconds},
        {"sync_seconds", last_.sync_seconds},
    };
  } else {
    json["last"] = nullptr;
  }
  return json;
}

// --- The filesystem's side ----------------------------------------------------------------------

disk::Problem Filesystem::Impl::open_image(bool* loaded) {
  ZSFS_CHECK_MSG(!config_.image_path.empty() && image_saver_ == nullptr, "no image, or opened");
  const std::string& path = config_.image_path;
  *loaded = false;
  // Saves must be possible, or the filesystem would be lost at unmount: check the directory now.
  const std::string directory = disk::directory_of(path);
  if (::access(directory.c_str(), W_OK | X_OK) != 0) {
    return disk::system_problem(errno, "the image's directory " + directory + " is not writable");
  }
  // A save that was interrupted (a crash, kill -9) left its temporary file: the image beside it
  // is whole, the leftover only takes room.
  const std::string leftover = disk::ImageWriter::temporary_path_for(path);
  if (::unlink(leftover.c_str()) == 0) {
    log(LogLevel::kInfo, "image: removed %s, left by an interrupted save", leftover.c_str());
  }
  ImageLoadStats load;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (disk::Problem p = load_image(path, &load)) return p;
    *loaded = true;
    log(LogLevel::kInfo,
        "image: loaded %s: %llu bytes, %llu inodes, %llu blocks in %.2f s (blocks %.2f s, "
        "metadata %.2f s)",
        path.c_str(), static_cast<unsigned long long>(load.bytes),
        static_cast<unsigned long long>(load.inodes), static_cast<unsigned long long>(load.blocks),
        load.seconds, load.blocks_seconds, load.metadata_seconds);
  } else if (errno != ENOENT) {
    return disk::system_problem(errno, "cannot open the image " + path);
  }
  std::optional<std::chrono::seconds> interval;
  if (config_.save_interval_seconds > 0) {
    interval = std::chrono::seconds(config_.save_interval_seconds);
  }
  image_saver_ = std::make_unique<ImageSaver>(this, path, interval);
  if (*loaded) image_saver_->note_loaded(load);
  stats_sections_.push_back(
      {"image", [saver = image_saver_.get()] { return saver->stats_json(); }});
  return {};
}

disk::Problem Filesystem::Impl::close_image(ImageSaveStats* stats, bool* skipped) {
  *skipped = true;
  if (image_saver_ == nullptr) return {};
  return image_saver_->close(stats, skipped);
}

Status Filesystem::Impl::save_xattr(Ino ino, std::string_view value, const Caller& caller) {
  ZSFS_TRY_STATUS(check_action_caller(ino, caller));
  if (!value.empty()) return Errno{EINVAL};
  if (image_saver_ == nullptr) return Errno{EOPNOTSUPP};
  image_saver_->request();
  return {};
}

}  // namespace zsfs::fs

// Images on real mounts (-o image=PATH): a round trip through unmount and mount keeps every byte
// and attribute of a tree copied in (compared with the source), cycle mounts keep everything, bad
// images are refused with nothing mounted and the file untouched, a kill at every stage of a save
// or a failed save leaves the previous image whole, SIGTERM and save_interval save.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "harness.h"

namespace zsfs::test {
namespace {

using namespace std::chrono_literals;

// What manifest() shows besides names, types, modes, owners, sizes, link counts, device numbers,
// mtimes, symlink targets, xattrs, data/hole maps and contents.
enum ManifestFields : unsigned { kBasic = 0, kAtime = 1, kCtime = 2 };

std::string ns_time(const timespec& t) {
  return std::to_string(t.tv_sec) + "." + std::to_string(t.tv_nsec);
}

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// One line per entry under root, in path order; an inode reached by a second name shows as a
// link to the first.
std::string manifest(const std::string& root, unsigned fields) {
  std::vector<std::string> paths;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root))
    paths.push_back(e.path().string().substr(root.size()));
  std::sort(paths.begin(), paths.end());
  std::map<std::pair<dev_t, ino_t>, std::string> first;
  std::string out;
  for (const std::string& rel : paths) {
    const std::string path = root + rel;
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) {
      out += rel + ": lstat failed\n";
      continue;
    }
    out += rel + ":";
    auto [it, fresh] = first.emplace(std::pair(st.st_dev, st.st_ino), rel);
    if (!fresh) {
      out += " link to " + it->second + "\n";
      continue;
    }
    out += " mode " + std::to_string(st.st_mode) + " " + std::to_string(st.st_uid) + ":" +
           std::to_string(st.st_gid) + " nlink " + std::to_string(st.st_nlink) + " m " +
           ns_time(st.st_mtim);
    if (fields & kAtime) out += " a " + ns_time(st.st_atim);
    if (fields & kCtime) out += " c " + ns_time(st.st_ctim);
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      out += " rdev " + std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev));
    }
    if (!S_ISDIR(st.st_mode)) out += " size " + std::to_string(st.st_size);
    if (S_ISLNK(st.st_mode)) out += " -> " + std::filesystem::read_symlink(path).string();
    char names[65536];
    const ssize_t length = llistxattr(path.c_str(), names, sizeof names);
    std::vector<std::string> xattrs;
    for (ssize_t at = 0; at < length;) {
      const std::string name = names + at;
      at += static_cast<ssize_t>(name.size()) + 1;
      std::string value(65536, '\0');
      const ssize_t n = lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
      value.resize(n < 0 ? 0 : static_cast<size_t>(n));
      xattrs.push_back(name + "=" + hex(value));
    }
    std::sort(xattrs.begin(), xattrs.end());
    for (const std::string& x : xattrs)
      out += " [" + x + "]";
    if (S_ISREG(st.st_mode)) {
      const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
      for (off_t at = 0; fd >= 0 && at < st.st_size;) {
        const off_t data = lseek(fd, at, SEEK_DATA);
        if (data < 0) break;
        const off_t hole = lseek(fd, data, SEEK_HOLE);
        std::string bytes(static_cast<size_t>(hole - data), '\0');
        const ssize_t n = pread(fd, bytes.data(), bytes.size(), data);
        out += " data@" + std::to_string(data) + "-" + std::to_string(hole) + " sum " +
               std::to_string(checksum(bytes.data(), static_cast<size_t>(std::max<ssize_t>(n, 0))));
        at = hole;
      }
      if (fd >= 0) close(fd);
    }
    out += "\n";
  }
  return out;
}

// A tree with one of everything zsfs keeps, made in dir: a copy of part of /usr/share/doc, and
// hard links, symlinks, special files, xattrs in three namespaces, holes, preallocated blocks,
// odd modes and owners, and times with nanoseconds. ACLs too when dir supports them.
void populate(const std::string& dir, bool acls) {
  RunResult made = sh(
      "cd " + shell_quote(dir) +
      "\n"
      "mkdir -p doc && for d in /usr/share/doc/*/; do n=$((n+1)); [ $n -gt 120 ] && break; "
      "  cp -a \"$d\" doc/; done\n"
      "mkdir -p 'odd/ dir with spaces' deep/a/b/c/d && chmod 2750 odd && chmod 1777 deep/a\n"
      "printf 'hello\\n' > odd/file && ln odd/file deep/a/b/hard1 && ln odd/file deep/hard2\n"
      "ln -s ../odd/file deep/link && ln -s /nowhere/at/all dangling\n"
      "mkfifo odd/fifo && mknod odd/tty c 4 1 && mknod odd/disk b 8 0 && mknod odd/whiteout c 0 0\n"
      "python3 -c \"import socket; s=socket.socket(socket.AF_UNIX); s.bind('odd/socket')\"\n"
      "dd if=/dev/urandom of=sparse bs=4096 count=3 seek=1000 status=none\n"
      "truncate -s 1G sparse && printf tail >> sparse\n"
      "fallocate -n -o 8192 -l 65536 odd/file\n"
      "head -c 100000 /dev/zero > zeros && printf x >> zeros\n"
      "setfattr -n user.mime -v text/plain odd/file && setfattr -n user.empty odd/file\n"
      "setfattr -n trusted.bin -v 0x00ff00ee deep && setfattr -n security.label -v lbl sparse\n"
      "chmod 4711 sparse && chown 1234:5678 sparse && chown -h 42:43 deep/link\n"
      "touch -h -d '2001-02-03 04:05:06.123456789' deep/link odd/fifo\n"
      "touch -d '1969-12-31 23:59:59.5' zeros\n" +
      std::string(acls ? "setfacl -m u:nobody:r,g:adm:rw odd/file && setfacl -d -m u:nobody:rwx "
                         "deep\n"
                       : ""));
  ASSERT_EQ(made.status, 0) << made.output;
}

std::vector<char> file_bytes(const std::string& path) {
  const std::string bytes = std::filesystem::exists(path) ? read_file(path) : std::string();
  return std::vector<char>(bytes.begin(), bytes.end());
}

// Whether zsfs keeps POSIX ACLs (the system.posix_acl_* attributes) on this build.
bool zsfs_keeps_acls(const std::string& mount_point) {
  const std::string probe = mount_point + "/.acl-probe";
  write_file(probe, "x");
  const bool ok = sh("setfacl -m u:nobody:r " + shell_quote(probe) + " 2>/dev/null").status == 0;
  unlink(probe.c_str());
  return ok;
}

class ImageTest : public ::testing::Test {
 protected:
  // Mounts zsfs with image=image_ and more options; skips where FUSE is missing.
  testing::AssertionResult mount(const std::string& options = "",
                                 std::vector<std::string> env = {}) {
    ZsfsMount::Config config = ZsfsMount::Config::with_options(
        "size=512M,image=" + image_ + (options.empty() ? "" : "," + options));
    config.env = std::move(env);
    return zsfs_.start(config, mount_point_);
  }
  void mount_or_skip(const std::string& options = "", std::vector<std::string> env = {}) {
    if (!fuse_device_present()) GTEST_SKIP() << "/dev/fuse is missing";
    auto started = mount(options, std::move(env));
    if (!started && zsfs_.refused()) GTEST_SKIP() << "this system refuses FUSE mounts";
    ASSERT_TRUE(started);
  }
  // Unmounts; the daemon saves the image and must exit with status 0.
  void unmount() { EXPECT_EQ(zsfs_.stop(), 0) << zsfs_.log(); }
  const std::string& mnt() const { return mount_point_; }
  // Asks the daemon for a save (what zsfsctl save does first), without waiting.
  void request_save() {
    ASSERT_EQ(setxattr(mnt().c_str(), "user.zsfs.save", "", 0, 0), 0) << errno_name(errno);
  }
  // The same from a child process, for a daemon that may stop (at a fault point) before it
  // answers: the child waits in the kernel until the daemon is killed, then gets ENOTCONN.
  // Reap it with waitpid once the daemon is gone.
  pid_t request_save_from_child() {
    const std::string mount_point = mnt();
    const pid_t child = fork();
    if (child == 0) _exit(setxattr(mount_point.c_str(), "user.zsfs.save", "", 0, 0) == 0 ? 0 : 1);
    return child;
  }

  TempDir dir_{"zsfs-image"};
  TempDir mount_dir_{"zsfs-image-mnt"};
  const std::string image_ = dir_.path() + "/fs.img";
  const std::string mount_point_ = mount_dir_.path();
  ZsfsMount zsfs_;
};

TEST_F(ImageTest, ARoundTripKeepsEveryByteAndAttribute) {
  mount_or_skip("noatime");
  TmpfsDir source;
  const bool acls = zsfs_keeps_acls(mnt());
  if (!acls) std::cout << "NOTE: this zsfs keeps no POSIX ACLs: the tree has none\n";
  populate(source.path(), acls);
  RunResult copied = sh("cp -a " + shell_quote(source.path()) + "/. " + shell_quote(mnt()));
  ASSERT_EQ(copied.status, 0) << copied.output;
  const std::string before = manifest(mnt(), kAtime | kCtime);
  unmount();
  ASSERT_TRUE(std::filesystem::exists(image_));
  EXPECT_EQ(std::filesystem::status(image_).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

  mount_or_skip("noatime");
  // Exactly as it was, access and change times included; and as the source was, but for the
  // times that copying changed (the source's atimes) or that cannot be set (ctime).
  EXPECT_EQ(manifest(mnt(), kAtime | kCtime), before);
  EXPECT_EQ(manifest(mnt(), kBasic), manifest(source.path(), kBasic));
  EXPECT_EQ(zsfsctl({"check", mnt()}).status, 0);
  unmount();
}

TEST_F(ImageTest, CycleMountsKeepEverything) {
  mount_or_skip();
  std::string expected;
  for (int cycle = 0; cycle < 4; ++cycle) {
    SCOPED_TRACE("cycle " + std::to_string(cycle));
    // Change something of each kind, then unmount and mount again.
    RunResult changed = sh("cd " + shell_quote(mnt()) +
                           "\n"
                           "mkdir -p d" +
                           std::to_string(cycle) +
                           "\n"
                           "seq 1 " +
                           std::to_string(20000 * (cycle + 1)) + " > d" + std::to_string(cycle) +
                           "/numbers\n"
                           "[ -e d0/numbers ] && cat d0/numbers >> d0/numbers.2\n"
                           "[ " +
                           std::to_string(cycle) +
                           " -gt 1 ] && rm -r d1 && mv d0 d1 || :\n"
                           "ln -sf d" +
                           std::to_string(cycle) +
                           " latest\n"
                           "setfattr -n user.cycle -v " +
                           std::to_string(cycle) +
                           " .\n"
                           "truncate -s " +
                           std::to_string(cycle * 12345) + " t\n");
    ASSERT_EQ(changed.status, 0) << changed.output;
    expected = manifest(mnt(), kCtime);
    unmount();
    mount_or_skip();
    EXPECT_EQ(manifest(mnt(), kCtime), expected);
  }
  unmount();
}

TEST_F(ImageTest, ZsfsctlSaveWritesTheImageNow) {
  mount_or_skip();
  write_file(mnt() + "/a", "version one");
  RunResult saved = zsfsctl({"save", mnt()});
  EXPECT_EQ(saved.status, 0) << saved.output;
  EXPECT_NE(saved.output.find("saved " + image_ + ": "), std::string::npos) << saved.output;
  EXPECT_TRUE(std::filesystem::exists(image_));
  RunResult stats = zsfsctl({"stats", mnt()});
  EXPECT_NE(stats.output.find("Image "), std::string::npos) << stats.output;
  EXPECT_NE(stats.output.find(image_ + "; last saved "), std::string::npos) << stats.output;
  // A crash now keeps what was saved.
  write_file(mnt() + "/a", "version two");
  kill(zsfs_.pid(), SIGKILL);
  zsfs_.wait_exit(10s);
  force_unmount(mnt());
  mount_or_skip();
  EXPECT_EQ(read_file(mnt() + "/a"), "version one");
  unmount();
}

TEST_F(ImageTest, ZsfsctlSaveWithoutAnImageSaysSo) {
  if (!fuse_device_present()) GTEST_SKIP() << "/dev/fuse is missing";
  ZsfsMount plain;
  ZSFS_START_OR_SKIP(plain, "size=64M");
  RunResult saved = zsfsctl({"save", plain.path()});
  EXPECT_NE(saved.status, 0);
  EXPECT_NE(saved.output.find("this mount has no image (mount it with -o image=PATH)"),
            std::string::npos)
      << saved.output;
  EXPECT_EQ(plain.stop(), 0);
}

TEST_F(ImageTest, SigtermSaves) {
  mount_or_skip();
  write_file(mnt() + "/kept", "through SIGTERM");
  kill(zsfs_.pid(), SIGTERM);
  EXPECT_EQ(zsfs_.wait_exit(60s), 0) << zsfs_.log();
  mount_or_skip();
  EXPECT_EQ(read_file(mnt() + "/kept"), "through SIGTERM");
  unmount();
}

TEST_F(ImageTest, SaveIntervalSavesWhatChanged) {
  mount_or_skip("save_interval=1");
  write_file(mnt() + "/periodic", "saved by the interval");
  // Within two intervals the saver has seen the change and saved it.
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!std::filesystem::exists(image_) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(100ms);
  std::this_thread::sleep_for(2500ms);
  const Json image = read_json_xattr(mnt(), "user.zsfs.stats")["image"];
  EXPECT_GE(image["saves"].get<uint64_t>(), 1u);
  EXPECT_GE(image["skipped"].get<uint64_t>(), 1u);  // intervals with nothing new
  kill(zsfs_.pid(), SIGKILL);
  zsfs_.wait_exit(10s);
  force_unmount(mnt());
  mount_or_skip();
  EXPECT_EQ(read_file(mnt() + "/periodic"), "saved by the interval");
  unmount();
}

// --- Bad images ----------------------------------------------------------------------------------

TEST_F(ImageTest, BadImagesAreRefusedWithNothingMounted) {
  mount_or_skip();
  RunResult filled = sh("cp -a /usr/share/doc/bash " + shell_quote(mnt()));
  ASSERT_EQ(filled.status, 0) << filled.output;
  unmount();
  const std::vector<char> good = file_bytes(image_);
  ASSERT_GT(good.size(), 10000u);

  struct Case {
    const char* name;
    std::function<std::vector<char>(std::vector<char>)> damage;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"not an image", [](std::vector<char>) { return std::vector<char>(5000, 'x'); },
       "not a zsfs image"},
      {"empty", [](std::vector<char>) { return std::vector<char>(); }, "not a zsfs image"},
      {"truncated",
       [](std::vector<char> b) {
         b.resize(b.size() / 2);
         return b;
       },
       "truncated"},
      {"corrupt",
       [](std::vector<char> b) {
         b[b.size() / 2] ^= 0x20;
         return b;
       },
       "fails its checksum"},
      {"another version",
       [](std::vector<char> b) {
         b[8] = 9;
         return b;
       },
       "an image of format version 9; this zsfs reads version 1"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::vector<char> bad = c.damage(good);
    {
      std::ofstream out(image_, std::ios::binary | std::ios::trunc);
      out.write(bad.data(), static_cast<std::streamsize>(bad.size()));
    }
    ZsfsMount::Config config = ZsfsMount::Config::with_options("size=512M,image=" + image_);
    ZsfsMount attempt;
    EXPECT_FALSE(attempt.start(config, mnt()));
    EXPECT_EQ(attempt.stop(), 2);  // kExitFailure
    EXPECT_NE(attempt.log().find(image_), std::string::npos) << attempt.log();
    EXPECT_NE(attempt.log().find(c.message), std::string::npos) << attempt.log();
    EXPECT_NE(attempt.log().find("nothing mounted"), std::string::npos) << attempt.log();
    EXPECT_FALSE(mount_type(mnt()));
    EXPECT_TRUE(std::filesystem::is_empty(mnt()));
    EXPECT_EQ(file_bytes(image_), bad);  // never saved over
  }
}

TEST_F(ImageTest, AnUnwritableImageDirectoryIsRefusedBeforeMounting) {
  if (!fuse_device_present()) GTEST_SKIP() << "/dev/fuse is missing";
  ZsfsMount attempt;
  EXPECT_FALSE(
      attempt.start(ZsfsMount::Config::with_options("image=/nonexistent/dir/z.img"), mnt()));
  EXPECT_EQ(attempt.stop(), 2);
  EXPECT_NE(attempt.log().find("the image's directory /nonexistent/dir is not writable"),
            std::string::npos)
      << attempt.log();
  EXPECT_FALSE(mount_type(mnt()));
}

// --- Crashes and failures during a save ---------------------------------------------------------

// Waits until process pid is stopped (by SIGSTOP).
bool wait_stopped(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string text = read_file("/proc/" + std::to_string(pid) + "/stat");
    const size_t paren = text.rfind(')');
    if (paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'T') {
      return true;
    }
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

TEST_F(ImageTest, AKillAtEveryStageOfASaveLeavesAWholeImage) {
  // Stages before the rename leave the old image; from the rename on, the new one.
  const std::vector<std::pair<const char*, bool>> stages = {
      {"image.created", false}, {"image.metadata", false}, {"image.blocks", false},
      {"image.written", false}, {"image.synced", false},   {"image.renamed", true},
      {"image.done", true}};
  for (const auto& [stage, new_one] : stages) {
    SCOPED_TRACE(stage);
    std::filesystem::remove(image_);
    // The first save (the old image) passes the stage; the second stops there.
    mount_or_skip("", {std::string("ZSFS_FAULTS=") + stage + "=stop@2"});
    RunResult old_tree = sh("cp -a /usr/share/doc/bash " + shell_quote(mnt()) + "/old");
    ASSERT_EQ(old_tree.status, 0) << old_tree.output;
    ASSERT_EQ(zsfsctl({"save", mnt()}).status, 0);
    const std::string old_manifest = manifest(mnt(), kCtime);
    RunResult new_tree = sh("cp -a /usr/share/doc/bash " + shell_quote(mnt()) + "/new && rm -r " +
                            shell_quote(mnt()) + "/old/*");
    ASSERT_EQ(new_tree.status, 0) << new_tree.output;
    const std::string new_manifest = manifest(mnt(), kCtime);
    // The saving thread may stop before the request's answer goes out: ask from a child.
    const pid_t asker = request_save_from_child();
    ASSERT_GT(asker, 0) << errno_name(errno);
    ASSERT_TRUE(wait_stopped(zsfs_.pid(), 60s)) << zsfs_.log();
    kill(zsfs_.pid(), SIGKILL);
    zsfs_.wait_exit(10s);
    force_unmount(mnt());
    ASSERT_EQ(waitpid(asker, nullptr, 0), asker);

    mount_or_skip();
    EXPECT_EQ(manifest(mnt(), kCtime), new_one ? new_manifest : old_manifest);
    EXPECT_EQ(zsfsctl({"check", mnt()}).status, 0);
    unmount();
    EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/.fs.img.zsfs-saving"));
  }
}

TEST_F(ImageTest, AFailedSaveKeepsThePreviousImageAndSaysWhy) {
  struct Case {
    const char* plan;
    const char* message;
  };
  for (const Case& c :
       {Case{"image.write=ENOSPC@3", "No space left on device"},
        Case{"image.write=EIO@2", "cannot write"}, Case{"image.fsync=EIO@1", "cannot sync"},
        Case{"image.rename=EROFS@1", "cannot rename"},
        Case{"image.create=EDQUOT@1", "Disk quota exceeded"}}) {
    SCOPED_TRACE(c.plan);
    std::filesystem::remove(image_);
    mount_or_skip();
    write_file(mnt() + "/f", "old");
    unmount();
    const std::vector<char> old_image = file_bytes(image_);
    // The fault hits the first save of this mount; the next one (at unmount) succeeds.
    mount_or_skip("", {std::string("ZSFS_FAULTS=") + c.plan});
    write_file(mnt() + "/f", "new");
    RunResult saved = zsfsctl({"save", mnt()});
    EXPECT_EQ(saved.status, 2) << saved.output;
    EXPECT_NE(saved.output.find("zsfsctl: the save failed: "), std::string::npos) << saved.output;
    EXPECT_NE(saved.output.find(c.message), std::string::npos) << saved.output;
    EXPECT_EQ(file_bytes(image_), old_image);
    EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/.fs.img.zsfs-saving"));
    EXPECT_NE(zsfsctl({"stats", mnt()}).output.find("LAST SAVE FAILED"), std::string::npos);
    EXPECT_EQ(read_file(mnt() + "/f"), "new");  // the mount goes on
    unmount();
    mount_or_skip();
    EXPECT_EQ(read_file(mnt() + "/f"), "new");
    unmount();
  }
}

TEST_F(ImageTest, ShortWritesMakeAWholeImage) {
  mount_or_skip("", {"ZSFS_FAULTS=image.write=short"});
  RunResult filled = sh("cp -a /usr/share/doc/bash " + shell_quote(mnt()));
  ASSERT_EQ(filled.status, 0) << filled.output;
  const std::string expected = manifest(mnt(), kCtime);
  unmount();
  mount_or_skip();
  EXPECT_EQ(manifest(mnt(), kCtime), expected);
  unmount();
}

TEST_F(ImageTest, AFailedLastSaveIsReportedAndKeepsThePreviousImage) {
  mount_or_skip();
  write_file(mnt() + "/f", "old");
  unmount();
  const std::vector<char> old_image = file_bytes(image_);
  mount_or_skip("", {"ZSFS_FAULTS=image.fsync=EIO"});
  write_file(mnt() + "/f", "lost");
  EXPECT_EQ(zsfs_.stop(), 2);
  EXPECT_NE(zsfs_.log().find("the last save of the image failed: cannot sync"), std::string::npos)
      << zsfs_.log();
  EXPECT_EQ(file_bytes(image_), old_image);
}

TEST_F(ImageTest, AFullDiskFailsTheSaveCleanly) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
  TempDir small_dir("zsfs-image-small");
  ASSERT_EQ(sh("mount -t tmpfs -o size=1m tmpfs " + shell_quote(small_dir.path())).status, 0);
  struct Unmount {
    std::string path;
    ~Unmount() { sh("umount " + shell_quote(path)); }
  } unmount_later{small_dir.path()};
  const std::string small_image = small_dir.path() + "/z.img";
  ZsfsMount small;
  ZSFS_START_OR_SKIP(small, ZsfsMount::Config::with_options("size=256M,image=" + small_image));
  write_file(small.path() + "/random", random_data(4 << 20, 1));
  RunResult saved = zsfsctl({"save", small.path()});
  EXPECT_EQ(saved.status, 2);
  EXPECT_NE(saved.output.find("No space left on device"), std::string::npos) << saved.output;
  EXPECT_FALSE(std::filesystem::exists(small_image));
  EXPECT_TRUE(std::filesystem::is_empty(small_dir.path()));  // no leftover taking the room
  unlink((small.path() + "/random").c_str());
  write_file(small.path() + "/small", "fits");
  EXPECT_EQ(zsfsctl({"save", small.path()}).status, 0);
  EXPECT_EQ(small.stop(), 0);
}

}  // namespace
}  // namespace zsfs::test

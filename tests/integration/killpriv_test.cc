// Clearing setuid and setgid on a real zsfs mount against tmpfs. zsfs does it itself with
// FUSE_HANDLE_KILLPRIV_V2 (the request layer adds it to the INIT reply): a write, truncate,
// fallocate or copy_file_range by a user without CAP_FSETID, and any chown of a file, clear
// setuid, and setgid where the group may execute or the user is not in the group; root's writes
// keep them; a write drops security.capability; a file a user wrote to no longer runs setuid
// (zsfs has the kernel drop the mode it cached). And the reason for it all: the kernel no longer
// asks for security.capability before every write.
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <string>

#include "tests/integration/harness.h"

namespace zsfs::test {
namespace {

constexpr uid_t kMember = 65532;
constexpr gid_t kGroup = 65533;

// Root's part: files with setuid, setgid and a file capability for the users below.
const char* const kSetup = R"(
cd "$1"
chmod 0777 .
for f in write truncate ftruncate fallocate punch copy root-write; do echo data > $f; chmod 06777 $f; done
echo data > sgid-noexec && chmod 02767 sgid-noexec
echo data > sgid-member && chgrp 65533 sgid-member && chmod 02767 sgid-member
echo data > sgid-member-exec && chgrp 65533 sgid-member-exec && chmod 02777 sgid-member-exec
echo data > chown-root && chmod 06755 chown-root
echo data > chown-root-noexec && chmod 02745 chown-root-noexec
echo data > owned && chown 65534:65534 owned && chmod 06775 owned
mkfifo owned-fifo && chown 65534:65534 owned-fifo && chmod 06775 owned-fifo
mkdir dir && chmod 06777 dir
echo data > cap && chmod 0777 cap
cp /usr/bin/id id && chmod 04777 id
)";

std::string mode_of(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return errno_name(errno);
  char text[16];
  std::snprintf(text, sizeof text, "%04o", st.st_mode & 07777);
  return text;
}

void append(const std::string& path, Transcript& t) {
  const long fd = sys(open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  if (fd >= 0) {
    t.step("write " + path.substr(path.rfind('/') + 1), sys(write(static_cast<int>(fd), "x", 1)));
    close(static_cast<int>(fd));
  } else {
    t.step("open " + path, fd);
  }
}

std::string scenario(const std::string& root) {
  auto at = [&](const std::string& name) { return root + "/" + name; };
  std::string out;
  RunResult setup = run({"sh", "-eu", "-c", kSetup, "setup", root});
  out += "setup: " + std::to_string(setup.status) + " " + setup.output + "\n";
  // A file capability (struct vfs_cap_data, revision 2: CAP_NET_RAW permitted).
  const std::string cap(
      "\x00\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
      "\x00\x00\x00\x00",
      20);
  out += "set capability: " +
         std::to_string(
             sys(setxattr(at("cap").c_str(), "security.capability", cap.data(), cap.size(), 0))) +
         "\n";

  out += transcript_as(kNobody, kNogroup, {}, [&](Transcript& t) {
    append(at("write"), t);
    append(at("sgid-noexec"), t);
    const long trunc = sys(open(at("truncate").c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
    t.step("open O_TRUNC", trunc);
    if (trunc >= 0) close(static_cast<int>(trunc));
    t.step("truncate", sys(truncate(at("ftruncate").c_str(), 2)));
    const long fd = sys(open(at("fallocate").c_str(), O_WRONLY | O_CLOEXEC));
    if (fd >= 0) {
      t.step("fallocate", sys(fallocate(static_cast<int>(fd), 0, 0, 8192)));
      close(static_cast<int>(fd));
    }
    const long punch = sys(open(at("punch").c_str(), O_WRONLY | O_CLOEXEC));
    if (punch >= 0) {
      t.step("punch a hole", sys(fallocate(static_cast<int>(punch),
                                           FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 2)));
      close(static_cast<int>(punch));
    }
    const long source = sys(open(at("sgid-noexec").c_str(), O_RDONLY | O_CLOEXEC));
    const long target = sys(open(at("copy").c_str(), O_WRONLY | O_CLOEXEC));
    if (source >= 0 && target >= 0) {
      t.step("copy_file_range", sys(copy_file_range(static_cast<int>(source), nullptr,
                                                    static_cast<int>(target), nullptr, 4, 0)));
    }
    if (source >= 0) close(static_cast<int>(source));
    if (target >= 0) close(static_cast<int>(target));
    t.step("chown own file to itself", sys(chown(at("owned").c_str(), kNobody, kNogroup)));
    t.step("chown own fifo to itself", sys(chown(at("owned-fifo").c_str(), kNobody, kNogroup)));
    append(at("cap"), t);
    append(at("id"), t);
  });
  // Run right after the write, before anything fetches its attributes again: the kernel must not
  // exec it setuid any more.
  const RunResult id = run({at("id"), "-u"}, RunOptions().as_user(kNobody, kNogroup));
  out += "id runs as " + id.output;
  out += transcript_as(kMember, kMember, {kGroup}, [&](Transcript& t) {
    append(at("sgid-member"), t);
    append(at("sgid-member-exec"), t);
  });
  // Root, with CAP_FSETID.
  Transcript t;
  append(at("root-write"), t);
  t.step("chown as root", sys(chown(at("chown-root").c_str(), 0, 0)));
  t.step("chown as root (setgid without group execute)",
         sys(chown(at("chown-root-noexec").c_str(), 0, 0)));
  t.step("chown a directory", sys(chown(at("dir").c_str(), 0, 0)));
  out += t.str();
  for (const char* name : {"write", "sgid-noexec", "truncate", "ftruncate", "fallocate", "punch",
                           "copy", "owned", "owned-fifo", "sgid-member", "sgid-member-exec",
                           "root-write", "chown-root", "chown-root-noexec", "dir", "cap", "id"}) {
    out += std::string(name) + " " + mode_of(at(name)) + "\n";
  }
  char value[64];
  out += "capability after a write: " +
         errno_name(static_cast<int>(
             -sys(getxattr(at("cap").c_str(), "security.capability", value, sizeof value)))) +
         "\n";
  return out;
}

TEST(KillprivTest, SetuidAndSetgidGoAsOnTmpfs) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to act as other users";
  ZsfsMount zsfs;
  // suid: run directly, zsfs would mount nosuid, where no file runs setuid anyway.
  ZSFS_START_OR_SKIP(zsfs, "size=64M,allow_other,suid");
  const std::string on_zsfs = expect_same_as_tmpfs(
      zsfs.path(), [](const std::string& root, Transcript& t) { t.note(scenario(root)); });
  // The bits did go where they should, and stay where they should.
  EXPECT_NE(on_zsfs.find("\nwrite 0777\n"), std::string::npos) << on_zsfs;
  EXPECT_NE(on_zsfs.find("\nroot-write 6777\n"), std::string::npos) << on_zsfs;
  EXPECT_NE(on_zsfs.find("\nsgid-member 2767\n"), std::string::npos) << on_zsfs;
  EXPECT_NE(on_zsfs.find("id runs as 65534\n"), std::string::npos) << on_zsfs;
  EXPECT_EQ(zsfs.stop(), 0) << zsfs.log();
}

TEST(KillprivTest, WritesNoLongerAskForSecurityCapability) {
  ZsfsMount zsfs;
  ZSFS_START_OR_SKIP(zsfs, "size=64M");
  const std::string path = zsfs.path() + "/f";
  const int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  auto getxattrs = [&] { return request_count(zsfs.path(), "getxattr"); };
  const uint64_t before = getxattrs();
  constexpr int kWrites = 200;
  for (int i = 0; i < kWrites; ++i)
    ASSERT_EQ(pwrite(fd, "x", 1, i), 1);
  close(fd);
  // Reading the statistics is one getxattr. Without FUSE_HANDLE_KILLPRIV_V2 the kernel asks for
  // security.capability before each write (file_remove_privs()); with it, before the first only,
  // until the inode's attributes are fetched again.
  EXPECT_LE(getxattrs() - before, 3u);
  EXPECT_EQ(zsfs.stop(), 0) << zsfs.log();
}

}  // namespace
}  // namespace zsfs::test

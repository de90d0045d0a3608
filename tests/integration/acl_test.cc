// POSIX ACLs on a real zsfs mount against tmpfs: setfacl and getfacl(1) (package acl), and the
// system calls of other users, who meet named-user and named-group entries, the mask, inherited
// default ACLs, chmod narrowing the mask, and removal exactly as on tmpfs. Plus: a noacl mount
// has none, and what ACLs cost shows in the statistics.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <initializer_list>
#include <string>

#include "tests/integration/harness.h"

namespace zsfs::test {
namespace {

// Ids the ACLs name; they need no entry in /etc/passwd.
constexpr uid_t kOtherUser = 65532;
constexpr gid_t kAclGroup = 65533;

bool acl_tools_present() {
  return run({"setfacl", "--version"}).status == 0 && run({"getfacl", "--version"}).status == 0;
}

#define SKIP_UNLESS_ROOT_WITH_ACL_TOOLS()                                                  \
  do {                                                                                     \
    if (geteuid() != 0) GTEST_SKIP() << "needs root to act as other users";                \
    if (!acl_tools_present()) GTEST_SKIP() << "setfacl/getfacl (package acl) are missing"; \
  } while (0)

// setfacl and getfacl as root, with what each step leaves behind: ACLs (numeric), modes.
const char* const kAclScript = R"(
cd "$1"
umask 022
show() { getfacl -n "$@" 2>&1; stat -c '%n %A' "$@"; }
touch f
setfacl -m u:65534:r,g:65533:rw f; show f
chmod 640 f; show f
setfacl -m m::rwx f; show f
setfacl -x u:65534 f; show f
setfacl -b f; show f
setfacl -m u:65534:rwx,o::- f; setfacl -m u::r f; show f
mkdir d
setfacl -d -m u:65534:rwx,g::r-x,o::- d; show d
umask 077
touch d/file; mkdir d/sub; mkfifo d/fifo; ln -s file d/link
show d/file d/sub d/fifo; stat -c '%n %A' d/link
mkdir d/sub/deeper; show d/sub/deeper
umask 022
mkdir plain; touch plain/x; show plain/x
setfacl -k d; touch d/after; show d d/after
chmod 2770 d/sub; show d/sub
setfacl -d -m u:65534:r f || true
setfacl -m u:65534:r d/link || true
setfacl -m u:nosuchuser:r f || true
echo done
)";

TEST(AclTest, SetfaclAndGetfaclAsOnTmpfs) {
  SKIP_UNLESS_ROOT_WITH_ACL_TOOLS();
  ZsfsMount zsfs;
  ZSFS_START_OR_SKIP(zsfs, "size=64M,allow_other");
  const std::string on_zsfs =
      expect_same_as_tmpfs(zsfs.path(), [](const std::string& root, Transcript& t) {
        const RunResult result = run({"sh", "-u", "-c", kAclScript, "acl", root});
        t.note(result.output + "exit status " + std::to_string(result.status));
      });
  // And the ACLs are there at all.
  EXPECT_NE(on_zsfs.find("user:65534:r--"), std::string::npos) << on_zsfs;
  EXPECT_NE(on_zsfs.find("default:user:65534:rwx"), std::string::npos) << on_zsfs;
  EXPECT_NE(on_zsfs.find("done\nexit status 0"), std::string::npos) << on_zsfs;
  EXPECT_EQ(zsfs.stop(), 0) << zsfs.log();
}

// Root's part: files and directories whose ACLs the users below meet.
const char* const kSetup = R"(
cd "$1"
umask 022
chmod 0755 .
echo named > named && chmod 0600 named && setfacl -m u:65534:r named
echo group > group && chmod 0600 group && setfacl -m g:65533:rw group
echo masked > masked && chmod 0600 masked && setfacl -m u:65534:rw,m::r masked
mkdir dir && chmod 0700 dir && setfacl -m u:65534:rx dir && echo inside > dir/file
mkdir inherit && chmod 0777 inherit && setfacl -d -m u:65534:r,o::- inherit
echo chmodded > chmodded && chmod 0640 chmodded && setfacl -m u:65534:rw chmodded
echo removed > removed && chmod 0600 removed && setfacl -m u:65534:r removed
)";

// What a user may do with those, one system call per step.
void probe(const std::string& root, Transcript& t) {
  auto open_as = [&](const std::string& what, const std::string& name, int flags) {
    const long fd = sys(open((root + "/" + name).c_str(), flags | O_CLOEXEC, 0644));
    t.step(what, fd);
    if (fd >= 0) close(static_cast<int>(fd));
  };
  open_as("read named", "named", O_RDONLY);
  open_as("write named", "named", O_WRONLY);
  open_as("read group", "group", O_RDONLY);
  open_as("write group", "group", O_WRONLY);
  open_as("read masked", "masked", O_RDONLY);
  open_as("write masked (mask r--)", "masked", O_WRONLY);
  t.step("access dir r-x", sys(access((root + "/dir").c_str(), R_OK | X_OK)));
  t.step("access dir w", sys(access((root + "/dir").c_str(), W_OK)));
  open_as("read through dir", "dir/file", O_RDONLY);
  open_as("create in dir", "dir/mine", O_WRONLY | O_CREAT);
  open_as("write chmodded", "chmodded", O_WRONLY);
  open_as("read removed", "removed", O_RDONLY);
}

// Root's changes between two probes: chmod narrows the mask, setfacl -b removes the ACL; and
// files made in a directory with a default ACL.
const char* const kChange = R"(
cd "$1"
chmod 0600 chmodded
setfacl -b removed
umask 077
echo new > inherit/new
getfacl -n inherit/new
)";

TEST(AclTest, OtherUsersMeetTheAclsAsOnTmpfs) {
  SKIP_UNLESS_ROOT_WITH_ACL_TOOLS();
  ZsfsMount zsfs;
  ZSFS_START_OR_SKIP(zsfs, "size=64M,allow_other");
  auto scenario = [](const std::string& root, Transcript& transcript) {
    std::string out;
    RunResult setup = run({"sh", "-eu", "-c", kSetup, "setup", root});
    out += "setup: " + std::to_string(setup.status) + " " + setup.output + "\n";
    out += "-- nobody\n" +
           transcript_as(kNobody, kNogroup, {}, [&](Transcript& t) { probe(root, t); });
    out +=
        "-- a member of the named group\n" +
        transcript_as(kOtherUser, kOtherUser, {kAclGroup}, [&](Transcript& t) { probe(root, t); });
    RunResult change = run({"sh", "-eu", "-c", kChange, "change", root});
    out += "change: " + std::to_string(change.status) + " " + change.output + "\n";
    out += "-- nobody again\n" + transcript_as(kNobody, kNogroup, {}, [&](Transcript& t) {
             probe(root, t);
             const long fd = sys(open((root + "/inherit/new").c_str(), O_RDONLY | O_CLOEXEC));
             t.step("read a file that inherited u:65534:r", fd);
             if (fd >= 0) close(static_cast<int>(fd));
           });
    transcript.note(out);
  };
  const std::string on_zsfs = expect_same_as_tmpfs(zsfs.path(), scenario);
  // Not two runs of a setup where everything is allowed, or everything refused.
  EXPECT_NE(on_zsfs.find("read named: OK"), std::string::npos) << on_zsfs;
  EXPECT_NE(on_zsfs.find("write named: EACCES"), std::string::npos) << on_zsfs;
  EXPECT_NE(on_zsfs.find("read a file that inherited u:65534:r: OK"), std::string::npos) << on_zsfs;
  EXPECT_EQ(zsfs.stop(), 0) << zsfs.log();
}

// An ACL value as the system call takes it (uapi little-endian layout).
std::string acl_bytes(std::initializer_list<std::array<uint32_t, 3>> entries, uint32_t version) {
  std::string out;
  auto put = [&](uint32_t v, int bytes) {
    for (int i = 0; i < bytes; ++i)
      out += static_cast<char>(v >> (8 * i) & 0xff);
  };
  put(version, 4);
  for (const auto& [tag, perm, id] : entries) {
    put(tag, 2);
    put(perm, 2);
    put(id, 4);
  }
  return out;
}

TEST(AclTest, MalformedAclsAreRefusedAsOnTmpfs) {
  if (geteuid() != 0) GTEST_SKIP() << "tmpfs to compare with needs root";
  ZsfsMount zsfs;
  ZSFS_START_OR_SKIP(zsfs, "size=64M");
  expect_same_as_tmpfs(zsfs.path(), [](const std::string& root, Transcript& t) {
    const std::string f = root + "/f";
    close(open(f.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
    const char* name = "system.posix_acl_access";
    auto set = [&](const std::string& what, const std::string& value) {
      t.step(what, sys(setxattr(f.c_str(), name, value.data(), value.size(), 0)));
    };
    constexpr uint32_t kNone = UINT32_MAX;
    set("truncated header", std::string("\x02\0", 2));
    set("partial entry", acl_bytes({{1, 6, kNone}, {4, 4, kNone}, {0x20, 4, kNone}}, 2) + "xy");
    set("version 1", acl_bytes({{1, 6, kNone}, {4, 4, kNone}, {0x20, 4, kNone}}, 1));
    set("no group entry", acl_bytes({{1, 6, kNone}, {0x20, 4, kNone}}, 2));
    set("named user without a mask",
        acl_bytes({{1, 6, kNone}, {2, 4, 1000}, {4, 4, kNone}, {0x20, 4, kNone}}, 2));
    set("permission bits beyond rwx",
        acl_bytes({{1, 8, kNone}, {4, 4, kNone}, {0x20, 4, kNone}}, 2));
    set("unknown tag",
        acl_bytes({{1, 6, kNone}, {0x40, 4, 0}, {4, 4, kNone}, {0x20, 4, kNone}}, 2));
    const std::string valid = acl_bytes(
        {{1, 6, kNone}, {2, 4, 1000}, {4, 4, kNone}, {0x10, 4, kNone}, {0x20, 0, kNone}}, 2);
    set("a valid one", valid);
    t.note(describe(f));
    std::string value(256, '\0');
    const long size = sys(getxattr(f.c_str(), name, value.data(), value.size()));
    t.step("read it back", size);
    value.resize(static_cast<size_t>(std::max(size, 0L)));
    t.note(value == valid ? "the same bytes" : "other bytes");
    t.step("the same as a default ACL on a file",
           sys(setxattr(f.c_str(), "system.posix_acl_default", valid.data(), valid.size(), 0)));
  });
  EXPECT_EQ(zsfs.stop(), 0) << zsfs.log();
}

TEST(AclTest, NoaclMountsHaveNone) {
  if (!acl_tools_present()) GTEST_SKIP() << "setfacl/getfacl (package acl) are missing";
  ZsfsMount zsfs;
  ZSFS_START_OR_SKIP(zsfs, "size=64M,noacl");
  const RunResult refused = sh("cd " + shell_quote(zsfs.path()) +
                               " && touch f && mkdir d && setfacl -m u:65534:r f 2>&1 || true;"
                               " setfacl -d -m u:65534:r d 2>&1 || true; umask 027; touch d/x;"
                               " stat -c '%a' d/x");
  EXPECT_EQ(refused.output,
            "setfacl: f: Operation not supported\nsetfacl: d: Operation not supported\n640\n");
  EXPECT_EQ(zsfs.stop(), 0) << zsfs.log();
}

TEST(AclTest, WhatAclsCostShowsInTheStatistics) {
  if (!acl_tools_present()) GTEST_SKIP() << "setfacl/getfacl (package acl) are missing";
  ZsfsMount zsfs;
  ZSFS_START_OR_SKIP(zsfs, "size=64M");
  ASSERT_EQ(
      sh("cd " + shell_quote(zsfs.path()) + " && mkdir d && cd d && touch $(seq 1 200)").status, 0);
  const uint64_t before = stat_field(zsfs.path(), "inode_bytes");
  ASSERT_EQ(sh("cd " + shell_quote(zsfs.path()) + "/d && setfacl -m u:65534:rw,g:65533:r *").status,
            0);
  // Each file's ACL is an xattr item: the name, 4 + 6 * 8 bytes of value, two strings, and the
  // inode's extras that hold it, about 200 bytes.
  const uint64_t with_acls = stat_field(zsfs.path(), "inode_bytes");
  EXPECT_GE(with_acls - before, 200u * (23 + 52));
  EXPECT_LE(with_acls - before, 200u * 400);
  ASSERT_EQ(sh("cd " + shell_quote(zsfs.path()) + "/d && setfacl -b *").status, 0);
  EXPECT_EQ(stat_field(zsfs.path(), "inode_bytes"), before);
  EXPECT_EQ(zsfs.stop(), 0) << zsfs.log();
}

}  // namespace
}  // namespace zsfs::test

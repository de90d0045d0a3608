// Permissions on a real zsfs mount, for an unprivileged user (nobody), compared with tmpfs: what
// mode bits forbid cannot be read, written or listed; nobody cannot chown, cannot set another
// user's times, cannot set trusted.* xattrs, cannot remove others' files from a sticky directory.
// zsfs mounts with default_permissions, so the kernel makes these checks as it does for tmpfs.
#include <string>

#include "tests/integration/harness.h"

namespace zsfs::test {
namespace {

// Root's part: files and directories with owners and modes to test against.
const char* const kSetup = R"(
cd "$1"
chmod 0755 .
mkdir private && chmod 0700 private && echo inside > private/file
echo secret > secret && chmod 0600 secret
echo readonly > readonly && chmod 0644 readonly
echo shared > shared && chmod 0666 shared
touch mine && chown 65534:65534 mine
mkdir sticky && chmod 1777 sticky && echo root > sticky/rootfile && chmod 0666 sticky/rootfile
setfattr -n user.note -v root secret
)";

// nobody's part: each line is "what: ok" or "what: " and the error the command reported.
const char* const kProbe = R"(
cd "$1"
t() {
  what=$1; shift
  if err=$("$@" 2>&1 >/dev/null); then echo "$what: ok"; else echo "$what: ${err##*: }"; fi
}
t "list a 0700 directory" ls private
t "read a file inside it" cat private/file
t "create inside it" touch private/new
t "read a 0600 file" cat secret
t "append to a 0644 file" sh -c 'echo x >> readonly'
t "append to a 0666 file" sh -c 'echo x >> shared'
t "chmod another's file" chmod 0777 readonly
t "chown own file to root" chown 0 mine
t "chgrp own file to root's group" chgrp 0 mine
t "chown another's file" chown 65534 readonly
t "set another's times explicitly" touch -d 2000-01-01 shared
t "touch another's writable file" touch shared
t "set own times explicitly" touch -d 2000-01-01 mine
t "set a trusted xattr" setfattr -n trusted.x -v 1 mine
t "set a user xattr on own file" setfattr -n user.x -v 1 mine
t "set a user xattr on another's file" setfattr -n user.x -v 1 readonly
t "read a user xattr of a 0600 file" getfattr -n user.note secret
t "remove another's file in a sticky dir" rm -f sticky/rootfile
t "rename another's file in a sticky dir" mv sticky/rootfile sticky/renamed
t "unlink another's file in the root" rm -f readonly
t "make a setuid file" sh -c 'touch own-suid && chmod 4755 own-suid'
)";

TEST(SecurityTest, UnprivilegedUserMeetsTheSameWallsAsOnTmpfs) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to act as user nobody";
  if (run({"getfattr", "--version"}).status != 0) GTEST_SKIP() << "getfattr (attr) is missing";
  ZsfsMount zsfs;
  // allow_other: other users may use a mount only when it says so.
  ZSFS_START_OR_SKIP(zsfs, "size=64M,allow_other");
  TmpfsDir tmpfs;

  auto probe = [&](const std::string& root) {
    RunResult made = run({"sh", "-eu", "-c", kSetup, "setup", root});
    EXPECT_EQ(made.status, 0) << made.output;
    RunOptions as_nobody;
    as_nobody.as_user(kNobody, kNogroup);
    return run({"sh", "-u", "-c", kProbe, "probe", root}, as_nobody);
  };
  const RunResult on_zsfs = probe(zsfs.path());
  const RunResult on_tmpfs = probe(tmpfs.path());
  EXPECT_EQ(on_zsfs.status, 0) << on_zsfs.output;
  EXPECT_EQ(on_zsfs.output, on_tmpfs.output);
  // And the walls are there at all (not two identical runs of a permissive setup).
  EXPECT_NE(on_zsfs.output.find("read a 0600 file: Permission denied"), std::string::npos)
      << on_zsfs.output;
  EXPECT_NE(on_zsfs.output.find("chown own file to root: Operation not permitted"),
            std::string::npos)
      << on_zsfs.output;
  EXPECT_NE(on_zsfs.output.find("set a trusted xattr: Operation not permitted"), std::string::npos)
      << on_zsfs.output;
  EXPECT_NE(on_zsfs.output.find("set own times explicitly: ok"), std::string::npos)
      << on_zsfs.output;
  EXPECT_EQ(zsfs.stop(), 0) << zsfs.log();
}

}  // namespace
}  // namespace zsfs::test

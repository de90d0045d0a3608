// The zsfs command line run for real: each bad command line or mount point gives its message and
// exit status 1, and leaves nothing mounted; --help and --version work.
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace zsfs::test {
namespace {

struct BadCase {
  std::vector<std::string> args;  // "@" stands for the (empty, fresh) mount point
  std::string message;            // expected in stderr
};

RunResult run_zsfs(std::vector<std::string> args, const std::string& mount_point) {
  for (auto& arg : args) {
    if (arg == "@") arg = mount_point;
  }
  args.insert(args.begin(), zsfs_binary());
  return run(args);
}

TEST(CommandLine, HelpAndVersion) {
  RunResult help = run({zsfs_binary(), "--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.output.find("Usage: zsfs [SOURCE] MOUNTPOINT"), std::string::npos);
  RunResult version = run({zsfs_binary(), "--version"});
  EXPECT_EQ(version.status, 0);
  EXPECT_NE(version.output.find("zsfs "), std::string::npos);
  EXPECT_NE(version.output.find("libfuse 3."), std::string::npos);
}

TEST(CommandLine, BadOptionsFailBeforeMounting) {
  const std::vector<BadCase> cases = {
      {{"@", "-o", "bogus"}, "unknown option 'bogus'"},
      {{"@", "--bogus"}, "--bogus"},
      {{"@", "-o", "size=2X"}, "size=2X: unknown suffix 'X'"},
      {{"@", "-o", "size=0"}, "size=0: too small"},
      {{"@", "-o", "size=1024T"}, "size=1024T: more than this machine's RAM"},
      {{"@", "-o", "size=101%"}, "size=101%: percentage of RAM must be 1% to 100%"},
      {{"@", "-o", "size"}, "option 'size' needs a value"},
      {{"@", "-o", "nr_inodes=0"}, "nr_inodes=0: must be at least 1"},
      {{"@", "-o", "nr_inodes=1x"}, "nr_inodes=1x: unknown suffix 'x'"},
      {{"@", "-o", "mode=888"}, "mode=888: not an octal number"},
      {{"@", "-o", "mode=17777"}, "mode=17777: too large"},
      {{"@", "-o", "uid=4294967295"}, "uid=4294967295: user id out of range"},
      {{"@", "-o", "uid=no-such-user-zsfs"}, "no such user"},
      {{"@", "-o", "gid=no-such-group-zsfs"}, "no such group"},
      {{"@", "-o", "compress=lz5"},
       "compress=lz5: unknown algorithm; expected auto, lz4, zstd or none"},
      {{"@", "-o", "recompress_after=1y"}, "recompress_after=1y: not a duration"},
      {{"@", "-o", "dict_size=1"}, "dict_size=1: expected 4.00 KiB to 1.00 MiB"},
      {{"@", "-o", "level=99"}, "level=99: out of range; expected"},
      {{"@", "-o", "level=x"}, "level=x: not an integer"},
      {{"@", "-o", "dedup=maybe"}, "dedup=maybe: expected on or off"},
      {{"@", "-o", "chain=0"}, "chain=0: out of range; expected 1 to 16"},
      {{"@", "-o", "chain=17"}, "chain=17: out of range; expected 1 to 16"},
      {{"@", "-o", "writeback=sometimes"}, "writeback=sometimes: expected on or off"},
      {{"@", "-o", "ro=yes"}, "'ro' takes no value"},
      {{}, "missing mount point"},
      {{"a", "b", "c"}, "too many arguments"},
  };
  TempDir dir;
  for (const BadCase& bad : cases) {
    RunResult result = run_zsfs(bad.args, dir.path());
    std::string joined;
    for (const auto& arg : bad.args)
      joined += arg + " ";
    EXPECT_EQ(result.status, 1) << joined << "\n" << result.output;
    EXPECT_NE(result.output.find(bad.message), std::string::npos)
        << joined << ": expected '" << bad.message << "' in:\n"
        << result.output;
    EXPECT_FALSE(mount_type(dir.path())) << joined << " left a mount";
  }
}

TEST(CommandLine, BadMountPoints) {
  TempDir dir;
  const std::string file = dir.path() + "/file";
  write_file(file, "x");
  const std::string full = dir.path() + "/full";
  ASSERT_EQ(mkdir(full.c_str(), 0755), 0);
  write_file(full + "/something", "x");

  RunResult missing = run({zsfs_binary(), dir.path() + "/missing"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.output.find("does not exist"), std::string::npos) << missing.output;

  RunResult not_dir = run({zsfs_binary(), file});
  EXPECT_EQ(not_dir.status, 1);
  EXPECT_NE(not_dir.output.find("is not a directory"), std::string::npos) << not_dir.output;

  RunResult nonempty = run({zsfs_binary(), full});
  EXPECT_EQ(nonempty.status, 1);
  EXPECT_NE(nonempty.output.find("is not empty"), std::string::npos) << nonempty.output;
  EXPECT_NE(nonempty.output.find("-o nonempty"), std::string::npos) << nonempty.output;
  EXPECT_FALSE(mount_type(full));
}

TEST(CommandLine, NonemptyOptionMountsOverFiles) {
  if (!fuse_device_present()) GTEST_SKIP() << "/dev/fuse is missing";
  TempDir dir;
  write_file(dir.path() + "/hidden", "x");
  ZsfsMount zsfs;
  ZSFS_START_OR_SKIP(zsfs, ZsfsMount::Config::with_options("size=16M,nonempty"), dir.path());
  EXPECT_NE(access((dir.path() + "/hidden").c_str(), F_OK), 0) << "the mount hides the file";
  EXPECT_EQ(zsfs.stop(), 0) << zsfs.log();
  EXPECT_EQ(read_file(dir.path() + "/hidden"), "x");
}

TEST(CommandLine, AlreadyMounted) {
  ZsfsMount zsfs;
  ZSFS_START_OR_SKIP(zsfs, "size=16M");
  RunResult again = run({zsfs_binary(), zsfs.path(), "-o", "nonempty"});
  EXPECT_EQ(again.status, 1) << again.output;
  EXPECT_NE(again.output.find("is already mounted (fuse.zsfs from zsfs)"), std::string::npos)
      << again.output;
  EXPECT_EQ(zsfs.stop(), 0) << zsfs.log();
  EXPECT_FALSE(mount_type(zsfs.path()));
}

TEST(CommandLine, MissingFuseDevice) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for a private mount namespace";
  TempDir dir;
  // Hide /dev/fuse behind an empty tmpfs in a private mount namespace.
  RunResult result = run({"unshare", "--mount", "--propagation", "private", "sh", "-c",
                          "mount -t tmpfs none /dev && exec " + shell_quote(zsfs_binary()) + " " +
                              shell_quote(dir.path())});
  if (result.output.find("unshare failed") != std::string::npos ||
      result.output.find("mount: ") != std::string::npos) {
    GTEST_SKIP() << "cannot make a private mount namespace here: " << result.output;
  }
  EXPECT_EQ(result.status, 1) << result.output;
  EXPECT_NE(result.output.find("cannot use /dev/fuse"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("modprobe fuse"), std::string::npos) << result.output;
}

TEST(CommandLine, SourceFsnameAndSubtypeShowInTheMountTable) {
  ZsfsMount zsfs;
  ZSFS_START_OR_SKIP(zsfs, ZsfsMount::Config::with_options("size=16M").from_source("myram"));
  EXPECT_EQ(mount_type(zsfs.path()), "fuse.zsfs");
  EXPECT_EQ(mount_source(zsfs.path()), "myram");
  EXPECT_EQ(zsfs.stop(), 0) << zsfs.log();

  ZsfsMount named;
  ZSFS_START_OR_SKIP(named, "size=16M,fsname=other,subtype=ram");
  EXPECT_EQ(mount_source(named.path()), "other");
  EXPECT_EQ(mount_type(named.path()), "fuse.ram");
  EXPECT_EQ(named.stop(), 0) << named.log();

  // An empty subtype: the plain type fuse.
  ZsfsMount plain;
  ZSFS_START_OR_SKIP(plain, "size=16M,subtype=");
  EXPECT_EQ(mount_type(plain.path()), "fuse");
  EXPECT_EQ(plain.stop(), 0) << plain.log();
}

}  // namespace
}  // namespace zsfs::test

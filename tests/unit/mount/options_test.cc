#include "mount/options.h"

#include <initializer_list>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace zsfs::mount {
namespace {

// A machine with 8 GiB of RAM, mounted by uid 1000, gid 100, with zstd's levels as -7..22.
SystemInfo test_system() {
  SystemInfo system;
  system.ram_bytes = 8ull << 30;
  system.ram_pages = system.ram_bytes / 4096;
  system.uid = 1000;
  system.gid = 100;
  system.cores = 2;
  system.min_level = -7;
  system.max_level = 22;
  system.default_level = 3;
  return system;
}

CommandLine parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv = {"zsfs"};
  argv.insert(argv.end(), args);
  return parse_command_line(static_cast<int>(argv.size()), argv.data(), test_system());
}

// Parses "zsfs /mnt -o <options>" and returns the usage error (empty if it parsed).
std::string error_for(const char* options) {
  CommandLine command = parse({"/mnt", "-o", options});
  if (command.action == Action::kMount) return "";
  EXPECT_EQ(command.action, Action::kUsageError);
  return command.message;
}

Options parsed(std::initializer_list<const char*> args) {
  CommandLine command = parse(args);
  EXPECT_EQ(command.action, Action::kMount) << command.message;
  return command.options;
}

TEST(Options, DefaultsAreTmpfsLike) {
  const Options options = parsed({"/mnt/z"});
  EXPECT_EQ(options.mount_point, "/mnt/z");
  EXPECT_EQ(options.source, "zsfs");
  EXPECT_FALSE(options.foreground);
  EXPECT_FALSE(options.debug);
  EXPECT_EQ(options.writeback, kDefaultWriteback);
  EXPECT_FALSE(options.allow_other);
  EXPECT_FALSE(options.nonempty);
  EXPECT_EQ(options.config.size_bytes, 4ull << 30);  // half of RAM
  EXPECT_EQ(options.config.nr_inodes, (8ull << 30) / 4096 / 2);
  EXPECT_EQ(options.config.root_mode, 01777u);
  EXPECT_EQ(options.config.root_uid, 1000u);
  EXPECT_EQ(options.config.root_gid, 100u);
  EXPECT_EQ(options.config.owner_uid, 1000u);
  EXPECT_EQ(options.config.algorithm, codec::Algorithm::kLz4);
  EXPECT_EQ(options.config.level, 3);
  EXPECT_TRUE(options.config.dedup);
  EXPECT_EQ(options.config.chain_pages, 8u);
  EXPECT_EQ(options.config.atime, fs::AtimePolicy::kRelatime);
  EXPECT_EQ(options.threads, 1u);
  EXPECT_EQ(options.config.encode_threads, 1u);       // one per CPU but one
  EXPECT_FALSE(options.readahead_bytes.has_value());  // kDefaultReadaheadBytes, where allowed
  EXPECT_TRUE(options.fuse_options.empty());
}

TEST(Options, EncodeThreadsDefaultToOnePerCpuButOne) {
  SystemInfo system = test_system();
  for (const auto& [cores, threads] :
       {std::pair{0u, 1u}, {1u, 1u}, {2u, 1u}, {3u, 2u}, {8u, 7u}, {200u, 64u}}) {
    system.cores = cores;
    EXPECT_EQ(default_options(system).config.encode_threads, threads) << cores << " cores";
  }
}

TEST(Options, MountFuse3CommandLine) {
  // What mount.fuse3 runs for `none /mnt/z fuse.zsfs size=2G,level=3 0 0`.
  const Options options = parsed({"none", "/mnt/z", "-o", "rw,size=2G,level=3,dev,suid"});
  EXPECT_EQ(options.source, "none");
  EXPECT_EQ(options.mount_point, "/mnt/z");
  EXPECT_EQ(options.config.size_bytes, 2ull << 30);
  EXPECT_EQ(options.config.level, 3);
  EXPECT_EQ(options.fuse_options, (std::vector<std::string>{"rw", "dev", "suid"}));
}

TEST(Options, FlagsAnywhere) {
  Options options = parsed({"-f", "/mnt"});
  EXPECT_TRUE(options.foreground);
  options = parsed({"/mnt", "-d"});
  EXPECT_TRUE(options.debug);
  EXPECT_TRUE(options.foreground);  // -d implies -f
  options = parsed({"/mnt", "-o", "debug"});
  EXPECT_TRUE(options.debug);
  EXPECT_TRUE(options.foreground);
  options = parsed({"--foreground", "src", "/mnt"});
  EXPECT_TRUE(options.foreground);
  EXPECT_EQ(options.source, "src");
}

TEST(Options, SeveralDashOAccumulate) {
  const Options options = parsed({"-o", "size=1g", "/mnt", "-o", "mode=700", "-onoatime"});
  EXPECT_EQ(options.config.size_bytes, 1ull << 30);
  EXPECT_EQ(options.config.root_mode, 0700u);
  EXPECT_EQ(options.config.atime, fs::AtimePolicy::kNoatime);
  EXPECT_EQ(options.mount_point, "/mnt");
}

TEST(Options, EveryZsfsOption) {
  const Options options = parsed(
      {"/mnt", "-o",
       "size=50%,nr_inodes=2k,mode=0755,uid=42,gid=43,compress=none,level=-7,dedup=off,chain=16,"
       "writeback=on,strictatime,allow_other,nonempty,fsname=mine,subtype=zsfs2,threads=4,"
       "encode_threads=0,readahead=256k"});
  EXPECT_EQ(options.config.size_bytes, 4ull << 30);
  EXPECT_EQ(options.config.nr_inodes, 2048u);
  EXPECT_EQ(options.config.root_mode, 0755u);
  EXPECT_EQ(options.config.root_uid, 42u);
  EXPECT_EQ(options.config.root_gid, 43u);
  EXPECT_EQ(options.config.owner_uid, 1000u);  // the owner is who mounts, not uid=
  EXPECT_EQ(options.config.algorithm, codec::Algorithm::kNone);
  EXPECT_EQ(options.config.level, -7);
  EXPECT_FALSE(options.config.dedup);
  EXPECT_EQ(options.config.chain_pages, 16u);
  EXPECT_TRUE(options.writeback);
  EXPECT_EQ(options.config.atime, fs::AtimePolicy::kStrictatime);
  EXPECT_TRUE(options.allow_other);
  EXPECT_TRUE(options.nonempty);
  EXPECT_EQ(options.fsname, "mine");
  EXPECT_EQ(options.subtype, "zsfs2");
  EXPECT_EQ(options.threads, 4u);
  EXPECT_EQ(options.config.encode_threads, 0u);
  EXPECT_EQ(options.readahead_bytes, std::optional<uint64_t>(256 << 10));
}

TEST(Options, AtimePolicyCombinesAsForTmpfs) {
  // As mount(8) and the kernel combine the flags (checked against tmpfs's /proc/self/mountinfo):
  // strictatime beats noatime, noatime beats relatime, and each no* form clears its flag.
  EXPECT_EQ(parsed({"/m", "-o", "noatime,relatime"}).config.atime, fs::AtimePolicy::kNoatime);
  EXPECT_EQ(parsed({"/m", "-o", "strictatime,noatime"}).config.atime,
            fs::AtimePolicy::kStrictatime);
  EXPECT_EQ(parsed({"/m", "-o", "noatime,strictatime"}).config.atime,
            fs::AtimePolicy::kStrictatime);
  EXPECT_EQ(parsed({"/m", "-o", "noatime,atime"}).config.atime, fs::AtimePolicy::kRelatime);
  EXPECT_EQ(parsed({"/m", "-o", "strictatime,nostrictatime"}).config.atime,
            fs::AtimePolicy::kRelatime);
  EXPECT_EQ(parsed({"/m", "-o", "relatime,norelatime"}).config.atime, fs::AtimePolicy::kRelatime);
  EXPECT_EQ(parsed({"/m", "-o", "noatime,norelatime"}).config.atime, fs::AtimePolicy::kNoatime);
  EXPECT_TRUE(parsed({"/m", "-o", "nodiratime,diratime"}).config.dir_atime);
  EXPECT_FALSE(parsed({"/m", "-o", "nodiratime"}).config.dir_atime);
}

TEST(Options, SizeRoundsUpToPagesAndIsBounded) {
  EXPECT_EQ(parsed({"/m", "-o", "size=1048577"}).config.size_bytes, 1052672u);
  EXPECT_EQ(parsed({"/m", "-o", "size=1m"}).config.size_bytes, 1u << 20);
  EXPECT_EQ(parsed({"/m", "-o", "size=100%"}).config.size_bytes, 8ull << 30);
  EXPECT_EQ(parsed({"/m", "-o", "size=8G"}).config.size_bytes, 8ull << 30);
  EXPECT_EQ(error_for("size=0"), "size=0: too small; the least is 1.00 MiB (size=1m)");
  EXPECT_EQ(error_for("size=1020k"), "size=1020k: too small; the least is 1.00 MiB (size=1m)");
  EXPECT_EQ(parsed({"/m", "-o", "size=1023k"}).config.size_bytes, 1u << 20);  // rounded up
  EXPECT_EQ(error_for("size=9G"),
            "size=9G: more than this machine's RAM (8.00 GiB); use at most size=100%");
  EXPECT_EQ(error_for("size=18446744073709551615"),
            "size=18446744073709551615: more than this machine's RAM (8.00 GiB); use at most "
            "size=100%");
  EXPECT_NE(error_for("size=2X").find("size=2X: unknown suffix 'X'"), std::string::npos);
  EXPECT_NE(error_for("size=200%").find("1% to 100%"), std::string::npos);
}

TEST(Options, BadValuesNameTheValueAndWhatIsAccepted) {
  EXPECT_EQ(error_for("nr_inodes=0"),
            "nr_inodes=0: must be at least 1 (zsfs has no unlimited inode count)");
  EXPECT_NE(error_for("nr_inodes=many").find("nr_inodes=many: not a number"), std::string::npos);
  EXPECT_NE(error_for("mode=999").find("mode=999: not an octal number"), std::string::npos);
  EXPECT_NE(error_for("uid=4294967295").find("user id out of range"), std::string::npos);
  EXPECT_NE(error_for("gid=nogroup-zsfs-test").find("no such group"), std::string::npos);
  EXPECT_EQ(error_for("compress=lz5"),
            "compress=lz5: unknown algorithm; expected auto, lz4, zstd or none");
  EXPECT_EQ(error_for("recompress=lz4"), "recompress=lz4: unknown algorithm; expected zstd or off");
  EXPECT_EQ(error_for("recompress_level=0"),
            "recompress_level=0: out of range; expected 1 to 22 (zstd's levels)");
  EXPECT_NE(error_for("recompress_after=soon").find("recompress_after=soon: not a duration"),
            std::string::npos);
  EXPECT_NE(error_for("recompress_after=10h").find("recompress_after=10h: too long"),
            std::string::npos);
  EXPECT_EQ(error_for("dict=sometimes"), "dict=sometimes: expected on or off");
  EXPECT_EQ(error_for("dict_size=2m"),
            "dict_size=2m: expected 4.00 KiB to 1.00 MiB (dict_size=1m)");
  EXPECT_EQ(error_for("level=23"),
            "level=23: out of range; expected -7 to 22 (zstd's levels; negative ones are faster)");
  EXPECT_NE(error_for("level=-8").find("expected -7 to 22"), std::string::npos);
  EXPECT_NE(error_for("level=fast").find("level=fast: not an integer"), std::string::npos);
  EXPECT_EQ(error_for("dedup=maybe"), "dedup=maybe: expected on or off");
  EXPECT_EQ(error_for("writeback=2"), "writeback=2: expected on or off");
  EXPECT_EQ(error_for("chain=0"), "chain=0: out of range; expected 1 to 16 pages per zspage");
  EXPECT_EQ(error_for("chain=17"), "chain=17: out of range; expected 1 to 16 pages per zspage");
  EXPECT_EQ(error_for("threads=0"), "threads=0: out of range; expected 1 to 64 threads");
  EXPECT_NE(error_for("threads=x").find("threads=x: not an integer"), std::string::npos);
  EXPECT_EQ(error_for("encode_threads=65"),
            "encode_threads=65: out of range; expected 0 to 64 threads");
  EXPECT_EQ(error_for("readahead=3000"),
            "readahead=3000: expected whole KiB from 0 to 64.0 MiB (readahead=1m)");
  EXPECT_EQ(error_for("readahead=65m"),
            "readahead=65m: expected whole KiB from 0 to 64.0 MiB (readahead=1m)");
  EXPECT_EQ(parsed({"/mnt", "-o", "readahead=0"}).readahead_bytes, std::optional<uint64_t>(0));
  EXPECT_EQ(error_for("fsname="), "fsname=: expected a name to show as the mount's source");
  EXPECT_NE(error_for("subtype=a/b").find("subtype=a/b: expected letters"), std::string::npos);
}

TEST(Options, UnknownOrMisusedOptions) {
  EXPECT_EQ(error_for("bogus"),
            "unknown option 'bogus'; 'zsfs --help' lists the options zsfs accepts");
  EXPECT_EQ(error_for("size=1g,bogus=1"),
            "unknown option 'bogus=1'; 'zsfs --help' lists the options zsfs accepts");
  EXPECT_EQ(error_for("size"), "option 'size' needs a value, such as size=2G or size=50%");
  EXPECT_EQ(error_for("level"), "option 'level' needs a value, such as level=3");
  EXPECT_EQ(error_for("ro=1"), "option 'ro=1': 'ro' takes no value");
  EXPECT_EQ(error_for("noatime=yes"), "option 'noatime=yes': 'noatime' takes no value");
  EXPECT_EQ(error_for("context"), "option 'context' needs a value");
  // FUSE options zsfs does not offer.
  EXPECT_NE(error_for("max_read=4096").find("unknown option"), std::string::npos);
  EXPECT_NE(error_for("blksize=4096").find("unknown option"), std::string::npos);
}

TEST(Options, CodecTiers) {
  const Options defaults = parsed({"/m"});
  EXPECT_EQ(defaults.config.algorithm, codec::Algorithm::kLz4);
  EXPECT_EQ(defaults.config.background_algorithm, codec::Algorithm::kZstd);
  EXPECT_TRUE(defaults.config.recompress);
  const Options lz4 = parsed({"/m", "-o", "compress=lz4"});
  EXPECT_EQ(lz4.config.algorithm, codec::Algorithm::kLz4);
  EXPECT_EQ(lz4.config.background_algorithm, codec::Algorithm::kLz4);
  const Options automatic = parsed({"/m", "-o", "compress=zstd,compress=auto"});
  EXPECT_EQ(automatic.config.algorithm, codec::Algorithm::kLz4);
  EXPECT_EQ(automatic.config.background_algorithm, codec::Algorithm::kZstd);
  EXPECT_TRUE(defaults.config.dict);
  EXPECT_EQ(parsed({"/m", "-o", "compress=zstd"}).config.algorithm, codec::Algorithm::kZstd);
  EXPECT_EQ(parsed({"/m", "-o", "compress=none"}).config.algorithm, codec::Algorithm::kNone);
  EXPECT_FALSE(parsed({"/m", "-o", "recompress=off"}).config.recompress);
  EXPECT_EQ(parsed({"/m", "-o", "recompress_level=19"}).config.recompress_level, 19);
  EXPECT_EQ(parsed({"/m", "-o", "recompress_after=90"}).config.recompress_after_seconds, 90);
  EXPECT_EQ(parsed({"/m", "-o", "recompress_after=5m"}).config.recompress_after_seconds, 300);
  EXPECT_EQ(parsed({"/m", "-o", "recompress_after=2H"}).config.recompress_after_seconds, 7200);
  EXPECT_EQ(parsed({"/m", "-o", "recompress_after=0"}).config.recompress_after_seconds, 0);
  EXPECT_EQ(parsed({"/m", "-o", "recompress_after=off"}).config.recompress_after_seconds, -1);
  EXPECT_FALSE(parsed({"/m", "-o", "dict=off"}).config.dict);
  EXPECT_EQ(parsed({"/m", "-o", "dict_size=256k"}).config.dict_size_bytes, 256u << 10);
}

TEST(Options, MountFlagsPassToFuseInOrder) {
  const Options options =
      parsed({"/m", "-o",
              "ro,nosuid,nodev,noexec,sync,dirsync,rw,suid,dev,exec,async,allow_root,"
              "auto_unmount"});
  EXPECT_EQ(
      options.fuse_options,
      (std::vector<std::string>{"ro", "nosuid", "nodev", "noexec", "sync", "dirsync", "rw", "suid",
                                "dev", "exec", "async", "allow_root", "auto_unmount"}));
}

TEST(Options, SelinuxLabelsPassToFuseOnlyWithSelinux) {
  SystemInfo system = test_system();
  system.selinux = true;
  const char* argv[] = {"zsfs", "/m", "-o", "context=system_u:object_r:tmp_t:s0,fscontext=a"};
  CommandLine command = parse_command_line(4, argv, system);
  ASSERT_EQ(command.action, Action::kMount) << command.message;
  EXPECT_EQ(command.options.fuse_options,
            (std::vector<std::string>{"context=system_u:object_r:tmp_t:s0", "fscontext=a"}));
  // test_system() has no SELinux: the kernel would refuse, so zsfs does first, and says why.
  EXPECT_EQ(error_for("rootcontext=system_u:object_r:tmp_t:s0"),
            "option 'rootcontext=system_u:object_r:tmp_t:s0': SELinux is not enabled on this "
            "system, and without it the kernel refuses SELinux labels (mount(8) drops them then, "
            "which is why other filesystems seem to take them); leave the option out");
}

TEST(Options, FstabOnlyOptionsAreIgnored) {
  const Options options = parsed(
      {"/m", "-o",
       "defaults,auto,noauto,user,users,nouser,owner,group,_netdev,nofail,x-systemd.automount,"
       "x-gvfs-show,default_permissions,,"});
  EXPECT_TRUE(options.fuse_options.empty());
}

TEST(Options, FuseArguments) {
  Options options = parsed({"none", "/m", "-o", "allow_other,noatime,ro,nodev"});
  EXPECT_EQ(fuse_arguments(options),
            (std::vector<std::string>{
                "zsfs", "-o",
                "default_permissions,fsname=none,subtype=zsfs,allow_other,noatime,ro,nodev"}));
  options = parsed({"/m", "-d", "-o", "fsname=a\\,b,subtype=x"});
  EXPECT_EQ(options.fsname, "a,b");
  EXPECT_EQ(
      fuse_arguments(options),
      (std::vector<std::string>{"zsfs", "-o", "default_permissions,fsname=a\\,b,subtype=x,debug"}));
  options = parsed({"/m"});
  EXPECT_EQ(
      fuse_arguments(options),
      (std::vector<std::string>{"zsfs", "-o", "default_permissions,fsname=zsfs,subtype=zsfs"}));
  // An empty subtype: none at all, which gives the plain type fuse.
  options = parsed({"/m", "-o", "subtype="});
  EXPECT_EQ(fuse_arguments(options),
            (std::vector<std::string>{"zsfs", "-o", "default_permissions,fsname=zsfs"}));
}

TEST(Options, AclIsOnUnlessNoacl) {
  EXPECT_TRUE(parsed({"/m"}).config.posix_acl);
  EXPECT_FALSE(parsed({"/m", "-o", "noacl"}).config.posix_acl);
  EXPECT_TRUE(parsed({"/m", "-o", "noacl,acl"}).config.posix_acl);
  EXPECT_EQ(error_for("acl=1"), "option 'acl=1': 'acl' takes no value");
}

TEST(Options, SplitOptionList) {
  EXPECT_EQ(split_option_list("a,b=c"), (std::vector<std::string>{"a", "b=c"}));
  EXPECT_EQ(split_option_list("a\\,b,c"), (std::vector<std::string>{"a,b", "c"}));
  EXPECT_EQ(split_option_list("x\\\\,y"), (std::vector<std::string>{"x\\", "y"}));
  EXPECT_EQ(split_option_list(""), (std::vector<std::string>{""}));
  EXPECT_EQ(split_option_list("a,"), (std::vector<std::string>{"a", ""}));
}

TEST(Options, HelpAndVersion) {
  EXPECT_EQ(parse({"--help"}).action, Action::kHelp);
  EXPECT_EQ(parse({"-h"}).action, Action::kHelp);
  EXPECT_EQ(parse({"/mnt", "--help"}).action, Action::kHelp);
  EXPECT_EQ(parse({"--version"}).action, Action::kVersion);
  EXPECT_EQ(parse({"-V"}).action, Action::kVersion);
  const std::string help = usage_text(test_system());
  EXPECT_NE(help.find("Usage: zsfs [SOURCE] MOUNTPOINT"), std::string::npos);
  EXPECT_NE(help.find("default 50% = 4.00 GiB"), std::string::npos);
  EXPECT_NE(help.find("zstd level of compress=zstd, -7 to 22 (default 3)"), std::string::npos);
  EXPECT_NE(help.find("1000:100"), std::string::npos);
}

TEST(Options, BadCommandLines) {
  CommandLine command = parse({});
  EXPECT_EQ(command.action, Action::kUsageError);
  EXPECT_EQ(command.message, "missing mount point");
  command = parse({"-o", "size=1g"});
  EXPECT_EQ(command.message, "missing mount point");
  command = parse({"a", "b", "c"});
  EXPECT_EQ(command.action, Action::kUsageError);
  EXPECT_EQ(command.message, "too many arguments (from 'c' on); expected [SOURCE] MOUNTPOINT");
  command = parse({""});
  EXPECT_EQ(command.message, "missing mount point (the argument is empty)");
  command = parse({"", "/mnt"});
  EXPECT_EQ(command.message, "empty source name");
  command = parse({"/mnt", "--bogus"});
  EXPECT_EQ(command.action, Action::kUsageError);
  EXPECT_NE(command.message.find("--bogus"), std::string::npos);
  command = parse({"/mnt", "-o"});
  EXPECT_EQ(command.action, Action::kUsageError);
  EXPECT_NE(command.message.find("-o"), std::string::npos);
}

}  // namespace
}  // namespace zsfs::mount

namespace zsfs::mount {
namespace {

TEST(Options, ImageAndSaveInterval) {
  Options o = parsed({"/m", "-o", "image=/var/lib/zsfs/home.img,save_interval=10m"});
  EXPECT_EQ(o.config.image_path, "/var/lib/zsfs/home.img");
  EXPECT_EQ(o.config.save_interval_seconds, 600u);
  EXPECT_EQ(parsed({"/m", "-o", "image=/a/./b/../c.img"}).config.image_path, "/a/c.img");
  // A relative path is made absolute: the daemon works from / once mounted.
  const std::string relative = parsed({"/m", "-o", "image=z.img"}).config.image_path;
  EXPECT_EQ(relative.front(), '/');
  EXPECT_TRUE(relative.ends_with("/z.img"));
  EXPECT_EQ(parsed({"/m", "-o", "save_interval=off"}).config.save_interval_seconds, 0u);
  EXPECT_EQ(parsed({"/m"}).config.image_path, "");
  EXPECT_EQ(parsed({"/m"}).config.save_interval_seconds, 0u);
  EXPECT_NE(error_for("image=").find("image=: expected the path of a file"), std::string::npos);
  EXPECT_NE(error_for("image=/var/lib/").find("expected the path of a file"), std::string::npos);
  EXPECT_NE(error_for("save_interval=often").find("save_interval=often: not a duration"),
            std::string::npos);
  EXPECT_NE(error_for("save_interval=60d").find("save_interval=60d: too long"), std::string::npos);
  EXPECT_NE(error_for("image").find("needs a value, such as image=/var/lib/zsfs/home.img"),
            std::string::npos);
}

}  // namespace
}  // namespace zsfs::mount

namespace zsfs::mount {
namespace {

TEST(Options, BackingFile) {
  Options o = parsed({"/m", "-o", "backing=/var/tmp/z.back,backing_size=16g,writeback_after=1h"});
  EXPECT_EQ(o.config.backing_path, "/var/tmp/z.back");
  EXPECT_EQ(o.config.backing_size_bytes, 16ull << 30);
  EXPECT_EQ(o.config.writeback_after_seconds, 3600);
  EXPECT_TRUE(o.config.promote);
  EXPECT_FALSE(parsed({"/m", "-o", "promote=off"}).config.promote);
  EXPECT_EQ(parsed({"/m", "-o", "writeback_after=off"}).config.writeback_after_seconds, -1);
  EXPECT_EQ(parsed({"/m"}).config.backing_path, "");
  EXPECT_EQ(parsed({"/m"}).config.backing_size_bytes, 0u);
  EXPECT_EQ(parsed({"/m"}).config.writeback_after_seconds, -1);
  EXPECT_NE(error_for("backing=").find("backing=: expected the path of a file"), std::string::npos);
  EXPECT_NE(error_for("backing_size=100k").find("backing_size=100k: too small; the least is"),
            std::string::npos);
  EXPECT_NE(error_for("backing_size=lots").find("backing_size=lots"), std::string::npos);
  EXPECT_NE(error_for("writeback_after=10h").find("writeback_after=10h: too long"),
            std::string::npos);
  EXPECT_NE(error_for("promote=maybe").find("promote=maybe"), std::string::npos);
}

}  // namespace
}  // namespace zsfs::mount

#include "mount/generic_options.h"

#include <sys/mount.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace zsfs::mount {
namespace {

SystemInfo no_selinux() {
  return SystemInfo{};
}

// Applies each option in turn to fresh defaults and returns the options.
Options applied(std::initializer_list<std::string_view> list) {
  Options options;
  for (std::string_view option : list) {
    std::optional<Check> result = apply_generic_option(option, no_selinux(), options);
    EXPECT_TRUE(result.has_value()) << option;
    if (result) {
      EXPECT_TRUE(result->ok()) << result->message();
    }
  }
  return options;
}

TEST(GenericOptions, EveryOptionMountDocumentsIsTaken) {
  // mount(8)'s FILESYSTEM-INDEPENDENT MOUNT OPTIONS, and its fstab-only ones.
  for (std::string_view option : {"async",
                                  "atime",
                                  "noatime",
                                  "auto",
                                  "noauto",
                                  "defaults",
                                  "dev",
                                  "nodev",
                                  "diratime",
                                  "nodiratime",
                                  "dirsync",
                                  "exec",
                                  "noexec",
                                  "group",
                                  "iversion",
                                  "noiversion",
                                  "mand",
                                  "nomand",
                                  "nofail",
                                  "relatime",
                                  "norelatime",
                                  "strictatime",
                                  "nostrictatime",
                                  "lazytime",
                                  "nolazytime",
                                  "suid",
                                  "nosuid",
                                  "silent",
                                  "loud",
                                  "owner",
                                  "ro",
                                  "rw",
                                  "sync",
                                  "user",
                                  "nouser",
                                  "users",
                                  "symfollow",
                                  "nosymfollow",
                                  "_netdev",
                                  "x-systemd.automount",
                                  "x-mount.mkdir=0755"}) {
    Options options;
    std::optional<Check> result = apply_generic_option(option, no_selinux(), options);
    ASSERT_TRUE(result.has_value()) << option;
    EXPECT_TRUE(result->ok()) << option << ": " << result->message();
  }
  Options options;
  EXPECT_FALSE(apply_generic_option("size=1g", no_selinux(), options).has_value());
  EXPECT_FALSE(apply_generic_option("bogus", no_selinux(), options).has_value());
}

TEST(GenericOptions, KernelFlagsGoToLibfuseInOrder) {
  EXPECT_EQ(applied({"ro", "nosuid", "sync", "rw"}).fuse_options,
            (std::vector<std::string>{"ro", "nosuid", "sync", "rw"}));
}

TEST(GenericOptions, WithoutEffectChangesNothing) {
  const Options options =
      applied({"lazytime", "nolazytime", "iversion", "noiversion", "silent", "loud", "mand",
               "nomand", "defaults", "auto", "noauto", "user", "users", "nouser", "owner", "group",
               "_netdev", "nofail", "x-gvfs-show"});
  const Options defaults;
  EXPECT_TRUE(options.fuse_options.empty());
  EXPECT_EQ(options.mount_flags, 0u);
  EXPECT_EQ(options.config.atime, defaults.config.atime);
  EXPECT_TRUE(options.config.dir_atime);
}

TEST(GenericOptions, MountAttributesOnlyWhereLibfuseCannot) {
  // noatime goes through libfuse (options.cc adds it to its arguments); the rest as attributes.
  EXPECT_EQ(mount_attributes(applied({"noatime"})).set, 0u);
  EXPECT_EQ(mount_attributes(applied({"nodiratime"})).set, uint64_t{MOUNT_ATTR_NODIRATIME});
  EXPECT_EQ(mount_attributes(applied({"nodiratime"})).required, 0u);
  EXPECT_EQ(mount_attributes(applied({"strictatime"})).set, uint64_t{MOUNT_ATTR_STRICTATIME});
  const MountAttributes nosymfollow = mount_attributes(applied({"nosymfollow"}));
  EXPECT_EQ(nosymfollow.set, uint64_t{MOUNT_ATTR_NOSYMFOLLOW});
  EXPECT_EQ(nosymfollow.required, uint64_t{MOUNT_ATTR_NOSYMFOLLOW});
  EXPECT_EQ(mount_attributes(applied({"nosymfollow", "symfollow", "nodiratime", "diratime"})).set,
            0u);
}

TEST(GenericOptions, BadValues) {
  Options options;
  EXPECT_EQ(apply_generic_option("nodiratime=1", no_selinux(), options)->message(),
            "option 'nodiratime=1': 'nodiratime' takes no value");
  EXPECT_EQ(apply_generic_option("context=", no_selinux(), options)->message(),
            "option 'context' needs a value");
}

}  // namespace
}  // namespace zsfs::mount

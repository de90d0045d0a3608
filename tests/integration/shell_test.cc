// zsfs used the way people use tmpfs from a shell: copying a real tree in and out, the everyday
// commands (mv, ln, mkfifo, chmod, chown, touch, truncate, dd, fallocate, du, find, rm), with the
// output compared to the same commands on tmpfs; and memory back near empty afterwards.
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "tests/integration/harness.h"

namespace zsfs::test {
namespace {

// A real tree to copy: documentation is varied (text, compressed files, symlinks, hard links).
std::string source_tree() {
  for (const char* candidate : {"/usr/share/doc", "/usr/include", "/etc"}) {
    struct stat st {};
    if (stat(candidate, &st) == 0 && S_ISDIR(st.st_mode)) return candidate;
  }
  return "";
}

// Type, mode, links, owner, size and mtime of everything under dir (sizes of files and links
// only; directory sizes are filesystem-specific), one sorted line each.
std::string tree_listing(const std::string& dir) {
  RunResult listing = sh("cd " + shell_quote(dir) +
                         " && find . -mindepth 1 \\( -type d -printf '%y %M %n %U:%G %P\\n' \\) -o "
                         "-printf '%y %M %n %U:%G %s %T@ %P -> %l\\n' | LC_ALL=C sort");
  EXPECT_EQ(listing.status, 0) << listing.output;
  return listing.output;
}

class ShellTest : public ZsfsTest {};

TEST_F(ShellTest, CopyARealTreeInAndOut) {
  const std::string src = source_tree();
  if (src.empty()) GTEST_SKIP() << "no tree to copy (/usr/share/doc, /usr/include, /etc)";
  ZSFS_START_OR_SKIP(zsfs_, "size=2G");
  TmpfsDir tmpfs("2G");
  const std::string z = shell_quote(zsfs_.path());
  const std::string t = shell_quote(tmpfs.path());
  const std::string s = shell_quote(src);

  RunResult copy = sh("cp -a " + s + " " + z + "/tree && cp -a " + s + " " + t + "/tree");
  ASSERT_EQ(copy.status, 0) << copy.output;
  RunResult diff = sh("diff -r --no-dereference " + s + " " + z + "/tree");
  EXPECT_EQ(diff.status, 0) << diff.output.substr(0, 4000);
  EXPECT_EQ(tree_listing(zsfs_.path() + "/tree"), tree_listing(tmpfs.path() + "/tree"));

  // Blocks per file and in total, as du(1) sees them, match tmpfs.
  RunResult du_z = sh("cd " + z +
                      "/tree && find . -type f -printf '%b %P\\n' | LC_ALL=C sort && "
                      "du -sk . && du -sk --apparent-size --exclude=. .");
  RunResult du_t = sh("cd " + t +
                      "/tree && find . -type f -printf '%b %P\\n' | LC_ALL=C sort && "
                      "du -sk . && du -sk --apparent-size --exclude=. .");
  EXPECT_EQ(du_z.output, du_t.output);

  // Out again with tar, into tmpfs, and compare.
  RunResult tar = sh("mkdir " + t + "/untar && tar -C " + z + " -cf - tree | tar -C " + t +
                     "/untar -xpf - && diff -r --no-dereference " + s + " " + t + "/untar/tree");
  EXPECT_EQ(tar.status, 0) << tar.output.substr(0, 4000);
  EXPECT_EQ(tree_listing(tmpfs.path() + "/untar/tree"), tree_listing(tmpfs.path() + "/tree"));

  RunResult count_z = sh("find " + z + "/tree | wc -l");
  RunResult count_s = sh("find " + s + " | wc -l");
  EXPECT_EQ(count_z.output, count_s.output);
  ASSERT_EQ(sh("rm -rf " + z + "/tree").status, 0);
  EXPECT_EQ(wait_for_stat(zsfs_.path(), "inodes", 1), 1u);
  EXPECT_EQ(stat_field(zsfs_.path(), "orig_data_size"), 0u);
}

// The same commands in a directory on zsfs and on tmpfs; the output should be the same.
constexpr const char* kEverydayScript = R"(
cd "$1"
echo hello > a
mv a b
ln b c
ln -s b d
mkfifo p
mkdir -p x/y/z
chmod 640 b
chown 1:2 b
touch -d '2001-02-03 04:05:06' b
truncate -s 10000 e
truncate -s 5000 e
seq 1 1000000 | head -c 4194304 > f
dd if=f of=s bs=4k count=1 seek=1000 status=none
dd if=f of=f2 bs=1M count=2 skip=1 status=none
fallocate --punch-hole --offset 4096 --length 65536 f
fallocate -l 1M g
fallocate -l 8192 -o 1048576 -n g
cp --sparse=always s s2
mv f2 x/y/z/
echo '-- stat'
for n in b c d e f g p s s2 x/y/z/f2; do stat -c '%n %F %a %h %u:%g %s %b' "$n"; done
stat -c '%n %Y' b
echo '-- du'
du -k b e f g s s2 x/y/z/f2
du -sk .
du -sk --apparent-size x
echo '-- find'
find . | LC_ALL=C sort
echo '-- read'
cat b
readlink d
cmp f x/y/z/f2 || true
md5sum s f x/y/z/f2
echo '-- remove'
rm -rf x
rm b c d
ls
)";

TEST_F(ShellTest, EverydayCommandsMatchTmpfs) {
  ZSFS_START_OR_SKIP(zsfs_, "size=256M");
  TmpfsDir tmpfs("256M");
  RunResult on_zsfs = run({"sh", "-euc", kEverydayScript, "sh", zsfs_.path()});
  RunResult on_tmpfs = run({"sh", "-euc", kEverydayScript, "sh", tmpfs.path()});
  EXPECT_EQ(on_zsfs.status, 0) << on_zsfs.output;
  EXPECT_EQ(on_tmpfs.status, 0) << on_tmpfs.output;
  EXPECT_EQ(on_zsfs.output, on_tmpfs.output) << "zsfs (first) differs from tmpfs (second)";
}

TEST_F(ShellTest, MemoryReturnsAfterRemoval) {
  ZSFS_START_OR_SKIP(zsfs_, "size=512M");
  const uint64_t empty_used = stat_field(zsfs_.path(), "mem_used_total");
  const std::string z = shell_quote(zsfs_.path());
  RunResult fill = sh("mkdir " + z + "/d && for i in $(seq 1 50); do seq $i 200000 > " + z +
                      "/d/f$i; done && cp -r " + z + "/d " + z +
                      "/e && dd if=/dev/urandom of=" + z + "/r bs=1M count=16 status=none");
  ASSERT_EQ(fill.status, 0) << fill.output;
  const uint64_t full_used = stat_field(zsfs_.path(), "mem_used_total");
  EXPECT_GT(full_used, empty_used + (16u << 20));
  ASSERT_EQ(sh("rm -rf " + z + "/d " + z + "/e " + z + "/r").status, 0);
  EXPECT_EQ(wait_for_stat(zsfs_.path(), "inodes", 1), 1u);
  ASSERT_EQ(zsfsctl({"compact", zsfs_.path()}).status, 0);
  EXPECT_EQ(stat_field(zsfs_.path(), "orig_data_size"), 0u);
  EXPECT_EQ(stat_field(zsfs_.path(), "unique_blocks"), 0u);
  EXPECT_EQ(stat_field(zsfs_.path(), "pool_pages"), 0u);
  // Back near empty: what is left are the core's fixed structures.
  EXPECT_LE(stat_field(zsfs_.path(), "mem_used_total"), empty_used + (256u << 10))
      << "empty: " << empty_used << ", full: " << full_used;
}

}  // namespace
}  // namespace zsfs::test

// The integration harness, part two: statistics, files, test data and tmpfs comparisons. See
// harness.h.
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/integration/harness.h"

namespace zsfs::test {
namespace {

using namespace std::chrono_literals;

std::string errno_text(int err) {
  return std::strerror(err);
}

}  // namespace

RunResult zsfsctl(const std::vector<std::string>& args, const RunOptions& options) {
  // Another user may not reach the build directory (a clone under /root): a copy it can run.
  std::vector<std::string> argv = {options.uid ? zsfsctl_for_users() : zsfsctl_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, options);
}

Json read_json_xattr(const std::string& path, const std::string& name) {
  std::string value(1 << 20, '\0');
  const ssize_t n = getxattr(path.c_str(), name.c_str(), value.data(), value.size());
  if (n < 0) {
    ADD_FAILURE() << "getxattr " << path << " " << name << ": " << errno_text(errno);
    return {};
  }
  value.resize(static_cast<size_t>(n));
  auto parsed = mount::parse_json(value);
  if (!parsed.ok()) {
    ADD_FAILURE() << name << " is not JSON: " << parsed.message() << "\n" << value;
    return {};
  }
  return *parsed;
}

void settle(const std::string& mount_point) {
  const Json check = read_json_xattr(mount_point, "user.zsfs.check");
  EXPECT_TRUE(mount::json_bool(check, "ok") == true)
      << "consistency check: " << to_json_text(check);
}

uint64_t stat_field(const std::string& mount_point, const std::string& field) {
  settle(mount_point);
  const Json stats = read_json_xattr(mount_point, "user.zsfs.stats");
  const auto value = mount::json_u64(stats, field);
  if (!value) {
    ADD_FAILURE() << "user.zsfs.stats has no integer field " << field << ": "
                  << to_json_text(stats);
    return 0;
  }
  return *value;
}

uint64_t request_count(const std::string& mount_point, const std::string& op) {
  const Json stats = read_json_xattr(mount_point, "user.zsfs.stats");
  const Json* requests = mount::json_member(stats, "requests");
  const auto value = requests != nullptr ? mount::json_u64(*requests, op) : std::nullopt;
  if (!value) {
    ADD_FAILURE() << "user.zsfs.stats has no request count " << op << ": " << to_json_text(stats);
    return 0;
  }
  return *value;
}

uint64_t wait_for_stat(const std::string& mount_point, const std::string& field, uint64_t expected,
                       std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const uint64_t value = stat_field(mount_point, field);
    if (value == expected || std::chrono::steady_clock::now() >= deadline) return value;
    std::this_thread::sleep_for(10ms);
  }
}

void write_file(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out) ADD_FAILURE() << "cannot write " << path;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void fill_compressible(char* out, size_t size, uint64_t first_block) {
  static constexpr std::string_view kText =
      "zsfs keeps file data in compressed blocks of four KiB, shares identical blocks, and "
      "stores the rest in a pool of zspages much like the kernel's zsmalloc does for zram. ";
  for (size_t offset = 0; offset < size; offset += 4096) {
    const uint64_t block = first_block + offset / 4096;
    char header[48];
    const int header_size = std::snprintf(header, sizeof header, "[block %020llu]",
                                          static_cast<unsigned long long>(block));
    const size_t end = std::min(size, offset + 4096);
    size_t at = offset;
    size_t text_at = block % kText.size();
    while (at < end) {
      if ((at - offset) % 512 == 0) {
        const size_t n = std::min(end - at, static_cast<size_t>(header_size));
        std::memcpy(out + at, header, n);
        at += n;
        continue;
      }
      out[at++] = kText[text_at++ % kText.size()];
    }
  }
}

size_t write_until_error(const std::string& path, const std::string& data, int& err) {
  err = 0;
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    err = errno;
    return 0;
  }
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      err = errno;
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (close(fd) != 0 && err == 0) err = errno;
  return done;
}

std::string compressible_data(size_t size, uint64_t first_block) {
  std::string data(size, '\0');
  fill_compressible(data.data(), size, first_block);
  return data;
}

std::string random_data(size_t size, uint64_t seed) {
  std::string data(size, '\0');
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
  for (size_t i = 0; i + 8 <= size; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(data.data() + i, &x, 8);
  }
  for (size_t i = size / 8 * 8; i < size; ++i)
    data[i] = static_cast<char>(i * 131 + seed);
  return data;
}

uint64_t checksum(const char* data, size_t size, uint64_t seed) {
  uint64_t h = seed ^ 0xcbf29ce484222325ull;
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t word;
    std::memcpy(&word, data + i, 8);
    h = (h ^ word) * 0x100000001b3ull;
    h ^= h >> 29;
  }
  for (; i < size; ++i)
    h = (h ^ static_cast<unsigned char>(data[i])) * 0x100000001b3ull;
  return h;
}

std::string errno_name(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : "errno " + std::to_string(err);
}

long Transcript::step(const std::string& what, long result) {
  text_ += what + ": " + (result >= 0 ? "OK" : errno_name(static_cast<int>(-result))) + "\n";
  return result;
}

void Transcript::note(const std::string& line) {
  text_ += line + "\n";
}

std::string transcript_as(uid_t uid, gid_t gid, const std::vector<gid_t>& groups,
                          const std::function<void(Transcript&)>& scenario) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return "pipe: " + errno_name(errno);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    if (setgroups(groups.size(), groups.data()) != 0 || setresgid(gid, gid, gid) != 0 ||
        setresuid(uid, uid, uid) != 0) {
      _exit(126);
    }
    Transcript t;
    scenario(t);
    const std::string& text = t.str();
    for (size_t done = 0; done < text.size();) {
      const ssize_t n = write(fds[1], text.data() + done, text.size() - done);
      if (n <= 0) _exit(125);
      done += static_cast<size_t>(n);
    }
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n = 0;
  while ((n = read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) out.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    out += "[the child as " + std::to_string(uid) + " failed: status " + std::to_string(status) +
           "]\n";
  }
  return out;
}

std::string expect_same_as_tmpfs(
    const std::string& zsfs_root,
    const std::function<void(const std::string&, Transcript&)>& scenario) {
  TmpfsDir tmpfs;
  const std::string zsfs_dir = zsfs_root + "/cmp";
  const std::string tmpfs_dir = tmpfs.path() + "/cmp";
  if (mkdir(zsfs_dir.c_str(), 0755) != 0 || mkdir(tmpfs_dir.c_str(), 0755) != 0) {
    ADD_FAILURE() << "mkdir: " << errno_text(errno);
    return "";
  }
  Transcript on_zsfs;
  Transcript on_tmpfs;
  scenario(zsfs_dir, on_zsfs);
  scenario(tmpfs_dir, on_tmpfs);
  EXPECT_EQ(on_zsfs.str(), on_tmpfs.str()) << "zsfs (first) differs from tmpfs (second)";
  return on_zsfs.str();
}

std::string shorten(const std::string& text) {
  if (text.size() <= 40) return text;
  return text.substr(0, 20) + "...(" + std::to_string(text.size()) + " bytes)";
}

std::string describe(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return "lstat: " + errno_name(errno);
  char line[256];
  std::snprintf(line, sizeof line, "mode=%o nlink=%lu uid=%u gid=%u", st.st_mode,
                static_cast<unsigned long>(st.st_nlink), st.st_uid, st.st_gid);
  std::string out = line;
  if (S_ISREG(st.st_mode)) {
    std::snprintf(line, sizeof line, " size=%lld blocks=%lld", static_cast<long long>(st.st_size),
                  static_cast<long long>(st.st_blocks));
    out += line;
  } else if (S_ISLNK(st.st_mode)) {
    // tmpfs keeps long targets in a page it counts in st_blocks; zsfs keeps them as metadata.
    out += " size=" + std::to_string(st.st_size);
  }
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
    out += " rdev=" + std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev));
  }
  if (S_ISLNK(st.st_mode)) {
    char target[4096];
    const ssize_t n = readlink(path.c_str(), target, sizeof target);
    if (n >= 0) out += " -> " + shorten(std::string(target, static_cast<size_t>(n)));
  }
  return out;
}

}  // namespace zsfs::test

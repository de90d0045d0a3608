// The request layer fed raw FUSE requests and replies, laid out as the kernel and libfuse write
// them (<linux/fuse.h>).
#include "mount/request_layer.h"

#include <fcntl.h>
#include <linux/fuse.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace zsfs::mount {
namespace {

// A request: the header, then the argument struct and any trailing bytes (names).
template <class Arg>
std::vector<char> request(uint32_t opcode, uint64_t unique, uint64_t nodeid, const Arg& arg,
                          const std::string& tail = "") {
  fuse_in_header header{};
  header.len = static_cast<uint32_t>(sizeof header + sizeof arg + tail.size());
  header.opcode = opcode;
  header.unique = unique;
  header.nodeid = nodeid;
  header.uid = 1000;
  header.gid = 100;
  header.pid = 4242;
  std::vector<char> bytes;
  bytes.reserve(header.len);
  auto append = [&bytes](const void* from, size_t size) {
    const char* first = static_cast<const char*>(from);
    bytes.insert(bytes.end(), first, first + size);
  };
  append(&header, sizeof header);
  append(&arg, sizeof arg);
  append(tail.data(), tail.size());
  return bytes;
}

template <class T>
T read_at(const std::vector<char>& bytes, size_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

struct Kill {
  uint64_t nodeid;
  fs::Caller caller;
};

class RequestLayerTest : public ::testing::Test {
 protected:
  RequestLayer layer_{FUSE_HANDLE_KILLPRIV_V2, [this](uint64_t nodeid, const fs::Caller& caller) {
                        kills_.push_back({nodeid, caller});
                      }};
  std::vector<Kill> kills_;

  size_t pass(std::vector<char>& bytes) { return layer_.on_request(bytes); }

  // Sends INIT with the kernel's flags (flags2 through FUSE_INIT_EXT).
  void init(uint64_t unique, uint64_t kernel_flags) {
    fuse_init_in in{};
    in.major = 7;
    in.minor = 45;
    in.flags = static_cast<uint32_t>(kernel_flags) | FUSE_INIT_EXT;
    in.flags2 = static_cast<uint32_t>(kernel_flags >> 32);
    std::vector<char> bytes = request(FUSE_INIT, unique, 0, in);
    const std::vector<char> before = bytes;
    EXPECT_EQ(pass(bytes), bytes.size());
    EXPECT_EQ(bytes, before);  // INIT goes to libfuse as it came
  }

  // libfuse's reply to a request: the header in one iovec, the argument in another.
  struct Reply {
    fuse_out_header header{};
    fuse_init_out init{};
    size_t patched_size = 0;
    std::array<char, RequestLayer::kInitReplyMax> patched{};
  };
  Reply init_reply(uint64_t unique, uint32_t flags, uint32_t flags2 = 0, int error = 0) {
    Reply reply;
    reply.init.major = 7;
    reply.init.minor = 31;
    reply.init.flags = flags;
    reply.init.flags2 = flags2;
    reply.header.unique = unique;
    reply.header.error = error;
    const size_t body = error == 0 ? sizeof reply.init : 0;
    reply.header.len = static_cast<uint32_t>(sizeof reply.header + body);
    iovec iov[2] = {{&reply.header, sizeof reply.header}, {&reply.init, body}};
    const fuse_init_out before = reply.init;
    reply.patched_size = layer_.on_reply(iov, error == 0 ? 2 : 1, reply.patched);
    EXPECT_EQ(std::memcmp(&before, &reply.init, sizeof before), 0) << "libfuse's buffer changed";
    return reply;
  }
  static fuse_init_out patched_init(const Reply& reply) {
    fuse_init_out out;
    std::memcpy(&out, reply.patched.data() + sizeof(fuse_out_header), sizeof out);
    return out;
  }
};

TEST_F(RequestLayerTest, InitReplyGainsKillprivV2WhereTheKernelOffersIt) {
  init(2, FUSE_ASYNC_READ | FUSE_POSIX_ACL | FUSE_HANDLE_KILLPRIV_V2 | (1ULL << 32));
  EXPECT_EQ(layer_.kernel_init_flags(), FUSE_ASYNC_READ | FUSE_POSIX_ACL | FUSE_HANDLE_KILLPRIV_V2 |
                                            FUSE_INIT_EXT | (1ULL << 32));
  EXPECT_EQ(init_reply(1, FUSE_ASYNC_READ).patched_size, 0u) << "not the INIT's reply";
  const Reply reply = init_reply(2, FUSE_ASYNC_READ | FUSE_POSIX_ACL);
  ASSERT_EQ(reply.patched_size, RequestLayer::kInitReplyMax);
  const fuse_init_out out = patched_init(reply);
  EXPECT_EQ(out.flags, FUSE_ASYNC_READ | FUSE_POSIX_ACL | FUSE_HANDLE_KILLPRIV_V2);
  EXPECT_EQ(out.minor, 31u);
  EXPECT_EQ(layer_.added_init_flags(), uint64_t{FUSE_HANDLE_KILLPRIV_V2});
  // The header goes along unchanged; the exchange is over.
  fuse_out_header header;
  std::memcpy(&header, reply.patched.data(), sizeof header);
  EXPECT_EQ(header.unique, 2u);
  EXPECT_EQ(header.len, RequestLayer::kInitReplyMax);
  EXPECT_EQ(init_reply(2, FUSE_ASYNC_READ).patched_size, 0u);
}

TEST_F(RequestLayerTest, NothingAddedWhereTheKernelDoesNotOfferIt) {
  init(7, FUSE_ASYNC_READ | FUSE_POSIX_ACL);
  EXPECT_EQ(init_reply(7, FUSE_ASYNC_READ).patched_size, 0u);
  EXPECT_EQ(layer_.added_init_flags(), 0u);
}

TEST_F(RequestLayerTest, AnInitRefusedByLibfuseIsLeftAlone) {
  init(3, FUSE_HANDLE_KILLPRIV_V2);
  EXPECT_EQ(init_reply(3, 0, 0, -EPROTO).patched_size, 0u);
}

TEST(RequestLayer, FlagsAboveBit31GoToFlags2OnlyWithInitExt) {
  constexpr uint64_t kHigh = 1ULL << 33;
  RequestLayer layer(kHigh, [](uint64_t, const fs::Caller&) {});
  fuse_init_in in{};
  in.flags = FUSE_INIT_EXT;
  in.flags2 = static_cast<uint32_t>(kHigh >> 32);
  std::vector<char> bytes = request(FUSE_INIT, 9, 0, in);
  layer.on_request(bytes);
  fuse_out_header header{sizeof(fuse_out_header) + sizeof(fuse_init_out), 0, 9};
  fuse_init_out out{};
  out.flags = FUSE_INIT_EXT;
  iovec iov[2] = {{&header, sizeof header}, {&out, sizeof out}};
  std::array<char, RequestLayer::kInitReplyMax> patched{};
  ASSERT_EQ(layer.on_reply(iov, 2, patched), RequestLayer::kInitReplyMax);
  fuse_init_out result;
  std::memcpy(&result, patched.data() + sizeof header, sizeof result);
  EXPECT_EQ(result.flags, uint32_t{FUSE_INIT_EXT});
  EXPECT_EQ(result.flags2, 2u);

  // A reply without FUSE_INIT_EXT: the kernel would not read flags2, so nothing is added.
  RequestLayer again(kHigh, [](uint64_t, const fs::Caller&) {});
  bytes = request(FUSE_INIT, 10, 0, in);
  again.on_request(bytes);
  header.unique = 10;
  out.flags = 0;
  EXPECT_EQ(again.on_reply(iov, 2, patched), 0u);
}

TEST_F(RequestLayerTest, TmpfileBecomesTheCreateItIsShapedLike) {
  fuse_create_in in{};
  in.flags = O_RDWR | O_TMPFILE;
  in.mode = S_IFREG | 0600;
  in.umask = 022;
  std::vector<char> bytes = request(FUSE_TMPFILE, 5, 42, in, std::string("/\0", 2));
  const std::vector<char> before = bytes;
  EXPECT_EQ(pass(bytes), before.size());
  EXPECT_EQ(read_at<fuse_in_header>(bytes, 0).opcode, uint32_t{FUSE_CREATE});
  // Only the opcode changed.
  std::vector<char> expected = before;
  const uint32_t create = FUSE_CREATE;
  std::memcpy(expected.data() + offsetof(fuse_in_header, opcode), &create, sizeof create);
  EXPECT_EQ(bytes, expected);

  // O_TMPFILE is what tells the create handler; a tmpfile request always carries it, and gets
  // it if it came without.
  in.flags = O_RDWR;
  bytes = request(FUSE_TMPFILE, 6, 42, in, std::string("/\0", 2));
  pass(bytes);
  EXPECT_EQ(read_at<fuse_create_in>(bytes, sizeof(fuse_in_header)).flags & O_TMPFILE,
            static_cast<uint32_t>(O_TMPFILE));
}

TEST_F(RequestLayerTest, KillFlagsClearPrivilegesBeforeDispatch) {
  fuse_write_in write{};
  write.size = 0;
  write.write_flags = FUSE_WRITE_KILL_SUIDGID;
  std::vector<char> bytes = request(FUSE_WRITE, 11, 77, write);
  const std::vector<char> before = bytes;
  pass(bytes);
  EXPECT_EQ(bytes, before);
  ASSERT_EQ(kills_.size(), 1u);
  EXPECT_EQ(kills_[0].nodeid, 77u);
  EXPECT_EQ(kills_[0].caller.uid, 1000u);
  EXPECT_EQ(kills_[0].caller.gid, 100u);
  EXPECT_EQ(kills_[0].caller.pid, 4242);

  write.write_flags = FUSE_WRITE_CACHE;  // a writeback of cached pages: no kill
  bytes = request(FUSE_WRITE, 12, 77, write);
  pass(bytes);
  EXPECT_EQ(kills_.size(), 1u);

  fuse_open_in open{};
  open.flags = O_WRONLY | O_TRUNC;
  open.open_flags = FUSE_OPEN_KILL_SUIDGID;
  bytes = request(FUSE_OPEN, 13, 78, open);
  pass(bytes);
  ASSERT_EQ(kills_.size(), 2u);
  EXPECT_EQ(kills_[1].nodeid, 78u);
  open.open_flags = 0;
  bytes = request(FUSE_OPEN, 14, 78, open);
  pass(bytes);
  EXPECT_EQ(kills_.size(), 2u);
}

TEST_F(RequestLayerTest, MalformedRequestsPassUntouched) {
  fuse_write_in write{};
  write.write_flags = FUSE_WRITE_KILL_SUIDGID;
  std::vector<char> full = request(FUSE_WRITE, 15, 77, write);
  // Shorter than its argument (the kill flag would be in the bytes that are missing); a length
  // that disagrees with what was read; shorter than a header.
  struct HalfAWrite {
    char bytes[sizeof(fuse_write_in) / 2];
  };
  HalfAWrite half{};
  std::memcpy(half.bytes, &write, sizeof half.bytes);
  std::vector<char> short_arg = request(FUSE_WRITE, 15, 77, half);
  std::vector<char> wrong_len(full.begin(), full.end() - 8);
  std::vector<char> tiny(full.begin(), full.begin() + 12);
  fuse_create_in create{};
  std::vector<char> tmpfile_no_name = request(FUSE_TMPFILE, 16, 1, create);
  for (std::vector<char>* bytes : {&short_arg, &wrong_len, &tiny, &tmpfile_no_name}) {
    const std::vector<char> before = *bytes;
    EXPECT_EQ(pass(*bytes), before.size());
    EXPECT_EQ(*bytes, before);
  }
  EXPECT_TRUE(kills_.empty());
}

TEST_F(RequestLayerTest, ReadAndWritevOnTheDevice) {
  // A socket pair stands in for /dev/fuse: one message per read, as the device gives.
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
  fuse_create_in in{};
  in.flags = O_RDWR | O_TMPFILE;
  const std::vector<char> sent = request(FUSE_TMPFILE, 21, 1, in, std::string("/\0", 2));
  ASSERT_EQ(write(fds[1], sent.data(), sent.size()), static_cast<ssize_t>(sent.size()));
  std::vector<char> buf(4096);
  const ssize_t got = layer_.read(fds[0], buf.data(), buf.size());
  ASSERT_EQ(got, static_cast<ssize_t>(sent.size()));
  buf.resize(static_cast<size_t>(got));
  EXPECT_EQ(read_at<fuse_in_header>(buf, 0).opcode, uint32_t{FUSE_CREATE});

  init(22, FUSE_HANDLE_KILLPRIV_V2);
  fuse_out_header header{sizeof(fuse_out_header) + sizeof(fuse_init_out), 0, 22};
  fuse_init_out out{};
  iovec iov[2] = {{&header, sizeof header}, {&out, sizeof out}};
  ASSERT_EQ(layer_.writev(fds[0], iov, 2), static_cast<ssize_t>(RequestLayer::kInitReplyMax));
  std::vector<char> reply(4096);
  const ssize_t n = ::read(fds[1], reply.data(), reply.size());
  ASSERT_EQ(n, static_cast<ssize_t>(RequestLayer::kInitReplyMax));
  EXPECT_EQ(read_at<fuse_init_out>(reply, sizeof header).flags, FUSE_HANDLE_KILLPRIV_V2);
  // Other replies go out as libfuse wrote them.
  header.unique = 23;
  out.flags = 5;
  ASSERT_EQ(layer_.writev(fds[0], iov, 2), static_cast<ssize_t>(RequestLayer::kInitReplyMax));
  ASSERT_EQ(::read(fds[1], reply.data(), reply.size()),
            static_cast<ssize_t>(RequestLayer::kInitReplyMax));
  EXPECT_EQ(read_at<fuse_init_out>(reply, sizeof header).flags, 5u);
  close(fds[0]);
  close(fds[1]);
}

TEST_F(RequestLayerTest, TheAfterInitHookRunsOnceTheInitReplyIsWritten) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
  int runs = 0;
  ssize_t pending_when_run = -1;  // bytes waiting on the device when the hook ran
  layer_.set_after_init([&] {
    ++runs;
    std::vector<char> reply(4096);
    pending_when_run = ::recv(fds[1], reply.data(), reply.size(), MSG_PEEK | MSG_DONTWAIT);
  });
  fuse_out_header header{sizeof(fuse_out_header) + sizeof(fuse_init_out), 0, 31};
  fuse_init_out out{};
  iovec iov[2] = {{&header, sizeof header}, {&out, sizeof out}};
  // A reply before INIT came, and one to another request after it, do not run it.
  ASSERT_EQ(layer_.writev(fds[0], iov, 2), static_cast<ssize_t>(RequestLayer::kInitReplyMax));
  init(32, 0);  // nothing to add to this reply: it goes out as libfuse wrote it
  ASSERT_EQ(layer_.writev(fds[0], iov, 2), static_cast<ssize_t>(RequestLayer::kInitReplyMax));
  EXPECT_EQ(runs, 0);
  header.unique = 32;
  ASSERT_EQ(layer_.writev(fds[0], iov, 2), static_cast<ssize_t>(RequestLayer::kInitReplyMax));
  EXPECT_EQ(runs, 1);
  // After the write: the reply was already on the device.
  EXPECT_EQ(pending_when_run, static_cast<ssize_t>(RequestLayer::kInitReplyMax));
  ASSERT_EQ(layer_.writev(fds[0], iov, 2), static_cast<ssize_t>(RequestLayer::kInitReplyMax));
  EXPECT_EQ(runs, 1);
  close(fds[0]);
  close(fds[1]);
}

TEST_F(RequestLayerTest, AFailedInitReplyDoesNotRunTheAfterInitHook) {
  int runs = 0;
  layer_.set_after_init([&] { ++runs; });
  init(41, 0);
  fuse_out_header header{sizeof(fuse_out_header) + sizeof(fuse_init_out), 0, 41};
  fuse_init_out out{};
  iovec iov[2] = {{&header, sizeof header}, {&out, sizeof out}};
  EXPECT_EQ(layer_.writev(-1, iov, 2), -1);  // the device is gone
  EXPECT_EQ(runs, 0);
}

}  // namespace
}  // namespace zsfs::mount

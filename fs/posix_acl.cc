#include "fs/posix_acl.h"

#include <sys/stat.h>

namespace zsfs::fs::acl {
namespace {

// The uapi layout (struct posix_acl_xattr_header and posix_acl_xattr_entry), little-endian.
constexpr uint32_t kXattrVersion = 2;
constexpr size_t kHeaderBytes = 4;
constexpr size_t kEntryBytes = 8;

uint32_t load_le32(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{b[0]} | uint32_t{b[1]} << 8 | uint32_t{b[2]} << 16 | uint32_t{b[3]} << 24;
}
uint16_t load_le16(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint16_t>(b[0] | b[1] << 8);
}
void store_le32(std::string& out, uint32_t v) {
  for (int shift = 0; shift < 32; shift += 8)
    out += static_cast<char>(v >> shift & 0xff);
}
void store_le16(std::string& out, uint16_t v) {
  out += static_cast<char>(v & 0xff);
  out += static_cast<char>(v >> 8);
}
void store_le16(char* p, uint16_t v) {
  p[0] = static_cast<char>(v & 0xff);
  p[1] = static_cast<char>(v >> 8);
}

// posix_acl_valid: the entries in the one order the kernel accepts.
Status check_order(const std::vector<Entry>& entries) {
  enum class State { kUserObj, kUser, kGroup, kOther, kDone };
  State state = State::kUserObj;
  bool needs_mask = false;
  for (const Entry& e : entries) {
    if ((e.perm & ~kPermBits) != 0) return Errno{EINVAL};
    switch (e.tag) {
      case kUserObj:
        if (state != State::kUserObj) return Errno{EINVAL};
        state = State::kUser;
        break;
      case kUser:
        if (state != State::kUser || e.id == kUndefinedId) return Errno{EINVAL};
        needs_mask = true;
        break;
      case kGroupObj:
        if (state != State::kUser) return Errno{EINVAL};
        state = State::kGroup;
        break;
      case kGroup:
        if (state != State::kGroup || e.id == kUndefinedId) return Errno{EINVAL};
        needs_mask = true;
        break;
      case kMask:
        if (state != State::kGroup) return Errno{EINVAL};
        state = State::kOther;
        break;
      case kOther:
        if (state != State::kOther && !(state == State::kGroup && !needs_mask)) {
          return Errno{EINVAL};
        }
        state = State::kDone;
        break;
      default:
        return Errno{EINVAL};
    }
  }
  return state == State::kDone ? Status{} : Status(Errno{EINVAL});
}

}  // namespace

Result<Acl> Acl::parse(std::string_view value) {
  if (value.size() < kHeaderBytes) return Errno{EINVAL};
  if (load_le32(value.data()) != kXattrVersion) return Errno{EOPNOTSUPP};
  if ((value.size() - kHeaderBytes) % kEntryBytes != 0) return Errno{EINVAL};
  Acl acl;
  const size_t count = (value.size() - kHeaderBytes) / kEntryBytes;
  acl.entries_.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const char* p = value.data() + kHeaderBytes + i * kEntryBytes;
    Entry e{load_le16(p), load_le16(p + 2), load_le32(p + 4)};
    if (e.tag != kUser && e.tag != kGroup) e.id = kUndefinedId;
    acl.entries_.push_back(e);
  }
  if (!acl.empty()) ZSFS_TRY_STATUS(check_order(acl.entries_));
  return acl;
}

std::string Acl::to_xattr() const {
  std::string out;
  out.reserve(kHeaderBytes + entries_.size() * kEntryBytes);
  store_le32(out, kXattrVersion);
  for (const Entry& e : entries_) {
    store_le16(out, e.tag);
    store_le16(out, e.perm);
    store_le32(out, e.id);
  }
  return out;
}

bool Acl::update_mode(uint32_t& mode) const {
  uint32_t bits = 0;
  bool needs_acl = false;
  for (const Entry& e : entries_) {
    switch (e.tag) {
      case kUserObj:
        bits |= uint32_t{e.perm} << 6;
        break;
      case kGroupObj:
        bits |= uint32_t{e.perm} << 3;
        break;
      case kOther:
        bits |= e.perm;
        break;
      case kMask:
        bits = (bits & ~uint32_t{S_IRWXG}) | uint32_t{e.perm} << 3;
        needs_acl = true;
        break;
      default:  // named users and groups
        needs_acl = true;
        break;
    }
  }
  mode = (mode & ~uint32_t{S_IRWXU | S_IRWXG | S_IRWXO}) | bits;
  return needs_acl;
}

bool Acl::create_masq(uint32_t& mode) {
  constexpr uint32_t kRwx = S_IRWXU | S_IRWXG | S_IRWXO;
  uint32_t bits = mode & kRwx;
  Entry* group_obj = nullptr;
  Entry* mask = nullptr;
  bool needs_acl = false;
  for (Entry& e : entries_) {
    switch (e.tag) {
      case kUserObj:
        e.perm &= static_cast<uint16_t>(bits >> 6);
        bits &= uint32_t{e.perm} << 6 | ~uint32_t{S_IRWXU};
        break;
      case kGroupObj:
        group_obj = &e;
        break;
      case kOther:
        e.perm &= static_cast<uint16_t>(bits & kPermBits);
        bits &= uint32_t{e.perm} | ~uint32_t{S_IRWXO};
        break;
      case kMask:
        mask = &e;
        needs_acl = true;
        break;
      default:
        needs_acl = true;
        break;
    }
  }
  // A valid ACL has a group entry, and a mask wherever it has named entries.
  Entry* group_bits = mask != nullptr ? mask : group_obj;
  ZSFS_CHECK_MSG(group_bits != nullptr, "an ACL without a group entry passed validation");
  group_bits->perm &= static_cast<uint16_t>(bits >> 3 & kPermBits);
  bits &= uint32_t{group_bits->perm} << 3 | ~uint32_t{S_IRWXG};
  mode = (mode & ~kRwx) | (bits & kRwx);
  return needs_acl;
}

void chmod_xattr(std::string& value, uint32_t mode) {
  const auto perm_of = [&](uint32_t shift) {
    return static_cast<uint16_t>(mode >> shift & kPermBits);
  };
  char* group_perm = nullptr;
  char* mask_perm = nullptr;
  for (size_t at = kHeaderBytes; at + kEntryBytes <= value.size(); at += kEntryBytes) {
    char* entry = value.data() + at;
    char* perm = entry + 2;
    switch (load_le16(entry)) {
      case kUserObj:
        store_le16(perm, perm_of(6));
        break;
      case kGroupObj:
        group_perm = perm;
        break;
      case kMask:
        mask_perm = perm;
        break;
      case kOther:
        store_le16(perm, perm_of(0));
        break;
      default:
        break;
    }
  }
  char* group_bits = mask_perm != nullptr ? mask_perm : group_perm;
  ZSFS_CHECK_MSG(group_bits != nullptr, "a stored ACL without a group entry");
  store_le16(group_bits, perm_of(3));
}

}  // namespace zsfs::fs::acl

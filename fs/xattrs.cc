// The extended attribute family, and the virtual attributes through which zsfs shows its
// statistics and takes requests (compaction, consistency check).
//
// Stored attributes follow tmpfs: the user., trusted. and security. namespaces, and with POSIX
// ACLs on (the default) system.posix_acl_access and system.posix_acl_default (acls.cc); names
// up to 255 bytes, values up to 64 KiB, user.* only on regular files and directories. The VFS
// checks permissions (trusted.* needs CAP_SYS_ADMIN, an ACL the owner) before a request reaches
// zsfs; the core enforces what is left: names, sizes, flags, the per-inode total and the budget,
// and the reserved "user.zsfs." prefix.
#include <sys/stat.h>
#include <sys/xattr.h>

#include <algorithm>
#include <optional>

#include "base/json.h"
#include "fs/filesystem_impl.h"
#include "fs/posix_acl.h"

namespace zsfs::fs {
namespace {

constexpr std::string_view kReservedPrefix = "user.zsfs.";
// Answer to a size query for an action attribute: its JSON result is a few hundred bytes.
constexpr size_t kActionResultMax = 4096;
// Statistics grow between a size query and the read that follows it; this much slack keeps the
// read from failing with ERANGE.
constexpr size_t kVirtualSlack = 4096;

bool has_prefix(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool is_acl(std::string_view name) {
  return name == acl::kAccessXattr || name == acl::kDefaultXattr;
}

// EOPNOTSUPP for a namespace zsfs does not keep (system.*, but for the ACLs when they are on),
// EINVAL for a bare prefix, ERANGE for a name that is too long.
Status check_name(std::string_view name, bool posix_acl) {
  if (name.empty() || name.size() > kXattrNameMax) return Errno{ERANGE};
  if (is_acl(name)) return posix_acl ? Status{} : Status(Errno{EOPNOTSUPP});
  for (std::string_view prefix : {"user.", "trusted.", "security."}) {
    if (has_prefix(name, prefix)) {
      return name.size() == prefix.size() ? Status(Errno{EINVAL}) : Status{};
    }
  }
  return Errno{EOPNOTSUPP};
}

bool is_virtual(std::string_view name) {
  return name == kXattrStats || name == kXattrClasses || name == kXattrFile ||
         name == kXattrCompact || name == kXattrCheck || has_prefix(name, kXattrDictPrefix);
}

// A non-negative decimal number that fits uint64_t, and nothing else.
std::optional<uint64_t> parse_decimal(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

bool is_action(std::string_view name) {
  return name == kXattrCompact || name == kXattrCheck;
}

}  // namespace

const std::string* Filesystem::Impl::find_xattr(const Inode& inode, std::string_view name) {
  if (inode.extras == nullptr) return nullptr;
  for (const auto& [key, value] : inode.extras->xattrs.items) {
    if (key == name) return &value;
  }
  return nullptr;
}

Status Filesystem::Impl::store_xattr(Inode& inode, std::string_view name, std::string_view value,
                                     int flags) {
  InodeExtras* extras = inode.extras.get();
  Xattrs* attrs = extras != nullptr ? &extras->xattrs : nullptr;
  auto it = attrs == nullptr ? decltype(attrs->items)::iterator{}
                             : std::find_if(attrs->items.begin(), attrs->items.end(),
                                            [&](const auto& item) { return item.first == name; });
  const bool exists = attrs != nullptr && it != attrs->items.end();
  if ((flags & XATTR_CREATE) && exists) return Errno{EEXIST};
  if ((flags & XATTR_REPLACE) && !exists) return Errno{ENODATA};

  const uint64_t old_bytes = exists ? xattr_entry_bytes(it->first, it->second) : 0;
  const uint64_t new_bytes = xattr_entry_bytes(name, value);
  const uint64_t total = (attrs != nullptr ? attrs->bytes : 0) - old_bytes + new_bytes;
  if (total > kXattrTotalMax) return Errno{ENOSPC};
  // Growth is charged before it is taken; shrinking is uncharged after.
  const uint64_t grown = new_bytes + (extras == nullptr ? InodeExtras::own_bytes_for(0) : 0);
  if (grown > old_bytes && !budget_.try_charge(grown - old_bytes)) return Errno{ENOSPC};
  try {
    if (extras == nullptr) {
      inode.extras = std::make_unique<InodeExtras>();
      extras = inode.extras.get();
      attrs = &extras->xattrs;
      it = attrs->items.end();
    }
    if (exists) {
      it->second.assign(value);
    } else {
      attrs->items.emplace_back(std::string(name), std::string(value));
    }
  } catch (const std::bad_alloc&) {
    if (extras != nullptr && extras->empty()) inode.extras.reset();
    if (grown > old_bytes) budget_.uncharge(grown - old_bytes);
    return Errno{ENOMEM};
  }
  if (old_bytes > grown) budget_.uncharge(old_bytes - grown);
  attrs->bytes = attrs->bytes - old_bytes + new_bytes;
  extra_bytes_ += grown - old_bytes;  // wraps correctly when it shrank
  return {};
}

Status Filesystem::Impl::erase_xattr(Inode& inode, std::string_view name) {
  InodeExtras* extras = inode.extras.get();
  if (extras == nullptr) return Errno{ENODATA};
  Xattrs& attrs = extras->xattrs;
  auto it = std::find_if(attrs.items.begin(), attrs.items.end(),
                         [&](const auto& item) { return item.first == name; });
  if (it == attrs.items.end()) return Errno{ENODATA};
  uint64_t freed = xattr_entry_bytes(it->first, it->second);
  attrs.items.erase(it);
  attrs.bytes -= freed;
  if (extras->empty()) {
    freed += extras->own_bytes();
    inode.extras.reset();
  }
  budget_.uncharge(freed);
  extra_bytes_ -= freed;
  return {};
}

Status Filesystem::Impl::setxattr(Ino ino, std::string_view name, std::string_view value, int flags,
                                  const Caller& caller) {
  ZSFS_TRY_STATUS(check_name(name, config_.posix_acl));
  if (name == kXattrRecompress) return recompress_xattr(ino, value, caller);
  if (name == kXattrSave) return save_xattr(ino, value, caller);
  if (name == kXattrWriteback) return writeback_xattr(ino, value, caller);
  if (has_prefix(name, kReservedPrefix)) return Errno{EPERM};
  if (value.size() > kXattrValueMax) return Errno{E2BIG};
  if ((flags & ~(XATTR_CREATE | XATTR_REPLACE)) != 0 ||
      (flags & (XATTR_CREATE | XATTR_REPLACE)) == (XATTR_CREATE | XATTR_REPLACE)) {
    return Errno{EINVAL};
  }
  Inode* inode = get(ino);
  if (inode == nullptr) return Errno{ESTALE};
  WriterLock lock(inode->mu);
  // As the kernel's set_posix_acl(), which takes no create or replace flag.
  if (is_acl(name)) return set_acl(*inode, name, value, caller);
  if (has_prefix(name, "user.") && !inode->is_reg() && !inode->is_dir()) return Errno{EPERM};
  ZSFS_TRY_STATUS(store_xattr(*inode, name, value, flags));
  inode->ctime = now();
  return {};
}

Result<std::string> Filesystem::Impl::getxattr(Ino ino, std::string_view name,
                                               const Caller& caller) {
  ZSFS_TRY_STATUS(check_name(name, config_.posix_acl));
  Inode* inode = get(ino);
  if (inode == nullptr) return Errno{ESTALE};
  if (is_virtual(name)) return virtual_xattr(*inode, name, caller);
  ReaderLock lock(inode->mu);
  if (const std::string* value = find_xattr(*inode, name)) return *value;
  return Errno{ENODATA};
}

Result<size_t> Filesystem::Impl::getxattr_size(Ino ino, std::string_view name,
                                               const Caller& caller) {
  ZSFS_TRY_STATUS(check_name(name, config_.posix_acl));
  if (is_action(name)) {
    Inode* inode = get(ino);
    if (inode == nullptr) return Errno{ESTALE};
    if (ino != kRootIno) return Errno{ENODATA};
    if (caller.uid != 0 && caller.uid != config_.owner_uid) return Errno{EPERM};
    return kActionResultMax;
  }
  Result<std::string> value = getxattr(ino, name, caller);
  if (!value.ok()) return Errno{value.error()};
  // Statistics may grow before the read that follows; a dictionary's bytes do not.
  const bool may_grow = is_virtual(name) && !has_prefix(name, kXattrDictPrefix);
  return value->size() + (may_grow ? kVirtualSlack : 0);
}

Result<std::string> Filesystem::Impl::listxattr(Ino ino, const Caller& caller) {
  Inode* inode = get(ino);
  if (inode == nullptr) return Errno{ESTALE};
  ReaderLock lock(inode->mu);
  std::string names;
  if (inode->extras != nullptr) {
    for (const auto& item : inode->extras->xattrs.items) {
      // As tmpfs: trusted.* attributes are listed to privileged callers only.
      if (has_prefix(item.first, "trusted.") && caller.uid != 0) continue;
      names += item.first;
      names += '\0';
    }
  }
  return names;
}

Status Filesystem::Impl::removexattr(Ino ino, std::string_view name, const Caller& caller) {
  (void)caller;
  ZSFS_TRY_STATUS(check_name(name, config_.posix_acl));
  if (has_prefix(name, kReservedPrefix)) return Errno{EPERM};
  Inode* inode = get(ino);
  if (inode == nullptr) return Errno{ESTALE};
  WriterLock lock(inode->mu);
  Status erased = erase_xattr(*inode, name);
  // As on tmpfs, removing an ACL that is not there succeeds (and still changes ctime).
  if (!erased.ok() && !(is_acl(name) && erased.error() == ENODATA)) return erased;
  inode->ctime = now();
  return {};
}

Result<std::string> Filesystem::Impl::virtual_xattr(Inode& inode, std::string_view name,
                                                    const Caller& caller) {
  const bool root = inode.ino == kRootIno;
  // Statistics are read after the background has caught up with the writes made so far, so
  // that a reader sees the compressed and deduplicated figures of what it wrote.
  if (name == kXattrFile || name == kXattrStats) settle();
  if (name == kXattrFile) {
    Result<FileStats> stats = file_stats(inode.ino);
    if (!stats.ok()) return Errno{stats.error()};
    return stats->to_json();
  }
  if (!root) return Errno{ENODATA};
  if (name == kXattrStats) return stats().to_json(stats_sections_);
  if (name == kXattrClasses) return classes_text();
  if (caller.uid != 0 && caller.uid != config_.owner_uid) return Errno{EPERM};
  if (has_prefix(name, kXattrDictPrefix)) return dictionary_chunk(name);
  if (name == kXattrCompact) {
    const uint64_t before = pool_->stats().pages_held;
    const uint64_t freed = compact();
    return to_json_text({
        {"pages_freed", freed},
        {"pages_before", before},
        {"pages_after", pool_->stats().pages_held},
    });
  }
  return check();
}

Status Filesystem::Impl::check_action_caller(Ino ino, const Caller& caller) {
  if (get(ino) == nullptr) return Errno{ESTALE};
  if (ino != kRootIno) return Errno{EPERM};
  if (caller.uid != 0 && caller.uid != config_.owner_uid) return Errno{EPERM};
  return {};
}

std::optional<PassRequest> parse_pass_request(std::string_view value) {
  PassRequest request;
  // Empty: every block. Otherwise items separated by single commas, none of them empty.
  for (size_t begin = 0; !value.empty() && begin <= value.size();) {
    const size_t comma = std::min(value.find(',', begin), value.size());
    const std::string_view item = value.substr(begin, comma - begin);
    begin = comma + 1;
    if (item == "huge") {
      request.huge_only = true;
    } else if (has_prefix(item, "idle=")) {
      const std::optional<uint64_t> seconds = parse_decimal(item.substr(5));
      if (!seconds) return std::nullopt;
      request.idle_seconds = *seconds;
    } else {
      return std::nullopt;
    }
  }
  return request;
}

Status Filesystem::Impl::recompress_xattr(Ino ino, std::string_view value, const Caller& caller) {
  ZSFS_TRY_STATUS(check_action_caller(ino, caller));
  const std::optional<PassRequest> request = parse_pass_request(value);
  if (!request) return Errno{EINVAL};
  return recompress(request->idle_seconds, request->huge_only);
}

Status Filesystem::Impl::recompress(uint64_t idle_seconds, bool huge_only) {
  if (recompressor_ == nullptr) return Errno{EOPNOTSUPP};
  RecompressRequest request;
  // Ages are known up to the store's clock limit; older is "at least that old".
  request.idle = std::chrono::seconds(
      std::min<uint64_t>(idle_seconds, static_cast<uint64_t>(DedupStore::kMaxAge.count())));
  request.huge_only = huge_only;
  return recompressor_->request(request);
}

Result<std::string> Filesystem::Impl::dictionary_chunk(std::string_view name) {
  // "user.zsfs.dict.SLOT.CHUNK"
  const std::string_view rest = name.substr(kXattrDictPrefix.size());
  const size_t dot = rest.find('.');
  if (dot == std::string_view::npos) return Errno{ENODATA};
  const std::optional<uint64_t> slot = parse_decimal(rest.substr(0, dot));
  const std::optional<uint64_t> chunk = parse_decimal(rest.substr(dot + 1));
  if (!slot || !chunk || *slot == kNoDict || *slot > kMaxDictSlots) return Errno{ENODATA};
  const std::vector<std::byte> content = dicts_.content(static_cast<DictSlot>(*slot));
  if (content.empty()) return Errno{ENODATA};
  const uint64_t begin = std::min<uint64_t>(*chunk * kDictChunkBytes, content.size());
  const uint64_t end = std::min<uint64_t>(begin + kDictChunkBytes, content.size());
  return std::string(reinterpret_cast<const char*>(content.data()) + begin, end - begin);
}

}  // namespace zsfs::fs

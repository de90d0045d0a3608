// zsfs::fs::Filesystem: the filesystem core, one method per filesystem operation.
//
// A complete in-memory POSIX filesystem that behaves like tmpfs, whose file data is kept as
// deduplicated, compressed 4 KiB blocks in the pool. Methods take and return plain types; every
// failure is a positive errno. No FUSE and no CLI11 here: mount/ translates requests into these
// calls, and tests drive them directly.
//
// Reference counting follows the FUSE low-level protocol:
// - Every method that returns an Attr for a name (lookup, create, mknod, mkdir, symlink, link)
//   and every entry accepted by readdirplus adds one lookup reference to that inode; forget()
//   drops them. If the caller cannot hand the entry on (its reply failed), it calls forget(ino,1).
// - open/create add an open reference, release drops it.
// - An inode lives while it has a link from a directory, a lookup reference or an open reference;
//   when the last goes, its data blocks are released at once and its number may be reused with a
//   new generation.
// An ino passed to any method must be live and referenced by the caller (the root always is).
//
// Permission checks on mode bits and ACLs are the kernel's job (zsfs always mounts with
// default_permissions); the core enforces the rules the kernel leaves to filesystems: setgid
// directory inheritance, clearing setuid and setgid, the umask and default ACLs, the mode's tie
// to the access ACL, name and size limits, reserved xattrs, rename rules, the budget.
//
// Thread safety: every method may be called from any thread at any time. The lock hierarchy is
// written once, in fs/filesystem.cc.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"
#include "disk/problem.h"
#include "fs/image.h"
#include "fs/stats.h"
#include "fs/types.h"

namespace zsfs::fs {

// Virtual, read-only extended attributes through which zsfs shows its statistics. They are not
// listed by listxattr, and setting or removing them fails with EPERM.
// Every name below starts with this; no such attribute is stored.
inline constexpr std::string_view kXattrActionPrefix = "user.zsfs.";
inline constexpr std::string_view kXattrStats = "user.zsfs.stats";      // root: pool-wide JSON
inline constexpr std::string_view kXattrClasses = "user.zsfs.classes";  // root: size classes
inline constexpr std::string_view kXattrFile = "user.zsfs.file";        // any inode: per-file JSON
// Reading these runs an action and returns its result as JSON. Root and the mount's owner only
// (EPERM for others); on the root directory only.
inline constexpr std::string_view kXattrCompact = "user.zsfs.compact";  // compact the pool now
inline constexpr std::string_view kXattrCheck = "user.zsfs.check";      // full consistency check
// Setting this queues a recompression pass (root directory; root and the mount's owner only).
// The value: empty for every block not yet recompressed, or comma-separated "idle=SECONDS"
// (blocks not written for that long) and "huge" (blocks kept raw). EINVAL for anything else,
// EOPNOTSUPP when recompression is off. The statistics' "recompressor" tells when it is done.
inline constexpr std::string_view kXattrRecompress = "user.zsfs.recompress";
// Setting this (to an empty value) queues a save of the mount's image (Config::image_path; root
// directory; root and the mount's owner only). EOPNOTSUPP without an image. The statistics'
// "image" section tells when it is done and how it went.
inline constexpr std::string_view kXattrSave = "user.zsfs.save";
// Setting this queues a writeback pass to the backing file (root directory; root and the mount's
// owner only). The value is as user.zsfs.recompress's ("idle=SECONDS", "huge"). EOPNOTSUPP
// without a backing file. The statistics' "backing" section tells when it is done.
inline constexpr std::string_view kXattrWriteback = "user.zsfs.writeback";
// Reading "user.zsfs.dict.SLOT.CHUNK" gives bytes [CHUNK * 65536, (CHUNK + 1) * 65536) of the
// content of the dictionary in SLOT (the statistics list the slots and sizes); empty past the
// end, ENODATA for a free slot. Root directory; root and the mount's owner only, since a
// dictionary is made of the files' own bytes.
inline constexpr std::string_view kXattrDictPrefix = "user.zsfs.dict.";
inline constexpr size_t kDictChunkBytes = 65536;

class Filesystem {
 public:
  // EINVAL when the config is out of range.
  static Result<std::unique_ptr<Filesystem>> create(const Config& config);
  ~Filesystem();
  Filesystem(const Filesystem&) = delete;
  Filesystem& operator=(const Filesystem&) = delete;

  // --- Names -------------------------------------------------------------------------------
  Result<Attr> lookup(Ino parent, std::string_view name);
  void forget(Ino ino, uint64_t nlookup);
  Result<Attr> getattr(Ino ino);
  Result<Attr> setattr(Ino ino, const SetAttr& change, const Caller& caller);
  Result<std::string> readlink(Ino ino);

  // mode carries the file type (S_IFREG, S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK) and permissions.
  // Whatever creates an inode (mknod, mkdir, create, tmpfile) then applies caller.umask to them,
  // or, with POSIX ACLs on, the directory's default ACL where it has one (fs/posix_acl.h).
  Result<Attr> mknod(Ino parent, std::string_view name, uint32_t mode, uint64_t rdev,
                     const Caller& caller);
  Result<Attr> mkdir(Ino parent, std::string_view name, uint32_t mode, const Caller& caller);
  Result<Attr> symlink(Ino parent, std::string_view name, std::string_view target,
                       const Caller& caller);
  // ENOENT for an inode with no name left, but for a linkable tmpfile().
  Result<Attr> link(Ino ino, Ino new_parent, std::string_view new_name);
  Status unlink(Ino parent, std::string_view name);
  Status rmdir(Ino parent, std::string_view name);
  // flags: 0, RENAME_NOREPLACE, RENAME_EXCHANGE or RENAME_WHITEOUT (which leaves a whiteout,
  // a 0:0 character device owned by caller, at the old name, as tmpfs does for overlayfs).
  Status rename(Ino parent, std::string_view name, Ino new_parent, std::string_view new_name,
                unsigned flags, const Caller& caller);

  // --- Files ---------------------------------------------------------------------------------
  // flags are open(2) flags. O_TRUNC on a regular file truncates it.
  Status open(Ino ino, int flags);
  // Creates and opens a regular file: one lookup and one open reference.
  Result<Attr> create(Ino parent, std::string_view name, uint32_t mode, int flags,
                      const Caller& caller);
  // An unnamed regular file (O_TMPFILE): link count 0, one lookup reference and no open
  // reference, so that it lives until forgotten. link() may give it a name, unless flags has
  // O_EXCL. It takes parent's group (setgid) and default ACL, but no entry in it, and leaves its
  // times alone; parent may have been removed.
  Result<Attr> tmpfile(Ino parent, uint32_t mode, int flags, const Caller& caller);
  void release(Ino ino);
  // Reads up to dst.size() bytes at offset; fewer at end of file. Holes read as zeros.
  Result<size_t> read(Ino ino, uint64_t offset, std::span<std::byte> dst);
  // Writes src at offset (at the end of the file when append). Returns the bytes written, which
  // is less than src.size() only when the budget ran out part way (ENOSPC if nothing fit).
  Result<size_t> write(Ino ino, uint64_t offset, std::span<const std::byte> src, bool append);
  // mode: 0 or FALLOC_FL_KEEP_SIZE (holes become preallocated zero blocks: counted in st_blocks,
  // holes to SEEK_DATA, as on tmpfs; no compressed space can be reserved before the data is
  // known), FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE, FALLOC_FL_ZERO_RANGE (optionally with
  // KEEP_SIZE); anything else is EOPNOTSUPP.
  Status fallocate(Ino ino, int mode, uint64_t offset, uint64_t length);
  // whence: SEEK_DATA or SEEK_HOLE (ENXIO at or past the end, or when no data follows); the
  // kernel resolves the other kinds itself. Preallocated blocks (fallocate) count as holes here,
  // as on tmpfs, though st_blocks counts them.
  Result<uint64_t> lseek(Ino ino, uint64_t offset, int whence);
  // Copies length bytes; whole aligned blocks are shared by reference, not copied.
  Result<size_t> copy_file_range(Ino ino_in, uint64_t offset_in, Ino ino_out, uint64_t offset_out,
                                 uint64_t length, unsigned flags);
  Status fsync(Ino ino);
  // Clears setuid, and setgid where the kernel would (the group may execute, or caller is neither
  // in the file's group nor holds CAP_FSETID), from anything but a directory, as a write by a
  // caller without CAP_FSETID does (FUSE_WRITE_KILL_SUIDGID). Returns whether a bit went; changes
  // nothing, ctime included, when none does.
  Result<bool> kill_suidgid(Ino ino, const Caller& caller);

  // --- Directories ---------------------------------------------------------------------------
  Status opendir(Ino ino);
  // Lists entries from offset on ("." and ".." first) until emit returns false; the entry
  // emit refused is not consumed. Offsets stay valid while entries come and go: an entry present
  // for the whole listing is handed out exactly once.
  Status readdir(Ino dir, uint64_t offset, const std::function<bool(const DirEntry&)>& emit);
  // As readdir, with attributes; each accepted entry other than "." and ".." adds a lookup
  // reference.
  Status readdirplus(Ino dir, uint64_t offset,
                     const std::function<bool(const DirEntry&, const Attr&)>& emit);

  // --- Extended attributes -------------------------------------------------------------------
  // flags: 0, XATTR_CREATE or XATTR_REPLACE.
  Status setxattr(Ino ino, std::string_view name, std::string_view value, int flags,
                  const Caller& caller);
  Result<std::string> getxattr(Ino ino, std::string_view name, const Caller& caller);
  // Answers a size query (getxattr(2) with size 0) without running an action: the exact size
  // of a stored attribute; for a virtual one, an upper bound of what getxattr() will return
  // next, since statistics change from one call to the next.
  Result<size_t> getxattr_size(Ino ino, std::string_view name, const Caller& caller);
  // The names, each followed by a NUL, as listxattr(2) returns them. Virtual ones are left out,
  // and trusted.* ones unless the caller is root.
  Result<std::string> listxattr(Ino ino, const Caller& caller);
  Status removexattr(Ino ino, std::string_view name, const Caller& caller);

  // --- The filesystem as a whole -------------------------------------------------------------
  StatFs statfs();
  Stats stats();
  Result<FileStats> file_stats(Ino ino);
  std::string classes_text();
  // Compacts the pool now; returns the pages freed.
  uint64_t compact();
  // Verifies every invariant of the core: each stored block's reference count equals the
  // references that block maps hold, the pool's and budget's accounting match the objects, each
  // directory's entries match link counts. Returns a JSON report; a broken invariant is reported
  // in it (with "ok": false) rather than aborting, so a test can show it.
  std::string check();
  // Waits until every block written so far has been compressed and deduplicated by the
  // background (statistics are then final for what was written).
  void settle();
  // Queues a recompression pass over blocks stored at least idle_seconds ago (only the raw ones
  // when huge_only). EOPNOTSUPP when recompression is off.
  Status recompress(uint64_t idle_seconds, bool huge_only);
  // No recompression pass is running or queued.
  bool recompress_idle();
  // Counts a request from the foreground, which background work gives way to while they come
  // fast (fs/background_pacer.h). One relaxed increment; the request layer calls it.
  void note_request();
  // --- The backing file (fs/writeback.h, disk/backing_file.h) ----------------------------------
  // Opens the backing file (Config::backing_path, which must be set) and starts moving cold
  // blocks there. Call before anything is stored (and before open_image(), so that an image
  // larger than the budget loads into the file). EEXIST when the path names a file that is not
  // a backing file, or the errno of a failed open; the problem says which.
  disk::Problem open_backing();
  // Queues a writeback pass over blocks stored at least idle_seconds ago (only the raw ones when
  // huge_only). EOPNOTSUPP without a backing file.
  Status writeback(uint64_t idle_seconds, bool huge_only);
  // No writeback pass is running or queued.
  bool writeback_idle();

  // --- Images (fs/image_save.cc, fs/image_load.cc; the format: zsfs(5)) ----------------------
  // Fills this filesystem, which must be new and empty (nothing done to it yet), from the image
  // at path. On failure (the file is missing, not an image, of another version, truncated,
  // corrupt, or does not fit the limits) the problem says which and where, and the filesystem
  // must be thrown away: it may hold part of the image.
  disk::Problem load_image(const std::string& path, ImageLoadStats* stats = nullptr);
  // Writes the filesystem as it is now to an image at path, atomically (the previous file stays
  // whole until the new one is complete and synced). The filesystem stays in use meanwhile;
  // writes wait only while the metadata is written (image_save.cc says how).
  disk::Problem save_image(const std::string& path, ImageSaveStats* stats = nullptr);
  // Whether anything changed since the image was last saved or loaded.
  bool changed_since_saved();
  // The mount's image (Config::image_path, which must be set): loads it when the file exists
  // (*loaded says whether it did; the filesystem must be new), then saves it on request
  // (user.zsfs.save), every save_interval_seconds when anything changed, and at close_image().
  // Fails, with nothing loaded, when the image's directory is not writable (saves would fail)
  // and as load_image().
  disk::Problem open_image(bool* loaded);
  // Saves the image one last time unless nothing changed since it was loaded or saved
  // (*skipped), and stops the saves: for unmount. Nothing to do without an open image.
  disk::Problem close_image(ImageSaveStats* stats, bool* skipped);

  // Adds a section to the user.zsfs.stats JSON (after the core's own figures). Not thread-safe:
  // call before the filesystem is shared between threads; section.write is then called from
  // whichever thread reads the statistics, so it must be thread-safe itself.
  void add_stats_section(StatsSection section);

  // The implementation, declared in fs/filesystem_impl.h (private to fs/).
  class Impl;

 private:
  explicit Filesystem(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace zsfs::fs

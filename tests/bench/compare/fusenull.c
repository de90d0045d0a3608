// fusenull: a FUSE filesystem that does as little as a FUSE filesystem can, for the benchmark's
// "FUSE null daemon" target: what W1 (untar) and W7 (create, stat, remove) cost through FUSE on
// this machine when the daemon's own work is next to nothing.
//
//   fusenull MOUNTPOINT
//
// It keeps names, modes, owners, sizes and times (so that tar and the metadata driver see a
// filesystem that behaves), and throws file data away: a write only moves the size. It talks to
// the kernel as zsfs does, so that the kernel sends it the same requests for the same system
// calls: libfuse's low-level API (FUSE_USE_VERSION 312), default_permissions, max_write 1 MiB,
// entries and attributes cached for a day, negative lookups cached, no OPEN/OPENDIR (ENOSYS
// once, with the kernel's NO_OPEN support), no FLUSH/FSYNC, one request thread that polls the
// device for 10 us after each request before sleeping. Runs in the foreground; ends when
// unmounted (fusermount3 -u) or on SIGINT/SIGTERM. Needs the fuse3 headers and library:
//
//   cc -O2 -o fusenull fusenull.c $(pkg-config --cflags --libs fuse3)
#define FUSE_USE_VERSION 312
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const double kTimeout = 86400.0;
enum { kMaxNodes = 1 << 22, kIndexSlots = 1 << 23 };  // 4 M names; the index stays half empty

struct node {
  uint64_t parent;
  char* name;  // NULL once removed
  char* target;
  mode_t mode;
  uid_t uid;
  gid_t gid;
  nlink_t nlink;
  uint64_t size;
  struct timespec atime, mtime, ctime;
};

static struct node* nodes;     // by inode number; 0 unused, 1 the root
static uint64_t nr_nodes = 2;
static uint32_t* index_slots;  // inode numbers by hash of (parent, name); 0 free, 1 deleted

static uint64_t hash_name(uint64_t parent, const char* name) {
  uint64_t h = parent * 0x9E3779B97F4A7C15ull;
  for (const unsigned char* p = (const unsigned char*)name; *p; ++p)
    h = (h ^ *p) * 0x100000001B3ull;
  return h ^ (h >> 29);
}

// The slot holding (parent, name), or the free slot where it would go (*found = 0).
static uint64_t find_slot(uint64_t parent, const char* name, int* found) {
  uint64_t i = hash_name(parent, name) & (kIndexSlots - 1), reuse = UINT64_MAX;
  for (;; i = (i + 1) & (kIndexSlots - 1)) {
    const uint32_t ino = index_slots[i];
    if (ino == 0) break;
    if (ino == 1) {
      if (reuse == UINT64_MAX) reuse = i;
      continue;
    }
    if (nodes[ino].parent == parent && strcmp(nodes[ino].name, name) == 0) {
      *found = 1;
      return i;
    }
  }
  *found = 0;
  return reuse != UINT64_MAX ? reuse : i;
}

static void fill_stat(uint64_t ino, struct stat* st) {
  const struct node* n = &nodes[ino];
  memset(st, 0, sizeof *st);
  st->st_ino = ino;
  st->st_mode = n->mode;
  st->st_nlink = n->nlink;
  st->st_uid = n->uid;
  st->st_gid = n->gid;
  st->st_size = (off_t)n->size;
  st->st_blocks = (blkcnt_t)((n->size + 511) / 512);
  st->st_blksize = 4096;
  st->st_atim = n->atime;
  st->st_mtim = n->mtime;
  st->st_ctim = n->ctime;
}

static void reply_entry(fuse_req_t req, uint64_t ino) {
  struct fuse_entry_param e;
  memset(&e, 0, sizeof e);
  e.ino = ino;
  e.generation = 1;
  e.attr_timeout = kTimeout;
  e.entry_timeout = kTimeout;
  fill_stat(ino, &e.attr);
  fuse_reply_entry(req, &e);
}

static struct timespec now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

static void touch_dir(uint64_t dir) {
  nodes[dir].mtime = nodes[dir].ctime = now();
}

static int valid(uint64_t ino) {
  return ino >= 1 && ino < nr_nodes && (ino == 1 || nodes[ino].name != NULL);
}

// Adds a name; replies with its entry or an error.
static void add_node(fuse_req_t req, uint64_t parent, const char* name, mode_t mode,
                     const char* target) {
  if (!valid(parent) || !S_ISDIR(nodes[parent].mode)) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  int found;
  const uint64_t slot = find_slot(parent, name, &found);
  if (found) {
    fuse_reply_err(req, EEXIST);
    return;
  }
  if (nr_nodes >= kMaxNodes) {
    fuse_reply_err(req, ENOSPC);
    return;
  }
  const struct fuse_ctx* ctx = fuse_req_ctx(req);
  const uint64_t ino = nr_nodes++;
  struct node* n = &nodes[ino];
  n->parent = parent;
  n->name = strdup(name);
  n->target = target != NULL ? strdup(target) : NULL;
  if (n->name == NULL || (target != NULL && n->target == NULL)) {
    fuse_reply_err(req, ENOMEM);
    return;
  }
  n->mode = mode;
  n->uid = ctx->uid;
  n->gid = ctx->gid;
  n->nlink = S_ISDIR(mode) ? 2 : 1;
  n->size = target != NULL ? strlen(target) : 0;
  n->atime = n->mtime = n->ctime = now();
  if (S_ISDIR(mode)) ++nodes[parent].nlink;
  index_slots[slot] = (uint32_t)ino;
  touch_dir(parent);
  reply_entry(req, ino);
}

static void remove_name(fuse_req_t req, uint64_t parent, const char* name, int dir) {
  int found;
  const uint64_t slot = find_slot(parent, name, &found);
  if (!found) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  const uint64_t ino = index_slots[slot];
  if (dir != (S_ISDIR(nodes[ino].mode) != 0)) {
    fuse_reply_err(req, dir ? ENOTDIR : EISDIR);
    return;
  }
  index_slots[slot] = 1;
  if (dir) --nodes[parent].nlink;
  if (--nodes[ino].nlink == 0 || dir) {
    free(nodes[ino].name);
    free(nodes[ino].target);
    nodes[ino].name = NULL;
    nodes[ino].target = NULL;
  }
  touch_dir(parent);
  fuse_reply_err(req, 0);
}

static void op_init(void* userdata, struct fuse_conn_info* conn) {
  (void)userdata;
  conn->max_write = 1u << 20;
  conn->want &= ~(unsigned)(FUSE_CAP_AUTO_INVAL_DATA | FUSE_CAP_HANDLE_KILLPRIV |
                            FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_WRITEBACK_CACHE);
  conn->time_gran = 1;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  int found;
  const uint64_t slot = find_slot(parent, name, &found);
  if (found) {
    reply_entry(req, index_slots[slot]);
    return;
  }
  struct fuse_entry_param e;  // a negative entry the kernel may cache
  memset(&e, 0, sizeof e);
  e.entry_timeout = kTimeout;
  fuse_reply_entry(req, &e);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  (void)ino;
  (void)nlookup;
  fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data* forgets) {
  (void)count;
  (void)forgets;
  fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  (void)fi;
  if (!valid(ino)) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  struct stat st;
  fill_stat(ino, &st);
  fuse_reply_attr(req, &st, kTimeout);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
                       struct fuse_file_info* fi) {
  (void)fi;
  if (!valid(ino)) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  struct node* n = &nodes[ino];
  const struct timespec t = now();
  if (to_set & FUSE_SET_ATTR_MODE) n->mode = (n->mode & S_IFMT) | (attr->st_mode & 07777);
  if (to_set & FUSE_SET_ATTR_UID) n->uid = attr->st_uid;
  if (to_set & FUSE_SET_ATTR_GID) n->gid = attr->st_gid;
  if (to_set & FUSE_SET_ATTR_SIZE) n->size = (uint64_t)attr->st_size;
  if (to_set & FUSE_SET_ATTR_ATIME) n->atime = attr->st_atim;
  if (to_set & FUSE_SET_ATTR_ATIME_NOW) n->atime = t;
  if (to_set & FUSE_SET_ATTR_MTIME) n->mtime = attr->st_mtim;
  if (to_set & FUSE_SET_ATTR_MTIME_NOW) n->mtime = t;
  n->ctime = t;
  struct stat st;
  fill_stat(ino, &st);
  fuse_reply_attr(req, &st, kTimeout);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino) {
  if (!valid(ino) || nodes[ino].target == NULL) {
    fuse_reply_err(req, EINVAL);
    return;
  }
  fuse_reply_readlink(req, nodes[ino].target);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
                     dev_t rdev) {
  (void)rdev;
  add_node(req, parent, name, mode, NULL);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  add_node(req, parent, name, S_IFDIR | (mode & 07777), NULL);
}

static void op_symlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) {
  add_node(req, parent, name, S_IFLNK | 0777, link);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char* name) {
  int found;
  const uint64_t slot = find_slot(parent, name, &found);
  if (!valid(ino) || found) {
    fuse_reply_err(req, found ? EEXIST : ENOENT);
    return;
  }
  index_slots[slot] = (uint32_t)ino;
  ++nodes[ino].nlink;
  touch_dir(parent);
  reply_entry(req, ino);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  remove_name(req, parent, name, 0);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  remove_name(req, parent, name, 1);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  (void)ino;
  (void)fi;
  fuse_reply_err(req, ENOSYS);  // with NO_OPEN support, the kernel stops sending OPEN
}

static void op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec* bufv, off_t off,
                         struct fuse_file_info* fi) {
  (void)fi;
  const size_t size = fuse_buf_size(bufv);
  if (valid(ino) && (uint64_t)off + size > nodes[ino].size) nodes[ino].size = (uint64_t)off + size;
  fuse_reply_write(req, size);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  (void)ino;
  (void)name;
  (void)size;
  fuse_reply_err(req, ENODATA);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  (void)ino;
  if (size == 0)
    fuse_reply_xattr(req, 0);
  else
    fuse_reply_buf(req, NULL, 0);
}

static const struct fuse_lowlevel_ops ops = {
    .init = op_init,
    .lookup = op_lookup,
    .forget = op_forget,
    .forget_multi = op_forget_multi,
    .getattr = op_getattr,
    .setattr = op_setattr,
    .readlink = op_readlink,
    .mknod = op_mknod,
    .mkdir = op_mkdir,
    .symlink = op_symlink,
    .link = op_link,
    .unlink = op_unlink,
    .rmdir = op_rmdir,
    .open = op_open,
    .opendir = op_open,
    .write_buf = op_write_buf,
    .getxattr = op_getxattr,
    .listxattr = op_listxattr,
};

static double seconds_since(const struct timespec* t0) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) * 1e-9;
}

// zsfs's request loop: poll the device for 10 us after each request, then sleep in poll(2).
static int serve(struct fuse_session* se) {
  const int fd = fuse_session_fd(se);
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) return -errno;
  struct fuse_buf buf;
  memset(&buf, 0, sizeof buf);
  struct timespec last;
  clock_gettime(CLOCK_MONOTONIC, &last);
  int result = 0;
  while (!fuse_session_exited(se)) {
    const int received = fuse_session_receive_buf(se, &buf);
    if (received > 0) {
      fuse_session_process_buf(se, &buf);
      clock_gettime(CLOCK_MONOTONIC, &last);
    } else if (received == -EAGAIN) {
      if (seconds_since(&last) < 10e-6) continue;
      struct pollfd wait = {fd, POLLIN, 0};
      if (poll(&wait, 1, -1) < 0 && errno != EINTR) {
        result = -errno;
        break;
      }
      clock_gettime(CLOCK_MONOTONIC, &last);
    } else if (received != -EINTR) {
      result = received;
      break;
    }
  }
  free(buf.mem);
  return result;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: fusenull MOUNTPOINT\n");
    return 2;
  }
  nodes = calloc(kMaxNodes, sizeof *nodes);  // untouched pages cost nothing
  index_slots = calloc(kIndexSlots, sizeof *index_slots);
  if (nodes == NULL || index_slots == NULL) {
    fprintf(stderr, "fusenull: out of memory\n");
    return 1;
  }
  nodes[1].mode = S_IFDIR | 0755;
  nodes[1].nlink = 2;
  nodes[1].atime = nodes[1].mtime = nodes[1].ctime = now();

  char* fuse_argv[] = {argv[0], "-o", "default_permissions,fsname=fusenull,subtype=fusenull", NULL};
  struct fuse_args args = FUSE_ARGS_INIT(3, fuse_argv);
  struct fuse_session* se = fuse_session_new(&args, &ops, sizeof ops, NULL);
  if (se == NULL) return 1;
  if (fuse_set_signal_handlers(se) != 0 || fuse_session_mount(se, argv[1]) != 0) {
    fuse_session_destroy(se);
    return 1;
  }
  const int result = serve(se);
  fuse_session_unmount(se);
  fuse_remove_signal_handlers(se);
  fuse_session_destroy(se);
  if (result != 0) fprintf(stderr, "fusenull: %s\n", strerror(-result));
  return result != 0;
}

// metaops: the metadata workload (W7), one phase per run, the same driver for every target.
//
//   metaops create|stat|unlink DIR NDIRS NFILES_PER_DIR
//
// create: mkdir DIR/dNNNN for each directory, then creates NFILES_PER_DIR empty files fNNNNNN in
//         each (open O_CREAT|O_EXCL, close), then syncfs.
// stat:   fstatat (no symlink following) every file of every directory.
// unlink: unlinkat every file, rmdir every directory, then syncfs.
// Names are resolved relative to an open directory descriptor, so the driver costs one system
// call per operation (two for create: open and close) and no path walking of its own.
// Prints "ops=N seconds=S" on stdout, where N counts the files (directory operations are done
// and timed, but not counted). Exits 1 on the first failing operation, naming it.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char* what, const char* name) {
  fprintf(stderr, "metaops: %s %s: %s\n", what, name, strerror(errno));
  exit(1);
}

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: metaops create|stat|unlink DIR NDIRS NFILES_PER_DIR\n");
    return 2;
  }
  const char* phase = argv[1];
  const long ndirs = strtol(argv[3], NULL, 10);
  const long nfiles = strtol(argv[4], NULL, 10);
  const int create = strcmp(phase, "create") == 0;
  const int do_stat = strcmp(phase, "stat") == 0;
  const int do_unlink = strcmp(phase, "unlink") == 0;
  if (!create && !do_stat && !do_unlink) {
    fprintf(stderr, "metaops: unknown phase '%s' (create, stat or unlink)\n", phase);
    return 2;
  }
  const int top = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (top < 0) die("open", argv[2]);

  char dir_name[32];
  char file_name[32];
  long ops = 0;
  const double start = now_seconds();
  for (long d = 0; d < ndirs; ++d) {
    snprintf(dir_name, sizeof dir_name, "d%04ld", d);
    if (create && mkdirat(top, dir_name, 0755) != 0) die("mkdir", dir_name);
    const int dir = openat(top, dir_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) die("open", dir_name);
    for (long f = 0; f < nfiles; ++f) {
      snprintf(file_name, sizeof file_name, "f%06ld", f);
      if (create) {
        const int fd = openat(dir, file_name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) die("create", file_name);
        if (close(fd) != 0) die("close", file_name);
      } else if (do_stat) {
        struct stat st;
        if (fstatat(dir, file_name, &st, AT_SYMLINK_NOFOLLOW) != 0) die("stat", file_name);
      } else {
        if (unlinkat(dir, file_name, 0) != 0) die("unlink", file_name);
      }
      ++ops;
    }
    close(dir);
    if (do_unlink && unlinkat(top, dir_name, AT_REMOVEDIR) != 0) die("rmdir", dir_name);
  }
  if (!do_stat && syncfs(top) != 0) die("syncfs", argv[2]);
  const double seconds = now_seconds() - start;
  close(top);
  printf("ops=%ld seconds=%.6f\n", ops, seconds);
  return 0;
}

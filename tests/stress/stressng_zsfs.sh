#!/bin/bash
# Stress test c: stress-ng's filesystem stressors against a fresh zsfs mount (--temp-path), a few
# groups of them at once, each for a bounded time (--timeout), with data verification where the
# stressor has it (--verify) and compaction in the background:
#   names:  dir, dirdeep (bounded by --dirdeep-inodes), dirmany, link, symlink, rename, dentry,
#           filename, mknod, getdent, chdir, access
#   attrs:  xattr, chmod, chown, utime, touch, fstat, open, fcntl, flock, lockf, lease, inotify,
#           dnotify
#   data:   hdd (random and sequential writes and reads, fsync, verified), iomix, fallocate, fpunch,
#           seek, mmap with --mmap-file, msync, sync-file, copy-file, readahead, revio, aio, fsize,
#           io, file-ioctl
# stress-ng's exit status: 0 passes; 4 (a stressor is not implemented or skipped itself, e.g.
# fiemap, which FUSE lacks) passes with a note; anything else fails (2: a stressor failed or its
# verification found bad data; 3: out of resources, which a 2 GiB mount should not be).
# Then the core's consistency check; everything deleted: unique_blocks, pool_pages, logical_bytes
# must be 0 and mem_used_total back near its value right after mounting; the unmount: the daemon
# must exit with status 0.
#
# Usage: stressng_zsfs.sh ZSFS_BINARY                   (CTest passes it; skips without stress-ng)
# Environment: ZSFS_STRESS_SCALE (seconds per group = 5 x scale, at least 2),
# ZSFS_SOAK=1 to repeat the groups for ZSFS_SOAK_SECONDS (default 1800), e.g.:
#   ZSFS_SOAK=1 tests/stress/stressng_zsfs.sh build/debug/mount/zsfs
source "$(dirname "$0")/lib.sh" || exit 1
require_tool stress-ng stress-ng
stress_init "$1"

SECONDS_PER_GROUP=$(scaled 5)
[ "$SECONDS_PER_GROUP" -ge 2 ] || SECONDS_PER_GROUP=2

GROUP_NAMES=(
  --dir 1 --dirdeep 1 --dirdeep-inodes 20000 --dirmany 1 --link 1 --symlink 1 --rename 1
  --dentry 1 --dentries 4096 --filename 1 --mknod 1 --getdent 1 --chdir 1 --access 1
)
GROUP_ATTRS=(
  --xattr 1 --chmod 1 --chown 1 --utime 1 --touch 1 --fstat 1 --open 1 --fcntl 1 --flock 1
  --lockf 1 --lease 1 --inotify 1 --dnotify 1
)
# shellcheck disable=SC2054 # the commas are stress-ng's (--hdd-opts a,b,c)
GROUP_DATA=(
  --hdd 1 --hdd-bytes 64m --hdd-opts wr-rnd,rd-rnd,fsync --hdd-write-size 16k
  --iomix 1 --iomix-bytes 32m --fallocate 1 --fallocate-bytes 64m --fpunch 1
  --seek 1 --seek-size 32m --mmap 1 --mmap-file --mmap-bytes 16m --msync 1
  --sync-file 1 --sync-file-bytes 32m --copy-file 1 --copy-file-bytes 128m
  --readahead 1 --readahead-bytes 32m --revio 1 --aio 1 --fsize 1 --io 1 --file-ioctl 1
  --fiemap 1
)

RUNS=0
run_group() {
  local name=$1
  shift
  local dir=$MNT/$name out=$WORK/stress-ng.$name.log
  mkdir -p "$dir" || fail "mkdir $dir"
  log "stress-ng group '$name' for ${SECONDS_PER_GROUP}s: $*"
  (cd "$dir" && exec stress-ng --temp-path "$dir" --timeout "${SECONDS_PER_GROUP}s" -k --verify \
    --metrics-brief "$@") >"$out" 2>&1 &
  local pid=$!
  register_bg "$pid"
  wait "$pid"
  local status=$?
  RUNS=$((RUNS + 1))
  # Skips, the pass/fail summary, and the bogo-op counts (the work done), briefly.
  grep -E "skipping|skipped|not implemented|passed:|failed:|untrustworthy" "$out" | sed 's/^/  /'
  awk '/metrc:/ && $4 ~ /^[a-z]/ && $5 ~ /^[0-9]+$/ { printf "%s %s, ", $4, $5 } END { print "" }' \
    "$out" | sed 's/^/  bogo ops: /'
  case $status in
    0) ;;
    4) log "stress-ng: some stressors are not implemented or skipped themselves here (above)" ;;
    *)
      grep -E "fail|error|FAIL|ERR|verif" "$out" | head -n 40
      fail "stress-ng group '$name' exited with status $status (full output: $out;" \
        "kept with ZSFS_STRESS_KEEP=1)"
      ;;
  esac
  daemon_alive
  local left
  left=$(find "$dir" -mindepth 1 | head -n 5)
  [ -z "$left" ] || log "stress-ng left files behind in $dir (removed below): $left"
}

mount_zsfs "size=2g"
baseline=$(stat_field mem_used_total)
log "mem_used_total right after mounting: $baseline"
start_compactor
round=0
while :; do
  round=$((round + 1))
  run_group names "${GROUP_NAMES[@]}"
  run_group attrs "${GROUP_ATTRS[@]}"
  run_group data "${GROUP_DATA[@]}"
  check_consistency
  soak_active || break
done
stop_compactor
log "$round round(s), $RUNS stress-ng runs; peak mem_used_total $(stat_field mem_used_max)"
check_consistency
rm -rf "${MNT:?}"/* || fail "rm -rf $MNT/*"
left=$(find "$MNT" -mindepth 1 | head -n 5)
[ -z "$left" ] || fail "$MNT is not empty after rm -rf: $left"
check_consistency
check_empty "$baseline"
unmount_zsfs

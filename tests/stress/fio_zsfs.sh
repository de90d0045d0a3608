#!/bin/bash
# Stress test b: fio with data verification (verify_fatal=1, do_verify=1) on a fresh zsfs mount,
# many jobs at once, with compaction triggered continuously in the background:
#   unique      2 jobs, random writes of 4k/16k/64k blocks of partly compressible data, crc32c
#   unaligned   random writes of 3000-byte blocks (never block-aligned: read-modify-write), crc32c
#   dedup       4 jobs writing identical data to their own files at the same time (the pattern
#               holds each block's offset, so every block is unique within a file and shared by
#               the 4 files): concurrent dedup of the same blocks, verify=pattern
#   direct      O_DIRECT random writes, crc32c
#   overwrite   random overwrites of the same few blocks (norandommap, 6x the file), crc32c of
#               the last version of each block
#   sameblocks  3 jobs overwriting the same blocks of one shared file concurrently with identical
#               data (verify=pattern, so whichever job wrote last, the bytes are known)
# Then compaction, the files' pages dropped from the page cache, and a second, read-only pass
# (fio --verify_only) over the unique, unaligned and dedup files, which so reads zsfs's data; the core's consistency check; everything deleted: the filesystem must be empty
# again; the unmount: the daemon must exit with status 0.
#
# Usage: fio_zsfs.sh ZSFS_BINARY                        (CTest passes it; skips without fio)
# Environment: ZSFS_STRESS_SCALE (data sizes, default 1), ZSFS_STRESS_SEED (fio's randseed),
# ZSFS_SOAK=1 to repeat with new seeds for ZSFS_SOAK_SECONDS (default 1800), e.g.:
#   ZSFS_SOAK=1 tests/stress/fio_zsfs.sh build/debug/mount/zsfs
source "$(dirname "$0")/lib.sh" || exit 1
require_tool fio fio
stress_init "$1"

mb() { echo "$(scaled "$1")m"; }

# $1: directory, $2: seed. The jobs that --verify_only can replay come first, so that a job file
# with only them numbers its jobs (and so seeds its offsets) the same way.
write_jobs() {
  fio_global "$1" "$2"
  cat <<JOBS

[unique]
rw=randwrite
numjobs=2
size=$(mb 48)
bssplit=4k/50:16k/25:64k/25
verify=crc32c
buffer_compress_percentage=60
refill_buffers=1

[unaligned]
rw=randwrite
size=$(mb 16)
bs=3000
verify=crc32c

[dedup]
rw=randwrite
numjobs=4
size=$(mb 16)
bs=4k
verify=pattern
verify_pattern=0x0123456789abcdeffedcba9876543210%o"zsfs-dedup-race"
JOBS
  if [ "${3:-}" = all ]; then
    cat <<JOBS

[direct]
rw=randwrite
direct=1
size=$(mb 16)
bs=16k
verify=crc32c
refill_buffers=1

[overwrite]
rw=randwrite
size=$(mb 8)
io_size=$(mb 48)
bs=4k
norandommap=1
verify=crc32c
refill_buffers=1

[sameblocks]
rw=randwrite
numjobs=3
filename=sameblocks
size=$(mb 4)
io_size=$(mb 24)
bs=4k
norandommap=1
verify=pattern
verify_pattern=0x0123456789abcdeffedcba9876543210%o"zsfs-same-blocks"
JOBS
  fi
}

mount_zsfs "size=2g"
baseline=$(stat_field mem_used_total)

round=0
while :; do
  round=$((round + 1))
  seed=$(new_seed)
  dir=$MNT/fio$round
  mkdir "$dir" || fail "mkdir $dir"
  write_jobs "$dir" "$seed" all >"$WORK/all.fio"
  write_jobs "$dir" "$seed" >"$WORK/replayable.fio"
  start_compactor
  run_fio "$WORK/all.fio" "round $round (randseed $seed): 6 workloads, 12 jobs at once, background compaction"
  stop_compactor
  xattr_value user.zsfs.compact >/dev/null || fail "compaction failed"
  # Drop the files' pages from the page cache (zsfs opens files with keep_cache), so the second
  # pass reads what zsfs holds rather than what the kernel kept from the writes.
  find "$dir" -type f -exec dd if={} iflag=nocache count=0 status=none \; ||
    fail "dropping cached pages failed"
  run_fio "$WORK/replayable.fio" "round $round: read-only verification of unique, unaligned, dedup" --verify_only
  log "after round $round: $(stats_json | grep -o '"\(logical_bytes\|unique_blocks\|shared_refs\|mem_used_total\)":[0-9]*' | tr '\n' ' ')"
  check_consistency
  rm -rf "$dir" || fail "rm -rf $dir"
  soak_active || break
done
log "$round round(s): $((TOTAL_WRITE_KB / 1024)) MiB written, $((TOTAL_READ_KB / 1024)) MiB verified in total"
check_consistency
check_empty "$baseline"
unmount_zsfs

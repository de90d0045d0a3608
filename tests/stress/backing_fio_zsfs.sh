#!/bin/bash
# Stress test: fio with data verification on a data set four times the memory budget, on a zsfs
# with a backing file (-o size=64m,backing=FILE): cold blocks must move to the file as the budget
# fills, and every byte must come back, read from the file and checked there.
#   bigfiles   2 jobs writing 128 MiB each (256 MiB: 4x the budget), random 4k-64k writes of
#              partly compressible data, crc32c
#   direct     O_DIRECT random writes, crc32c
#   dedup      2 jobs writing the same data to their own files (blocks shared with the file)
# then the page cache dropped and a read-only verification of everything (fio --verify_only),
# which reads most blocks back from the backing file; zsfsctl writeback --wait (everything left
# in RAM moves too) and a second verification; the consistency check; no corrupt record read;
# the daemon's memory bounded by the budget; everything deleted: the file's records freed and its
# space punched out (the file shrinks on disk).
# Usage: backing_fio_zsfs.sh ZSFS_BINARY ZSFSCTL_BINARY   (CTest passes both; skips without fio)
# Environment: ZSFS_STRESS_SCALE (data sizes), ZSFS_STRESS_SEED (fio's randseed), ZSFS_SOAK=1.
source "$(dirname "$0")/lib.sh" || exit 1
require_tool fio fio
stress_init "$1"
ZSFSCTL=$(absolute "${2:?usage: $0 ZSFS_BINARY ZSFSCTL_BINARY}")
BUDGET_MB=64

mb() { echo "$(scaled "$1")m"; }

# $1: directory, $2: seed.
write_jobs() {
  fio_global "$1" "$2"
  cat <<JOBS

[bigfiles]
rw=randwrite
numjobs=2
size=$(mb $((BUDGET_MB * 2)))
bssplit=4k/50:16k/25:64k/25
verify=crc32c
buffer_compress_percentage=40
refill_buffers=1

[direct]
rw=randwrite
direct=1
size=$(mb 16)
bs=16k
verify=crc32c
refill_buffers=1

[dedup]
rw=randwrite
numjobs=2
size=$(mb 16)
bs=4k
verify=pattern
verify_pattern=0x0123456789abcdeffedcba9876543210%o"zsfs-backing-dedup"
JOBS
}

backing_field() { stats_json | grep -o "\"backing\":{.*" | grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2; }

mount_zsfs "size=${BUDGET_MB}m,backing=$WORK/backing"
round=0
while :; do
  round=$((round + 1))
  seed=$(new_seed)
  dir=$MNT/fio$round
  mkdir "$dir" || fail "mkdir $dir"
  write_jobs "$dir" "$seed" >"$WORK/jobs.fio"
  run_fio "$WORK/jobs.fio" "round $round (randseed $seed): 4x the budget, written and verified"
  log "backing file: $(backing_field bd_count) blocks, $(backing_field bd_bytes) bytes," \
    "$(backing_field bd_reads) reads, $(backing_field bd_writes) writes"
  [ "$(backing_field bd_count)" -gt 0 ] || fail "nothing moved to the backing file"
  used=$(stat_field mem_used_total)
  [ "$used" -le $((BUDGET_MB << 20)) ] || fail "mem_used_total $used above the budget"
  find "$dir" -type f -exec dd if={} iflag=nocache count=0 status=none \; ||
    fail "dropping cached pages failed"
  reads_before=$(backing_field bd_reads)
  run_fio "$WORK/jobs.fio" "round $round: read-only verification" --verify_only
  [ "$(backing_field bd_reads)" -gt "$reads_before" ] || fail "the verification read nothing from the backing file"
  "$ZSFSCTL" writeback --wait "$MNT" || fail "zsfsctl writeback failed"
  find "$dir" -type f -exec dd if={} iflag=nocache count=0 status=none \; ||
    fail "dropping cached pages failed"
  run_fio "$WORK/jobs.fio" "round $round: verification with every block in the file" --verify_only
  errors=$(backing_field read_errors)
  [ "$errors" -eq 0 ] || fail "$errors records read from the backing file failed their checksum"
  check_consistency
  disk_full=$(du -k "$WORK/backing" | cut -f1)
  rm -rf "$dir" || fail "rm -rf $dir"
  for _ in $(seq 1 100); do
    [ "$(backing_field bd_count)" -eq 0 ] && break
    sleep 0.1
  done
  [ "$(backing_field bd_count)" -eq 0 ] || fail "the backing file still holds $(backing_field bd_count) blocks"
  # The writeback thread punches freed space on its next looks (short runs every few seconds).
  for _ in $(seq 1 100); do
    disk_empty=$(du -k "$WORK/backing" | cut -f1)
    [ "$disk_empty" -lt $((disk_full / 4 + 1024)) ] && break
    sleep 0.1
  done
  log "the backing file took ${disk_full} KiB on disk, ${disk_empty} KiB once everything was deleted"
  [ "$disk_empty" -lt $((disk_full / 4 + 1024)) ] || fail "the backing file did not shrink on disk"
  soak_active || break
done
log "$round round(s): $((TOTAL_WRITE_KB / 1024)) MiB written, $((TOTAL_READ_KB / 1024)) MiB verified"
check_consistency
unmount_zsfs

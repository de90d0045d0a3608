#!/bin/bash
# Stress test a: zsfs_fsx (tests/stress/fsx.cc) on a fresh zsfs mount, with compaction triggered
# continuously in the background (user.zsfs.compact read every ~50 ms) while it runs:
#   1. several processes, each on several files of its own (-p 3 -f 4): writes of random,
#      same-filled, zero, text and shared (dedup) data, reads, truncates, hole punches, zero
#      ranges, fallocate, copy_file_range, appends, mmap reads and writes, SEEK_DATA/SEEK_HOLE,
#      fsync, reopen; every byte checked against a model;
#   2. shared-file mode: four processes writing disjoint block-aligned regions of one file;
#   3. fewer, bigger files and operations (4 MiB files, operations up to 1 MiB);
# all of it on a default mount, and again (less of it) on a mount with the kernel's writeback
# cache (-o writeback=on).
# Then the core's consistency check (user.zsfs.check), and since zsfs_fsx deletes its files on
# success, the filesystem must be empty again (no blocks, no pool pages, memory near the baseline).
# Finally the unmount: the daemon must exit with status 0.
#
# Usage: fsx_zsfs.sh ZSFS_BINARY ZSFS_FSX_BINARY      (CTest passes both)
# Environment: ZSFS_STRESS_SCALE (work factor, default 1), ZSFS_STRESS_SEED (first seed; default
# random, always printed), ZSFS_STRESS_WRITEBACK=0 to leave out the writeback=on pass,
# ZSFS_SOAK=1 to repeat with new seeds for ZSFS_SOAK_SECONDS (default 1800), e.g.:
#   ZSFS_SOAK=1 tests/stress/fsx_zsfs.sh build/debug/mount/zsfs build/debug/tests/stress/zsfs_fsx
# A failure prints the seed and a replay command; run it against any zsfs (or tmpfs) directory.
source "$(dirname "$0")/lib.sh" || exit 1
stress_init "$1"
FSX=$(absolute "${2:?usage: $0 ZSFS_BINARY ZSFS_FSX_BINARY}")
[ -x "$FSX" ] || fail "$FSX is missing"

# Each run is bounded in time as well as in operations, so a slow (sanitizer) build stays short;
# the time limit only matters when the machine is much slower than expected.
run_fsx() {
  local dir=$1 seed
  shift
  seed=$(new_seed)
  log "zsfs_fsx -s $seed $*"
  "$FSX" -q --strict --hole-granularity 4096 -s "$seed" "$@" "$dir" &
  local pid=$!
  register_bg "$pid"
  wait "$pid" ||
    fail "zsfs_fsx failed (seed $seed) on a zsfs mounted with -o $MOUNT_OPTIONS; replay on such" \
      "a mount (or any directory) DIR: $FSX --strict --hole-granularity 4096 -s $seed $* DIR"
  daemon_alive
}

round=0
# $1: mount options; $2: percentage of the default work.
fsx_on_mount() {
  MOUNT_OPTIONS=$1
  mount_zsfs "$1"
  local baseline
  baseline=$(stat_field mem_used_total)
  start_compactor
  while :; do
    round=$((round + 1))
    local dir=$MNT/round$round
    mkdir "$dir" || fail "mkdir $dir"
    run_fsx "$dir" -p 3 -f 4 -N "$(scaled $((25000 * $2 / 100)))" -t "$(scaled 20)"
    run_fsx "$dir" -S -p 4 -N "$(scaled $((15000 * $2 / 100)))" -t "$(scaled 15)"
    run_fsx "$dir" -p 2 -f 2 -l 4m -o 1m -c 200 -N "$(scaled $((1500 * $2 / 100)))" -t "$(scaled 12)"
    rmdir "$dir" || fail "rmdir $dir: zsfs_fsx left files behind?"
    check_consistency
    soak_active || break
  done
  stop_compactor
  check_consistency
  check_empty "$baseline"
  unmount_zsfs
}

# A soak gives the default mount two thirds of its time, the writeback mount the rest.
[ "${ZSFS_STRESS_WRITEBACK:-1}" = 1 ] && SOAK_DEADLINE=$((STRESS_START + SOAK_SECONDS * 2 / 3))
fsx_on_mount "size=2g" 100
# The kernel's writeback cache: writes reach zsfs later, in pages; O_APPEND is the kernel's.
if [ "${ZSFS_STRESS_WRITEBACK:-1}" = 1 ]; then
  SOAK_DEADLINE=$((STRESS_START + SOAK_SECONDS))
  fsx_on_mount "size=2g,writeback=on" 40
else
  log "NOTE: the writeback=on pass is off (ZSFS_STRESS_WRITEBACK=0)"
fi
log "$round round(s) of zsfs_fsx"

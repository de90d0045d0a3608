#!/bin/bash
# Stress test: image saves while zsfs_fsx runs (-o image=, save_interval=1, and zsfsctl save in a
# loop), so that saves take their point in time while files are written, truncated, punched,
# copied and renamed under them; with a backing file and writeback_after=1, so that blocks move to
# the file while fsx reads and rewrites them, and saves read blocks back from it (promote=on in
# every other round, so that reads bring blocks back meanwhile):
#   1. zsfs_fsx (-k: its files stay) in several processes, every read checked against its model,
#      with saves throughout; a copy of the image is kept now and then (the copy is whole: saves
#      replace the image by a rename);
#   2. the consistency check, a manifest of the tree (contents, modes, owners, sizes), the unmount
#      (the last save), a new mount from the image: the same manifest, a clean check;
#   3. every kept copy mounts, passes the consistency check, and reads back whole.
# Usage: image_fsx_zsfs.sh ZSFS_BINARY ZSFS_FSX_BINARY ZSFSCTL_BINARY MANIFEST_PY   (CTest passes
# them). Environment: as fsx_zsfs.sh (ZSFS_STRESS_SCALE, ZSFS_STRESS_SEED, ZSFS_SOAK).
source "$(dirname "$0")/lib.sh" || exit 1
stress_init "$1"
FSX=$(absolute "${2:?usage: $0 ZSFS FSX ZSFSCTL MANIFEST_PY}")
ZSFSCTL=$(absolute "${3:?usage: $0 ZSFS FSX ZSFSCTL MANIFEST_PY}")
MANIFEST=$(absolute "${4:?usage: $0 ZSFS FSX ZSFSCTL MANIFEST_PY}")
require_tool python3 python3
IMAGE=$WORK/fs.img
OPTIONS="size=1g,image=$IMAGE,save_interval=1,backing=$WORK/backing,writeback_after=1"

saves_in_a_loop() {
  local n=0
  while :; do
    "$ZSFSCTL" save "$MNT" >/dev/null 2>&1 || :
    n=$((n + 1))
    # Keep a copy of every fifth image (the image is always whole: it is replaced by a rename).
    [ $((n % 5)) -eq 0 ] && cp "$IMAGE" "$WORK/kept.$n.img" 2>/dev/null
    sleep 0.2
  done
}

round=0
while :; do
  round=$((round + 1))
  rm -f "$IMAGE" "$WORK"/kept.*.img
  promote=$([ $((round % 2)) -eq 0 ] && echo on || echo off)
  mount_zsfs "$OPTIONS,promote=$promote"
  saves_in_a_loop &
  SAVER=$!
  register_bg "$SAVER"
  seed=$(new_seed)
  log "zsfs_fsx -s $seed -k -p 3 -f 3, saving all the while"
  "$FSX" -q --strict --hole-granularity 4096 -k -s "$seed" -p 3 -f 3 \
    -N "$(scaled 20000)" -t "$(scaled 25)" "$MNT" ||
    fail "zsfs_fsx failed (seed $seed) with saves running; replay: $FSX --strict" \
      "--hole-granularity 4096 -k -s $seed -p 3 -f 3 DIR"
  kill "$SAVER" 2>/dev/null
  wait "$SAVER" 2>/dev/null
  BG_PIDS=()
  check_consistency
  stats=$(xattr_value user.zsfs.stats)
  saves=$(printf '%s' "$stats" | grep -o '"saves":[0-9]*' | cut -d: -f2)
  log "$saves saves during the run; backing file:" \
    "$(printf '%s' "$stats" | grep -o '"bd_\(writes\|reads\)":[0-9]*' | tr '\n' ' ')" \
    "$(printf '%s' "$stats" | grep -o '"promoted":[0-9]*')"
  printf '%s' "$stats" | grep -q '"read_errors":0' || fail "corrupt reads from the backing file"
  [ "${saves:-0}" -ge 3 ] || fail "expected several saves during the run, got ${saves:-none}"
  python3 "$MANIFEST" "$MNT" >"$WORK/before" || fail "manifest failed"
  unmount_zsfs
  mount_zsfs "$OPTIONS"
  python3 "$MANIFEST" "$MNT" >"$WORK/after" || fail "manifest failed"
  diff "$WORK/before" "$WORK/after" >"$WORK/diff" ||
    fail "the tree differs after a save and a load: $(head -20 "$WORK/diff")"
  log "the tree came back whole ($(wc -l <"$WORK/after") entries)"
  check_consistency
  unmount_zsfs
  kept=0
  for copy in "$WORK"/kept.*.img; do
    [ -e "$copy" ] || continue
    mount_zsfs "size=1g,image=$copy"
    check_consistency
    find "$MNT" -type f -exec cat {} + >/dev/null || fail "reading the tree of $copy failed"
    unmount_zsfs
    kept=$((kept + 1))
  done
  log "$kept image(s) taken during the run load, check clean and read back"
  soak_active || break
done
log "$round round(s)"

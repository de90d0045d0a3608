#!/bin/bash
# Self-test of zsfs_fsx against the reference filesystem: tmpfs (/dev/shm, or TMPDIR when /dev/shm
# is missing). The model must agree with tmpfs in every mode (zero ranges, which tmpfs lacks,
# are disabled with a note), so that a failure on zsfs means a zsfs bug, not a tester bug. It
# also checks that --verify-fill rejects files written under another seed.
# No FUSE needed.
#
# Usage: fsx_tmpfs.sh ZSFS_FSX_BINARY                    (CTest passes it)
# Environment: ZSFS_STRESS_SCALE, ZSFS_STRESS_SEED; ZSFS_SOAK=1 repeats for ZSFS_SOAK_SECONDS.
source "$(dirname "$0")/lib.sh" || exit 1
FSX=$(absolute "${1:?usage: $0 ZSFS_FSX_BINARY}")
[ -x "$FSX" ] || fail "$FSX is missing"
base=/dev/shm
[ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
WORK=$(mktemp -d "$base/zsfs-fsx-XXXXXX") || fail "mktemp"
trap stress_cleanup EXIT
log "on $(stat -f -c %T "$WORK"): $WORK"

run() {
  seed=$(new_seed)
  log "zsfs_fsx -s $seed $*"
  "$FSX" -q --hole-granularity 4096 -s "$seed" "$@" || fail "zsfs_fsx -s $seed $* failed"
}
while :; do
  run -p 2 -f 4 -N "$(scaled 20000)" "$WORK"
  run -S -p 3 -N "$(scaled 10000)" "$WORK"
  run -l 2m -o 512k -c 100 -N "$(scaled 1000)" "$WORK"
  run --fill --fill-bytes 8m --fill-size 1m -p 2 "$WORK"
  "$FSX" --verify-fill -s "$seed" "$WORK" || fail "--verify-fill -s $seed failed"
  # The checker must be able to fail: the same files under another seed do not match.
  if "$FSX" --verify-fill -s $((seed + 1)) "$WORK" >"$WORK.out" 2>&1; then
    fail "--verify-fill accepted files written with another seed"
  fi
  rm -f "$WORK.out"
  rm -rf "${WORK:?}"/*
  soak_active || break
done

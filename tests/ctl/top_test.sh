#!/usr/bin/env bash
# zsfsctl top as a person sees it: in a tmux pane (a real terminal, 120x60), read back with
# capture-pane while files are written, then q; and --once through a pipe, as a script reads it.
#
# Usage: top_test.sh ZSFS ZSFSCTL. Exits 77 (CTest's skip) where FUSE cannot be mounted.
set -euo pipefail
zsfs=$(realpath "$1")
zsfsctl=$(realpath "$2")
fail() {
  printf "FAIL: %b\n" "$*" >&2
  exit 1
}
[[ -e /dev/fuse && $EUID -eq 0 ]] || { echo "skipped: needs root and /dev/fuse"; exit 77; }
command -v tmux >/dev/null || fail "tmux is missing (see .ci/deps)"

work=$(mktemp -d /tmp/zsfs-top.XXXXXX)
mnt="$work/mnt"
# A tmux server of this test's own, on its own socket, ended with the test.
tmux_() { tmux -L "zsfs-top-test-$$" -f /dev/null "$@"; }
# The pane's processes end a moment after kill-server (SIGHUP): a busy mount point is retried,
# and at worst detached, so that the test's result is its checks', not its cleanup's.
cleanup() {
  tmux_ kill-server 2>/dev/null || true
  for _ in $(seq 50); do
    mountpoint -q "$mnt" || break
    umount "$mnt" 2>/dev/null || sleep 0.2
  done
  if mountpoint -q "$mnt"; then
    echo "note: $mnt still busy after 10 s; detached with umount -l"
    umount -l "$mnt" || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir "$mnt"
"$zsfs" "$mnt" -o size=64M

# The screen of the pane, retried until it shows pattern (or 10 s pass).
screen_with() {
  local screen
  for _ in $(seq 50); do
    screen=$(tmux_ capture-pane -p -t top)
    grep -q -- "$1" <<<"$screen" && { printf '%s\n' "$screen"; return 0; }
    sleep 0.2
  done
  printf '%s\n' "$screen"
  return 1
}

# The pane's shell writes zsfsctl's exit status to a file when it ends.
tmux_ new-session -d -s top -x 120 -y 60 \
  "'$zsfsctl' top '$mnt'; echo \$? >'$work/status'; sleep 600"
for i in $(seq 300); do
  echo "line $i" >"$mnt/f$i"
done
# The second frame has rates.
screen=$(screen_with "^  mknod .*/s ") || fail "no rate of mknod requests on the screen:\n$screen"
for want in "zsfs top: $mnt   every 1 s" "Memory    " "of 64.0 MiB" "Requests" "/s" \
  "Activity" "  compactions" "  recompressor_passes" "Figures" "memory_used_bytes"; do
  grep -qF -- "$want" <<<"$screen" || fail "'$want' is not on the screen:\n$screen"
done
(($(wc -l <<<"$screen") <= 60)) || fail "more lines than the pane has"
# Redrawn in place, not scrolled: a later look still shows one title, on the first line.
screen=$(tmux_ capture-pane -p -t top)
[[ $(grep -c '^zsfs top: ' <<<"$screen") == 1 && $screen == "zsfs top: "* ]] ||
  fail "not one title, on top:\n$screen"

tmux_ send-keys -t top q
for _ in $(seq 50); do
  [[ -s $work/status ]] && break
  sleep 0.2
done
[[ -s $work/status ]] || fail "q did not end zsfsctl top:\n$(tmux_ capture-pane -p -t top)"
[[ $(cat "$work/status") == 0 ]] || fail "zsfsctl top exited with $(cat "$work/status")"
# Back from the alternate screen: its frame is no longer shown.
! grep -q '^Figures' <<<"$(tmux_ capture-pane -p -t top)" || fail "the alternate screen was not left"

# For scripts: one frame, no escape sequences.
out=$("$zsfsctl" top --once --interval 0.5 "$mnt" | cat)
grep -q "^Requests " <<<"$out" || fail "--once: no Requests line:\n$out"
! grep -q $'\033' <<<"$out" || fail "--once wrote escape sequences"
[[ $(grep -c '^zsfs top: ' <<<"$out") == 1 ]] || fail "--once printed more than one frame"
# A mount point that is not one: the usual message, status 2.
status=0
"$zsfsctl" top --once /proc 2>"$work/err" || status=$?
((status == 2)) || fail "top on /proc exited with $status"
grep -q "is not on a zsfs mount" "$work/err" || fail "top /proc: $(cat "$work/err")"
echo "top: the pane showed memory, requests, activity and figures; q ended it; --once prints one frame"

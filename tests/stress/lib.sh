# Shared by the stress scripts in this directory; sourced, never run on its own.
#
# What it gives a script:
#   stress_init ZSFS_BINARY      check the binary, /dev/fuse and the scale; set WORK (a fresh
#                                directory, removed at exit) and the EXIT trap
#   mount_zsfs OPTIONS           mount a fresh zsfs (daemon in the foreground, our child) on
#                                $WORK/mnt; sets MNT, DAEMON_PID, DAEMON_LOG
#   unmount_zsfs                 unmount and reap the daemon; fail on a non-zero exit status
#   check_consistency            user.zsfs.check must say "ok":true
#   stat_field NAME              an integer field of user.zsfs.stats
#   check_empty BASELINE         nothing stored any more; mem_used_total near BASELINE
#   start_compactor/stop_compactor   read user.zsfs.compact every ~50 ms in the background
#   daemon_status_kib FIELD      VmRSS, VmHWM, ... of the daemon, in KiB
#   fio_global DIR SEED          a fio job file's [global] section: psync in DIR, randseed SEED,
#                                every write verified (verify_fatal), a result line per job
#   run_fio JOBFILE WHAT [OPTS]  run fio (terse output), fail on any error or failed
#                                verification; adds to TOTAL_READ_KB and TOTAL_WRITE_KB
#   scaled N                     N times ZSFS_STRESS_SCALE (at least 1)
#   soak_active                  true while a soak run (ZSFS_SOAK=1) has time left
#   require_tool NAME PACKAGE    skip (exit 77) when a program is missing
#   log, fail, skip
#
# The EXIT trap always stops the background jobs a script registered (by pid), unmounts
# (fusermount3 -u, retried while busy, then -z, then umount -l) and reaps the daemon. The daemon
# runs under setpriv --pdeathsig TERM when setpriv is there, so it also goes (and unmounts
# itself) when the script is killed outright, e.g. by a CTest timeout.
#
# Environment:
#   ZSFS_STRESS_SCALE   multiplies the amount of work and the time limits (default 1; lower it
#                       on a slow machine, raise it for a longer run)
#   ZSFS_SOAK=1         repeat each workload, with new seeds, for ZSFS_SOAK_SECONDS
#                       (default 1800)
#   ZSFS_STRESS_SEED    the first seed (default: random, always printed)
#   ZSFS_STRESS_KEEP=1  keep $WORK (the daemon log, fio/stress-ng output) after a failure
#   ZSFS_STRESS_MEM_TOLERANCE  bytes mem_used_total may stay above its value after mounting once
#                       everything is deleted (default 1 MiB: the inode table keeps its chunks,
#                       16 KiB per 1024 inode numbers in use at the peak)

set -u -o pipefail

STRESS_NAME=$(basename "$0" .sh)
SCALE=${ZSFS_STRESS_SCALE:-1}
SOAK=${ZSFS_SOAK:-0}
SOAK_SECONDS=${ZSFS_SOAK_SECONDS:-1800}
WORK=""
MNT=""
DAEMON_PID=""
DAEMON_LOG=""
BG_PIDS=()
COMPACTOR_PID=""
STRESS_START=$SECONDS

log() { printf '[%s +%ss] %s\n' "$STRESS_NAME" "$((SECONDS - STRESS_START))" "$*"; }
fail() {
  log "FAIL: $*"
  exit 1
}
skip() {
  log "SKIP: $*"
  exit 77
}

require_tool() {
  command -v "$1" >/dev/null 2>&1 || skip "$1 is not installed (Debian: apt-get install $2)"
}

# N * SCALE, rounded down, at least 1.
scaled() { awk -v n="$1" -v s="$SCALE" 'BEGIN { v = int(n * s); if (v < 1) v = 1; print v }'; }

# Soak runs repeat until SOAK_DEADLINE (in $SECONDS; a script may move it to split its time).
SOAK_DEADLINE=$((STRESS_START + SOAK_SECONDS))
soak_active() { [ "$SOAK" = 1 ] && [ "$SECONDS" -lt "$SOAK_DEADLINE" ]; }

new_seed() {
  if [ -n "${ZSFS_STRESS_SEED:-}" ]; then
    echo "$ZSFS_STRESS_SEED"
    ZSFS_STRESS_SEED=$((ZSFS_STRESS_SEED + 1))
  else
    echo $(((RANDOM << 30) ^ (RANDOM << 15) ^ RANDOM))
  fi
}

is_mounted() { awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo; }

absolute() { readlink -f -- "$1" || echo "$1"; }

stress_init() {
  ZSFS=$(absolute "${1:?usage: $0 ZSFS_BINARY ...}")
  [ -x "$ZSFS" ] || fail "zsfs binary $1 is missing or not executable"
  [ -c /dev/fuse ] || skip "/dev/fuse is missing: cannot mount FUSE filesystems here"
  require_tool fusermount3 fuse3
  require_tool getfattr attr
  awk -v s="$SCALE" 'BEGIN { exit !(s > 0) }' || fail "ZSFS_STRESS_SCALE must be > 0, not '$SCALE'"
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/zsfs-stress-XXXXXX") || fail "mktemp failed"
  trap stress_cleanup EXIT
  trap 'log "interrupted"; exit 130' INT TERM HUP
  log "scale $SCALE$([ "$SOAK" = 1 ] && echo ", soak for ${SOAK_SECONDS}s"), work directory $WORK"
}

# Remembers the pid of a background job (started with &) so the cleanup stops it.
register_bg() { BG_PIDS+=("$1"); }

# Stops background job $1 (a child of this shell) and reaps it: SIGTERM, and SIGKILL if it is
# still there 5 s later. A loop that traps TERM to exit may miss it: bash 5.2 once failed to
# parse the trap's action when the signal came in the middle of a command substitution ("trap:
# line 2: unexpected EOF while looking for matching `)'"), the loop ran on, and the wait for it
# hung the test until its timeout.
stop_pid() {
  local pid=$1 watchdog
  kill -TERM "$pid" 2>/dev/null
  (
    sleep 5
    kill -KILL "$pid" 2>/dev/null
  ) &
  watchdog=$!
  wait "$pid" 2>/dev/null
  kill -KILL "$watchdog" 2>/dev/null
  wait "$watchdog" 2>/dev/null
  return 0
}

stop_bg() {
  local pid
  for pid in "${BG_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${BG_PIDS[@]}"; do stop_pid "$pid"; done
  BG_PIDS=()
}

mount_zsfs() {
  local options=$1
  MNT=$WORK/mnt
  mkdir -p "$MNT"
  DAEMON_LOG=$WORK/daemon.$((++MOUNT_COUNT)).log
  local -a launcher=()
  # The daemon gets SIGTERM (and unmounts itself) if this script dies without its EXIT trap.
  if setpriv --help 2>/dev/null | grep -q -- --pdeathsig; then launcher=(setpriv --pdeathsig TERM --); fi
  log "mounting: zsfs $MNT -f -o $options"
  "${launcher[@]}" "$ZSFS" "$MNT" -f -o "$options" </dev/null >"$DAEMON_LOG" 2>&1 &
  DAEMON_PID=$!
  local _
  for _ in $(seq 1 600); do
    if is_mounted "$MNT"; then
      log "mounted (daemon pid $DAEMON_PID)"
      return 0
    fi
    if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
      wait "$DAEMON_PID"
      local status=$?
      DAEMON_PID=""
      if grep -q -e "fuse: device not found" -e "Operation not permitted" -e "Permission denied" \
        "$DAEMON_LOG"; then
        skip "cannot mount FUSE here: $(head -3 "$DAEMON_LOG")"
      fi
      cat "$DAEMON_LOG"
      fail "zsfs exited with status $status before mounting"
    fi
    sleep 0.05
  done
  fail "the mount did not appear within 30 s"
}
MOUNT_COUNT=0

# Unmounts and reaps the daemon; returns non-zero (after saying why) unless it exited with 0.
unmount_and_reap() {
  local _
  for _ in $(seq 1 100); do
    is_mounted "$MNT" || break
    fusermount3 -u "$MNT" 2>/dev/null && break
    sleep 0.1 # busy: something still has a file open there
  done
  # Debug builds run the core's consistency check at exit, which takes a moment on a big tree.
  local patience=1200
  if is_mounted "$MNT"; then
    log "fusermount3 -u kept failing (in use by pids:$(fuser -m "$MNT" 2>/dev/null)); detaching lazily"
    fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
    patience=100 # the daemon only exits once the last user lets go
  fi
  [ -n "$DAEMON_PID" ] || return 0
  local waited=0
  while kill -0 "$DAEMON_PID" 2>/dev/null && [ $waited -lt $patience ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  if kill -0 "$DAEMON_PID" 2>/dev/null; then
    log "zsfs (pid $DAEMON_PID) did not exit $((patience / 10)) s after the unmount; killing it"
    kill -KILL "$DAEMON_PID" 2>/dev/null
  fi
  wait "$DAEMON_PID"
  local status=$?
  DAEMON_PID=""
  if [ $status -ne 0 ]; then
    tail -n 40 "$DAEMON_LOG"
    log "zsfs exited with status $status after the unmount (log above)"
    return 1
  fi
  log "unmounted; zsfs exited with status 0"
}

unmount_zsfs() {
  stop_compactor
  unmount_and_reap || fail "the daemon did not shut down cleanly"
}

stress_cleanup() {
  local status=$?
  set +e
  trap - EXIT INT TERM HUP
  cd / || true # a working directory inside the mount would keep it busy
  stop_bg
  COMPACTOR_PID=""
  if [ -n "$MNT" ] && { is_mounted "$MNT" || [ -n "$DAEMON_PID" ]; }; then
    unmount_and_reap || { [ $status -eq 0 ] && status=1; }
  fi
  if [ $status -ne 0 ] && [ $status -ne 77 ] && [ -n "$DAEMON_LOG" ] && [ -s "$DAEMON_LOG" ]; then
    log "the last lines of the daemon log ($DAEMON_LOG):"
    tail -n 30 "$DAEMON_LOG"
  fi
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ -n "$MNT" ] && is_mounted "$MNT"; then
      log "$MNT is still mounted; leaving $WORK"
    elif [ $status -ne 0 ] && [ $status -ne 77 ] && [ "${ZSFS_STRESS_KEEP:-0}" = 1 ]; then
      log "keeping $WORK"
    else
      rm -rf "$WORK"
    fi
  fi
  [ $status -eq 0 ] && log "PASS"
  exit $status
}

xattr_value() { getfattr --absolute-names --only-values -n "$1" "$MNT" 2>&1; }

check_consistency() {
  local out
  out=$(xattr_value user.zsfs.check) || fail "reading user.zsfs.check failed: $out"
  out=$(printf '%s' "$out" | tr -d ' \n\t')
  case $out in
    *'"ok":true'*) log "consistency check ok" ;;
    *) fail "consistency check FAILED: $out" ;;
  esac
}

stats_json() { xattr_value user.zsfs.stats | tr -d ' \n\t'; }

# The first (top-level) integer field NAME of a stats JSON text (default: read it now).
stat_field() {
  local json=${2:-$(stats_json)}
  local value
  value=$(printf '%s' "$json" | grep -o "\"$1\":[0-9]*" | head -n 1 | cut -d: -f2)
  [ -n "$value" ] || fail "user.zsfs.stats has no field $1: $json"
  echo "$value"
}

# After everything was deleted: no data left, memory back near the baseline taken at mount (see
# ZSFS_STRESS_MEM_TOLERANCE above).
check_empty() {
  local baseline=$1
  local tolerance=${ZSFS_STRESS_MEM_TOLERANCE:-1048576}
  local json field value problems=""
  # Deleted inodes are released when the kernel forgets them; give it a moment.
  local _
  for _ in $(seq 1 50); do
    json=$(stats_json)
    [ "$(stat_field inodes "$json")" -le 1 ] && [ "$(stat_field unique_blocks "$json")" -eq 0 ] && break
    sleep 0.1
  done
  for field in unique_blocks pool_pages logical_bytes data_blocks; do
    value=$(stat_field "$field" "$json")
    [ "$value" -eq 0 ] || problems+=" $field=$value"
  done
  local used
  used=$(stat_field mem_used_total "$json")
  if [ "$used" -gt $((baseline + tolerance)) ]; then
    problems+=" mem_used_total=$used (baseline after mount $baseline, tolerance $tolerance)"
  fi
  [ -z "$problems" ] || fail "the filesystem is not back to empty:$problems; stats: $json"
  log "empty again: mem_used_total $used (baseline $baseline), unique_blocks, pool_pages, logical_bytes 0"
  if [ "$used" -ne "$baseline" ]; then
    log "  still held: $(printf '%s' "$json" | grep -o '"[a-z_]*_bytes":[1-9][0-9]*' | tr '\n' ' ')"
  fi
}

start_compactor() {
  local ok_file=$WORK/compactions errors=$WORK/compaction-errors out=$WORK/compaction-out
  : >"$ok_file"
  : >"$errors"
  (
    trap 'exit 0' TERM
    while :; do
      if getfattr --absolute-names --only-values -n user.zsfs.compact "$MNT" >"$out" 2>&1; then
        echo x >>"$ok_file"
      else
        cat "$out" >>"$errors"
      fi
      sleep 0.05
    done
  ) &
  COMPACTOR_PID=$!
  register_bg "$COMPACTOR_PID"
  log "background compaction started (pid $COMPACTOR_PID)"
}

stop_compactor() {
  [ -n "$COMPACTOR_PID" ] || return 0
  stop_pid "$COMPACTOR_PID"
  local pid kept=()
  for pid in "${BG_PIDS[@]}"; do [ "$pid" = "$COMPACTOR_PID" ] || kept+=("$pid"); done
  BG_PIDS=("${kept[@]}")
  COMPACTOR_PID=""
  local runs errors
  runs=$(wc -l <"$WORK/compactions")
  errors=$(wc -l <"$WORK/compaction-errors")
  log "background compaction ran $runs times"
  if [ "$errors" -ne 0 ]; then
    head -n 5 "$WORK/compaction-errors"
    fail "reading user.zsfs.compact failed $errors times"
  fi
}

daemon_status_kib() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$DAEMON_PID/status"; }

daemon_alive() {
  kill -0 "$DAEMON_PID" 2>/dev/null || fail "the zsfs daemon (pid $DAEMON_PID) died"
  is_mounted "$MNT" || fail "$MNT is no longer mounted"
}

fio_global() {
  cat <<JOBS
[global]
directory=$1
ioengine=psync
randseed=$2
verify_fatal=1
do_verify=1
verify_state_save=0
# Not in a group: each job gets its own result line.
group_reporting=0
JOBS
}

TOTAL_READ_KB=0
TOTAL_WRITE_KB=0
# $1: job file, $2: what; the rest: extra fio options.
run_fio() {
  local jobs=$1 what=$2 out=$WORK/fio.out
  shift 2
  log "fio: $what"
  local start=$SECONDS
  fio --output-format=terse --terse-version=3 --output="$out" "$@" "$jobs" >"$WORK/fio.err" 2>&1 &
  local pid=$!
  register_bg "$pid"
  if ! wait "$pid"; then
    cat "$WORK/fio.err"
    awk -F';' '/^3;/ { printf "  job %s: error %s, read %s KiB, written %s KiB\n", $3, $5, $6, $47 }' "$out"
    fail "fio ($what) failed: data verification or I/O error (job file $jobs below)"$'\n'"$(cat "$jobs")"
  fi
  # The terse lines (format 3) go to $out with fio's warnings; keep the lines, show the rest.
  grep -v '^3;' "$out" | grep -v "multiple writers may overwrite blocks"
  grep '^3;' "$out" >"$out.terse"
  out=$out.terse
  grep -v "multiple writers may overwrite blocks" "$WORK/fio.err"
  local errors read_kb write_kb
  errors=$(awk -F';' '$5 != 0 { n++ } END { print n + 0 }' "$out")
  read_kb=$(awk -F';' '{ s += $6 } END { print s + 0 }' "$out")
  write_kb=$(awk -F';' '{ s += $47 } END { print s + 0 }' "$out")
  if [ "$errors" -ne 0 ]; then
    cat "$WORK/fio.err"
    awk -F';' '$5 != 0 { printf "  job %s: error %s (%s)\n", $3, $5, $NF }' "$out"
    fail "fio ($what): $errors job(s) reported errors"
  fi
  # With --verify_only fio reports the writes it only pretended to do.
  case " $* " in *" --verify_only "*) write_kb=0 ;; esac
  TOTAL_READ_KB=$((TOTAL_READ_KB + read_kb))
  TOTAL_WRITE_KB=$((TOTAL_WRITE_KB + write_kb))
  log "fio: $what: $((write_kb / 1024)) MiB written, $((read_kb / 1024)) MiB read and verified," \
    "$(wc -l <"$out") jobs, $((SECONDS - start)) s"
  daemon_alive
}

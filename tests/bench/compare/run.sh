#!/usr/bin/env bash
# run.sh: zsfs side by side with tmpfs and with ext4 on a zram device (lz4), same workloads, one run.
#
#   sudo tests/bench/compare/run.sh [--zsfs PATH] [--zsfsctl PATH]
#                                   [--targets zsfs,tmpfs,zram,null] [--workloads W1,..,W7]
#                                   [--quick] [--out DIR] [--level N] [--logs DIR]
#                                   [--fio-size SIZE] [--fio-runtime SECONDS]
#                                   [--step-timeout SECONDS]
#
#   --zsfs PATH        the zsfs daemon (default: build/release/mount/zsfs in this repository)
#   --zsfsctl PATH     its control tool, which settles the tree and exports the dictionary
#                      (default: build/release/ctl/zsfsctl in this repository)
#   --targets LIST     any of zsfs, tmpfs, zram, null, comma-separated (default: all four);
#                      null is fusenull.c, a FUSE daemon that does next to nothing (W1, W7 only)
#   --workloads LIST   any of W1..W7, comma-separated (default: all); W2..W5 need the tree, which
#                      is extracted untimed when W1 is not chosen
#   --quick            a small data set (the fs, kernel, mm and include subtrees, about 100 MB),
#                      a 512 MiB fio file, 5 s random reads, 10,000 files for W7: a smoke run
#   --out DIR          where results.md and results.png go (default: tests/bench/results)
#   --level N          zstd level for the floors (default: zsfs's recompress_level default,
#                      from `zsfs --help`)
#   --logs DIR         keep every step's output and the daemon's log in DIR
#   --fio-size SIZE    the fio file (default 4g; --quick: 512m)
#   --fio-runtime S    seconds of random reads (default 20; --quick: 5)
#   --step-timeout S   upper bound for each timed step (default 1800)
#
# Runs as root (mounts, zram, drop_caches). Installs what is missing with apt-get (gnuplot-nox,
# fio, linux-source-6.1, xz-utils and a few tools; `apt-get update` only when something is
# missing). See README.md in this directory for the workloads, the measures and the goals.
# Slow figures never fail the benchmark: the exit status is 0 when it ran, 1 when something broke
# (a mount failed, a step failed, contents read back differ), 2 for bad usage.
# shellcheck disable=SC2317  # functions run from traps and through "$step"
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)

# ---------------------------------------------------------------------------------------------
# Options

zsfs_bin=$root/build/release/mount/zsfs
zsfsctl_bin=$root/build/release/ctl/zsfsctl
targets_arg=zsfs,tmpfs,zram,null
workloads_arg=W1,W2,W3,W4,W5,W6,W7
quick=0
out_dir=$root/tests/bench/results
level=""
logs_keep=""
fio_size=""
fio_runtime=""
step_timeout=1800

usage() { sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; }
bad_usage() { echo "run.sh: $*" >&2; usage >&2; exit 2; }

while (($#)); do
  case $1 in
    --zsfs) zsfs_bin=${2:?--zsfs needs a path}; shift 2 ;;
    --zsfsctl) zsfsctl_bin=${2:?--zsfsctl needs a path}; shift 2 ;;
    --targets) targets_arg=${2:?--targets needs a list}; shift 2 ;;
    --workloads) workloads_arg=${2:?--workloads needs a list}; shift 2 ;;
    --quick) quick=1; shift ;;
    --out) out_dir=${2:?--out needs a directory}; shift 2 ;;
    --level) level=${2:?--level needs a number}; shift 2 ;;
    --logs) logs_keep=${2:?--logs needs a directory}; shift 2 ;;
    --fio-size) fio_size=${2:?--fio-size needs a size}; shift 2 ;;
    --fio-runtime) fio_runtime=${2:?--fio-runtime needs seconds}; shift 2 ;;
    --step-timeout) step_timeout=${2:?--step-timeout needs seconds}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) bad_usage "unknown argument '$1'" ;;
  esac
done

declare -A want_target=() want_workload=()
targets=()
for t in ${targets_arg//,/ }; do
  case $t in
    zsfs | tmpfs | zram | null) [[ -n ${want_target[$t]:-} ]] || targets+=("$t"); want_target[$t]=1 ;;
    *) bad_usage "unknown target '$t' (accepted: zsfs, tmpfs, zram, null)" ;;
  esac
done
((${#targets[@]})) || bad_usage "no target given"
for w in ${workloads_arg//,/ }; do
  w=${w^^}
  case $w in
    W[1-7]) want_workload[$w]=1 ;;
    *) bad_usage "unknown workload '$w' (accepted: W1 to W7)" ;;
  esac
done
((${#want_workload[@]})) || bad_usage "no workload given"
[[ $level =~ ^-?[0-9]+$ || -z $level ]] || bad_usage "--level '$level' is not an integer"
[[ $step_timeout =~ ^[0-9]+$ ]] || bad_usage "--step-timeout '$step_timeout' is not a number"
want() { [[ -n ${want_workload[$1]:-} ]]; }
if [[ -n ${want_target[zsfs]:-} ]] && { want W2 || want W3 || want W7; } &&
  [[ ! -x $zsfsctl_bin ]]; then
  bad_usage "zsfsctl '$zsfsctl_bin' not found or not executable (W2, W3 and W7 use it on zsfs):" \
    "build it (cmake --build --preset release --target zsfsctl) or pass --zsfsctl PATH"
fi

if ((quick)); then
  fio_size=${fio_size:-512m}
  fio_runtime=${fio_runtime:-5}
  meta_dirs=10
else
  fio_size=${fio_size:-4g}
  fio_runtime=${fio_runtime:-20}
  meta_dirs=100
fi
meta_files_per_dir=1000
quick_subtrees=(fs kernel mm include)
[[ $fio_runtime =~ ^[0-9]+$ ]] || bad_usage "--fio-runtime '$fio_runtime' is not a number"

tarball=/usr/src/linux-source-6.1.tar.xz
top_dir=linux-source-6.1          # the tarball's top-level directory
zram_disksize=8G
tmpfs_size=16g                    # a limit, not an allocation
work_size=12g                     # the private tmpfs holding the tar and the reference tree
prefix=/tmp/zsfs-bench-compare    # every directory this script mounts on starts with this
state_file=/run/zsfs-bench-compare.state   # zram devices configured, for cleanup after a kill
lock_file=/run/zsfs-bench-compare.lock
pid_file=/run/zsfs-bench-compare.pid

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $(id -u) == 0 ]] || { echo "run.sh: needs root (mounts, zram, drop_caches)" >&2; exit 2; }

# ---------------------------------------------------------------------------------------------
# Packages

ensure_packages() {
  local -a missing=()
  local need
  # command-or-file:package
  local -a needs=(gnuplot:gnuplot-nox fio:fio xz:xz-utils "$tarball":linux-source-6.1
    getfattr:attr mkfs.ext4:e2fsprogs fstrim:util-linux timeout:coreutils cc:gcc
    /usr/include/zstd.h:libzstd-dev /usr/include/xxhash.h:libxxhash-dev python3:python3)
  [[ -n ${want_target[zsfs]:-}${want_target[null]:-} ]] && needs+=(fusermount3:fuse3)
  [[ -n ${want_target[null]:-} ]] &&
    needs+=(/usr/include/fuse3/fuse_lowlevel.h:libfuse3-dev pkg-config:pkg-config)
  for need in "${needs[@]}"; do
    local what=${need%:*} package=${need##*:}
    if [[ $what == /* ]]; then [[ -e $what ]] && continue
    else command -v "$what" >/dev/null 2>&1 && continue
    fi
    missing+=("$package")
  done
  ((${#missing[@]})) || return 0
  log "installing missing packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}

# ---------------------------------------------------------------------------------------------
# State and cleanup. Everything started or mounted is recorded here, and cleanup() undoes it in
# reverse order on every exit: normal, error, Ctrl-C or kill.

base=""            # $prefix.XXXXXX: the run's directory
work=""            # private tmpfs: the tar, the reference tree and manifest, the helpers
logs=""
mounts=()          # "kind path" entries, kind = tmpfs | ext4 | zsfs (any FUSE daemon) | work
daemon_pid=""      # the FUSE daemon of the current target (zsfs or fusenull)
sampler_pid=""
step_pid=""        # the timeout(1) process of the running step (its own process group)
zram_id=""         # the zram device configured for the current target
zram_hot_added=0
failures=0

is_mounted() { awk -v p="$1" '$5 == p { found = 1 } END { exit !found }' /proc/self/mountinfo; }

# Waits up to $2 seconds for process $1 (a child of ours) to exit.
wait_exit() {
  local pid=$1 deadline=$((SECONDS + $2))
  while kill -0 "$pid" 2>/dev/null; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

unmount_path() {
  local kind=$1 path=$2
  is_mounted "$path" || return 0
  # Bounded: a hung daemon must not hang the cleanup (a lazy unmount never blocks, and
  # stop_daemon kills a daemon that does not exit).
  for _ in 1 2 3 4 5; do
    if [[ $kind == zsfs ]]; then timeout 20 fusermount3 -u "$path" 2>/dev/null && return 0
    else timeout 20 umount "$path" 2>/dev/null && return 0
    fi
    sleep 1
  done
  log "warning: $path is busy or hung; detaching it lazily"
  if [[ $kind == zsfs ]]; then fusermount3 -uz "$path" || umount -l "$path"
  else umount -l "$path"
  fi
}

daemon_status=0
stop_daemon() {
  daemon_status=0
  [[ -n $daemon_pid ]] || return 0
  if ! wait_exit "$daemon_pid" 30; then
    log "warning: zsfs daemon $daemon_pid did not exit 30 s after its unmount; terminating it"
    kill -TERM "$daemon_pid" 2>/dev/null || true
    wait_exit "$daemon_pid" 10 || kill -KILL "$daemon_pid" 2>/dev/null || true
  fi
  wait "$daemon_pid" 2>/dev/null || daemon_status=$?
  daemon_pid=""
}

reset_zram() {
  [[ -n $zram_id ]] || return 0
  echo 1 >"/sys/block/zram$zram_id/reset" 2>/dev/null ||
    log "warning: could not reset /dev/zram$zram_id"
  if ((zram_hot_added)); then
    echo "$zram_id" >/sys/class/zram-control/hot_remove 2>/dev/null ||
      log "warning: could not hot_remove zram$zram_id"
  fi
  sed -i "/^zram $zram_id /d" "$state_file" 2>/dev/null || true
  zram_id=""
  zram_hot_added=0
}

stop_step() {
  if [[ -n $step_pid ]]; then
    kill -TERM "$step_pid" 2>/dev/null || true
    wait_exit "$step_pid" 15 || kill -KILL -- "-$step_pid" 2>/dev/null || true
    step_pid=""
  fi
}

stop_sampler() {
  if [[ -n $sampler_pid ]]; then
    kill "$sampler_pid" 2>/dev/null || true
    wait "$sampler_pid" 2>/dev/null || true
    sampler_pid=""
  fi
}

# Unmounts the last mount recorded (and the daemon or zram device behind it).
pop_mount() {
  local last=$((${#mounts[@]} - 1))
  local kind=${mounts[$last]%% *} path=${mounts[$last]#* }
  unmount_path "$kind" "$path"
  [[ $kind == zsfs ]] && stop_daemon
  [[ $kind == ext4 ]] && reset_zram
  rmdir "$path" 2>/dev/null || true
  unset "mounts[$last]"
}

cleanup() {
  local status=$?
  set +e
  trap - INT TERM
  stop_step
  stop_sampler
  while ((${#mounts[@]})); do pop_mount; done
  reset_zram
  if [[ -n $base && -d $base ]] && ! grep -q " $base" /proc/self/mountinfo; then
    rm -rf "$base"
  fi
  [[ -s $state_file ]] || rm -f "$state_file"
  [[ $(cat "$pid_file" 2>/dev/null) == "$$" ]] && rm -f "$pid_file"
  exit "$status"
}

interrupted() {
  log "interrupted: cleaning up"
  exit 130
}

# Undoes what an earlier run that could not clean up (kill -9, a crash) left behind.
clean_stale() {
  local path kind
  # Deepest first, so a target inside the work area goes before it.
  while read -r path kind; do
    log "a previous run left $path mounted ($kind): unmounting it"
    case $kind in
      fuse.zsfs | fuse.fusenull | fuse) unmount_path zsfs "$path" ;;
      *) unmount_path other "$path" ;;
    esac
  done < <(awk -v p="$prefix." 'index($5, p) == 1 {
      for (i = 7; i < NF && $i != "-"; ++i) {}
      print length($5), $5, $(i + 1)
    }' /proc/self/mountinfo | sort -rn | cut -d' ' -f2-)
  if [[ -s $state_file ]]; then
    local what id hot
    while read -r what id hot; do
      [[ $what == zram && -e /sys/block/zram$id ]] || continue
      if grep -q "^/dev/zram$id " /proc/mounts /proc/swaps; then
        log "warning: zram$id (configured by a previous run) is in use elsewhere; leaving it"
        continue
      fi
      log "a previous run left zram$id configured: resetting it"
      echo 1 >"/sys/block/zram$id/reset" || true
      ((hot)) && { echo "$id" >/sys/class/zram-control/hot_remove || true; }
    done <"$state_file"
    : >"$state_file"
  fi
  for path in "$prefix".*; do
    [[ -d $path ]] && ! grep -q " $path" /proc/self/mountinfo && rm -rf "$path"
  done
  return 0
}

# ---------------------------------------------------------------------------------------------
# Results: one "target<TAB>key<TAB>value" line each; report.py turns them into the table.

put() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$work/results.tsv"; }

# Runs "$@" bounded by the step timeout, output to $logs/$name.log, in the background so that a
# signal reaches the trap at once. Sets step_seconds; returns the command's status.
step_seconds=0
run_step() {
  local name=$1 limit=$2
  shift 2
  local start=$EPOCHREALTIME status=0
  timeout --kill-after=10 "$limit" "$@" >"$logs/$name.log" 2>&1 &
  step_pid=$!
  wait "$step_pid" || status=$?
  local end=$EPOCHREALTIME
  step_pid=""
  step_seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
  if ((status != 0)); then
    if ((status == 124)); then log "step $name: timed out after $limit s"
    else log "step $name: failed (status $status)"
    fi
    tail -n 5 "$logs/$name.log" | sed 's/^/    /' >&2
  fi
  return "$status"
}

drop_caches() {
  sync
  echo 3 >/proc/sys/vm/drop_caches
}

# Drop caches, then give background work (zsfs's compactor runs every second) a moment.
settle() {
  drop_caches
  sleep 2
}

meminfo_bytes() { awk -v k="$1:" '$1 == k { printf "%.0f\n", $2 * 1024 }' /proc/meminfo; }

# Memory the current target holds, in bytes: the daemon's resident set for zsfs, zsmalloc's
# mem_used_total for zram, the growth of Shmem since the mount for tmpfs.
target_memory() {
  case $target in
    zsfs) awk '$1 == "VmRSS:" { printf "%.0f\n", $2 * 1024 }' "/proc/$daemon_pid/status" ;;
    zram) awk '{ print $3 }' "/sys/block/zram$zram_id/mm_stat" ;;
    tmpfs) echo $(($(meminfo_bytes Shmem) - shmem_base)) ;;
  esac
}

zsfs_stats() { getfattr --only-values -n user.zsfs.stats "$mnt" 2>/dev/null; }
# zsfs_stat PATH...: the statistics at each dotted PATH (recompressor.busy), on one line,
# booleans as 1 or 0, from one reading. Fails when the statistics cannot be read or lack a PATH.
zsfs_stat() {
  zsfs_stats | python3 -c '
import json, sys
stats = json.load(sys.stdin)
values = []
for path in sys.argv[1:]:
    value = stats
    for key in path.split("."):
        value = value[key]
    values.append(str(int(value)) if isinstance(value, bool) else str(value))
print(" ".join(values))' "$@"
}

# The zsfs daemon's counters that a step is judged by, as "TRIPS RECOMPRESSED TRAININGS": the
# round trips it has served since the mount (its FUSE requests less the forgets, which the kernel
# sends one way, waiting for no answer), the blocks its recompressor has re-encoded and the
# dictionaries it has trained. Prints nothing for the other targets or when the statistics cannot
# be read (a figure missing, not a failed run).
step_counters() {
  [[ $target == zsfs ]] || return 0
  zsfs_stats | python3 -c '
import json, sys
stats = json.load(sys.stdin)
r = stats["requests"]
c = stats["recompressor"]
print(r["total"] - r["forget"] - r["forget_multi"], c["tried"], c["trainings"])' 2>/dev/null ||
    true
}

# Records what the step named KEY cost since BEFORE (a step_counters line): KEY_round_trips,
# KEY_recompressed and KEY_trainings. The reading itself adds one or two getxattr requests: noise
# at the scale of a workload.
put_step_counters() {
  local key=$1 before=$2 after trips0 tried0 trained0 trips1 tried1 trained1
  [[ -n $before ]] || return 0
  after=$(step_counters)
  [[ -n $after ]] || return 0
  read -r trips0 tried0 trained0 <<<"$before"
  read -r trips1 tried1 trained1 <<<"$after"
  put "$target" "${key}_round_trips" $((trips1 - trips0))
  put "$target" "${key}_recompressed" $((tried1 - tried0))
  put "$target" "${key}_trainings" $((trained1 - trained0))
}

# Records the target's memory under KEY, and for zsfs also the pool's own figure (KEY_pool).
record_memory() {
  local key=$1 bytes
  bytes=$(target_memory)
  put "$target" "$key" "$bytes"
  if [[ $target == zsfs ]]; then
    local pool
    pool=$(zsfs_stat mem_used_total) && put zsfs "${key}_pool" "$pool"
  fi
  echo "$bytes"
}

# Samples the target's memory every 100 ms, keeping the maximum in $1.
sampler() {
  local file=$1 max=0 value key rest parent=$$
  trap 'exit 0' TERM
  while [[ -e /proc/$parent ]]; do   # ends by itself should the script be killed
    value=0
    case $target in
      zsfs)
        while read -r key value rest; do [[ $key == VmRSS: ]] && break; done \
          <"/proc/$daemon_pid/status"
        value=$((value * 1024)) ;;
      zram) read -r _ _ value _ <"/sys/block/zram$zram_id/mm_stat" ;;
      tmpfs)
        while read -r key value rest; do [[ $key == Shmem: ]] && break; done </proc/meminfo
        value=$((value * 1024 - shmem_base)) ;;
    esac
    if ((value > max)); then
      max=$value
      echo "$max" >"$file"
    fi
    sleep 0.1
  done
}

start_peak() {
  case $target in
    zsfs) echo 5 >"/proc/$daemon_pid/clear_refs" ;;    # resets VmHWM
    zram) echo 0 >"/sys/block/zram$zram_id/mem_used_max" ;;
  esac
  echo 0 >"$work/peak"
  sampler "$work/peak" &
  sampler_pid=$!
}

stop_peak() {
  stop_sampler
  local peak exact now
  peak=$(cat "$work/peak")
  now=$(target_memory)   # a step shorter than the sampling period may end at its peak
  ((now > peak)) && peak=$now
  exact=0
  case $target in
    zsfs) exact=$(awk '$1 == "VmHWM:" { printf "%.0f\n", $2 * 1024 }' "/proc/$daemon_pid/status") ;;
    zram) exact=$(awk '{ print $5 }' "/sys/block/zram$zram_id/mm_stat") ;;
  esac
  ((exact > peak)) && peak=$exact
  put "$target" w1_peak_bytes "$peak"
  if [[ $target == zsfs ]]; then   # the pool's own peak since the mount (W1 is the first step)
    local pool_peak
    pool_peak=$(zsfs_stat mem_used_max) && put zsfs w1_peak_bytes_pool "$pool_peak"
  fi
  return 0
}

# Whether the current target is served by a FUSE daemon of ours (zsfs or the null daemon).
fuse_target() { [[ $target == zsfs || $target == null ]]; }

# The current target still answers (the daemon alive, the mount there).
target_alive() {
  is_mounted "$mnt" || return 1
  ! fuse_target || kill -0 "$daemon_pid" 2>/dev/null
}

fail() {
  log "FAILURE ($target): $*"
  put "$target" failure "$*"
  failures=$((failures + 1))
}

verify_tree() {  # verify_tree KEY DIR
  local key=$1 dir=$2
  log "  verifying $dir against the source (untimed)"
  if timeout "$step_timeout" python3 "$here/manifest.py" "$dir" >"$work/target.manifest" 2>"$logs/$target-$key.log" &&
    cmp -s "$work/ref.manifest" "$work/target.manifest"; then
    put "$target" "$key" ok
  else
    put "$target" "$key" MISMATCH
    fail "$key: contents read back from $dir differ from the source"
    diff "$work/ref.manifest" "$work/target.manifest" 2>/dev/null | head -n 10 | sed 's/^/    /' >&2 || true
    tail -n 3 "$logs/$target-$key.log" | sed 's/^/    /' >&2
    cp "$work/target.manifest" "$logs/$target-$key.manifest" 2>/dev/null || true
  fi
}

# ---------------------------------------------------------------------------------------------
# Targets

mount_tmpfs() {
  mount -t tmpfs -o "size=$tmpfs_size,mode=755" zsfs-bench-tmpfs "$mnt"
  mounts+=("tmpfs $mnt")
}

# A free zram device: zram0 when unconfigured, else a new one from hot_add.
find_zram() {
  if [[ -e /sys/block/zram0 && $(cat /sys/block/zram0/disksize) == 0 ]] &&
    ! grep -q '^/dev/zram0 ' /proc/mounts /proc/swaps; then
    zram_id=0
    zram_hot_added=0
  elif [[ -w /sys/class/zram-control/hot_add ]]; then
    zram_id=$(cat /sys/class/zram-control/hot_add)
    zram_hot_added=1
  else
    return 1
  fi
  echo "zram $zram_id $zram_hot_added" >>"$state_file"
}

mount_zram() {
  [[ -e /sys/block/zram0 || -e /sys/class/zram-control ]] || modprobe zram 2>/dev/null || true
  if [[ ! -e /sys/block/zram0 && ! -e /sys/class/zram-control ]]; then
    log "SKIP zram: this kernel has no zram (no /sys/block/zram0, no zram-control)"
    return 3
  fi
  find_zram || { log "SKIP zram: zram0 is in use and there is no zram-control/hot_add"; return 3; }
  local dev=/sys/block/zram$zram_id
  if ! grep -qw lz4 "$dev/comp_algorithm"; then
    log "SKIP zram: no lz4 in $(cat "$dev/comp_algorithm")"
    reset_zram
    return 3
  fi
  echo lz4 >"$dev/comp_algorithm"
  echo "$zram_disksize" >"$dev/disksize"
  # Initialise inode tables and journal now, not in the background during the timed steps.
  mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 "/dev/zram$zram_id"
  mount -t ext4 "/dev/zram$zram_id" "$mnt"
  mounts+=("ext4 $mnt")
}

# Starts a FUSE daemon in the foreground ("$@": the command, mount point included), its output to
# $logs/$target-daemon.log, and waits up to 20 s for the mount. Unmounted (fusermount3 -u) and
# waited for by pop_mount, as kind "zsfs".
start_fuse_daemon() {
  local log_file=$logs/$target-daemon.log
  "$@" >"$log_file" 2>&1 &
  daemon_pid=$!
  mounts+=("zsfs $mnt")
  local deadline=$((SECONDS + 20))
  until is_mounted "$mnt"; do
    if ! kill -0 "$daemon_pid" 2>/dev/null || ((SECONDS >= deadline)); then
      log "$(basename "$1") did not mount $mnt; its log:"
      tail -n 20 "$log_file" | sed 's/^/    /' >&2
      return 1
    fi
    sleep 0.1
  done
}

mount_zsfs() {
  [[ -x $zsfs_bin ]] || { log "zsfs daemon $zsfs_bin not found or not executable"; return 1; }
  start_fuse_daemon "$zsfs_bin" -f "$mnt"
}

# The FUSE null daemon: fusenull.c, built with the helpers.
mount_null() {
  start_fuse_daemon "$work/fusenull" "$mnt"
}

# ---------------------------------------------------------------------------------------------
# Workloads

tree=""   # the extracted tree in the mount
copy=""   # W4's copy

# untar_untimed [DIR [NAME]]: extracts the tree into DIR (default: the mount; created when
# missing), the step's log named NAME (default: untar).
untar_untimed() {
  local dir=${1:-$mnt} name=${2:-untar}
  log "  extracting the tree into $dir (untimed)"
  run_step "$target-$name" "$step_timeout" bash -c \
    'mkdir -p "$2" && tar -xf "$1" -C "$2" && sync -f "$2"' _ "$work/linux.tar" "$dir"
}

remove_trees_untimed() {
  [[ -e $tree || -e $copy ]] || return 0
  log "  removing the trees (untimed)"
  run_step "$target-rm" "$step_timeout" rm -rf "$tree" "$copy" || return 1
  [[ $target == zram ]] && fstrim "$mnt"
  return 0
}

# timed_step W MESSAGE COMMAND...: runs workload W's timed step ("$target-W", bounded by the
# step timeout) and records its time as wN_seconds and, on zsfs, its round trips and the blocks
# recompressed meanwhile (put_step_counters); a failure is recorded with MESSAGE.
timed_step() {
  local workload=$1 message=$2 counters key
  shift 2
  key=${workload,,}
  counters=$(step_counters)
  if run_step "$target-$workload" "$step_timeout" "$@"; then
    put "$target" "${key}_seconds" "$step_seconds"
    put_step_counters "$key" "$counters"
  else
    fail "$message"
  fi
}

# W1's timed untar.
w1_untar() {
  log "  W1: untar $(basename "$work/linux.tar") + sync"
  timed_step W1 "W1: untar failed" bash -c 'tar -xf "$1" -C "$2" && sync -f "$2"' _ \
    "$work/linux.tar" "$mnt"
}

w1_w2() {
  settle
  if want W1; then
    start_peak
    w1_untar
    stop_peak
  else
    untar_untimed || fail "extracting the tree failed"
  fi
  local held
  if want W2; then
    settle
    held=$(record_memory w2_bytes)
    log "  W2: memory held $((held >> 20)) MiB"
  fi
  # W3 reads back the settled tree, W2 measures it.
  if want W2 || want W3; then settle_tree; fi
  if want W2; then
    settle
    held=$(record_memory w2_settled_bytes)
    log "  W2: memory held settled $((held >> 20)) MiB"
    [[ $target == zsfs ]] && export_dictionary
  fi
  return 0
}

# Settles the tree on zsfs: `zsfsctl recompress --wait` re-encodes every block now (zstd at
# recompress_level, against a dictionary it trains first) instead of recompress_after from now.
# Timed as w2_settle_seconds (information: the recompressor runs at the lowest priority). tmpfs
# and ext4 on zram have no second tier: their tree is settled as it is.
settle_tree() {
  [[ $target == zsfs ]] || return 0
  if [[ $(zsfs_stat recompress) != zstd ]]; then
    log "  W2: recompression is off on this mount: nothing to settle"
    return 0
  fi
  settle
  log "  W2: settling the tree (zsfsctl recompress --wait)"
  if ! run_step zsfs-W2-settle "$step_timeout" "$zsfsctl_bin" recompress --wait --json "$mnt"; then
    fail "W2: zsfsctl recompress --wait failed"
    return 0
  fi
  put zsfs w2_settle_seconds "$step_seconds"
  # Its figures once the pass is done: the statistics as JSON, on the last line of its output.
  local figures
  if figures=$(tail -n 1 "$logs/zsfs-W2-settle.log" | python3 -c '
import json, sys
s = json.load(sys.stdin)
r, d = s["recompressor"], s["dictionaries"]
print(r["tried"], r["kept"], r["bytes_before"], r["bytes_after"], r["trainings"], d["live"],
      d["memory_bytes"], s["unsettled_blocks"])'); then
    local tried kept before after trainings live dict_memory unsettled
    read -r tried kept before after trainings live dict_memory unsettled <<<"$figures"
    put zsfs w2_settle_tried "$tried"
    put zsfs w2_settle_kept "$kept"
    put zsfs w2_settle_stored_before "$before"
    put zsfs w2_settle_stored_after "$after"
    put zsfs w2_settle_trainings "$trainings"
    put zsfs w2_settle_dictionaries "$live"
    put zsfs w2_settle_dictionary_memory "$dict_memory"
    put zsfs w2_settle_unsettled "$unsettled"
    log "  W2: settled in $step_seconds s: $kept of $tried blocks smaller," \
      "$((before >> 20)) -> $((after >> 20)) MiB stored, $trainings dictionary trainings"
  else
    log "  warning: zsfsctl recompress --json printed no statistics (see $logs/zsfs-W2-settle.log)"
  fi
}

# Writes the dictionary zsfs trained while settling to $work/dict, for the dictionary floor. A
# mount that trained none (too little data: zsfs trains once 16 MiB are due) is noted, not a
# failure.
export_dictionary() {
  local trainings failures dict_on tier
  rm -f "$work/dict"
  if "$zsfsctl_bin" dict export "$mnt" "$work/dict" >"$logs/zsfs-dict-export.log" 2>&1; then
    put zsfs dict_bytes "$(stat -c %s "$work/dict")"
    log "  W2: $(tail -n 1 "$logs/zsfs-dict-export.log")"
  elif read -r trainings failures dict_on tier < <(zsfs_stat recompressor.trainings \
    recompressor.training_failures dict recompress) && ((trainings == 0)); then
    local why="less than 16 MiB was due"
    ((dict_on)) || why="dict=off"
    [[ $tier == zstd ]] || why="recompress=off"
    ((failures == 0)) || why="$failures training(s) failed"
    put zsfs dict_none "zsfs trained no dictionary ($why)"
    log "  W2: zsfs trained no dictionary ($why): no dictionary floor"
    rm -f "$work/dict"
  else
    fail "W2: zsfsctl dict export failed: $(tail -n 1 "$logs/zsfs-dict-export.log")"
    rm -f "$work/dict"
  fi
}

# W1 alone, on the null daemon: it keeps no data, so there is nothing to measure or read back.
w1_null() {
  settle
  w1_untar
}

w3() {
  settle
  log "  W3: read back cold (tar -c | cat > /dev/null)"
  # Through cat: GNU tar skips reading the files when the archive itself is /dev/null.
  timed_step W3 "W3: reading the tree back failed" bash -c \
    'set -o pipefail; tar -cf - -C "$1" "$2" | cat >/dev/null' _ "$mnt" "$top_dir"
  verify_tree w3_verify "$tree"
}

w4() {
  settle
  local before after
  before=$(record_memory w4_before_bytes)
  log "  W4: cp -a of the tree + sync"
  timed_step W4 "W4: cp -a failed" bash -c 'cp -a "$1" "$2" && sync -f "$2"' _ "$tree" "$copy"
  settle
  after=$(record_memory w4_after_bytes)
  put "$target" w4_growth_bytes $((after - before))
  log "  W4: memory growth $(((after - before) >> 20)) MiB"
  verify_tree w4_verify "$copy"
}

w5() {
  settle
  log "  W5: rm -rf of both trees + sync"
  timed_step W5 "W5: rm -rf failed" bash -c 'rm -rf "$1" "$2" && sync -f "$3"' _ \
    "$tree" "$copy" "$mnt"
  # ext4 keeps freed blocks in zram until they are discarded.
  [[ $target == zram ]] && fstrim "$mnt"
  settle
  # zsfs gives freed memory back from its own threads, seconds after the last request (its
  # request and encoder threads end after a second idle, and the heap is trimmed once that has
  # been quiet for a second): the figure is taken once the memory has held still for a second,
  # and how long that took is kept beside it.
  if [[ $target == zsfs ]]; then
    local waited=0 last now
    last=$(target_memory)
    while ((waited < 30)); do
      sleep 1
      waited=$((waited + 1))
      now=$(target_memory)
      [[ $now == "$last" ]] && break
      last=$now
    done
    put zsfs w5_release_seconds "$waited"
  fi
  local left
  left=$(record_memory w5_left_bytes)
  log "  W5: memory left $((left >> 20)) MiB"
}

fio_value() {  # fio_value FILE EXPRESSION-on-job
  python3 - "$1" "$2" <<'EOF'
import json, sys
text = open(sys.argv[1]).read()
job = json.loads(text[text.index("{"):])["jobs"][0]
print(eval(sys.argv[2], {}, {"job": job}))
EOF
}

w6() {
  local -a common=(--directory="$mnt" --filename=fio.dat --size="$fio_size" --ioengine=psync
    --direct=0 --fallocate=none --output-format=json)
  local limit=$step_timeout counters
  settle
  log "  W6: fio sequential write, $fio_size in 1 MiB requests, 50% compressible"
  counters=$(step_counters)
  if run_step "$target-W6-write" "$limit" fio --name=seqwrite "${common[@]}" --rw=write --bs=1m \
    --buffer_compress_percentage=50 --refill_buffers --end_fsync=1 \
    --output="$logs/$target-W6-write.json"; then
    put "$target" w6_write_MBps "$(fio_value "$logs/$target-W6-write.json" 'job["write"]["bw_bytes"] / 1e6')"
    put_step_counters w6_write "$counters"
  else
    fail "W6: fio sequential write failed"
    return 0
  fi
  settle
  record_memory w6_bytes >/dev/null
  log "  W6: fio sequential read"
  counters=$(step_counters)
  if run_step "$target-W6-read" "$limit" fio --name=seqread "${common[@]}" --rw=read --bs=1m \
    --invalidate=1 --output="$logs/$target-W6-read.json"; then
    put "$target" w6_read_MBps "$(fio_value "$logs/$target-W6-read.json" 'job["read"]["bw_bytes"] / 1e6')"
    put_step_counters w6_read "$counters"
  else
    fail "W6: fio sequential read failed"
  fi
  settle
  log "  W6: fio 4 KiB random reads, 4 jobs, $fio_runtime s"
  counters=$(step_counters)
  if run_step "$target-W6-randread" "$limit" fio --name=randread "${common[@]}" --rw=randread \
    --bs=4k --numjobs=4 --group_reporting --time_based --runtime="$fio_runtime" --invalidate=1 \
    --norandommap --output="$logs/$target-W6-randread.json"; then
    put "$target" w6_randread_iops "$(fio_value "$logs/$target-W6-randread.json" 'job["read"]["iops"]')"
    put "$target" w6_randread_MBps "$(fio_value "$logs/$target-W6-randread.json" 'job["read"]["bw_bytes"] / 1e6')"
    # The reads done, for the FUSE ceiling (reads / (round trips x round trip)).
    put "$target" w6_randread_ios \
      "$(fio_value "$logs/$target-W6-randread.json" 'job["read"]["total_ios"]')"
    put_step_counters w6_randread "$counters"
  else
    fail "W6: fio random read failed"
  fi
  rm -f "$mnt/fio.dat"
  [[ $target == zram ]] && fstrim "$mnt"
  return 0
}

# metaops_phase KEY DIR PHASE: runs one timed metaops phase on DIR and records its files per
# second as KEY_PHASE_ops (KEY: w7, or w7_busy for W7 with the recompressor busy), and on zsfs its
# counters.
metaops_phase() {
  local key=$1 dir=$2 phase=$3 counters result name
  name=${key^^}
  name=${name/_BUSY/ busy}
  log "  $name: $phase $((meta_dirs * meta_files_per_dir)) files in $meta_dirs directories"
  counters=$(step_counters)
  if ! run_step "$target-${name/ /-}-$phase" "$step_timeout" "$work/metaops" "$phase" "$dir" \
    "$meta_dirs" "$meta_files_per_dir"; then
    fail "$name: $phase failed"
    return 1
  fi
  result=$(awk -F'[= ]' '/^ops=/ { printf "%.1f", $2 / $4 }' "$logs/$target-${name/ /-}-$phase.log")
  put "$target" "${key}_${phase}_ops" "$result"
  put_step_counters "${key}_${phase}" "$counters"
  log "  $name: $phase $result ops/s"
}

w7() {
  local dir=$mnt/meta phase
  mkdir "$dir"
  for phase in create stat unlink; do
    settle
    metaops_phase w7 "$dir" "$phase" || break
  done
  rm -rf "$dir"
}

# Whether zsfs's recompressor has work: a pass running or queued ("1"), or not ("0").
recompressor_working() {
  local busy requests finished
  read -r busy requests finished < <(zsfs_stat recompressor.busy recompressor.requests \
    recompressor.requests_done) || return 1
  ((busy || requests > finished)) && echo 1 || echo 0
}

# Waits until the recompressor has no pass running or queued.
wait_recompressor() {
  local deadline=$((SECONDS + step_timeout)) state
  while state=$(recompressor_working) && [[ $state == 1 ]]; do
    if ((SECONDS >= deadline)); then
      fail "the recompressor was still busy after $step_timeout s"
      return 1
    fi
    sleep 0.2
  done
  if [[ $state != 0 ]]; then
    fail "cannot read the recompressor's state from the statistics"
    return 1
  fi
}

# Gives zsfs's recompressor a tree's worth of work: waits for the last pass to end (its tail may
# be a dictionary training or the pool's compaction, not re-encoding), replaces the copy of the
# tree in DIR with a fresh one (untimed; a block is recompressed once, so the last copy's settled
# blocks are worth nothing), drops the caches, queues a pass (zsfsctl recompress, no --wait) and
# waits until the statistics show recompressor.busy. Each phase thus starts where a pass over a
# whole tree starts. Sets busy_now to 1 when the statistics show it busy, 0 when they did not
# within 10 s.
busy_now=0
queue_busy_work() {
  local dir=$1 i
  busy_now=0
  if [[ $(recompressor_working) != 0 ]]; then
    log "  W7 busy: waiting for the last pass to end (untimed)"
    wait_recompressor || return 1
  fi
  if [[ -e $dir ]] && ! run_step zsfs-W7-busy-rm "$step_timeout" rm -rf "$dir"; then
    fail "W7 busy: rm failed"
    return 1
  fi
  if ! untar_untimed "$dir" W7-busy-untar; then
    fail "W7 busy: extracting the tree failed"
    return 1
  fi
  settle
  if ! "$zsfsctl_bin" recompress "$mnt" >"$logs/zsfs-W7-busy-recompress.log" 2>&1; then
    fail "W7 busy: zsfsctl recompress failed: $(tail -n 1 "$logs/zsfs-W7-busy-recompress.log")"
    return 1
  fi
  for ((i = 0; i < 200; ++i)); do
    busy_now=$(zsfs_stat recompressor.busy) || busy_now=0
    ((busy_now)) && break
    sleep 0.05
  done
  return 0
}

# W7 on zsfs again, while the recompressor works: what the background tier costs a foreground
# workload. Before each phase, queue_busy_work gives the recompressor a fresh copy of the tree
# in MOUNT/busy (the phases take seconds, a pass over a tree longer, so each phase starts with a
# whole pass ahead of it); whether the recompressor was busy when the phase started and when it
# ended is recorded (w7_busy_PHASE_busy_start, _busy_end): a phase it was not busy for from start
# to end is not a busy measurement. Afterwards the passes are waited for and the copy removed,
# untimed.
w7_busy() {
  [[ $target == zsfs ]] || return 0
  if [[ $(zsfs_stat recompress) != zstd ]]; then
    log "  W7 busy: skipped, recompression is off on this mount"
    put zsfs w7_busy_skipped "recompress=off"
    return 0
  fi
  local dir=$mnt/meta-busy copy_dir=$mnt/busy phase busy
  mkdir "$dir"
  for phase in create stat unlink; do
    queue_busy_work "$copy_dir" || break
    put zsfs "w7_busy_${phase}_busy_start" "$busy_now"
    ((busy_now)) ||
      log "  warning: W7 busy: the recompressor is not busy as the $phase phase starts"
    metaops_phase w7_busy "$dir" "$phase" || break
    busy=$(zsfs_stat recompressor.busy) || busy=0
    put zsfs "w7_busy_${phase}_busy_end" "$busy"
    ((busy)) || log "  warning: W7 busy: the recompressor finished before the $phase phase did"
  done
  rm -rf "$dir"
  log "  W7 busy: waiting for the recompressor, then removing $copy_dir (untimed)"
  wait_recompressor || true
  if [[ -e $copy_dir ]]; then
    run_step zsfs-W7-busy-rm "$step_timeout" rm -rf "$copy_dir" || fail "W7 busy: rm failed"
  fi
  return 0
}

run_target() {
  target=$1
  mnt=$base/$target
  mkdir "$mnt"
  tree=$mnt/$top_dir
  copy=$mnt/$top_dir.copy
  log "=== $target: mounting on $mnt"
  shmem_base=$(meminfo_bytes Shmem)
  local status=0
  case $target in
    tmpfs) mount_tmpfs || status=$? ;;
    zram) mount_zram || status=$? ;;
    zsfs) mount_zsfs || status=$? ;;
    null) mount_null || status=$? ;;
  esac
  if ((status == 3)); then
    put "$target" skipped "no usable zram"
    rmdir "$mnt"
    return 0
  elif ((status != 0)); then
    fail "mounting $target failed"
    while ((${#mounts[@]} > 1)); do pop_mount; done
    reset_zram
    return 0
  fi
  if [[ $target == zsfs ]]; then
    local zsfs_level
    zsfs_level=$(zsfs_stat recompress_level) && put zsfs recompress_level "$zsfs_level"
    local tier
    tier=$(zsfs_stat recompress) && put zsfs recompress "$tier"
    local huge
    huge=$(zsfs_stat pool.huge_class_size) && put zsfs huge_class_size "$huge"
  fi
  put "$target" ran 1

  settle
  [[ $target == null ]] || record_memory empty_bytes >/dev/null
  # The cheapest request's cost: with the round trips counted above, the FUSE floor of a workload.
  if "$work/roundtrip" "$mnt" >"$logs/$target-roundtrip.log" 2>&1; then
    put "$target" roundtrip_us "$(sed -n 's/.*best_us=\([0-9.]*\).*/\1/p' "$logs/$target-roundtrip.log")"
    log "  round trip: $(cat "$logs/$target-roundtrip.log")"
  else
    log "  warning: measuring the round trip failed: $(tail -n 1 "$logs/$target-roundtrip.log")"
  fi

  local -a steps=()
  if [[ $target == null ]]; then
    # Names, modes and times only: the workloads that need the data (W2 to W6) do not apply.
    want W1 && steps+=(w1_null)
    want W7 && steps+=(w7)
  else
    if want W1 || want W2 || want W3 || want W4 || want W5; then steps+=(w1_w2); fi
    want W3 && steps+=(w3)
    want W4 && steps+=(w4)
    if want W5; then steps+=(w5)
    elif ((${#steps[@]})); then steps+=(remove_trees_untimed)
    fi
    want W6 && steps+=(w6)
    want W7 && steps+=(w7 w7_busy)
  fi
  local step
  for step in "${steps[@]}"; do
    "$step" || fail "$step failed"
    if ! target_alive; then
      fail "the $target mount is gone after $step (daemon exited or crashed?)"
      fuse_target && tail -n 20 "$logs/$target-daemon.log" | sed 's/^/    /' >&2
      break
    fi
  done

  log "=== $target: unmounting"
  pop_mount
  if fuse_target && ((daemon_status != 0)); then
    fail "the $target daemon exited with status $daemon_status"
    tail -n 20 "$logs/$target-daemon.log" | sed 's/^/    /' >&2
  fi
}

# The dictionary floor: the reference tree's distinct blocks, each compressed alone at the floor's
# level against the dictionary zsfs trained while settling (export_dictionary wrote it). Run
# between targets, with nothing mounted: the reference tree leaves the work tmpfs afterwards
# (untimed, and outside every target's measurement: tmpfs's Shmem base is read at its mount).
dictionary_floor() {
  ((keep_ref)) || return 0
  if [[ -s $work/dict ]]; then
    log "data: the dictionary floor at zstd level $level, with zsfs's dictionary" \
      "($(stat -c %s "$work/dict") bytes)"
    if "$work/floor" -l "$level" -D "$work/dict" -H "$work/floor-dict.hist" \
      "$work/ref/$top_dir" >"$work/floor-dict.txt" 2>"$logs/floor-dict.log"; then
      sed 's/^/  /' "$work/floor-dict.txt" >&2
    else
      fail "the dictionary floor failed: $(tail -n 1 "$logs/floor-dict.log")"
      rm -f "$work/floor-dict.txt" "$work/floor-dict.hist"
    fi
  fi
  rm -rf "$work/ref"
  keep_ref=0
}

# ---------------------------------------------------------------------------------------------
# Main

ensure_packages

# One run at a time: the pid file names the running one. (Not a lock held open for the whole run:
# an fd would be inherited by the daemon and the steps, and could outlive a killed run.)
exec 9>"$lock_file"
flock 9
if [[ -s $pid_file ]]; then
  other=$(cat "$pid_file")
  if [[ $other != "$$" ]] && grep -qs 'run\.sh' "/proc/$other/cmdline"; then
    die "another run.sh (pid $other) is running"
  fi
fi
echo $$ >"$pid_file"
exec 9>&-
trap cleanup EXIT
trap interrupted INT TERM
clean_stale

base=$(mktemp -d "$prefix.XXXXXX")
work=$base/work
mkdir "$work"
mount -t tmpfs -o "size=$work_size,mode=700" zsfs-bench-work "$work"
mounts+=("work $work")
if [[ -n $logs_keep ]]; then
  mkdir -p "$logs_keep"
  logs=$(cd "$logs_keep" && pwd)
else
  logs=$work/logs
  mkdir "$logs"
fi
: >"$work/results.tsv"

log "building the helpers (floor, metaops, roundtrip, fusenull) with $(cc --version | head -n 1)"
cc -O2 -Wall -o "$work/floor" "$here/floor.c" -lzstd
cc -O2 -Wall -o "$work/metaops" "$here/metaops.c"
cc -O2 -Wall -o "$work/roundtrip" "$here/roundtrip.c"
if [[ -n ${want_target[null]:-} ]]; then
  # shellcheck disable=SC2046  # pkg-config's flags are words
  cc -O2 -Wall -o "$work/fusenull" "$here/fusenull.c" $(pkg-config --cflags --libs fuse3)
fi

# The floors are computed at the level zsfs settles blocks at: its recompress_level.
if [[ -z $level ]]; then
  if [[ -x $zsfs_bin ]]; then
    level=$("$zsfs_bin" --help 2>&1 |
      sed -n 's/^ *recompress_level=N .*(default \([0-9]*\)).*/\1/p' | head -n 1)
  fi
  if [[ -z $level ]]; then
    level=$(sed -n 's/^ *int recompress_level = \([0-9]*\);.*/\1/p' "$root/fs/types.h" 2>/dev/null |
      head -n 1)
  fi
  [[ -n $level ]] ||
    die "cannot read zsfs's recompress_level default from '$zsfs_bin --help' or fs/types.h:" \
      "pass --level N"
fi

# The tar is extracted by W1 (or untimed for W2 to W5) and, on zsfs, by W7 to keep the
# recompressor busy. The reference tree gives the manifest and the floors; when zsfs settles the
# tree (W2), the reference stays in RAM until zsfs has run, for the dictionary floor (see
# dictionary_floor), then goes.
need_tree=0
if want W1 || want W2 || want W3 || want W4 || want W5; then need_tree=1; fi
keep_ref=0
[[ -n ${want_target[zsfs]:-} ]] && want W2 && keep_ref=1
if ((need_tree)) || { [[ -n ${want_target[zsfs]:-} ]] && want W7; }; then
  log "data: decompressing $tarball into RAM"
  mkdir "$work/ref"
  if ((quick)); then
    xz -dc "$tarball" | tar -xf - -C "$work/ref" "${quick_subtrees[@]/#/$top_dir/}"
    tar -cf "$work/linux.tar" -C "$work/ref" "$top_dir"
  else
    xz -dc "$tarball" >"$work/linux.tar"
    ((need_tree)) && tar -xf "$work/linux.tar" -C "$work/ref"
  fi
  ((need_tree)) && { [[ -d $work/ref/$top_dir ]] || die "$tarball has no $top_dir directory"; }
else
  log "data: not needed (no W1 to W5, no W7 on zsfs)"
  : >"$work/linux.tar"
fi
: >"$work/ref.manifest"
: >"$work/floor.hist"
echo "level=$level" >"$work/floor.txt"
if ((need_tree)); then
  log "data: the reference manifest (SHA-256 of every file) and the floor at zstd level $level"
  python3 "$here/manifest.py" "$work/ref/$top_dir" >"$work/ref.manifest"
  "$work/floor" -l "$level" -H "$work/floor.hist" "$work/ref/$top_dir" >"$work/floor.txt"
  sed 's/^/  /' "$work/floor.txt" >&2
fi
((keep_ref)) || rm -rf "$work/ref"
{
  echo "tar_bytes=$(stat -c %s "$work/linux.tar")"
  echo "entries=$(wc -l <"$work/ref.manifest")"
  echo "quick=$quick"
  echo "quick_subtrees=${quick_subtrees[*]}"
  echo "fio_size=$fio_size"
  echo "fio_runtime=$fio_runtime"
  echo "meta_files=$((meta_dirs * meta_files_per_dir))"
  echo "meta_dirs=$meta_dirs"
  echo "zram_disksize=$zram_disksize"
  echo "kernel=$(uname -r)"
  echo "cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
  echo "cores=$(nproc)"
  echo "ram_bytes=$(meminfo_bytes MemTotal)"
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "zsfs_bin=$zsfs_bin"
  echo "zsfs_version=$([[ -x $zsfs_bin ]] && "$zsfs_bin" --version 2>&1 | head -n 1 || echo n/a)"
  echo "commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo n/a)$(git -C "$root" --no-optional-locks diff --quiet HEAD -- 2>/dev/null || echo +changes)"
  echo "workloads=${!want_workload[*]}"
} >"$work/meta.txt"

for t in "${targets[@]}"; do
  run_target "$t"
  [[ $t == zsfs ]] && dictionary_floor
done
((keep_ref)) && dictionary_floor   # zsfs did not run: the reference goes all the same

mkdir -p "$out_dir"
report_files=("$work/floor.txt" "$work/floor.hist")
dict_args=()
if [[ -s $work/floor-dict.txt ]]; then
  report_files+=("$work/floor-dict.txt" "$work/floor-dict.hist")
  dict_args=(--dict-floor "$work/floor-dict.txt" --dict-histogram "$work/floor-dict.hist")
fi
if [[ -n $logs_keep ]]; then
  cp "$work/results.tsv" "$work/meta.txt" "${report_files[@]}" "$logs/"
fi
python3 "$here/report.py" --results "$work/results.tsv" --meta "$work/meta.txt" \
  --floor "$work/floor.txt" --histogram "$work/floor.hist" "${dict_args[@]}" --out "$out_dir" \
  --work "$work"
log "results: $out_dir/results.md and $out_dir/results.png"
if ((failures)); then
  log "$failures failure(s): see the messages above${logs_keep:+ and the logs in $logs}"
  exit 1
fi
exit 0

#!/usr/bin/env bash
# run.sh: images and the backing file measured beside the disk's own speed (fio), as issue 14's
# goals ask:
#   image     the Linux 6.1 tree in zsfs: the image's size against mem_used_total, right after
#             the untar (lz4) and after zsfsctl recompress --wait (zstd with a dictionary); save
#             and load times against fio's sequential write (buffered, fsync at the end, as a save)
#             and read (page cache dropped first) of a file of the image's size, in the same
#             directory;
#   backing   4 KiB random reads (O_DIRECT through the mount, so every read reaches zsfs) of a data
#             set four times the budget (size=256m, 1 GiB of incompressible data in four files)
#             against fio's O_DIRECT random reads of a 1 GiB file in the backing file's file
#             system, at depth 1 and 4 (zsfs with threads=4 for depth 4); and promote=on against
#             off, for uniform reads and for a hot set (zipf 1.2).
#
#   sudo tests/bench/disk/run.sh [--dir DIR] [--zsfs PATH] [--zsfsctl PATH] [--runtime SECONDS]
#                                [--only image|backing]
#
#   --dir DIR        where the images, the backing file and fio's files go: the disk measured
#                    (default /var/tmp/zsfs-bench-disk, removed at the end)
#   --runtime S      seconds of each random-read run (default 20)
# Prints a Markdown table of the figures and the commands behind them. Timings need a quiet
# machine; nothing fails because the machine is slow (exit 1 only when something broke).
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
zsfs=$root/build/release/mount/zsfs
zsfsctl=$root/build/release/ctl/zsfsctl
dir=/var/tmp/zsfs-bench-disk
runtime=20
only=""
tarball=/usr/src/linux-source-6.1.tar.xz

while (($#)); do
  case $1 in
    --dir) dir=${2:?}; shift 2 ;;
    --zsfs) zsfs=${2:?}; shift 2 ;;
    --zsfsctl) zsfsctl=${2:?}; shift 2 ;;
    --runtime) runtime=${2:?}; shift 2 ;;
    --only) only=${2:?}; shift 2 ;;
    *) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "run.sh: needs root (drop_caches, mounts)" >&2; exit 2; }
for tool in fio python3 xz; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing" >&2; exit 2; }
done

mnt=$dir/mnt
daemon=""
mkdir -p "$mnt"
cleanup() {
  if mountpoint -q "$mnt"; then fusermount3 -u "$mnt" || umount -l "$mnt"; fi
  [ -n "$daemon" ] && wait "$daemon" 2>/dev/null || :
  rm -rf "$dir"
}
trap cleanup EXIT
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
rows=()
row() { rows+=("| $1 | $2 | $3 |"); }

drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
mount_zsfs() {
  "$zsfs" "$mnt" -f -o "$1" 2>>"$dir/daemon.log" &
  daemon=$!
  for _ in $(seq 1 3000); do mountpoint -q "$mnt" && return 0; sleep 0.01; done
  echo "zsfs did not mount" >&2; cat "$dir/daemon.log" >&2; exit 1
}
unmount_zsfs() { fusermount3 -u "$mnt"; wait "$daemon"; daemon=""; }
stats() { getfattr --absolute-names --only-values -n user.zsfs.stats "$mnt"; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$1"; }
settle() { getfattr --absolute-names --only-values -n user.zsfs.check "$mnt" >/dev/null; }
# fio's bandwidth (MB/s, 10^6) or IOPS from its JSON.
fio_json() { fio --output-format=json "$@" 2>/dev/null; }
bw() { python3 -c "import json,sys; j=json.load(sys.stdin)['jobs']; print('%.0f' % (sum(x['$1']['bw_bytes'] for x in j) / 1e6))"; }
iops() { python3 -c "import json,sys; j=json.load(sys.stdin)['jobs']; print('%.0f' % sum(x['read']['iops'] for x in j))"; }
ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }

image_part() {
  log "untar the Linux tree into zsfs"
  mount_zsfs "size=4g,image=$dir/linux.img"
  xz -dc "$tarball" | tar -x -C "$mnt"
  settle
  for tier in lz4 zstd; do
    if [ "$tier" = zstd ]; then
      log "zsfsctl recompress --wait"
      "$zsfsctl" recompress --wait "$mnt" >/dev/null
      settle
    fi
    local used saved bytes seconds pause
    used=$(stats | field '["mem_used_total"]')
    saved=$("$zsfsctl" save --json "$mnt")
    bytes=$(field '["last"]["bytes"]' <<<"$saved")
    seconds=$(field '["last"]["seconds"]' <<<"$saved")
    pause=$(field '["last"]["pause_seconds"]' <<<"$saved")
    log "$tier: image $bytes bytes, mem_used_total $used, save $seconds s (writes paused $pause s)"
    row "image / mem_used_total ($tier)" "$(ratio "$bytes" "$used") ($bytes / $used bytes)" "zsfsctl save --json; user.zsfs.stats"
    row "save ($tier)" "$(python3 -c "print('%.0f MB/s (%.2f s, writes paused %.3f s)' % ($bytes / $seconds / 1e6, $seconds, $pause))")" "zsfsctl save --json: last.seconds"
    last_bytes=$bytes
    last_save_seconds=$seconds
  done
  log "fio: sequential write of $last_bytes bytes"
  local write_bw
  write_bw=$(fio_json --name=w --filename="$dir/fio.file" --rw=write --bs=1M --size="$last_bytes" \
    --end_fsync=1 --ioengine=psync | bw write)
  row "fio sequential write, same size" "$write_bw MB/s" "fio --rw=write --bs=1M --size=BYTES --end_fsync=1"
  row "save / fio write" "$(python3 -c "print('%.2f' % ($last_bytes / $last_save_seconds / 1e6 / $write_bw))")" "goal >= 0.80"
  unmount_zsfs
  drop_caches
  log "mount again: load"
  local start end loaded
  start=$(date +%s.%N)
  mount_zsfs "size=4g,image=$dir/linux.img"
  end=$(date +%s.%N)
  loaded=$(stats | field '["image"]["loaded"]["seconds"]')
  row "load (page cache dropped)" "$(python3 -c "print('%.0f MB/s (%.2f s; mounted after %.2f s)' % ($last_bytes / $loaded / 1e6, $loaded, $end - $start))")" "user.zsfs.stats: image.loaded.seconds"
  unmount_zsfs
  drop_caches
  local read_bw
  read_bw=$(fio_json --name=r --filename="$dir/fio.file" --rw=read --bs=1M --size="$last_bytes" \
    --ioengine=psync | bw read)
  row "fio sequential read, same size (cache dropped)" "$read_bw MB/s" "fio --rw=read --bs=1M --size=BYTES"
  row "load / fio read" "$(python3 -c "print('%.2f' % ($last_bytes / $loaded / 1e6 / $read_bw))")" "goal >= 0.80"
  rm -f "$dir/fio.file" "$dir/linux.img"
}

# Random reads of 4 x 256 MiB of incompressible data through zsfs (direct=1: no page cache).
zsfs_randread() {
  local options=$1 jobs=$2 distribution=$3
  mount_zsfs "size=256m,backing=$dir/backing,$options"
  fio --name=fill --directory="$mnt" --rw=write --bs=1M --size=256m --numjobs=4 \
    --refill_buffers --ioengine=psync >/dev/null 2>&1
  settle
  drop_caches
  local result
  result=$(fio_json --name=rr --directory="$mnt" \
    --filename=fill.0.0:fill.1.0:fill.2.0:fill.3.0 --file_service_type=random \
    --rw=randread --bs=4k --direct=1 --size=1g --numjobs="$jobs" --ioengine=psync \
    --random_distribution="$distribution" --time_based --runtime="$runtime" | iops)
  local in_file
  in_file=$(stats | field '["backing"]["bd_count"]')
  log "zsfs $options, $jobs job(s), $distribution: $result IOPS ($in_file blocks in the file)"
  unmount_zsfs
  echo "$result"
}

backing_part() {
  log "fio: O_DIRECT random reads on the disk"
  fio --name=prep --filename="$dir/disk.file" --rw=write --bs=1M --size=1g --ioengine=psync \
    >/dev/null 2>&1
  local disk1 disk4 z1 z4
  disk1=$(fio_json --name=d --filename="$dir/disk.file" --rw=randread --bs=4k --direct=1 \
    --size=1g --numjobs=1 --ioengine=psync --time_based --runtime="$runtime" | iops)
  disk4=$(fio_json --name=d --filename="$dir/disk.file" --rw=randread --bs=4k --direct=1 \
    --size=1g --numjobs=4 --ioengine=psync --time_based --runtime="$runtime" | iops)
  rm -f "$dir/disk.file"
  z1=$(zsfs_randread "promote=off" 1 random)
  z4=$(zsfs_randread "promote=off,threads=4" 4 random)
  row "fio O_DIRECT 4k random reads on the disk, depth 1 / 4" "$disk1 / $disk4 IOPS" "fio --rw=randread --bs=4k --direct=1 --numjobs=1|4 --ioengine=psync"
  row "zsfs 4k random reads, 4x the budget, depth 1" "$z1 IOPS ($(ratio "$z1" "$disk1") of the disk's)" "size=256m,backing=F; fio --direct=1 --numjobs=1; goal >= 0.50"
  row "zsfs 4k random reads, 4x the budget, depth 4 (threads=4)" "$z4 IOPS ($(ratio "$z4" "$disk4") of the disk's)" "size=256m,backing=F,threads=4; fio --numjobs=4; goal >= 0.50"
  local off_zipf on_zipf on1
  on1=$(zsfs_randread "promote=on" 1 random)
  off_zipf=$(zsfs_randread "promote=off" 1 zipf:1.2)
  on_zipf=$(zsfs_randread "promote=on" 1 zipf:1.2)
  row "promote=off / on, uniform random reads" "$z1 / $on1 IOPS" "as depth 1 above"
  row "promote=off / on, hot set (zipf 1.2)" "$off_zipf / $on_zipf IOPS" "fio --random_distribution=zipf:1.2"
}

[ -z "$only" ] || [ "$only" = image ] && image_part
[ -z "$only" ] || [ "$only" = backing ] && backing_part
echo "| measure | figure | how |"
echo "|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

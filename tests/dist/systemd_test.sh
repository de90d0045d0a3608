#!/usr/bin/env bash
# The systemd side of zsfs(8)'s SYSTEMD section, without needing systemd to run as PID 1:
# - the example unit (dist/systemd/mnt-zsfs.mount) passes `systemd-analyze verify` with nothing
#   to say;
# - the fstab line its comment gives, with x-systemd.* options, goes through systemd's own fstab
#   generator into a mount unit that local-fs.target requires, ordered after the fuse
#   module is loaded, the same What/Where/Type as the example, and verifies too;
# - the example's Type, What and Options mount a real zsfs the way the unit's mount(8) does
#   (mount.fuse3 running zsfs), which then unmounts cleanly, the daemon ending by itself.
#
# Usage: systemd_test.sh SOURCE_DIR ZSFS_BINARY. Exits 77 (CTest's skip) for the mount part
# where FUSE cannot be mounted, after the other checks.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
unit=$1/dist/systemd/mnt-zsfs.mount
zsfs=$(realpath "$2")
generator=/lib/systemd/system-generators/systemd-fstab-generator
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
[[ -x $generator ]] || fail "$generator is missing (package systemd, see .ci/deps)"
work=$(mktemp -d /tmp/zsfs-systemd.XXXXXX)
trap 'mountpoint -q "$work/mnt" && umount -l "$work/mnt"; rm -rf "$work"' EXIT


# verify FILE: systemd-analyze accepts it and says nothing (an unknown key is only a warning
# for it, an error here). Man pages are not looked up: zsfs(8) is not installed in a build.
verify() {
  local out
  out=$(systemd-analyze verify --man=no "$1" 2>&1) || fail "systemd-analyze verify $1: $out"
  [[ -z $out ]] || fail "systemd-analyze verify $1 warns: $out"
}
# The value of KEY= in unit FILE (the last one, as systemd takes it).
setting() {
  sed -n "s/^$2=//p" "$1" | tail -n 1
}

verify "$unit"
echo "verified $unit"

# The documented fstab line, through the generator.
line=$(sed -n 's/^#   \(zsfs .*\)$/\1/p' "$unit")
[[ -n $line ]] || fail "no fstab line in $unit's comment"
echo "$line" >"$work/fstab"
mkdir "$work/out"
SYSTEMD_FSTAB="$work/fstab" SYSTEMD_LOG_LEVEL=err "$generator" "$work/out" "$work/out" "$work/out"
generated="$work/out/mnt-zsfs.mount"
[[ -f $generated ]] || fail "the generator made no mnt-zsfs.mount from: $line"
# Required by local-fs.target (wanted only, with nofail): mounted at boot, before local files.
[[ -L $work/out/local-fs.target.requires/mnt-zsfs.mount ]] ||
  fail "the generated unit is not required by local-fs.target: $(find "$work/out")"
grep -qx 'Requires=modprobe@fuse.service' "$generated" || fail "no Requires=modprobe@fuse.service"
grep -qx 'After=modprobe@fuse.service' "$generated" || fail "no After=modprobe@fuse.service"
for key in What Where Type; do
  [[ $(setting "$generated" $key) == "$(setting "$unit" $key)" ]] ||
    fail "$key differs: fstab gives $(setting "$generated" $key), the example $(setting "$unit" $key)"
done
verify "$generated"
echo "verified the unit systemd-fstab-generator makes of: $line"

if [[ ! -e /dev/fuse || $EUID -ne 0 ]]; then
  echo "skipped: mounting needs root and /dev/fuse"
  exit 77
fi
mount_fuse3=$(command -v mount.fuse3 || echo /sbin/mount.fuse3)
# A .mount unit runs `mount What Where -t Type -o Options`; mount(8) runs mount.fuse3 for it.
mkdir "$work/mnt"
PATH="$(dirname "$zsfs"):$PATH" "$mount_fuse3" "$(setting "$unit" What)" "$work/mnt" \
  -t "$(setting "$unit" Type)" -o "$(setting "$unit" Options)" || fail "mounting the example failed"
[[ $(findmnt -n -o FSTYPE "$work/mnt") == fuse.zsfs ]] || fail "not mounted"
echo data >"$work/mnt/f"
pid=$(pgrep -xf ".*zsfs $(setting "$unit" What) $work/mnt -o .*") || fail "no daemon"
pid=${pid%%$'\n'*}
unmount "$work/mnt"
for _ in $(seq 100); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
! kill -0 "$pid" 2>/dev/null || fail "the daemon still runs 10 s after the unmount"
echo "mounted and unmounted with the example's settings"

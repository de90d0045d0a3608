#!/usr/bin/env bash
# The Debian package, as an administrator meets it: `cpack -G DEB` builds it from this build
# folder; apt installs it (its declared dependencies must be satisfied by the system's packages);
# dpkg -L lists what it brought; a zsfs is mounted through fstab syntax (`mount -a -T FILE`) and
# through `mount -t fuse.zsfs` with mount(8)'s own environment, used with the installed zsfsctl,
# and unmounted, and the daemon ends; then the package is purged and nothing it brought is left.
#
# Usage: deb_test.sh BUILD_DIR. Needs root and /dev/fuse (exits 77, CTest's skip, without them),
# and exits 77 too where a zsfs package is already installed, which it will not replace.
# (With pipefail, `producer | grep -q` fails when grep, done at the first match, closes the pipe
# on a producer still writing; so output is matched from here-strings.)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
build=$(realpath "$1")

skip() {
  echo "skipped: $*"
  exit 77
}
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
((EUID == 0)) || skip "installing a package needs root"
[[ -e /dev/fuse ]] || skip "/dev/fuse is missing"
for tool in cpack dpkg dpkg-deb dpkg-shlibdeps apt-get findmnt; do
  command -v "$tool" >/dev/null || fail "$tool is missing (see .ci/deps)"
done
if [[ $(dpkg-query -W -f='${Status}' zsfs 2>/dev/null) == "install ok installed" ]]; then
  skip "a zsfs package is already installed on this machine; this test does not replace it"
fi

work=$(mktemp -d /tmp/zsfs-deb.XXXXXX)
installed=0
# Waits until a daemon is gone (the mount point's daemon ends by itself after the unmount).
wait_gone() {
  local pid=$1
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  fail "zsfs (pid $pid) still runs 10 s after its unmount"
}
cleanup() {
  for mnt in "$work/fstab-mnt" "$work/type-mnt"; do
    if mountpoint -q "$mnt" 2>/dev/null; then umount -l "$mnt"; fi
  done
  if ((installed)); then
    apt-get -o DPkg::Lock::Timeout=300 purge -y -q zsfs >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
apt() {
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y -q "$@"
}

# Build the package. Its name is the Debian one: package_version_architecture.deb.
version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")
[[ -n $version ]] || fail "no CPACK_PACKAGE_VERSION in $build/CPackConfig.cmake"
cpack --config "$build/CPackConfig.cmake" -G DEB -B "$work/out" >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log"; fail "cpack -G DEB failed"; }
deb="$work/out/zsfs_${version}_$(dpkg --print-architecture).deb"
[[ -f $deb ]] || fail "cpack made $(ls "$work/out"), not $(basename "$deb")"

# What it declares.
[[ $(dpkg-deb -f "$deb" Package) == zsfs ]] || fail "the package is not named zsfs"
depends=$(dpkg-deb -f "$deb" Depends)
for dependency in fuse3 libfuse3-3 libzstd1 libxxhash0 libc6; do
  [[ ", $depends," == *", $dependency"[\ ,]* ]] || fail "Depends lacks $dependency: $depends"
done
echo "Depends: $depends"

# Install it, and what dpkg says it brought.
apt install "$deb" >"$work/apt.log" 2>&1 ||
  { cat "$work/apt.log"; fail "apt-get install $deb failed"; }
installed=1
[[ $(dpkg-query -W -f='${Status}' zsfs) == "install ok installed" ]] || fail "zsfs not installed"
mapfile -t listed < <(dpkg -L zsfs)
for path in /usr/bin/zsfs /usr/bin/zsfsctl /usr/share/man/man8/zsfs.8.gz \
  /usr/share/man/man8/zsfsctl.8.gz /usr/share/bash-completion/completions/zsfs \
  /usr/share/bash-completion/completions/zsfsctl /usr/share/doc/zsfs/examples/mnt-zsfs.mount; do
  grep -qxF "$path" <<<"$(printf '%s\n' "${listed[@]}")" || fail "dpkg -L zsfs does not list $path"
  [[ -f $path ]] || fail "$path is listed but missing"
done
files=()
for path in "${listed[@]}"; do
  [[ -f $path ]] && files+=("$path")
done
echo "dpkg -L zsfs: ${#files[@]} files"
[[ $(/usr/bin/zsfs --version) == "zsfs $version "* ]] || fail "zsfs --version: $(/usr/bin/zsfs --version)"
[[ $(/usr/bin/zsfsctl --version) == "zsfsctl $version" ]] || fail "zsfsctl --version"
# mount(8) clears PATH for its helpers: mount.fuse's shell finds zsfs on its default PATH.
found=$(env -i /bin/sh -c 'command -v zsfs')
[[ $found == /usr/bin/zsfs ]] || fail "mount(8)'s helpers would run $found, not /usr/bin/zsfs"
gzip -t /usr/share/man/man8/zsfs.8.gz /usr/share/man/man8/zsfsctl.8.gz
[[ $(bash --norc -c 'source /usr/share/bash-completion/completions/zsfsctl && complete -p zsfsctl') == \
  "complete -F _zsfsctl zsfsctl" ]] || fail "the installed completion does not register"

# A mount through fstab syntax, with the x-systemd options of zsfs(8)'s SYSTEMD section.
mkdir "$work/fstab-mnt" "$work/type-mnt"
printf '%s\n' "# zsfs package test" \
  "zsfs  $work/fstab-mnt  fuse.zsfs  size=64M,mode=0750,noatime,x-systemd.requires=modprobe@fuse.service,x-systemd.mount-timeout=90,nofail  0  0" \
  >"$work/fstab"
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin mount -a -T "$work/fstab" || fail "mount -a -T failed"
[[ $(findmnt -n -o FSTYPE "$work/fstab-mnt") == fuse.zsfs ]] || fail "nothing mounted by fstab"
[[ $(stat -c %a "$work/fstab-mnt") == 750 ]] || fail "mode=0750 not applied"
echo "written through fstab" >"$work/fstab-mnt/file"
[[ $(cat "$work/fstab-mnt/file") == "written through fstab" ]] || fail "read back differs"
grep -qxF "zsfs_memory_limit_bytes{mountpoint=\"$work/fstab-mnt\"} $((64 << 20))" \
  <<<"$(zsfsctl stats --prometheus "$work/fstab-mnt")" ||
  fail "zsfsctl stats --prometheus does not show the 64 MiB budget"
zsfsctl check "$work/fstab-mnt" >/dev/null || fail "zsfsctl check"
pid=$(pgrep -xf "zsfs zsfs $work/fstab-mnt -o .*") || fail "no zsfs daemon found"
pid=${pid%%$'\n'*}
unmount "$work/fstab-mnt"
wait_gone "$pid"

# mount -t fuse.zsfs, as a systemd .mount unit runs it.
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin mount -t fuse.zsfs zsfs "$work/type-mnt" -o size=16M ||
  fail "mount -t fuse.zsfs failed"
[[ $(zsfsctl stats --json "$work/type-mnt") == *'"mem_limit":16777216'* ]] || fail "size=16M"
pid=$(pgrep -xf "zsfs zsfs $work/type-mnt -o .*") || fail "no zsfs daemon found"
pid=${pid%%$'\n'*}
unmount "$work/type-mnt"
wait_gone "$pid"

# Purged: nothing it brought is left.
apt purge zsfs >"$work/apt.log" 2>&1 || { cat "$work/apt.log"; fail "apt-get purge zsfs failed"; }
installed=0
if [[ $(dpkg-query -W -f='${Status}' zsfs 2>/dev/null) == *installed* ]]; then
  fail "zsfs is still known to dpkg: $(dpkg-query -W -f='${Status}' zsfs)"
fi
for path in "${files[@]}" /usr/share/doc/zsfs /usr/share/doc/zsfs/examples; do
  [[ ! -e $path ]] || fail "$path is left after the purge"
done
echo "deb: built, installed, mounted through fstab and mount -t fuse.zsfs, purged clean"

#!/usr/bin/env bash
# The bash completion of zsfs and zsfsctl (dist/bash-completion/), driven as bash drives it: a
# fresh bash sources the file, finds the function through `complete -p`, sets COMP_LINE,
# COMP_POINT, COMP_WORDS and COMP_CWORD for a command line with the cursor at its end, calls it,
# and the replies are compared with what a person should be offered.
#
# Usage: completion_test.sh COMPLETION_DIR ZSFS_BINARY. A zsfs mount (with a space in its path,
# which /proc/mounts escapes) is used when FUSE can be mounted; otherwise that check is skipped.
set -euo pipefail
dir=$1
zsfs=$2
failures=0

# The replies for command line $1, one a line, sorted.
replies() {
  local program=${1%% *}
  bash --norc --noprofile -c '
    source "$1" || exit 1
    line=$2
    COMP_LINE=$line
    COMP_POINT=${#line}
    read -ra COMP_WORDS <<<"$line"
    [[ $line == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    spec=$(complete -p "${COMP_WORDS[0]}") || exit 1
    function=${spec#*-F }
    function=${function%% *}
    "$function" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]:-}"
    printf "%s\n" "${COMPREPLY[@]}"' _ "$dir/$program" "$1" | sed '/^$/d' | LC_ALL=C sort
}

# expect LINE REPLY...: the replies are exactly these.
expect() {
  local line=$1
  shift
  local want got
  want=$(printf '%s\n' "$@" | sed '/^$/d' | LC_ALL=C sort)
  got=$(replies "$line")
  if [[ $got != "$want" ]]; then
    printf 'FAIL: "%s"\n  expected: %s\n  got:      %s\n' "$line" "$(echo $want)" "$(echo $got)"
    failures=$((failures + 1))
  fi
}

# expect_includes LINE REPLY...: these are among the replies.
expect_includes() {
  local line=$1
  shift
  local got
  got=$(replies "$line")
  for want in "$@"; do
    if ! grep -qxF -- "$want" <<<"$got"; then
      printf 'FAIL: "%s" does not offer "%s"; offers: %s\n' "$line" "$want" "$(echo $got)"
      failures=$((failures + 1))
    fi
  done
}

for program in zsfs zsfsctl; do
  spec=$(bash --norc --noprofile -c 'source "$1" && complete -p "$2"' _ "$dir/$program" "$program")
  if [[ $spec != "complete -F _${program} ${program}" ]]; then
    echo "FAIL: $dir/$program registers: $spec"
    failures=$((failures + 1))
  fi
done

# zsfs: flags, -o's comma-separated options and their values, directories.
expect "zsfs --f" --foreground
expect "zsfs -" -o -f --foreground -d --debug -h --help -V --version
expect "zsfs -o siz" size=
expect "zsfs -o no" nonempty noacl noatime nostrictatime norelatime nodiratime nosymfollow \
  nolazytime noiversion nomand nosuid nodev noexec noauto nouser nofail
expect_includes "zsfs -o " size= level= dedup= compress= ro noatime allow_other _netdev
# bash replaces the word after its last '=' (COMP_WORDBREAKS), so replies start there.
expect "zsfs -o size=1G,lev" "1G,level="
expect "zsfs -o compress=" auto lz4 zstd none
expect "zsfs -o recompress=" zstd off
expect "zsfs -o dict=" on off
expect "zsfs -o recompress_" recompress_level= recompress_after=
expect "zsfs -o size=2G,dedup=o" on off
expect "zsfs -o writeback=of" off
expect "zsfs -o promote=" on off
expect "zsfs -o save_interval=" off
expect "zsfs -o writeback_" writeback_after=
expect "zsfs -o uid=roo" root
expect "zsfs -o gid=roo" root
expect "zsfs -o level=" # a number: nothing to offer
expect "zsfs -o ro,noat" ro,noatime
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/mnt" "$scratch/mnt two"
touch "$scratch/mnt-file"
expect "zsfs none $scratch/mn" "$scratch/mnt" "$scratch/mnt two"

# zsfsctl: commands, each command's options, zsfs mount points, files for du.
expect "zsfsctl " stats du classes compact check recompress dict top save writeback -h --help -V --version
expect "zsfsctl c" classes compact check
expect "zsfsctl recompress --" --idle --huge --wait --json --help
expect "zsfsctl recompress --idle " # a number
expect "zsfsctl writeback --" --idle --huge --wait --json --help
expect "zsfsctl save --" --json --help
expect "zsfsctl dict " export -h --help
expect "zsfsctl dict export --" --slot --help
expect "zsfsctl stats --" --json --prometheus --help
expect "zsfsctl du --" --json --help
expect "zsfsctl top --" --once --interval --help
expect "zsfsctl top --interval " 1 2 5 10
expect "zsfs -o image=$scratch/mnt-f" "$scratch/mnt-file"
expect "zsfs -o size=1G,backing=$scratch/mnt-f" "$scratch/mnt-file"
expect "zsfsctl du $scratch/mnt-f" "$scratch/mnt-file"
expect "zsfsctl dict export /mnt/z $scratch/mnt-f" "$scratch/mnt-file"
if [[ -e /dev/fuse && $EUID -eq 0 ]] && "$zsfs" "$scratch/mnt two" -o size=16M; then
  expect_includes "zsfsctl stats " "$scratch/mnt two"
  expect "zsfsctl top $scratch/mnt" "$scratch/mnt two"
  expect "zsfsctl dict export --slot 1 $scratch/mnt" "$scratch/mnt two"
  # Retried while busy for a moment (another test walking /tmp).
  for _ in $(seq 50); do
    umount "$scratch/mnt two" 2>/dev/null && break
    sleep 0.2
  done
  ! mountpoint -q "$scratch/mnt two" || umount "$scratch/mnt two"
else
  echo "note: FUSE cannot be mounted here; zsfsctl's mount point completion is not checked"
fi

if ((failures > 0)); then
  echo "$failures completion checks failed"
  exit 1
fi
echo "completion: all checks passed"

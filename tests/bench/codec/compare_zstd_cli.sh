#!/usr/bin/env bash
# compare_zstd_cli.sh: the codec's per-block speed and ratio beside zstd's own command-line
# benchmark (`zstd -b<level> -B4096`, independent 4 KiB blocks) on the same file, level by level.
#
#   tests/bench/codec/compare_zstd_cli.sh [-b BUILD_DIR] [-l "LEVELS"] [-i SECONDS] [-r REPS]
#                                         [-k] [CORPUS_FILE]
#
#   -b  build directory holding codec_bench (default: build/codec-release, then build/release)
#   -l  zstd levels, negative ones included (default: "-1 1 3")
#   -i  seconds zstd -b runs per level (its -i flag; default 3)
#   -r  codec_bench repetitions per benchmark (default 5); the best pass is reported, as zstd -b
#       reports its fastest
#   -k  keep the corpus built in the temporary directory, and say where it is
#
# Without CORPUS_FILE the corpus is the Linux source from /usr/src/linux-source-*.tar.xz, every
# file padded with zeros to whole 4 KiB blocks, as zsfs stores it (so both tools see the blocks the
# filesystem would compress); failing that, a tar of /usr/share/doc. It is built in $TMPDIR and
# removed afterwards unless -k is given. Needs zstd, xz, python3.
#
# Both sides run single-threaded: the figures are MB/s per core (decimal MB, as zstd prints them).
# The ratio counts every stored byte: zstd's frames carry magic number, frame header and content
# size (10 bytes per block with the block header); the codec's payloads 7 (block header and check).
# Nothing here is a test: a slow machine gives slow figures, never a failure.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
build_dir=""
levels="-1 1 3"
cli_seconds=3
repetitions=5
keep=0
while getopts "b:l:i:r:kh" option; do
  case $option in
    b) build_dir=$OPTARG ;;
    l) levels=$OPTARG ;;
    i) cli_seconds=$OPTARG ;;
    r) repetitions=$OPTARG ;;
    k) keep=1 ;;
    *) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
shift $((OPTIND - 1))

if [[ -z $build_dir ]]; then
  for candidate in "$root/build/codec-release" "$root/build/release"; do
    if [[ -x $candidate/tests/bench/codec/codec_bench ]]; then build_dir=$candidate; break; fi
  done
fi
bench=${build_dir:+$build_dir/tests/bench/codec/codec_bench}
if [[ -z $bench || ! -x $bench ]]; then
  echo "compare_zstd_cli.sh: no codec_bench; build it first, e.g." >&2
  echo "  cmake --build build/codec-release --target codec_bench" >&2
  exit 2
fi
for tool in zstd python3; do
  command -v "$tool" >/dev/null || { echo "compare_zstd_cli.sh: needs $tool" >&2; exit 2; }
done

workdir=$(mktemp -d "${TMPDIR:-/tmp}/zsfs-codec-compare.XXXXXX")
cleanup() { if ((keep)); then echo "corpus kept in $workdir"; else rm -rf "$workdir"; fi; }
trap cleanup EXIT

corpus=${1:-}
if [[ -z $corpus ]]; then
  tarballs=(/usr/src/linux-source-*.tar.xz)
  source_tarball=$(printf '%s\n' "${tarballs[@]}" | sort -V | tail -n 1)
  if [[ -f $source_tarball ]] && command -v xz >/dev/null; then
    echo "corpus: $source_tarball, each file padded to 4 KiB" >&2
    corpus=$workdir/linux-source.blocks
    xz -dc "$source_tarball" | python3 -c '
import sys, tarfile
with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as tar, open(sys.argv[1], "wb") as out:
    for member in tar:
        if member.isreg() and member.size > 0:
            data = tar.extractfile(member).read()
            out.write(data + bytes(-len(data) % 4096))
' "$corpus"
  else
    echo "corpus: tar of /usr/share/doc (no Linux source tarball found)" >&2
    corpus=$workdir/usr-share-doc.tar
    tar -cf "$corpus" -C /usr/share doc 2>/dev/null || true
  fi
fi
[[ -s $corpus ]] || { echo "compare_zstd_cli.sh: empty corpus $corpus" >&2; exit 2; }
echo "corpus: $corpus, $(stat -c %s "$corpus") bytes" >&2

cli_results=$workdir/cli.txt
: >"$cli_results"
for level in $levels; do
  # zstd -b takes negative levels as --fast=N.
  if ((level < 0)); then level_flags=(-b --fast=$((-level))); else level_flags=(-b"$level"); fi
  command=(zstd "${level_flags[@]}" -B4096 -i"$cli_seconds" "$corpus")
  echo "running: ${command[*]}" >&2
  # zstd redraws its progress line with carriage returns; the last line holds the result.
  line=$("${command[@]}" 2>&1 | tr '\r' '\n' | grep -E 'MB/s.*MB/s' | tail -n 1)
  echo "$level $line" >>"$cli_results"
done

bench_json=$workdir/codec_bench.json
level_list=$(echo "$levels" | tr ' ' ',')
command=("$bench" --corpus="$corpus" --corpus_max_mb=1000000 --levels="$level_list"
  "--benchmark_filter=^(compress|decompress|zstd_default_frame_compress|zstd_default_frame_decompress)/"
  --benchmark_repetitions="$repetitions" --benchmark_report_aggregates_only=true
  --benchmark_out="$bench_json" --benchmark_out_format=json)
echo "running: ${command[*]}" >&2
"${command[@]}" >&2

python3 - "$cli_results" "$bench_json" <<'EOF'
import json, re, sys

cli = {}
pattern = re.compile(r"->\s*(\d+)\s*\(x([\d.]+)\),\s*([\d.]+) MB/s,\s*([\d.]+) MB/s")
for line in open(sys.argv[1]):
    level, _, rest = line.partition(" ")
    match = pattern.search(rest)
    if match:
        cli[int(level)] = dict(ratio=float(match[2]), c=float(match[3]), d=float(match[4]))

bench = {}
for b in json.load(open(sys.argv[2]))["benchmarks"]:
    name, aggregate = b["run_name"], b.get("aggregate_name")
    kind, level = name.rsplit("/", 1)
    entry = bench.setdefault(int(level), {})
    if aggregate == "max":
        entry[kind + "_speed"] = b["speed"] / 1e6
    if aggregate == "median" and "ratio" in b:
        entry[kind + "_ratio"] = b["ratio"]
        entry[kind + "_bpb"] = b.get("bytes_per_block")

def pct(ours, theirs):
    return "%+5.1f%%" % (100.0 * (ours / theirs - 1)) if ours and theirs else "   n/a"

print()
print("Per-block (4 KiB) speed per core in MB/s (best pass), stored bytes per block, ratio")
print("  cli   = zstd -b -B4096 (default frame, its own harness)")
print("  lib   = the same zstd calls from codec_bench (default frame): the CLI without its harness")
print("  codec = Compressor::compress / decompress (stripped frame + 4-byte check)")
print("%5s | %8s %8s %8s %6s | %8s %8s %8s %6s | %7s %7s | %7s %7s" % (
    "level", "cli c", "lib c", "codec c", "vs cli", "cli d", "lib d", "codec d", "vs cli",
    "B lib", "B codec", "r cli", "r codec"))
for level in sorted(set(cli) | set(bench)):
    c, b = cli.get(level, {}), bench.get(level, {})
    print("%5d | %8.1f %8.1f %8.1f %6s | %8.1f %8.1f %8.1f %6s | %7.1f %7.1f | %7.3f %7.3f" % (
        level, c.get("c", 0), b.get("zstd_default_frame_compress_speed", 0),
        b.get("compress_speed", 0), pct(b.get("compress_speed"), c.get("c")),
        c.get("d", 0), b.get("zstd_default_frame_decompress_speed", 0),
        b.get("decompress_speed", 0), pct(b.get("decompress_speed"), c.get("d")),
        b.get("zstd_default_frame_compress_bpb") or 0, b.get("compress_bpb") or 0,
        c.get("ratio", 0), b.get("compress_ratio", 0)))
EOF

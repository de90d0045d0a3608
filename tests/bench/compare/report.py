#!/usr/bin/env python3
"""report.py: turns run.sh's raw figures into results.md (a Markdown table with the goals) and
results.png (a gnuplot chart), and prints the table.

  report.py --results results.tsv --meta meta.txt --floor floor.txt --histogram floor.hist
            --out DIR [--work DIR] [--no-chart]

results.tsv: "target<TAB>key<TAB>value" lines written by run.sh; meta.txt and floor.txt:
key=value lines; floor.hist: "frame_size count" lines from floor.c, so the floor can be computed
for the raw threshold of the zsfs that ran. Nothing here judges the run: goals that are not met
are reported, never an error.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

TARGETS = ["zsfs", "tmpfs", "zram", "null"]
TARGET_NAMES = {"zsfs": "zsfs", "tmpfs": "tmpfs", "zram": "ext4 on zram (lz4)",
                "null": "FUSE null daemon"}
MIB = 1 << 20


def read_kv(path):
    values = {}
    with open(path) as f:
        for line in f:
            key, sep, value = line.rstrip("\n").partition("=")
            if sep:
                values[key] = value
    return values


def read_results(path):
    results = {t: {} for t in TARGETS}
    failures = []
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t", 2)
            if len(parts) != 3:
                continue
            target, key, value = parts
            if key == "failure":
                failures.append((target, value))
                continue
            results.setdefault(target, {})[key] = value
    return results, failures


def floor_for(histogram_path, threshold, payload):
    """The floor in bytes: frames (or zsfs payloads: frame - 2 + 4) below the raw threshold at
    their size, the others as a whole 4 KiB page."""
    total = raw = 0
    with open(histogram_path) as f:
        for line in f:
            size, count = (int(x) for x in line.split())
            stored = size - 2 + 4 if payload else size
            total += count * (stored if stored < threshold else 4096)
            raw += count if stored >= threshold else 0
    return total, raw


def number(results, target, key):
    try:
        return float(results[target][key])
    except (KeyError, ValueError):
        return None


def fmt(value, kind):
    if value is None:
        return "n/a"
    if kind == "s":
        return f"{value:.2f}"
    if kind == "mib":
        return f"{value / MIB:.1f}"
    if kind in ("MBps", "ops", "iops", "count"):
        return f"{value:,.0f}"
    if kind == "us":
        return f"{value:.2f}"
    return str(value)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", required=True)
    parser.add_argument("--meta", required=True)
    parser.add_argument("--floor", required=True)
    parser.add_argument("--histogram", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--work", default=None)
    parser.add_argument("--no-chart", action="store_true", help="write results.md only")
    args = parser.parse_args()

    results, failures = read_results(args.results)
    meta = read_kv(args.meta)
    floor_info = read_kv(args.floor)
    work = args.work or tempfile.mkdtemp(prefix="zsfs-bench-report.")
    ran = [t for t in TARGETS if results.get(t, {}).get("ran")]
    workloads = set(meta.get("workloads", "").split())

    threshold = int(results["zsfs"].get("huge_class_size", floor_info.get("raw_threshold", 3265)))
    floor, raw_blocks = floor_for(args.histogram, threshold, payload=False)
    payload_floor, _ = floor_for(args.histogram, threshold, payload=True)
    zsfs_level = results["zsfs"].get("level")
    notes = []
    if zsfs_level is not None and zsfs_level != floor_info.get("level"):
        notes.append(f"the floor was computed at zstd level {floor_info.get('level')}, "
                     f"but zsfs ran at level {zsfs_level}: pass --level {zsfs_level}")

    def get(t, key):
        return number(results, t, key)

    # A row: (workload, measure, key, kind, better, goal). better: "lower" or "higher" (for the
    # chart and the ratio's meaning); goal: a function of (results) -> (text, met or None).
    rows = []

    def ratio(key):
        z, r = get("zsfs", key), get("zram", key)
        if z is None or r is None or r == 0:
            return None
        return z / r

    # The FUSE floor of a workload: its round trips (FUSE requests less forgets, counted by zsfs)
    # times the cheapest request's round trip on the zsfs mount. The programs run here (tar, cp,
    # rm, metaops) are one thread waiting for each request in turn, so no FUSE filesystem can
    # take less time on this machine, whatever its daemon does (readahead reads, sent without
    # waiting, make it a little less strict for W3). Seconds; None when not measured.
    round_trip_us = get("zsfs", "roundtrip_us")

    def fuse_floor_seconds(trips_key):
        trips = get("zsfs", trips_key)
        if trips is None or round_trip_us is None:
            return None
        return trips * round_trip_us / 1e6

    def ratio_goal(key, op, bound, trips_key=None, ops=None):
        """A goal on zsfs / zram. With trips_key, the FUSE floor is set beside it, and the null
        daemon's own ratio when it ran: a goal that even the floor or the null daemon misses is
        "beyond FUSE" (met = "beyond"). ops: the operations behind an ops/s figure, to turn the
        floor into a ceiling."""
        def meets(r):
            return r <= bound if op == "≤" else r >= bound

        def goal():
            value = ratio(key)
            text = f"zsfs / zram {op} {bound}"
            if value is None:
                return text, None
            met = meets(value)
            floor_s, zram = fuse_floor_seconds(trips_key) if trips_key else None, get("zram", key)
            if floor_s and zram:
                best = ops / floor_s if ops else floor_s
                best_ratio = best / zram
                text += (f"; FUSE floor {best:,.0f} ops/s = {best_ratio:.2f}" if ops else
                         f"; FUSE floor {floor_s:.2f} s = {best_ratio:.2f}")
                if not met and not meets(best_ratio):
                    met = "beyond"
            null = get("null", key)
            if trips_key and null and zram:
                null_ratio = null / zram
                text += f"; null daemon {null_ratio:.2f}"
                if not met and not meets(null_ratio):
                    met = "beyond"
            return text, met
        return goal

    def trips_info(trips_key, ops=None):
        def goal():
            floor_s = fuse_floor_seconds(trips_key)
            trips = get("zsfs", trips_key)
            if floor_s is None:
                return "(information)", None
            per_op = f", {trips / ops:.2f} per operation" if ops else ""
            return (f"(information) × {round_trip_us:.2f} µs = {floor_s:.2f} s of round trips"
                    f"{per_op}"), None
        return goal

    def trips_row(workload, trips_key, ops=None):
        return (workload, "zsfs: FUSE round trips (requests less forgets)", trips_key, "count",
                None, trips_info(trips_key, ops))

    def w2_floor_goal():
        held = get("zsfs", "w2_bytes")
        text = f"≤ 1.15 × floor ({floor / MIB:.1f} MiB)"
        if held is None or floor == 0:
            return text, None
        return text + f": {held / floor:.2f} ×", held <= 1.15 * floor

    def w4_goal():
        growth, held = get("zsfs", "w4_growth_bytes"), get("zsfs", "w4_before_bytes")
        if held is None:
            held = get("zsfs", "w2_bytes")
        text = "≤ 5% of the memory held before"
        if growth is None or not held:
            return text, None
        return text + f": {100 * growth / held:.1f}%", growth <= 0.05 * held

    def w5_goal():
        left, empty = get("zsfs", "w5_left_bytes"), get("zsfs", "empty_bytes")
        text = "within 5% of the empty mount"
        if left is None or not empty:
            return text, None
        return text + f": {100 * (left - empty) / empty:+.1f}%", abs(left - empty) <= 0.05 * empty

    def info_floor(key):
        def goal():
            value = get("zsfs", key)
            if value is None or floor == 0:
                return "(information)", None
            return f"(information) {value / floor:.2f} × floor", None
        return goal

    def none():
        return "", None

    if round_trip_us is not None:
        rows += [("all", "cheapest request (getxattr of a missing name), µs", "roundtrip_us", "us",
                  "lower", none)]
    if "W1" in workloads:
        rows += [
            ("W1", "untar + sync, s", "w1_seconds", "s", "lower",
             ratio_goal("w1_seconds", "≤", 0.8, "w1_round_trips")),
            trips_row("W1", "w1_round_trips"),
            ("W1", "peak memory during the untar, MiB", "w1_peak_bytes", "mib", "lower", none),
        ]
    if "W2" in workloads:
        rows += [
            ("W2", "memory held after W1, caches dropped, MiB", "w2_bytes", "mib", "lower",
             ratio_goal("w2_bytes", "≤", 0.8)),
            ("W2", "memory held after W1 against the floor", "w2_bytes", "mib", "lower", w2_floor_goal),
            ("W2", "zsfs's own mem_used_total, MiB", "w2_bytes_pool", "mib", "lower",
             info_floor("w2_bytes_pool")),
        ]
    if "W3" in workloads:
        rows += [
            ("W3", "read everything back cold (tar -c), s", "w3_seconds", "s", "lower",
             ratio_goal("w3_seconds", "≤", 1.0, "w3_round_trips")),
            trips_row("W3", "w3_round_trips"),
            ("W3", "contents match the source", "w3_verify", "text", None, none),
        ]
    if "W4" in workloads:
        rows += [
            ("W4", "second copy (cp -a) + sync, s", "w4_seconds", "s", "lower", none),
            trips_row("W4", "w4_round_trips"),
            ("W4", "memory growth from the copy, MiB", "w4_growth_bytes", "mib", "lower", w4_goal),
            ("W4", "the copy matches the source", "w4_verify", "text", None, none),
        ]
    if "W5" in workloads:
        rows += [
            ("W5", "rm -rf of both trees + sync, s", "w5_seconds", "s", "lower", none),
            trips_row("W5", "w5_round_trips"),
            ("W5", "memory left afterwards, MiB", "w5_left_bytes", "mib", "lower", w5_goal),
            ("W5", "memory of the empty mount (at the start), MiB", "empty_bytes", "mib", "lower", none),
        ]
    if "W6" in workloads:
        size = meta.get("fio_size", "4g")
        rows += [
            ("W6", f"sequential write, {size}, 1 MiB, MB/s", "w6_write_MBps", "MBps", "higher",
             ratio_goal("w6_write_MBps", "≥", 1.0)),
            ("W6", "sequential read, 1 MiB, MB/s", "w6_read_MBps", "MBps", "higher",
             ratio_goal("w6_read_MBps", "≥", 1.0)),
            ("W6", "4 KiB random read, 4 jobs, IOPS", "w6_randread_iops", "iops", "higher",
             ratio_goal("w6_randread_iops", "≥", 1.0)),
            ("W6", f"memory holding the {size} file, MiB", "w6_bytes", "mib", "lower", none),
        ]
    if "W7" in workloads:
        n = int(meta.get("meta_files", "100000"))
        rows += [
            ("W7", f"create {n:,} empty files, ops/s", "w7_create_ops", "ops", "higher",
             ratio_goal("w7_create_ops", "≥", 0.7, "w7_create_round_trips", n)),
            trips_row("W7", "w7_create_round_trips", n),
            ("W7", "stat them, ops/s", "w7_stat_ops", "ops", "higher",
             ratio_goal("w7_stat_ops", "≥", 0.7, "w7_stat_round_trips", n)),
            trips_row("W7", "w7_stat_round_trips", n),
            ("W7", "remove them, ops/s", "w7_unlink_ops", "ops", "higher",
             ratio_goal("w7_unlink_ops", "≥", 0.7, "w7_unlink_round_trips", n)),
            trips_row("W7", "w7_unlink_round_trips", n),
        ]

    header = ["Workload", "Measure"] + [TARGET_NAMES[t] for t in TARGETS] + \
        ["zsfs / zram", "Goal for zsfs", "Met"]
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(["---"] * 2 + ["--:"] * (len(TARGETS) + 1) + ["---"] * 2) + "|"]
    goal_lines = []
    for workload, measure, key, kind, better, goal in rows:
        cells = [workload, measure]
        for t in TARGETS:
            if t not in ran or (t == "null" and key not in results[t]):
                cells.append("—")
            elif kind == "text":
                cells.append(results[t].get(key, "n/a"))
            elif (key.endswith("_pool") or key.endswith("_round_trips")) and t != "zsfs":
                cells.append("—")
            elif "against the floor" in measure and t != "zsfs":
                cells.append("—")
            else:
                cells.append(fmt(get(t, key), kind))
        r = ratio(key) if kind not in ("text", "count") and not key.endswith("_pool") else None
        if "against the floor" in measure:
            r = None
        cells.append(f"{r:.2f}" if r is not None else "—")
        text, met = goal()
        cells.append(text)
        cells.append("" if not text or text.startswith("(") else
                     "n/a" if met is None else "**not met: beyond FUSE**" if met == "beyond" else
                     "met" if met else "**not met**")
        lines.append("| " + " | ".join(cells) + " |")
        if text and not text.startswith("("):
            verdict = ("n/a" if met is None else "NOT MET, beyond FUSE" if met == "beyond" else
                       "met" if met else "NOT MET")
            goal_lines.append(f"- {workload} {measure}: {text} — {verdict}")

    tar_mb = int(meta.get("tar_bytes", "0")) / 1e6
    data = (f"Linux 6.1 source from linux-source-6.1 "
            f"({'quick subset: ' + meta.get('quick_subtrees', '') + ', ' if meta.get('quick') == '1' else ''}"
            f"{int(meta.get('entries', '0')):,} entries, tar {tar_mb:,.0f} MB)")
    md = []
    md.append("# zsfs against tmpfs and ext4 on zram (lz4)")
    md.append("")
    md.append(f"Run {meta.get('date', '')} by `tests/bench/compare/run.sh`"
              f"{' --quick' if meta.get('quick') == '1' else ''}: "
              f"{meta.get('cpu', '')}, {meta.get('cores', '')} cores, "
              f"{int(meta.get('ram_bytes', '0')) / (1 << 30):.0f} GiB RAM, kernel {meta.get('kernel', '')}; "
              f"{meta.get('zsfs_version', 'zsfs n/a')} (commit {meta.get('commit', 'n/a')}), default options."
              + (f" Load average when it started: {meta['loadavg']}." if meta.get("loadavg") else ""))
    md.append("")
    md.append(f"Data: {data}. "
              f"Memory: zsfs = the daemon's resident set (VmRSS; peak: VmHWM), "
              f"ext4 on zram = zram's mm_stat mem_used_total (peak: mem_used_max and 100 ms samples), "
              f"tmpfs = growth of Shmem. Times are wall clock, caches dropped before every step.")
    md.append("")
    if floor:
        md.append(f"Floor (the tree's distinct non-same-filled 4 KiB blocks, each compressed alone with "
                  f"zstd level {floor_info.get('level')}, magicless, window log 12; "
                  f"a frame of {threshold} bytes or more counted as 4096): "
                  f"**{floor / MIB:.1f} MiB** ({floor:,} bytes; with zsfs's exact payload "
                  f"framing {payload_floor / MIB:.1f} MiB). "
                  f"{int(floor_info.get('blocks', 0)):,} blocks: {int(floor_info.get('same_blocks', 0)):,} same-filled, "
                  f"{int(floor_info.get('duplicate_blocks', 0)):,} duplicates, "
                  f"{int(floor_info.get('unique_blocks', 0)):,} distinct, "
                  f"of which {raw_blocks:,} kept raw.")
    else:
        md.append("Floor: not computed (it needs the tree: W1 to W5).")
    md.append("")
    md += lines
    md.append("")
    skipped = [t for t in TARGETS if results.get(t, {}).get("skipped")]
    for t in skipped:
        notes.append(f"{TARGET_NAMES[t]} skipped: {results[t]['skipped']}")
    for t in TARGETS:
        if t not in ran and t not in skipped:
            notes.append(f"{TARGET_NAMES[t]} not run")
    for target, message in failures:
        notes.append(f"FAILURE on {TARGET_NAMES.get(target, target)}: {message}")
    problems = list(notes)  # printed on the terminal too; what follows only goes to results.md
    notes.append("The ratio column is zsfs / ext4-on-zram for every row: below 1 is better for "
                 "times and memory, above 1 for MB/s, IOPS and ops/s.")
    if round_trip_us is not None:
        notes.append("FUSE floor: the workload's round trips (zsfs's FUSE requests less the "
                     "forgets, which nobody waits for) times the cheapest request's round trip "
                     f"on the zsfs mount ({round_trip_us:.2f} µs: roundtrip.c, getxattr of a "
                     "missing name, best of 5 rounds of 40,000). The programs timed here are one "
                     "thread that waits for each request in turn, and the kernel decides how many "
                     "requests a system call takes, so no FUSE filesystem can do better on this "
                     "machine; a goal that the floor itself misses is marked beyond FUSE. On "
                     "tmpfs and ext4 the round trip row is the system call alone.")
    if "null" in ran:
        notes.append("FUSE null daemon: fusenull.c, a FUSE filesystem that keeps names and "
                     "attributes and throws data away, set up as zsfs is (same capabilities, "
                     "caching and request loop), so that the kernel sends it the same requests; "
                     "it runs W1 and W7 only. A goal that it misses too is marked beyond FUSE.")
    notes.append("W5 on ext4: fstrim runs (untimed) after the rm, so zram can free the blocks. "
                 "W6: fio, psync, buffered, fallocate=none, buffer_compress_percentage=50, "
                 "refill_buffers, end_fsync=1 for the write; random reads time_based "
                 f"{meta.get('fio_runtime', '20')} s, numjobs=4, group_reporting. "
                 f"W7: a C driver (metaops.c), one thread, {meta.get('meta_dirs', '100')} directories; "
                 "create and remove end with syncfs.")
    md.append("Notes:")
    md.append("")
    md += [f"- {n}" for n in notes]
    md.append("")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write("\n".join(md))

    print()
    print("\n".join(lines))
    print()
    if floor:
        print(f"Floor: {floor / MIB:.1f} MiB ({floor:,} bytes) at zstd level {floor_info.get('level')}, "
              f"raw threshold {threshold}")
    print()
    print("Goals (zsfs):")
    print("\n".join(goal_lines))
    for n in problems:
        print(f"Note: {n}")
    print()

    if not args.no_chart:
        chart(results, ran, rows, floor, work, args.out, meta)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


def chart(results, ran, rows, floor, work, out, meta):
    """Two panels: speed relative to ext4 on zram (= 1, higher is faster, log scale; relative to
    tmpfs when zram did not run), and memory in MiB for every target, with the floor marked.
    A panel without data says so instead of failing."""
    def get(t, key):
        return number(results, t, key) if t in ran else None

    colors = {"zsfs": "#1f77b4", "zsfs-pool": "#9ecae1", "tmpfs": "#ff7f0e", "zram": "#2ca02c",
              "null": "#7f7f7f"}
    labels = {
        "w1_seconds": "W1 untar", "w3_seconds": "W3 read", "w4_seconds": "W4 cp -a",
        "w5_seconds": "W5 rm -rf", "w6_write_MBps": "W6 seq write", "w6_read_MBps": "W6 seq read",
        "w6_randread_iops": "W6 rand read", "w7_create_ops": "W7 create", "w7_stat_ops": "W7 stat",
        "w7_unlink_ops": "W7 unlink",
    }

    def write_data(path, categories, series, value):
        """Writes one row per category, one column per series; returns whether any value is
        present."""
        any_value = False
        with open(path, "w") as f:
            f.write("# label " + " ".join(series) + "\n")
            for key, label in categories:
                cells = []
                for s in series:
                    v = value(s, key)
                    any_value |= v is not None
                    cells.append("?" if v is None else f"{v:.4f}")
                f.write(f"\"{label}\" {' '.join(cells)}\n")
        return any_value

    def plot_command(path, series, titles):
        parts = []
        for i, s in enumerate(series):
            source = f"'{path}'" if i == 0 else "''"
            xtic = ":xtic(1)" if i == 0 else ""
            parts.append(f"{source} using {i + 2}{xtic} title '{titles[s]}' lc rgb '{colors[s]}'")
        return "plot " + ", \\\n     ".join(parts)

    def empty_panel(title, message):
        return (f"set title '{title}'\nunset logscale y\nset xrange [0:1]\nset yrange [0:1]\n"
                f"unset xtics\nunset ytics\nset label 1 '{message}' at 0.5,0.5 center\n"
                f"plot NaN notitle\nunset label 1\nset xrange [*:*]\nset xtics\nset ytics\n")

    # Panel 1: speed.
    baseline = "zram" if "zram" in ran else "tmpfs" if "tmpfs" in ran else None
    speed_series = [t for t in ("zsfs", "tmpfs", "null") if t in ran and t != baseline]
    speed_categories = [(k, labels.get(k, k)) for _, _, k, kind, _, _ in rows
                        if kind in ("s", "MBps", "iops", "ops")]
    lower_is_better = {k for _, _, k, kind, _, _ in rows if kind == "s"}

    def speed(t, key):
        v, base = get(t, key), get(baseline, key)
        if not v or not base:
            return None
        return base / v if key in lower_is_better else v / base

    speed_path = os.path.join(work, "chart-speed.dat")
    base_name = TARGET_NAMES.get(baseline, "")
    speed_title = f"Speed relative to {base_name} (= 1, dashed line); higher is faster"
    if baseline and speed_series and write_data(speed_path, speed_categories, speed_series, speed):
        speed_panel = (
            f"set title '{speed_title}'\nset logscale y 2\nset yrange [*:*]\n"
            "set ylabel 'relative speed (log scale)'\n"
            "set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 2 lc rgb 'black' front\n"
            + plot_command(speed_path, speed_series,
                           {"zsfs": "zsfs", "tmpfs": "tmpfs", "null": "FUSE null daemon"})
            + "\nunset arrow 1\nunset ylabel\n")
    else:
        speed_panel = empty_panel("Speed", "no speed comparison: it needs two targets and a timed workload")

    # Panel 2: memory.
    memory_categories = [(k, l) for k, l in (
        ("w1_peak_bytes", "W1 peak"), ("w2_bytes", "W2 held"), ("w4_growth_bytes", "W4 growth"),
        ("w5_left_bytes", "W5 left"), ("w6_bytes", "W6 fio file"))
        if k in {k2 for _, _, k2, _, _, _ in rows}]
    memory_series = [s for s in ("zsfs", "zsfs-pool", "tmpfs", "zram") if s.split("-")[0] in ran]

    def memory(s, key):
        t = s.split("-")[0]
        k = key + "_pool" if s == "zsfs-pool" else key
        v = get(t, k)
        if k == "w4_growth_bytes_pool":
            a, b = get("zsfs", "w4_after_bytes_pool"), get("zsfs", "w4_before_bytes_pool")
            v = a - b if a is not None and b is not None else None
        # Log scale: nothing below 0.01 MiB (10 KiB) is drawn.
        return None if v is None or v < 0.01 * MIB else v / MIB

    memory_path = os.path.join(work, "chart-memory.dat")
    if memory_series and write_data(memory_path, memory_categories, memory_series, memory):
        floor_lines = ""
        w2_index = next((i for i, (k, _) in enumerate(memory_categories) if k == "w2_bytes"), None)
        if w2_index is not None and floor:
            y = f"{floor / MIB:.3f}"
            floor_lines = (f"set arrow 2 from {w2_index - 0.45},{y} to {w2_index + 0.45},{y} nohead "
                           f"lw 2 dt 2 lc rgb 'black' front\n"
                           f"set label 2 'floor {floor / MIB:.0f} MiB' at {w2_index + 0.47},{y} left front\n")
        memory_panel = (
            "set title 'Memory, MiB; lower is better'\nset logscale y 10\nset yrange [*:*]\n"
            "set ylabel 'MiB (log scale)'\n" + floor_lines
            + plot_command(memory_path, memory_series, {
                "zsfs": "zsfs (daemon RSS)", "zsfs-pool": "zsfs (mem\\_used\\_total)",
                "tmpfs": "tmpfs (Shmem)", "zram": "ext4 on zram (mm\\_stat mem\\_used\\_total)"})
            + "\n")
    else:
        memory_panel = empty_panel("Memory", "no memory figures: W1, W2, W4, W5 or W6 did not run")

    title_extra = " (quick subset)" if meta.get("quick") == "1" else ""
    null_extra = " vs a FUSE null daemon" if "null" in ran else ""
    png = os.path.join(out, "results.png")
    script = f"""set terminal pngcairo size 1300,1000 font 'DejaVu Sans,10'
set output '{png}'
set datafile missing '?'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key top left
set grid ytics
set xtics rotate by -25 nomirror
set multiplot layout 2,1 title 'zsfs vs tmpfs vs ext4 on zram (lz4){null_extra}{title_extra}, {meta.get("date", "")}'
{speed_panel}
{memory_panel}
unset multiplot
"""
    script_path = os.path.join(work, "chart.gp")
    with open(script_path, "w") as f:
        f.write(script)
    result = subprocess.run(["gnuplot", script_path], capture_output=True, text=True)
    if result.returncode != 0:
        print(f"report.py: gnuplot failed ({script_path}):\n{result.stderr}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

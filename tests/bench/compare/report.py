#!/usr/bin/env python3
"""report.py: turns run.sh's raw figures into results.md (a Markdown table with the goals) and
results.png (a gnuplot chart), and prints the table.

  report.py --results results.tsv --meta meta.txt --floor floor.txt --histogram floor.hist
            [--dict-floor floor-dict.txt --dict-histogram floor-dict.hist]
            --out DIR [--work DIR] [--no-chart]

results.tsv: "target<TAB>key<TAB>value" lines written by run.sh; meta.txt and floor.txt:
key=value lines; floor.hist: "frame_size count" lines from floor.c, so the floor can be computed
for the raw threshold of the zsfs that ran; floor-dict.*: the same from floor.c -D, the floor with
the dictionary zsfs trained (absent when it trained none). Nothing here judges the run: goals that
are not met are reported, never an error.
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


# Verdicts of a goal. BEYOND: not met, and neither can any FUSE filesystem on this machine (the
# FUSE floor or the null daemon misses the bound too). MET_BEYOND: the bound is out of FUSE's
# reach on this machine (its floor misses it) and zsfs comes within the goal's slack of the floor,
# which such a goal accepts ("or within 1.15 times what the FUSE floor allows"). SKIPPED: the goal
# does not apply to this run (said why in its text). None: a figure is missing.
MET, NOT_MET, BEYOND, MET_BEYOND, SKIPPED = "met", "not met", "beyond", "met beyond", "skipped"
VERDICT_CELL = {None: "n/a", MET: "met", NOT_MET: "**not met**",
                BEYOND: "**not met: beyond FUSE**", MET_BEYOND: "met: beyond FUSE",
                SKIPPED: "skipped"}
VERDICT_LINE = {None: "n/a", MET: "met", NOT_MET: "NOT MET", BEYOND: "NOT MET, beyond FUSE",
                MET_BEYOND: "met, beyond FUSE", SKIPPED: "skipped"}
# How close to the FUSE floor a goal with the FUSE rule asks zsfs to come (W3, random reads).
FUSE_SLACK = 1.15


def holds(value, op, bound):
    return value <= bound if op == "≤" else value >= bound


class Goals:
    """The goals of zsfs, judged on one run's figures. Each method returns a function of no
    arguments giving (text, verdict), called when the table is written."""

    def __init__(self, results, floors):
        self.results = results
        self.floors = floors  # {"plain": bytes, "dict": bytes or None}
        self.round_trip_us = self.get("zsfs", "roundtrip_us")

    def get(self, target, key):
        return number(self.results, target, key)

    def ratio(self, key):
        z, r = self.get("zsfs", key), self.get("zram", key)
        if z is None or r is None or r == 0:
            return None
        return z / r

    def fuse_floor_seconds(self, trips_key):
        """The FUSE floor of a workload: its round trips (FUSE requests less forgets, counted by
        zsfs) times the cheapest request's round trip on the zsfs mount. The programs run here
        (tar, cp, rm, metaops) are one thread waiting for each request in turn, so no FUSE
        filesystem can take less time on this machine, whatever its daemon does (readahead reads,
        sent without waiting, make it a little less strict for W3). Seconds; None when not
        measured."""
        trips = self.get("zsfs", trips_key)
        if trips is None or self.round_trip_us is None:
            return None
        return trips * self.round_trip_us / 1e6

    def fuse_best(self, key, trips_key, ops):
        """What the FUSE floor allows for the figure under key, and its ratio to zram: seconds
        for a time, operations per second for a rate (ops: the operations behind it)."""
        floor_s, zram = self.fuse_floor_seconds(trips_key), self.get("zram", key)
        if not floor_s or not zram:
            return None, None
        best = ops / floor_s if ops else floor_s
        return best, best / zram

    @staticmethod
    def fuse_text(best, best_ratio, ops):
        return (f"; FUSE floor {best:,.0f} ops/s = {best_ratio:.2f}" if ops else
                f"; FUSE floor {best:.2f} s = {best_ratio:.2f}")

    def ratio_goal(self, key, op, bound, trips_key=None, ops=None):
        """A goal on zsfs / zram. With trips_key, the FUSE floor is set beside it, and the null
        daemon's own ratio when it ran: a goal that even the floor or the null daemon misses is
        beyond FUSE. ops: the operations behind an ops/s figure, to turn the floor into a
        ceiling."""
        def goal():
            value = self.ratio(key)
            text = f"zsfs / zram {op} {bound}"
            if value is None:
                return text, None
            verdict = MET if holds(value, op, bound) else NOT_MET
            if trips_key:
                best, best_ratio = self.fuse_best(key, trips_key, ops)
                if best is not None:
                    text += self.fuse_text(best, best_ratio, ops)
                    if verdict == NOT_MET and not holds(best_ratio, op, bound):
                        verdict = BEYOND
                null, zram = self.get("null", key), self.get("zram", key)
                if null and zram:
                    text += f"; null daemon {null / zram:.2f}"
                    if verdict == NOT_MET and not holds(null / zram, op, bound):
                        verdict = BEYOND
            return text, verdict
        return goal

    def fuse_rule_goal(self, key, op, bound, trips_key, ops=None):
        """A goal on zsfs / zram with the FUSE rule: the bound, or, where the FUSE floor itself
        misses the bound on this machine, zsfs within FUSE_SLACK of the floor (a time at most
        FUSE_SLACK x the floor's; a rate at least the floor's ceiling / FUSE_SLACK), which is
        MET_BEYOND. Where the floor allows the bound, zsfs must meet the bound."""
        def goal():
            value = self.ratio(key)
            text = f"zsfs / zram {op} {bound}, or within {FUSE_SLACK} × the FUSE floor"
            if value is None:
                return text, None
            verdict = MET if holds(value, op, bound) else NOT_MET
            best, best_ratio = self.fuse_best(key, trips_key, ops)
            if best is None:
                return text, verdict
            # zsfs against the floor: a time at most FUSE_SLACK x the floor's, a rate at least
            # the floor's / FUSE_SLACK.
            at = self.get("zsfs", key) / best
            text += self.fuse_text(best, best_ratio, ops) + f"; zsfs at {at:.2f} × it"
            close = at >= 1 / FUSE_SLACK if ops else at <= FUSE_SLACK
            if verdict == NOT_MET and not holds(best_ratio, op, bound) and close:
                verdict = MET_BEYOND
            return text, verdict
        return goal

    def null_goal(self, key, bound):
        """zsfs's time within bound x the FUSE null daemon's in the same run."""
        def goal():
            text = f"zsfs / null daemon ≤ {bound}"
            z, n = self.get("zsfs", key), self.get("null", key)
            if z is None or not n:
                return text, None
            return text + f": {z / n:.2f}", MET if z <= bound * n else NOT_MET
        return goal

    def floor_goal(self, key, which, bound):
        """zsfs's memory within bound x a floor ("plain" or "dict"); bound None: information."""
        def goal():
            floor = self.floors.get(which)
            name = "dictionary floor" if which == "dict" else "floor"
            if which == "dict" and not floor:
                why = self.results["zsfs"].get("dict_none", "no dictionary floor was computed")
                return f"≤ {bound} × {name}: {why}", SKIPPED
            held = self.get("zsfs", key)
            of_floor = f"{name} ({floor / MIB:.1f} MiB)" if floor else name
            if not bound:
                if held is None or not floor:
                    return "(information)", None
                return f"(information) {held / floor:.2f} × {of_floor}", None
            text = f"≤ {bound} × {of_floor}"
            if held is None or not floor:
                return text, None
            return text + f": {held / floor:.2f} ×", MET if held <= bound * floor else NOT_MET
        return goal

    def busy_goal(self, phase, bound):
        """W7 with the recompressor busy: each phase at least bound x the quiet W7's rate in
        the same run; only a phase the recompressor was busy for from start to end counts."""
        def goal():
            text = f"≥ {bound} × quiet W7"
            z = self.results["zsfs"]
            if z.get("w7_busy_skipped"):
                return text + f": {z['w7_busy_skipped']}", SKIPPED
            busy = self.get("zsfs", f"w7_busy_{phase}_ops")
            quiet = self.get("zsfs", f"w7_{phase}_ops")
            if busy is None or not quiet:
                return text, None
            text += f" ({quiet:,.0f} ops/s): {busy / quiet:.2f} ×"
            recompressed = self.get("zsfs", f"w7_busy_{phase}_recompressed")
            trainings = self.get("zsfs", f"w7_busy_{phase}_trainings")
            if recompressed is not None:
                text += f"; {recompressed:,.0f} blocks recompressed"
                if trainings:
                    text += (f" and {trainings:.0f} "
                             f"dictionar{'y' if trainings == 1 else 'ies'} trained")
                text += " meanwhile"
            start = z.get(f"w7_busy_{phase}_busy_start")
            end = z.get(f"w7_busy_{phase}_busy_end")
            if start != "1" or end != "1":
                return text + "; the recompressor was not busy " + \
                    ("at the start" if start != "1" else "to the end") + \
                    ": not a busy measurement", None
            return text, MET if busy >= bound * quiet else NOT_MET
        return goal

    def w4_goal(self):
        growth, held = self.get("zsfs", "w4_growth_bytes"), self.get("zsfs", "w4_before_bytes")
        if held is None:
            held = self.get("zsfs", "w2_bytes")
        text = "≤ 5% of the memory held before"
        if growth is None or not held:
            return text, None
        return text + f": {100 * growth / held:.1f}%", MET if growth <= 0.05 * held else NOT_MET

    def w5_goal(self):
        left, empty = self.get("zsfs", "w5_left_bytes"), self.get("zsfs", "empty_bytes")
        text = "within 5% of the empty mount"
        if left is None or not empty:
            return text, None
        return (text + f": {100 * (left - empty) / empty:+.1f}%",
                MET if abs(left - empty) <= 0.05 * empty else NOT_MET)

    def trips_info(self, trips_key, ops=None):
        def goal():
            floor_s = self.fuse_floor_seconds(trips_key)
            trips = self.get("zsfs", trips_key)
            if floor_s is None:
                return "(information)", None
            per_op = f", {trips / ops:.2f} per operation" if ops else ""
            return (f"(information) × {self.round_trip_us:.2f} µs = {floor_s:.2f} s of round "
                    f"trips{per_op}"), None
        return goal

    def settle_info(self):
        z = self.results["zsfs"]
        try:
            kept, tried = int(z["w2_settle_kept"]), int(z["w2_settle_tried"])
            before, after = int(z["w2_settle_stored_before"]), int(z["w2_settle_stored_after"])
            dicts, memory = int(z["w2_settle_dictionaries"]), int(z["w2_settle_dictionary_memory"])
        except (KeyError, ValueError):
            return "(information)", None
        return (f"(information) {kept:,} of {tried:,} blocks smaller, {before / MIB:.1f} → "
                f"{after / MIB:.1f} MiB stored; {dicts} dictionar{'y' if dicts == 1 else 'ies'} "
                f"live, {memory / MIB:.2f} MiB in memory"), None


def none():
    return "", None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", required=True)
    parser.add_argument("--meta", required=True)
    parser.add_argument("--floor", required=True)
    parser.add_argument("--histogram", required=True)
    parser.add_argument("--dict-floor", default=None, help="floor.c -D's output")
    parser.add_argument("--dict-histogram", default=None, help="floor.c -D's histogram")
    parser.add_argument("--out", required=True)
    parser.add_argument("--work", default=None)
    parser.add_argument("--no-chart", action="store_true", help="write results.md only")
    args = parser.parse_args()

    results, failures = read_results(args.results)
    meta = read_kv(args.meta)
    floor_info = read_kv(args.floor)
    dict_info = read_kv(args.dict_floor) if args.dict_floor else {}
    work = args.work or tempfile.mkdtemp(prefix="zsfs-bench-report.")
    ran = [t for t in TARGETS if results.get(t, {}).get("ran")]
    workloads = set(meta.get("workloads", "").split())

    threshold = int(results["zsfs"].get("huge_class_size", floor_info.get("raw_threshold", 3265)))
    floor, raw_blocks = floor_for(args.histogram, threshold, payload=False)
    payload_floor, _ = floor_for(args.histogram, threshold, payload=True)
    dict_floor = dict_payload_floor = dict_raw_blocks = None
    if args.dict_histogram:
        dict_floor, dict_raw_blocks = floor_for(args.dict_histogram, threshold, payload=False)
        dict_payload_floor, _ = floor_for(args.dict_histogram, threshold, payload=True)
    level = floor_info.get("level")
    zsfs_level = results["zsfs"].get("recompress_level")
    notes = []
    if zsfs_level is not None and zsfs_level != level:
        notes.append(f"the floors were computed at zstd level {level}, but zsfs recompressed at "
                     f"level {zsfs_level}: pass --level {zsfs_level}")
    g = Goals(results, {"plain": floor, "dict": dict_floor})

    def trips_row(workload, trips_key, ops=None):
        return (workload, "zsfs: FUSE round trips (requests less forgets)", trips_key, "count",
                None, g.trips_info(trips_key, ops))

    def info_floor(key, which="plain"):
        return g.floor_goal(key, which, None)

    # A row: (workload, measure, key, kind, better, goal). better: "lower" or "higher" (for the
    # chart and the ratio's meaning); goal: a function () -> (text, verdict).
    rows = []
    if g.round_trip_us is not None:
        rows += [("all", "cheapest request (getxattr of a missing name), µs", "roundtrip_us", "us",
                  "lower", none)]
    if "W1" in workloads:
        rows += [
            ("W1", "untar + sync, s", "w1_seconds", "s", "lower",
             g.ratio_goal("w1_seconds", "≤", 0.8, "w1_round_trips")),
            ("W1", "untar + sync against the FUSE null daemon", "w1_seconds", "s", "lower",
             g.null_goal("w1_seconds", 1.25)),
            trips_row("W1", "w1_round_trips"),
            ("W1", "peak memory during the untar, MiB", "w1_peak_bytes", "mib", "lower", none),
        ]
    if "W2" in workloads:
        rows += [
            ("W2", "memory held after W1, caches dropped, MiB", "w2_bytes", "mib", "lower",
             g.ratio_goal("w2_bytes", "≤", 1.0)),
            ("W2", "memory held after W1 against the floor", "w2_bytes", "mib", "lower",
             info_floor("w2_bytes")),
            ("W2", "zsfs's own mem_used_total, MiB", "w2_bytes_pool", "mib", "lower",
             info_floor("w2_bytes_pool")),
            ("W2", "zsfs: settling (zsfsctl recompress --wait), s", "w2_settle_seconds", "s", None,
             g.settle_info),
            ("W2", "memory held settled, caches dropped, MiB", "w2_settled_bytes", "mib", "lower",
             g.ratio_goal("w2_settled_bytes", "≤", 0.55)),
            ("W2", "memory held settled against the dictionary floor", "w2_settled_bytes", "mib",
             "lower", g.floor_goal("w2_settled_bytes", "dict", 1.08)),
            ("W2", "memory held settled against the floor", "w2_settled_bytes", "mib", "lower",
             info_floor("w2_settled_bytes")),
            ("W2", "zsfs's own mem_used_total settled, MiB", "w2_settled_bytes_pool", "mib",
             "lower", info_floor("w2_settled_bytes_pool", "dict" if dict_floor else "plain")),
        ]
    if "W3" in workloads:
        rows += [
            ("W3", "read the settled tree back cold (tar -c), s", "w3_seconds", "s", "lower",
             g.fuse_rule_goal("w3_seconds", "≤", 1.0, "w3_round_trips")),
            trips_row("W3", "w3_round_trips"),
            ("W3", "contents match the source", "w3_verify", "text", None, none),
        ]
    if "W4" in workloads:
        rows += [
            ("W4", "second copy (cp -a) + sync, s", "w4_seconds", "s", "lower", none),
            trips_row("W4", "w4_round_trips"),
            ("W4", "memory growth from the copy, MiB", "w4_growth_bytes", "mib", "lower",
             g.w4_goal),
            ("W4", "the copy matches the source", "w4_verify", "text", None, none),
        ]
    if "W5" in workloads:
        rows += [
            ("W5", "rm -rf of both trees + sync, s", "w5_seconds", "s", "lower", none),
            trips_row("W5", "w5_round_trips"),
            ("W5", "memory left afterwards, MiB", "w5_left_bytes", "mib", "lower", g.w5_goal),
            ("W5", "memory of the empty mount (at the start), MiB", "empty_bytes", "mib", "lower",
             none),
        ]
    if "W6" in workloads:
        size = meta.get("fio_size", "4g")
        reads = g.get("zsfs", "w6_randread_ios")
        rows += [
            ("W6", f"sequential write, {size}, 1 MiB, MB/s", "w6_write_MBps", "MBps", "higher",
             g.ratio_goal("w6_write_MBps", "≥", 1.0)),
            ("W6", "sequential read, 1 MiB, MB/s", "w6_read_MBps", "MBps", "higher",
             g.ratio_goal("w6_read_MBps", "≥", 1.0)),
            ("W6", "4 KiB random read, 4 jobs, IOPS", "w6_randread_iops", "iops", "higher",
             g.fuse_rule_goal("w6_randread_iops", "≥", 1.0, "w6_randread_round_trips", reads)),
            trips_row("W6", "w6_randread_round_trips", reads),
            ("W6", f"memory holding the {size} file, MiB", "w6_bytes", "mib", "lower", none),
        ]
    if "W7" in workloads:
        n = int(meta.get("meta_files", "100000"))
        for phase, measure in (("create", f"create {n:,} empty files"), ("stat", "stat them"),
                               ("unlink", "remove them")):
            rows += [
                ("W7", f"{measure}, ops/s", f"w7_{phase}_ops", "ops", "higher",
                 g.ratio_goal(f"w7_{phase}_ops", "≥", 0.7, f"w7_{phase}_round_trips", n)),
                trips_row("W7", f"w7_{phase}_round_trips", n),
            ]
        if "zsfs" in ran:
            rows += [("W7", f"{measure}, recompressor busy, ops/s", f"w7_busy_{phase}_ops", "ops",
                      "higher", g.busy_goal(phase, 0.95))
                     for phase, measure in (("create", "create"), ("stat", "stat"),
                                            ("unlink", "remove"))]

    header = ["Workload", "Measure"] + [TARGET_NAMES[t] for t in TARGETS] + \
        ["zsfs / zram", "Goal for zsfs", "Met"]
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(["---"] * 2 + ["--:"] * (len(TARGETS) + 1) + ["---"] * 2) + "|"]
    goal_lines = []
    for workload, measure, key, kind, better, goal in rows:
        zsfs_only = (key.endswith("_pool") or key.endswith("_round_trips") or
                     key.startswith("w7_busy_") or key == "w2_settle_seconds" or
                     " against the " in measure)
        cells = [workload, measure]
        for t in TARGETS:
            if t not in ran or (t == "null" and key not in results[t]):
                cells.append("—")
            elif kind == "text":
                cells.append(results[t].get(key, "n/a"))
            elif zsfs_only and t != "zsfs":
                cells.append("—")
            else:
                cells.append(fmt(g.get(t, key), kind))
        r = g.ratio(key) if kind not in ("text", "count") and not zsfs_only else None
        cells.append(f"{r:.2f}" if r is not None else "—")
        text, verdict = goal()
        cells.append(text)
        is_goal = bool(text) and not text.startswith("(")
        cells.append(VERDICT_CELL[verdict] if is_goal else "")
        lines.append("| " + " | ".join(cells) + " |")
        if is_goal:
            goal_lines.append(f"- {workload} {measure}: {text} — {VERDICT_LINE[verdict]}")

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
              f"tmpfs = growth of Shmem. Times are wall clock, caches dropped before every step. "
              f"Settled: after `zsfsctl recompress --wait` on zsfs (every block re-encoded with "
              f"zstd at recompress_level against a dictionary trained on the mount's data); "
              f"tmpfs and ext4 on zram have no second tier and are measured at the same point.")
    md.append("")
    md.append(floor_paragraph(floor_info, dict_info, results, threshold,
                              (floor, payload_floor, raw_blocks),
                              (dict_floor, dict_payload_floor, dict_raw_blocks)))
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
    notes += recompressed_notes(results["zsfs"])
    problems = list(notes)  # printed on the terminal too; what follows only goes to results.md
    notes.append("The ratio column is zsfs / ext4-on-zram for every row: below 1 is better for "
                 "times and memory, above 1 for MB/s, IOPS and ops/s.")
    if g.round_trip_us is not None:
        notes.append("FUSE floor: the workload's round trips (zsfs's FUSE requests less the "
                     "forgets, which nobody waits for) times the cheapest request's round trip "
                     f"on the zsfs mount ({g.round_trip_us:.2f} µs: roundtrip.c, getxattr of a "
                     "missing name, best of 5 rounds of 40,000). The programs timed here are one "
                     "thread that waits for each request in turn, and the kernel decides how many "
                     "requests a system call takes, so no FUSE filesystem can do better on this "
                     "machine; a goal that the floor itself misses is marked beyond FUSE. For the "
                     "random reads the floor is a ceiling, reads / (round trips × round trip): "
                     "one request at a time, what one request thread allows. W3 and the random "
                     f"reads accept, where the floor misses the bound, zsfs within {FUSE_SLACK} × "
                     "of the floor (met: beyond FUSE). On tmpfs and ext4 the round trip row is the "
                     "system call alone.")
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
                 "create and remove end with syncfs. W7 with the recompressor busy (zsfs only): "
                 "the same phases in another directory while `zsfsctl recompress` settles a fresh "
                 "copy of the tree extracted (untimed) beside them; a phase counts only when the "
                 "statistics show the recompressor busy at its start and at its end.")
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
        print(f"Floor: {floor / MIB:.1f} MiB ({floor:,} bytes) at zstd level {level}, "
              f"raw threshold {threshold}" +
              (f"; with zsfs's dictionary {dict_floor / MIB:.1f} MiB ({dict_floor:,} bytes)"
               if dict_floor else ""))
    print()
    print("Goals (zsfs):")
    print("\n".join(goal_lines))
    for n in problems:
        print(f"Note: {n}")
    print()

    if not args.no_chart:
        chart(results, ran, rows, (floor, dict_floor), work, args.out, meta)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


def floor_paragraph(floor_info, dict_info, results, threshold, plain, with_dict):
    """The floors, in words: the plain one and the one with zsfs's dictionary (or why not)."""
    floor, payload_floor, raw_blocks = plain
    if not floor:
        return "Floor: not computed (it needs the tree: W1 to W5)."
    level = floor_info.get("level")
    text = (f"Floors (the tree's distinct non-same-filled 4 KiB blocks, each compressed alone with "
            f"zstd level {level}, zsfs's recompress_level, magicless, window log 12; a frame of "
            f"{threshold} bytes or more counted as 4096): without a dictionary "
            f"**{floor / MIB:.1f} MiB** ({floor:,} bytes; with zsfs's exact payload framing "
            f"{payload_floor / MIB:.1f} MiB, {raw_blocks:,} blocks kept raw)")
    dict_floor, dict_payload_floor, dict_raw_blocks = with_dict
    if dict_floor:
        text += (f"; with the dictionary zsfs trained while settling "
                 f"({int(dict_info.get('dict_bytes', 0)):,} bytes, "
                 f"id {dict_info.get('dict_id', '?')}, from `zsfsctl dict export`) "
                 f"**{dict_floor / MIB:.1f} MiB** ({dict_floor:,} bytes; payload framing "
                 f"{dict_payload_floor / MIB:.1f} MiB, {dict_raw_blocks:,} kept raw)")
        trained = results["zsfs"].get("w2_settle_trainings")
        if trained not in (None, "1"):
            text += (f" — zsfs trained {trained} dictionaries while settling; the floor uses the "
                     f"last, the current one")
        text += ". The dictionary itself is not counted"
    elif results["zsfs"].get("dict_none"):
        text += (f"; with a dictionary: none, {results['zsfs']['dict_none']}, so the dictionary "
                 f"goal is skipped")
    else:
        text += "; with a dictionary: not computed (it needs zsfs settled in W2)"
    return (text + f". {int(floor_info.get('blocks', 0)):,} blocks: "
            f"{int(floor_info.get('same_blocks', 0)):,} same-filled, "
            f"{int(floor_info.get('duplicate_blocks', 0)):,} duplicates, "
            f"{int(floor_info.get('unique_blocks', 0)):,} distinct.")


STEP_NAMES = {"w1": "W1", "w3": "W3", "w4": "W4", "w5": "W5", "w6_write": "W6 write",
              "w6_read": "W6 read", "w6_randread": "W6 random reads", "w7_create": "W7 create",
              "w7_stat": "W7 stat", "w7_unlink": "W7 remove"}


def recompressed_notes(zsfs):
    """Timed steps other than W7 busy during which zsfs's recompressor worked (its automatic
    passes re-encode blocks recompress_after after they were written)."""
    notes = []
    for step, name in STEP_NAMES.items():
        blocks = int(zsfs.get(f"{step}_recompressed", "0"))
        trainings = int(zsfs.get(f"{step}_trainings", "0"))
        if blocks or trainings:
            notes.append(f"zsfs's recompressor worked during {name}: {blocks:,} blocks re-encoded, "
                         f"{trainings} dictionaries trained (an automatic pass: blocks written "
                         f"recompress_after before)")
    return notes


def chart(results, ran, rows, floors, work, out, meta):
    """Two panels: speed relative to ext4 on zram (= 1, higher is faster, log scale; relative to
    tmpfs when zram did not run; W7 with the recompressor busy against the quiet W7 of the
    baseline), and memory in MiB for every target, with the floors marked (floors: the plain
    one, the one with zsfs's dictionary or None). A panel without data says so instead of
    failing."""
    def get(t, key):
        return number(results, t, key) if t in ran else None

    colors = {"zsfs": "#1f77b4", "zsfs-pool": "#9ecae1", "tmpfs": "#ff7f0e", "zram": "#2ca02c",
              "null": "#7f7f7f"}
    labels = {
        "w1_seconds": "W1 untar", "w3_seconds": "W3 read", "w4_seconds": "W4 cp -a",
        "w5_seconds": "W5 rm -rf", "w6_write_MBps": "W6 seq write", "w6_read_MBps": "W6 seq read",
        "w6_randread_iops": "W6 rand read", "w7_create_ops": "W7 create", "w7_stat_ops": "W7 stat",
        "w7_unlink_ops": "W7 unlink", "w7_busy_create_ops": "W7 create, busy",
        "w7_busy_stat_ops": "W7 stat, busy", "w7_busy_unlink_ops": "W7 unlink, busy",
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
    speed_keys = [k for _, _, k, _, _, _ in rows if k in labels]
    speed_categories = [(k, labels[k]) for i, k in enumerate(speed_keys) if k not in speed_keys[:i]]
    lower_is_better = {k for _, _, k, kind, _, _ in rows if kind == "s"}

    def speed(t, key):
        v, base = get(t, key), get(baseline, key.replace("w7_busy_", "w7_"))
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
    labels_of_memory = {"w2_bytes": "W2 held", "w2_settled_bytes": "W2 settled"}
    memory_categories = [(k, l) for k, l in (
        ("w1_peak_bytes", "W1 peak"), ("w2_bytes", "W2 held"), ("w2_settled_bytes", "W2 settled"),
        ("w4_growth_bytes", "W4 growth"), ("w5_left_bytes", "W5 left"), ("w6_bytes", "W6 fio file"))
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
        # Dashed lines: the plain floor over W2 held, the dictionary floor (or the plain one)
        # over W2 settled, named in the key (a label beside them would cover the next bars).
        floor_lines, floor_names = "", []
        plain, with_dict = floors
        marks = (("w2_bytes", plain, "floor"), ("w2_settled_bytes", with_dict or plain,
                                                 "dictionary floor" if with_dict else "floor"))
        for n, (key, value, name) in enumerate(marks, start=2):
            index = next((i for i, (k, _) in enumerate(memory_categories) if k == key), None)
            if index is None or not value:
                continue
            y = f"{value / MIB:.3f}"
            floor_lines += (f"set arrow {n} from {index - 0.45},{y} to {index + 0.45},{y} nohead "
                            f"lw 2 dt 2 lc rgb 'black' front\n")
            floor_names.append(f"{name} {value / MIB:.1f} MiB ({labels_of_memory[key]})")
        floor_key = (", \\\n     NaN with lines dt 2 lw 2 lc rgb 'black' title '"
                     + "; ".join(floor_names) + "'") if floor_names else ""
        memory_panel = (
            "set title 'Memory, MiB; lower is better'\nset logscale y 10\nset yrange [*:*]\n"
            "set ylabel 'MiB (log scale)'\n" + floor_lines
            + plot_command(memory_path, memory_series, {
                "zsfs": "zsfs (daemon RSS)", "zsfs-pool": "zsfs (mem\\_used\\_total)",
                "tmpfs": "tmpfs (Shmem)", "zram": "ext4 on zram (mm\\_stat mem\\_used\\_total)"})
            + floor_key + "\nunset arrow 2\nunset arrow 3\n")
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

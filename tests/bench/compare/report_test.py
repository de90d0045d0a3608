#!/usr/bin/env python3
"""Tests of report.py's verdicts: each goal met, not met, or beyond FUSE (when the FUSE floor or
the null daemon misses it too), from made-up figures; and the table's cells for targets that did
not run a workload. Run by CTest (bench.report); needs python3 only (no chart is drawn)."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
MIB = 1 << 20

# zram's figures, and zsfs's chosen so that each verdict below follows from the goal's bound.
RESULTS = {
    "zsfs": {
        "ran": 1, "level": 3, "huge_class_size": 3633, "roundtrip_us": 6.0, "empty_bytes": 100 * MIB,
        # W1: 10 s against 5 s (2.0, goal <= 0.8); the floor alone is 1,000,000 x 6 us = 6 s = 1.2.
        "w1_seconds": 10.0, "w1_round_trips": 1_000_000, "w1_peak_bytes": 300 * MIB,
        # W2: 300 MiB against 400 (0.75, met); 1.10 x the floor of the histogram below.
        "w2_bytes": 300 * MIB, "w2_bytes_pool": 290 * MIB,
        # W3: 4 s against 2 (2.0); floor 100,000 x 6 us = 0.6 s = 0.3: not met, not beyond FUSE.
        "w3_seconds": 4.0, "w3_round_trips": 100_000, "w3_verify": "ok",
        "w4_seconds": 3.0, "w4_round_trips": 10, "w4_before_bytes": 300 * MIB,
        "w4_after_bytes": 310 * MIB, "w4_growth_bytes": 10 * MIB, "w4_verify": "ok",
        "w5_seconds": 1.0, "w5_round_trips": 10, "w5_left_bytes": 106 * MIB,  # +6%
        "w6_write_MBps": 500, "w6_read_MBps": 900, "w6_randread_iops": 1000, "w6_bytes": 10 * MIB,
        # W7 (1,000 files): create 80 against 100 ops/s (0.8, met); stat 60 against 100 (0.6),
        # floor 1,000 x 6 us: 166,667 ops/s, but the null daemon did 65 (0.65): beyond FUSE;
        # unlink 50 against 100, floor and null daemon both above 0.7: not met.
        "w7_create_ops": 80, "w7_create_round_trips": 3000,
        "w7_stat_ops": 60, "w7_stat_round_trips": 1000,
        "w7_unlink_ops": 50, "w7_unlink_round_trips": 3000,
    },
    "zram": {
        "ran": 1, "roundtrip_us": 0.5, "empty_bytes": 1 * MIB, "w1_seconds": 5.0,
        "w1_peak_bytes": 400 * MIB, "w2_bytes": 400 * MIB, "w3_seconds": 2.0, "w3_verify": "ok",
        "w4_seconds": 2.0, "w4_growth_bytes": 300 * MIB, "w4_verify": "ok", "w5_seconds": 1.0,
        "w5_left_bytes": 2 * MIB, "w6_write_MBps": 500, "w6_read_MBps": 1000,
        "w6_randread_iops": 1000, "w6_bytes": 10 * MIB,
        "w7_create_ops": 100, "w7_stat_ops": 100, "w7_unlink_ops": 100,
    },
    "null": {
        "ran": 1, "roundtrip_us": 6.5, "w1_seconds": 8.0,
        "w7_create_ops": 90, "w7_stat_ops": 65, "w7_unlink_ops": 95,
    },
}


class ReportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="zsfs-report-test.")
        d = cls.dir
        with open(os.path.join(d, "results.tsv"), "w") as f:
            for target, values in RESULTS.items():
                for key, value in values.items():
                    f.write(f"{target}\t{key}\t{value}\n")
        with open(os.path.join(d, "meta.txt"), "w") as f:
            f.write("workloads=W1 W2 W3 W4 W5 W6 W7\nmeta_files=1000\nmeta_dirs=1\nentries=10\n"
                    "tar_bytes=1000000\ndate=test\n")
        with open(os.path.join(d, "floor.txt"), "w") as f:
            f.write("level=3\nblocks=100\nunique_blocks=100\n")
        # 272.7 MiB of frames under the raw threshold: w2_bytes is 1.10 x this floor.
        with open(os.path.join(d, "floor.hist"), "w") as f:
            f.write(f"1000 {int(300 * MIB / 1.1 / 1000)}\n")
        cls.process = subprocess.run(
            [sys.executable, os.path.join(HERE, "report.py"), "--results", f"{d}/results.tsv",
             "--meta", f"{d}/meta.txt", "--floor", f"{d}/floor.txt", "--histogram",
             f"{d}/floor.hist", "--out", d, "--no-chart"],
            capture_output=True, text=True)
        with open(os.path.join(d, "results.md")) as f:
            cls.table = [line for line in f if line.startswith("| ")]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def row(self, workload, measure_start):
        for line in self.table:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cells[0] == workload and cells[1].startswith(measure_start):
                return cells
        self.fail(f"no row {workload} {measure_start!r} in:\n{''.join(self.table)}")

    def test_runs(self):
        self.assertEqual(self.process.returncode, 0, self.process.stderr)

    def test_untar_beyond_fuse_by_the_floor(self):
        cells = self.row("W1", "untar")
        self.assertEqual(cells[-1], "**not met: beyond FUSE**")
        self.assertIn("FUSE floor 6.00 s = 1.20", cells[-2])
        self.assertIn("null daemon 1.60", cells[-2])
        self.assertEqual(cells[2:7], ["10.00", "—", "5.00", "8.00", "2.00"])

    def test_read_back_not_met_but_within_fuse(self):
        cells = self.row("W3", "read everything back")
        self.assertEqual(cells[-1], "**not met**")
        self.assertIn("FUSE floor 0.60 s = 0.30", cells[-2])

    def test_memory_goals_met(self):
        self.assertEqual(self.row("W2", "memory held after W1, caches")[-1], "met")
        floor_row = self.row("W2", "memory held after W1 against the floor")
        self.assertEqual(floor_row[-1], "met")
        self.assertIn("1.10 ×", floor_row[-2])
        self.assertEqual(self.row("W4", "memory growth")[-1], "met")
        self.assertEqual(self.row("W5", "memory left")[-1], "**not met**")

    def test_metadata_verdicts(self):
        self.assertEqual(self.row("W7", "create")[-1], "met")
        stat = self.row("W7", "stat")
        self.assertEqual(stat[-1], "**not met: beyond FUSE**")  # by the null daemon's 0.65
        self.assertIn("null daemon 0.65", stat[-2])
        self.assertEqual(self.row("W7", "remove")[-1], "**not met**")

    def test_round_trips_only_for_zsfs(self):
        cells = self.row("W1", "zsfs: FUSE round trips")
        self.assertEqual(cells[2:7], ["1,000,000", "—", "—", "—", "—"])
        self.assertIn("6.00 µs = 6.00 s", cells[-2])
        per_op = self.row("W7", "zsfs: FUSE round trips")
        self.assertIn("3.00 per operation", per_op[-2])

    def test_null_daemon_left_out_of_data_workloads(self):
        self.assertEqual(self.row("W2", "memory held after W1, caches")[5], "—")
        self.assertEqual(self.row("W3", "contents match")[5], "—")
        self.assertEqual(self.row("W6", "sequential read")[5], "—")


if __name__ == "__main__":
    unittest.main()

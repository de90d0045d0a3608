#!/usr/bin/env python3
"""`zsfsctl stats --prometheus` on two real mounts, read back by the Prometheus client library's
own parser of the text format (python3-prometheus-client), and checked against the JSON figures.

Usage: prometheus_test.py ZSFS ZSFSCTL. Exits 77 (CTest's skip) where FUSE cannot be mounted.
"""
import json
import os
import subprocess
import sys
import tempfile

from prometheus_client.parser import text_string_to_metric_families

ZSFS, ZSFSCTL = sys.argv[1], sys.argv[2]


def run(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def main():
    if not os.path.exists("/dev/fuse") or os.geteuid() != 0:
        print("skipped: needs /dev/fuse and root")
        return 77
    mounts = []
    try:
        for size in ("64M", "32M"):
            directory = tempfile.mkdtemp(prefix="zsfs-prom-")
            run(ZSFS, directory, "-o", f"size={size},level=1")
            mounts.append(directory)
        a, b = mounts
        data = b"".join(b"line %d of a compressible file\n" % i for i in range(40000))
        for name in ("f", "copy"):
            with open(os.path.join(a, name), "wb") as f:
                f.write(data)
        with open(os.path.join(b, "zeros"), "wb") as f:
            f.write(bytes(1 << 20))
        run(ZSFSCTL, "check", a)  # the background has compressed everything

        text = run(ZSFSCTL, "stats", "--prometheus", a, b)
        figures = {m: json.loads(run(ZSFSCTL, "stats", "--json", m)) for m in mounts}
        families = {f.name: f for f in text_string_to_metric_families(text)}

        def value(family, mount, **labels):
            found = [s.value for s in families[family].samples
                     if s.labels.get("mountpoint") == mount
                     and all(s.labels.get(k) == v for k, v in labels.items())]
            assert len(found) == 1, f"{family} {mount} {labels}: {found}\n{text}"
            return found[0]

        for family in families.values():
            assert family.name.startswith("zsfs_"), family.name
            assert family.documentation, f"{family.name} has no HELP"
            assert family.type in ("counter", "gauge"), (family.name, family.type)
            for sample in family.samples:
                assert sample.labels["mountpoint"] in mounts, sample
        # The client drops "_total" from a counter family's name, and only from a counter's.
        assert families["zsfs_requests"].type == "counter"
        assert families["zsfs_compactions"].type == "counter"
        assert families["zsfs_memory_used_bytes"].type == "gauge"

        for mount in mounts:
            stats = figures[mount]
            assert value("zsfs_memory_limit_bytes", mount) == stats["mem_limit"]
            assert value("zsfs_file_size_bytes", mount) == stats["logical_bytes"]
            assert value("zsfs_data_blocks", mount) == stats["data_blocks"]
            assert value("zsfs_info", mount, algorithm=stats["algorithm"], level="1",
                         dedup="true") == 1
            ops = {s.labels["op"] for s in families["zsfs_requests"].samples
                   if s.labels["mountpoint"] == mount and s.name == "zsfs_requests_total"}
            assert ops == set(stats["requests"]) - {"total"}, ops
        assert value("zsfs_memory_limit_bytes", a) == 64 << 20
        assert value("zsfs_shared_references", a) == figures[a]["shared_refs"] > 0
        assert value("zsfs_same_filled_blocks", b) == 256
        assert value("zsfs_requests", a, op="write") >= 2
        print(f"ok: {len(families)} families, "
              f"{sum(len(f.samples) for f in families.values())} samples from 2 mounts")
        return 0
    finally:
        for mount in mounts:
            subprocess.run(["umount", mount], check=False)
            os.rmdir(mount)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""manifest.py DIR: one line per entry under DIR, sorted by path, for comparing two trees.

Each line: path, type (d directory, f regular file, l symbolic link, o other), permission bits,
owner uid:gid, and for files the size, the modification time in whole seconds and the SHA-256 of
the contents; for symbolic links the target. Directory sizes and times are left out: they differ
between filesystems for no fault of either.
"""
import hashlib
import os
import stat
import sys


def walk(top, rel=""):
    path = os.path.join(top, rel) if rel else top
    with os.scandir(path) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        name = os.path.join(rel, entry.name) if rel else entry.name
        st = entry.stat(follow_symlinks=False)
        mode = stat.S_IMODE(st.st_mode)
        owner = f"{st.st_uid}:{st.st_gid}"
        if stat.S_ISDIR(st.st_mode):
            yield f"{name}\td\t{mode:o}\t{owner}"
            yield from walk(top, name)
        elif stat.S_ISREG(st.st_mode):
            with open(entry.path, "rb", buffering=0) as f:
                digest = hashlib.file_digest(f, "sha256").hexdigest()
            yield f"{name}\tf\t{mode:o}\t{owner}\t{st.st_size}\t{int(st.st_mtime)}\t{digest}"
        elif stat.S_ISLNK(st.st_mode):
            yield f"{name}\tl\t{mode:o}\t{owner}\t{os.readlink(entry.path)}"
        else:
            yield f"{name}\to\t{mode:o}\t{owner}"


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: manifest.py DIR")
    out = sys.stdout
    for line in walk(sys.argv[1]):
        out.write(line + "\n")


if __name__ == "__main__":
    main()

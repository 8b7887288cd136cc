#!/usr/bin/env python3
"""Copies kernel modules and everything they depend on into an initramfs.

usage: modules.py MODDIR OUTDIR MODULE...

MODDIR is an unpacked /lib/modules/<version> of a Debian kernel package. The
dependencies are read from each module's own .modinfo ("depends=" field), so
no depmod run (and no modules.dep) is needed; modules built into the kernel
(modules.builtin) are skipped. Each module is written to OUTDIR/<name>.ko,
decompressed (busybox insmod loads plain .ko only; Debian trixie and later
ship .ko.xz). Prints the load order (module names, dependencies first).
"""
import gzip
import lzma
import os
import re
import sys


def norm(name):
    return name.replace("-", "_")


def module_name(filename):
    m = re.fullmatch(r"(.+)\.ko(\.xz|\.gz)?", filename)
    return norm(m.group(1)) if m else None


def main():
    moddir, outdir, wanted = sys.argv[1], sys.argv[2], sys.argv[3:]
    files = {}
    for root, _, names in os.walk(os.path.join(moddir, "kernel")):
        for f in names:
            n = module_name(f)
            if n:
                files[n] = os.path.join(root, f)
    builtin = set()
    with open(os.path.join(moddir, "modules.builtin")) as f:
        for line in f:
            n = module_name(os.path.basename(line.strip()))
            if n:
                builtin.add(n)

    order, seen = [], set()

    def read(path):
        with open(path, "rb") as f:
            data = f.read()
        if path.endswith(".xz"):
            return lzma.decompress(data)
        if path.endswith(".gz"):
            return gzip.decompress(data)
        return data

    def visit(name):
        if name in seen or name in builtin:
            return
        seen.add(name)
        if name not in files:
            sys.exit(f"modules.py: no module {name} in {moddir}")
        data = read(files[name])
        m = re.search(rb"(?:^|\0)depends=([^\0]*)\0", data)
        for dep in (m.group(1).decode().split(",") if m else []):
            if dep:
                visit(norm(dep))
        with open(os.path.join(outdir, name + ".ko"), "wb") as f:
            f.write(data)
        order.append(name)

    os.makedirs(outdir, exist_ok=True)
    for w in wanted:
        visit(norm(w))
    print("\n".join(order))


main()

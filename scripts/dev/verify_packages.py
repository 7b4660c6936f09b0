#!/usr/bin/python3
"""Checks that every Debian package a CMake configure actually used is installed by scripts/setup.sh.

A machine where a developer once installed something by hand configures fine and hides a missing
install step (Debian's libdnnl-dev only *recommends* ocl-icd-opencl-dev, yet dnnl-config.cmake
calls find_package(OpenCL)). This script reads what the configure found (every FILEPATH and PATH
entry of CMakeCache.txt that points at something on disk: libraries, headers, package config
folders, programs), asks dpkg which package owns each, and accepts a package only when it is
- on setup.sh's list, or
- pulled in by one of those through hard dependencies (Depends/Pre-Depends, recursively), or
- part of every Debian system (Priority required or important, or Essential).
Anything else is reported with the file that needs it, and the exit status is 1.

Usage: verify_packages.py BUILD_DIR PACKAGE [PACKAGE ...]   (setup.sh --verify calls it)
"""
import argparse
import os
import re
import subprocess
import sys


def cache_paths(build_dir):
    """(entry name, path) for every FILEPATH/PATH cache entry that exists on disk."""
    cache = os.path.join(build_dir, "CMakeCache.txt")
    if not os.path.exists(cache):
        sys.exit(f"verify_packages: {cache} not found: configure first (cmake --preset release)")
    found = []
    for line in open(cache, encoding="utf-8", errors="replace"):
        m = re.match(r"^([A-Za-z0-9_.+-]+):(FILEPATH|PATH)=(.+)$", line.strip())
        if not m or m.group(3).endswith("-NOTFOUND"):
            continue
        for path in m.group(3).split(";"):
            if path.startswith("/") and os.path.exists(path) and not path.startswith(os.path.abspath(build_dir)):
                found.append((m.group(1), path))
    return found


def owners(path):
    """Debian packages that own `path` (following symlinks such as /usr/bin/c++ -> g++-12)."""
    result = set()
    for candidate in {path, os.path.realpath(path)}:
        out = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if ": " in line and line.split(": ", 1)[1].strip() == candidate:
                for name in line.split(": ", 1)[0].split(", "):
                    result.add(name.split(":")[0].strip())
    return result


def dependency_closure(packages):
    out = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
                          "--no-breaks", "--no-replaces", "--no-enhances", *packages],
                         capture_output=True, text=True).stdout
    closure = set(packages)
    for line in out.splitlines():
        line = line.strip()
        m = re.match(r"^\|?(?:Pre)?Depends: <?([^>\s]+)>?", line)
        if m:
            closure.add(m.group(1).split(":")[0])
        elif line and not line.startswith(("|", "Depends", "PreDepends")) and ":" not in line:
            closure.add(line.split(":")[0])
    return closure


def base_system(package):
    out = subprocess.run(["dpkg-query", "-W", "-f=${Priority} ${Essential}", package], capture_output=True, text=True).stdout
    return out.startswith(("required", "important")) or "yes" in out.split()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("build_dir", help="a configured CMake build folder")
    parser.add_argument("packages", nargs="+", help="the packages setup.sh installs")
    args = parser.parse_args()
    allowed = dependency_closure(args.packages)
    checked, missing = 0, {}
    for entry, path in cache_paths(args.build_dir):
        owned_by = owners(path)
        if not owned_by:
            continue  # not from a package (e.g. the source tree): nothing to install
        checked += 1
        if os.path.isdir(path):
            ok = any(p in allowed or base_system(p) for p in owned_by)  # a shared folder: any owner will do
        else:
            ok = all(p in allowed or base_system(p) for p in owned_by)
        if not ok:
            for p in owned_by:
                if p not in allowed and not base_system(p):
                    missing.setdefault(p, []).append(f"{entry}={path}")
    if missing:
        print("verify_packages: configure used packages that scripts/setup.sh does not install:")
        for package, uses in sorted(missing.items()):
            print(f"  {package}: {'; '.join(uses[:3])}")
        print("add them to the package list in scripts/setup.sh")
        return 1
    print(f"verify_packages: {checked} paths the configure used all come from setup.sh's {len(args.packages)} packages "
          f"or their dependencies ({len(allowed)} packages in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The layering and link audit: every CMake target declares what it uses, and no layer reaches up.

Configures the project into a scratch folder with CMake's file API (which sources each target
compiles) and its graphviz output (which target links which, and with what visibility), then
follows every #include of every source of every target:

  * a project header belongs to the target that compiles the sources of its folder (a header-only
    target `ffb_<name>` owns the folder `<name>/`); an external header to its imported target
    (dnnl -> DNNL::dnnl, fmt/ -> fmt::fmt, ...);
  * a target may include a header only if its owner is the target itself, a target it links, or one
    those expose (PUBLIC or INTERFACE, transitively): what CMake's usage requirements allow;
  * every target it links directly must be used by it (a header included, or `#pragma omp` for
    OpenMP), so the declared links are the used ones;
  * the layers hold: common/ includes nothing of the project, datasets/ only itself and common/,
    the backend only itself and common/, the algorithms never bench/ or tests/, bench/ never tests/.

Usage: scripts/dev/check_layering.py [--build-dir DIR] [--keep]   (exit 1 and a list of problems if any)
"""
import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# External headers -> the imported target that provides them (first matching prefix wins).
EXTERNAL = [
    ("oneapi/dnnl/", "DNNL::dnnl"), ("dnnl", "DNNL::dnnl"),
    ("omp.h", "OpenMP::OpenMP_CXX"),
    ("fmt/", "fmt::fmt"),
    ("nlohmann/", "nlohmann_json::nlohmann_json"),
    ("Eigen/", "Eigen3::Eigen"), ("unsupported/Eigen/", "Eigen3::Eigen"),
    ("CLI/", "CLI11::CLI11"),
    ("benchmark/", "benchmark::benchmark"),
    ("catch2/", "Catch2::Catch2"),
    ("mpi.h", "MPI::MPI_CXX"),
    ("zlib.h", "ZLIB::ZLIB"),
]
# Targets that carry flags, not headers: never "unused".
NO_HEADERS = {"ffb_warnings"}
# Packages the project builds without (their code sits behind #ifdef): absent from the graph, skipped.
OPTIONAL = {"MPI::MPI_CXX"}

# (folder, the project folders its files may include); the first matching folder applies.
LAYERS = [
    ("common/", ("common/",)),
    ("datasets/", ("datasets/", "common/")),
    ("algorithms/backend/", ("algorithms/backend/", "common/")),
    ("algorithms/", ("algorithms/", "common/", "datasets/")),
    ("bench/", ("bench/", "algorithms/", "datasets/", "common/")),
    ("tests/", ("tests/", "bench/", "algorithms/", "datasets/", "common/")),
]

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)
PRAGMA_OMP = re.compile(r'^\s*#\s*pragma\s+omp\b', re.M)
EDGE = re.compile(r'^\s*"(node\d+)"\s*->\s*"(node\d+)"\s*(\[[^\]]*\])?')
NODE = re.compile(r'^\s*"(node\d+)"\s*\[\s*label\s*=\s*"([^"]+)",\s*shape\s*=\s*(\w+)')


def configure(build_dir):
    query = os.path.join(build_dir, ".cmake", "api", "v1", "query")
    os.makedirs(query, exist_ok=True)
    open(os.path.join(query, "codemodel-v2"), "w").close()
    dot = os.path.join(build_dir, "graph", "deps.dot")
    os.makedirs(os.path.dirname(dot), exist_ok=True)
    cmd = ["cmake", "-S", ROOT, "-B", build_dir, f"--graphviz={dot}",
           "-DFFBENCH_BUILD_TESTS=ON", "-DFFBENCH_BUILD_BENCH=ON"]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode != 0:
        sys.exit(f"check_layering: the configure failed (fix it first: scripts/setup.sh installs "
                 f"what it needs):\n{done.stdout[-3000:]}")
    return dot


def read_targets(build_dir):
    """name -> {type, sources (paths from the project root)} for every target with sources."""
    reply = os.path.join(build_dir, ".cmake", "api", "v1", "reply")
    index = sorted(glob.glob(os.path.join(reply, "index-*.json")))
    if not index:
        sys.exit(f"check_layering: no CMake file-API reply in {reply} (CMake >= 3.14 writes one)")
    with open(index[-1]) as f:
        objects = json.load(f)["objects"]
    model_file = next(o["jsonFile"] for o in objects if o["kind"] == "codemodel")
    with open(os.path.join(reply, model_file)) as f:
        model = json.load(f)
    targets = {}
    for entry in model["configurations"][0]["targets"]:
        with open(os.path.join(reply, entry["jsonFile"])) as f:
            t = json.load(f)
        sources = [s["path"] for s in t.get("sources", [])
                   if not os.path.isabs(s["path"]) and s["path"].endswith((".cpp", ".hpp", ".h"))]
        if sources:
            targets[t["name"]] = {"type": t["type"], "sources": sources}
    return targets


def read_graph(dot):
    """name -> [(dependency, visibility)], visibility in public/interface/private, and node shapes."""
    names, shapes, edges = {}, {}, {}
    with open(dot) as f:
        for line in f:
            m = NODE.match(line)
            if m:
                names[m.group(1)] = m.group(2)
                shapes[m.group(2)] = m.group(3)
                continue
            m = EDGE.match(line)
            if m and m.group(1) in names and m.group(2) in names:
                style = m.group(3) or ""
                vis = "private" if "dotted" in style else "interface" if "dashed" in style else "public"
                a, b = names[m.group(1)], names[m.group(2)]
                if a != b:
                    edges.setdefault(a, []).append((b, vis))
    return edges, shapes


def exposed(target, edges, seen=None):
    """The targets whose headers a consumer of `target` may include: it and its PUBLIC/INTERFACE deps."""
    seen = set() if seen is None else seen
    if target in seen:
        return seen
    seen.add(target)
    for dep, vis in edges.get(target, []):
        if vis != "private":
            exposed(dep, edges, seen)
    return seen


def visible(target, edges):
    out = {target}
    for dep, _ in edges.get(target, []):
        out |= exposed(dep, edges)
    return out


def external_owner(header):
    for prefix, owner in EXTERNAL:
        if header.startswith(prefix):
            return owner
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", help="configure here instead of a scratch folder (kept)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder and print its path")
    args = ap.parse_args()
    targets, edges, shapes = configured(args.build_dir, args.keep)
    owners = folder_owners(targets, shapes)
    parsed = {}  # path -> (its includes, whether it has an OpenMP pragma)
    problems = []
    for name in sorted(targets):
        problems += target_problems(name, targets, edges, shapes, owners, parsed)
    problems = sorted(set(problems))
    lines = problems + [f"{len(problems)} problem(s)" if problems else
                        f"ok ({len(targets)} targets, {len(parsed)} files; every include is declared by a link "
                        f"and every link is used; the layers hold)"]
    print("\n".join(f"check_layering: {line}" for line in lines))
    return 1 if problems else 0


def configured(build_dir, keep):
    """(targets, link edges, node shapes) of a configure in build_dir, or in a scratch folder removed after."""
    folder = build_dir or tempfile.mkdtemp(prefix="ffb-layering-")
    try:
        dot = configure(folder)
        targets = read_targets(folder)
        edges, shapes = read_graph(dot)
    finally:
        if not build_dir and not keep:
            shutil.rmtree(folder, ignore_errors=True)
    if keep:
        print(f"check_layering: configured in {folder}")
    return targets, edges, shapes


def folder_owners(targets, shapes):
    """folder -> the target whose sources are in it; header-only targets: ffb_<name> owns <name>/."""
    owners = {}
    for name, t in targets.items():
        for src in t["sources"]:
            owners.setdefault(os.path.dirname(src), name)
    for name, shape in shapes.items():
        if shape == "pentagon" and name.startswith("ffb_") and os.path.isdir(os.path.join(ROOT, name[4:])):
            owners.setdefault(name[4:], name)
    return owners


def resolve(including, header):
    """The project file a quoted include names (from the root or beside the including file), or None."""
    for base in (ROOT, os.path.join(ROOT, os.path.dirname(including))):
        full = os.path.normpath(os.path.join(base, header))
        if os.path.isfile(full):
            return os.path.relpath(full, ROOT)
    return None


def scan(path, parsed):
    if path not in parsed:
        with open(os.path.join(ROOT, path), errors="replace") as f:
            text = f.read()
        parsed[path] = (INCLUDE.findall(text), bool(PRAGMA_OMP.search(text)))
    return parsed[path]


def target_problems(name, targets, edges, shapes, owners, parsed):
    """Every file the target's sources include, followed through the project's headers: an include of
    a layer above, of a file no target owns, or of a target (or package) it does not link; then every
    link none of them uses."""
    allowed = visible(name, edges)
    found_externals = set(shapes)
    used, problems = set(), []
    stack, seen = list(targets[name]["sources"]), set()
    while stack:
        path = stack.pop()
        if path in seen:
            continue
        seen.add(path)
        includes, omp = scan(path, parsed)
        if omp:
            used.add("OpenMP::OpenMP_CXX")
        for kind, header in includes:
            owner, found, follow = include_problems(name, path, kind, header, allowed, owners, found_externals)
            if owner:
                used.add(owner)
            problems += found
            if follow:
                stack.append(follow)
    for dep, _ in edges.get(name, []):
        if dep in NO_HEADERS or dep in used:
            continue
        if dep in targets or any(dep == o for _, o in EXTERNAL) or dep.startswith("ffb_"):
            problems.append(f"target {name}: links {dep} but none of its sources uses it "
                            f"(remove the link, or say why it is needed)")
    return problems


def include_problems(name, path, kind, header, allowed, owners, found_externals):
    """(the target or package the include uses, or None; its problems; the project file to follow, or None)."""
    target_file = resolve(path, header) if kind == '"' or header.startswith(("algorithms/", "bench/", "datasets/", "common/", "tests/")) else None
    if target_file:
        problems = []
        layer = next((allow for folder, allow in LAYERS if path.startswith(folder)), None)
        if layer is not None and not target_file.startswith(layer):
            problems.append(f"{path}: includes {target_file}, but {path.split('/')[0]}/"
                            f" may include only {', '.join(layer)} (the layering rule)")
        owner = owners.get(os.path.dirname(target_file))
        if owner is None:
            problems.append(f"{path}: includes {target_file}, which no target owns")
        elif owner not in allowed:
            problems.append(f"target {name}: {path} includes {target_file} of {owner}, "
                            f"which {name} does not link (add it to target_link_libraries)")
        return owner, problems, target_file
    owner = external_owner(header)
    if owner is None or (owner in OPTIONAL and owner not in found_externals):
        return None, [], None   # the standard library, or an optional package this configure did not find
    if owner in allowed:
        return owner, [], None
    return owner, [f"target {name}: {path} includes <{header}> of {owner}, which "
                   f"{name} does not link (add it to target_link_libraries)"], None


if __name__ == "__main__":
    sys.exit(main())

"""The PyTorch peer's BLAS: which library and kernel torch runs, the OpenBLAS core-type fix, the thread
pools (scripts/peers/torch_peer.py)."""
import json
import os
import re
import subprocess
import sys

POOL_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "GOTO_NUM_THREADS")


# ---- which BLAS PyTorch runs, and which kernel ----------------------------------------------------
# OpenBLAS core names (0.3.21's DYNAMIC_ARCH list) whose SGEMM kernels use AVX2+FMA or AVX-512. Any
# other name (Prescott, Core2, Nehalem, Katmai, Sandybridge, Barcelona, ...) on a CPU with AVX2 is
# OpenBLAS not knowing the CPU: a generic kernel at a fraction of the machine's speed.
OPENBLAS_FAST_CORES = {"haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"}
# Carries the first pass's finding to the re-executed process: {"probed", "set", "why"}.
BLAS_CHECK_VARIABLE = "FFBENCH_PEER_BLAS_CHECK"
# FFBENCH_PEER_OPENBLAS=detect: for a benchmark run only (tests and CI keep the environment as it is),
# drop an OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE the environment pins, so OpenBLAS picks its kernel for
# this CPU itself; the kernel is then checked for exact results (sgemm_mismatches) and recorded. On a
# Zen 5 VM the workplace pins Haswell (88-98 GFLOP/s) where OpenBLAS's own choice, Cooperlake, ran
# 231-289 GFLOP/s (issue 34).
DETECT_VARIABLE = "FFBENCH_PEER_OPENBLAS"
DROPPED_VARIABLE = "FFBENCH_PEER_OPENBLAS_DROPPED"
PINNING = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def cpu_features():
    """(vendor_id, set of flags) of the first CPU in /proc/cpuinfo; ("", set()) when unreadable."""
    vendor, flags = "", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "vendor_id" and not vendor:
                    vendor = value.strip()
                elif key == "flags" and not flags:
                    flags = set(value.split())
                if vendor and flags:
                    break
    except OSError:
        pass
    return vendor, flags


def best_coretype(vendor, flags):
    """The OpenBLAS 0.3.21 core whose kernels suit this CPU best, or None without AVX2+FMA.
    AVX-512 (F, BW, DQ, VL) means SkylakeX whoever made the CPU: on an AMD EPYC (Zen 5, 2 threads,
    best of 3 quiet runs) torch.mm on ffbench's [784,500,500] shapes ran 238-284 GFLOP/s with the
    SkylakeX kernel, 148-171 with Zen's (AVX2), 88-98 with Haswell's and 48-56 with Prescott's.
    OpenBLAS itself picks its AVX-512 kernels on the Zen 4/5 it knows."""
    if not {"avx2", "fma"} <= flags:
        return None
    if {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= flags:
        return "SkylakeX"
    if vendor in ("AuthenticAMD", "HygonGenuine"):
        return "Zen"
    return "Haswell"


def cpu_isa(flags):
    return "AVX-512" if {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= flags else \
        "AVX2+FMA" if {"avx2", "fma"} <= flags else "no AVX2"


def coretype_fix(corename, vendor, flags):
    """(OPENBLAS_CORETYPE to set or None, why) for the kernel OpenBLAS chose by itself."""
    if corename is None:
        return None, "PyTorch does not run OpenBLAS here: nothing to choose"
    if corename.lower() in OPENBLAS_FAST_CORES:
        return None, f"OpenBLAS chose its '{corename}' kernel itself (AVX2/AVX-512): kept"
    best = best_coretype(vendor, flags)
    if best is None:
        return None, f"OpenBLAS chose '{corename}'; this CPU has no AVX2+FMA, so no faster kernel exists"
    return best, (f"OpenBLAS chose its generic '{corename}' kernel on a CPU with {cpu_isa(flags)} ({vendor or 'unknown vendor'}): "
                  f"it does not know this CPU, so the peer set OPENBLAS_CORETYPE={best}")


def torch_blas_libraries():
    """The BLAS libraries PyTorch's libtorch_cpu.so links, as the dynamic loader resolves them (ldd),
    found without importing torch (which would load OpenBLAS and fix its kernel choice)."""
    import importlib.util
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.origin:
        return []
    library = os.path.join(os.path.dirname(spec.origin), "lib", "libtorch_cpu.so")
    try:
        listing = subprocess.run(["ldd", library], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    paths = []
    for line in listing.splitlines():
        name, _, where = line.partition("=>")
        path = where.split("(")[0].strip()
        if path and ("blas" in name.lower() or "mkl" in name.lower()):
            paths.append(os.path.realpath(path))
    return paths


def openblas_identity(paths):
    """{"path", "corename", "config"} of the first of `paths` that is OpenBLAS, else None."""
    import ctypes
    for path in paths:
        try:
            library = ctypes.CDLL(path)
            corename, config = library.openblas_get_corename, library.openblas_get_config
        except (OSError, AttributeError):
            continue
        corename.restype = config.restype = ctypes.c_char_p
        return {"path": path, "corename": corename().decode(), "config": config().decode()}
    return None


def check_openblas_kernel():
    """First pass, before torch loads: which kernel would OpenBLAS choose, and must we choose for it?
    Returns the environment to add (OPENBLAS_CORETYPE when set, and the finding for the second pass).
    A user's OPENBLAS_CORETYPE is their choice: kept, recorded, never probed."""
    if os.environ.get("OPENBLAS_CORETYPE") or os.environ.get(BLAS_CHECK_VARIABLE):
        return {}
    identity = openblas_identity(torch_blas_libraries())  # loads OpenBLAS here; the exec that follows discards it
    vendor, flags = cpu_features()
    coretype, why = coretype_fix(identity and identity["corename"], vendor, flags)
    added = {BLAS_CHECK_VARIABLE: json.dumps({"probed": identity and identity["corename"], "set": coretype, "why": why})}
    if coretype:
        added["OPENBLAS_CORETYPE"] = coretype
    return added


def blas_record(torch):
    """Which BLAS and kernel this process runs f32 matmul on, read after one matmul (so every library
    is loaded): PyTorch's build settings, the libraries mapped into the process, OpenBLAS's own
    core name and build line, and why OPENBLAS_CORETYPE has the value it has."""
    torch.mm(torch.ones(64, 64), torch.ones(64, 64))
    shown = torch.__config__.show()
    build = dict(re.findall(r"\b(BLAS_INFO|LAPACK_INFO|USE_MKLDNN|USE_MKL)=([^,\s]+)", shown))
    onednn = re.search(r"MKL-DNN v([0-9.]+)", shown)
    build["mkl_available"] = bool(torch.backends.mkl.is_available())
    build["mkldnn_available"] = bool(torch.backends.mkldnn.is_available())
    build["mkldnn_version"] = onednn.group(1) if onednn else None
    build["parallel_backend"] = next((line.split(":", 1)[1].strip() for line in torch.__config__.parallel_info().splitlines()
                                      if line.startswith("ATen parallel backend")), None)
    loaded = []
    with open("/proc/self/maps") as f:
        for line in f:
            fields = line.split()
            name = os.path.basename(fields[-1]).lower() if len(fields) >= 6 else ""
            if ("blas" in name or "lapack" in name or "mkl" in name) and fields[-1] not in loaded:
                loaded.append(fields[-1])
    identity = openblas_identity(sorted(loaded, key=lambda p: "openblas" not in p))
    vendor, flags = cpu_features()
    if identity:
        library = " ".join(identity["config"].split()[:2])  # "OpenBLAS 0.3.21"
    elif any("mkl" in os.path.basename(p) for p in loaded):
        library = "MKL"
    elif any(p.endswith("libblas.so.3") for p in loaded):
        library = "reference BLAS (netlib; about 6 GFLOP/s: install libopenblas0-pthread)"
    else:
        library = f"unknown (BLAS_INFO={build.get('BLAS_INFO')})"
    corename = identity and identity["corename"]
    coretype = os.environ.get("OPENBLAS_CORETYPE")
    check = json.loads(os.environ.get(BLAS_CHECK_VARIABLE) or "null") or {}
    set_by_peer = bool(coretype) and check.get("set") == coretype
    if set_by_peer or (check and not coretype):
        why = check.get("why") or "checked before torch loaded"
    elif coretype:
        why = f"OPENBLAS_CORETYPE={coretype} was set before the peer started, the user's choice: kept"
        if best_coretype(vendor, flags) == "SkylakeX" and (corename or "").lower() in ("haswell", "zen"):
            why += " (this CPU has AVX-512: OpenBLAS's SkylakeX kernel would likely be faster)"
    else:
        why = "not checked"
    dropped = json.loads(os.environ.get(DROPPED_VARIABLE) or "null")
    if dropped:
        why = (f"{DETECT_VARIABLE}=detect: the environment's {', '.join(f'{k}={v}' for k, v in dropped.items())} dropped, "
               f"OpenBLAS chose '{corename}' itself; " + why)
    generic = bool(corename) and corename.lower() not in OPENBLAS_FAST_CORES and best_coretype(vendor, flags) is not None
    wrong = sgemm_mismatches(torch)
    if wrong:
        why += f"; WRONG RESULTS from this kernel: {wrong}"
    if generic:
        why += f"; '{corename}' is a generic kernel on a CPU with {cpu_isa(flags)}: PyTorch's GEMM is handicapped"
    return {"library": library, "path": identity["path"] if identity else (loaded[0] if loaded else None), "loaded": loaded,
            "corename": corename, "config": identity and identity["config"], "generic_kernel": generic, "exact": not wrong,
            "coretype_env": coretype, "coretype_set_by_peer": set_by_peer, "why": why, "dropped_env": dropped,
            "openblas_env": {k: v for k, v in sorted(os.environ.items()) if k.startswith("OPENBLAS_")},
            "cpu": {"vendor": vendor, "isa": cpu_isa(flags)}, "torch_build": build}


def sgemm_mismatches(torch):
    """Some OpenBLAS builds compute wrong results on CPUs they misdetect (why a workplace may set
    OPENBLAS_CORETYPE). Small integers make every f32 product exact, so any difference from the
    integer product is the kernel's fault. Returns the shapes that differ ("" when none)."""
    generator = torch.Generator().manual_seed(3)
    wrong = []
    for m, n, k in ((67, 45, 300), (256, 256, 256)):
        for trans_a in (False, True):
            for trans_b in (False, True):
                a = torch.randint(-2, 3, (k, m) if trans_a else (m, k), generator=generator)
                b = torch.randint(-2, 3, (n, k) if trans_b else (k, n), generator=generator)
                a, b = (a.t() if trans_a else a), (b.t() if trans_b else b)
                if not torch.equal(torch.mm(a.float(), b.float()), (a @ b).float()):
                    wrong.append(f"{m}x{n}x{k}{' trans_a' if trans_a else ''}{' trans_b' if trans_b else ''}")
    return ", ".join(wrong)


def set_pools_and_reexec(threads):
    """Thread-pool sizes (and OPENBLAS_CORETYPE, when OpenBLAS would fall back to a generic kernel)
    must be in the environment before torch (and OpenBLAS) load. Returns the thread-pool settings."""
    wanted = {name: str(threads) for name in POOL_VARIABLES}
    wanted["OMP_WAIT_POLICY"] = "PASSIVE"
    # PyTorch allocates a fresh tensor for every intermediate. glibc hands blocks over 32 MB to
    # mmap and gives them back on free, so each large tensor costs a page fault per 4 KiB touched
    # (about 13 us each on the workplace VM: a [20000,784] normalisation took 0.30 s instead of
    # 0.008 s). Keeping freed memory in the heap is PyTorch's equivalent of ffbench's arena.
    wanted["MALLOC_MMAP_MAX_"] = "0"
    wanted["MALLOC_TRIM_THRESHOLD_"] = str(64 << 30)
    wanted["MALLOC_TOP_PAD_"] = str(1 << 30)
    env = dict(os.environ)
    dropped_now = env.get(DETECT_VARIABLE) == "detect" and any(env.get(name) for name in PINNING)
    if dropped_now:
        env[DROPPED_VARIABLE] = json.dumps({name: env.pop(name) for name in PINNING if env.get(name)})
        os.environ.clear()
        os.environ.update(env)  # the kernel check below must see the environment OpenBLAS will get
    elif env.get(DETECT_VARIABLE) not in (None, "", "detect", "keep"):
        sys.exit(f"torch_peer: {DETECT_VARIABLE}={env[DETECT_VARIABLE]!r}: use 'detect' (let OpenBLAS choose its kernel) or 'keep'")
    added = check_openblas_kernel()
    if all(os.environ.get(k) == v for k, v in wanted.items()) and not added and not dropped_now:
        return wanted
    env.update(wanted, **added)
    os.execve(sys.executable, [sys.executable] + sys.argv, env)

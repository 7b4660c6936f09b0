#!/usr/bin/python3
"""PyTorch peers of ffbench's bp and ff: the same configurations, measured the same way.

Two uses:
  torch_peer.py --point POINT.json --out RESULT.json
      run one suite point (what `ffbench run` does for "engine": "torch"), writing the same result
      schema as ffbench's points (convergence: per-epoch test accuracy and training wall time;
      throughput: train and inference samples/s; peak RSS);
  torch_peer.py --equal-work --algorithm ff --options JSON --weights W0 --batch BATCH --steps K --out DIR
      start from an ffbench weights file, run K steps on one saved batch, write the losses and the
      updated weights (ffbench's format) for tests/peer_equal_work_test.sh.

Thread pools: PyTorch's intra-op pool, its inter-op pool and OpenBLAS's pool are all set to the
point's thread count and OMP_WAIT_POLICY=PASSIVE before torch is imported (the script re-executes
itself with that environment); the settings are recorded in the result.

BLAS: Debian's PyTorch runs f32 matmul through whatever libblas.so.3 is (OpenBLAS with
libopenblas0-pthread). OpenBLAS 0.3.21 does not know the newest CPUs and silently falls back to its
generic SSE3 'Prescott' kernel there (38-51 GFLOP/s instead of 142-188 on an Intel Xeon family 6
model 207, where oneDNN ran 176-199). So the peer records which BLAS and kernel it runs ("blas"),
sets OPENBLAS_CORETYPE to the best matching AVX2/AVX-512 kernel when OpenBLAS would fall back and
the user has not set it (a user's OPENBLAS_CORETYPE is kept and recorded), and times its own f32
GEMM on the matmul shapes of ffbench's ceiling for the same point, in the same run ("gemm": shapes
from `$FFBENCH_BIN shapes --point-file`, or the peer's own layer shapes when run by hand), so the
report can tell a slow framework from a handicapped BLAS.
Denormals: the point's "denormals" ("flush", the default, or "keep") is applied with
torch.set_flush_denormal and checked on the BLAS and OpenMP threads ("denormals" in the result).
Run with /usr/bin/python3 (Debian's python3-torch: scripts/setup.sh --with-peers).
"""
import argparse
import gzip
import json
import os
import re
import struct
import subprocess
import sys
import time

POOL_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "GOTO_NUM_THREADS")


# ---- which BLAS PyTorch runs, and which kernel ----------------------------------------------------
# OpenBLAS core names (0.3.21's DYNAMIC_ARCH list) whose SGEMM kernels use AVX2+FMA or AVX-512. Any
# other name (Prescott, Core2, Nehalem, Katmai, Sandybridge, Barcelona, ...) on a CPU with AVX2 is
# OpenBLAS not knowing the CPU: a generic kernel at a fraction of the machine's speed.
OPENBLAS_FAST_CORES = {"haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"}
# Carries the first pass's finding to the re-executed process: {"probed", "set", "why"}.
BLAS_CHECK_VARIABLE = "FFBENCH_PEER_BLAS_CHECK"


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
    generic = bool(corename) and corename.lower() not in OPENBLAS_FAST_CORES and best_coretype(vendor, flags) is not None
    wrong = sgemm_mismatches(torch)
    if wrong:
        why += f"; WRONG RESULTS from this kernel: {wrong}"
    if generic:
        why += f"; '{corename}' is a generic kernel on a CPU with {cpu_isa(flags)}: PyTorch's GEMM is handicapped"
    return {"library": library, "path": identity["path"] if identity else (loaded[0] if loaded else None), "loaded": loaded,
            "corename": corename, "config": identity and identity["config"], "generic_kernel": generic, "exact": not wrong,
            "coretype_env": coretype, "coretype_set_by_peer": set_by_peer, "why": why,
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
    added = check_openblas_kernel()
    if all(os.environ.get(k) == v for k, v in wanted.items()) and not added:
        return wanted
    env = dict(os.environ, **wanted, **added)
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def write_json_atomic(path, document):
    with open(path + ".tmp", "w") as f:
        json.dump(document, f, indent=2)
    os.replace(path + ".tmp", path)


def data_dir():
    if os.environ.get("FFBENCH_DATA"):
        return os.environ["FFBENCH_DATA"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.environ.get("HOME", "/root"), ".cache")
    return os.path.join(base, "ffbench")


def read_idx(path):
    opener = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return dims, data[4 + 4 * ndim:]


def load_dataset(name, limit_train, limit_test, standardize=False):
    import numpy as np
    import torch
    folder = {"mnist": "mnist", "fashion": "fashion"}[name]
    suffix = ".gz" if name == "fashion" else ""
    out = []
    for split, limit in (("train", limit_train), ("t10k", limit_test)):
        dims, images = read_idx(os.path.join(data_dir(), folder, f"{split}-images-idx3-ubyte{suffix}"))
        _, labels = read_idx(os.path.join(data_dir(), folder, f"{split}-labels-idx1-ubyte{suffix}"))
        x = np.frombuffer(images, dtype=np.uint8).reshape(dims[0], -1).astype(np.float32) / 255.0
        y = np.frombuffer(labels, dtype=np.uint8).astype(np.int64)
        if split == "train" and standardize:
            # ffbench's DatasetSpec::standardize: statistics of the whole train split, in double.
            mean = float(x.mean(dtype=np.float64))
            stdev = float(np.sqrt(max(0.0, float((x.astype(np.float64) ** 2).mean()) - mean * mean)))
        if standardize:
            x = (x - np.float32(mean)) * np.float32(1.0 / stdev)
        if limit:
            x, y = x[:limit], y[:limit]
        out += [torch.from_numpy(x.copy()), torch.from_numpy(y.copy())]
    return out


class Model:
    """bp or ff with ffbench's options; weights stored as ffbench does (in x out)."""

    def __init__(self, algorithm, options, sizes, classes, seed):
        import torch
        self.torch = torch
        self.algorithm = algorithm
        self.o = dict(options)
        self.k = classes
        self.sizes = sizes
        torch.manual_seed(seed)
        self.layers = []
        count = len(sizes) if algorithm == "bp" else len(sizes) - 1
        for l in range(count):
            fan_in = sizes[l]
            fan_out = sizes[l + 1] if l + 1 < len(sizes) else classes
            bound = 1.0 / fan_in ** 0.5
            w = (torch.rand(fan_in, fan_out) * 2 - 1) * bound
            b = (torch.rand(fan_out) * 2 - 1) * bound
            self.layers.append((w.requires_grad_(), b.requires_grad_()))
        self.optimizers = [self.make_optimizer([w, b], self.o["lr"]) for w, b in self.layers]
        if algorithm == "bp":
            self.optimizers = [self.make_optimizer([p for layer in self.layers for p in layer], self.o["lr"])]
            return
        self.depth = count
        self.mean = self.o.get("goodness", "sum") == "mean"
        self.rms = self.o.get("norm", "rms") == "rms"
        self.threshold = self.o.get("threshold", 1.0)
        self.classifier_on = self.o.get("classifier", True)
        self.c0 = 1 if self.o.get("classifier_skip_first", True) and count > 1 else 0
        self.g0 = 1 if self.o.get("goodness_skip_first", True) and count > 1 else 0
        if self.classifier_on:
            width = sum(sizes[l + 1] for l in range(self.c0, count))
            bound = 1.0 / width ** 0.5
            self.cw = torch.zeros(width, classes, requires_grad=True)
            self.cb = ((torch.rand(classes) * 2 - 1) * bound).requires_grad_()
            self.classifier_optimizer = self.make_optimizer([self.cw, self.cb], self.o.get("classifier_lr", 0.01))
        self.generator = torch.Generator().manual_seed(seed ^ 0x6E65676174697665)
        # Schedules: simultaneous (every layer every step) or layerwise (ffbench's: layer l trains
        # alone for layer_steps steps, or layer_epochs epochs, the layers below it run frozen).
        self.layerwise = self.o.get("schedule", "simultaneous") == "layerwise"
        self.layer_steps = int(self.o.get("layer_steps", 0))
        self.layer_epochs = int(self.o.get("layer_epochs", 1))
        self.steps_done = 0
        self.epoch = 0

    def make_optimizer(self, params, lr):
        torch = self.torch
        if self.o.get("optimizer", "sgd" if self.algorithm != "bp" else "adam") == "sgd":
            return torch.optim.SGD(params, lr=lr, momentum=self.o.get("momentum", 0.9), weight_decay=self.o.get("weight_decay", 0.0), foreach=True)
        return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=self.o.get("weight_decay", 0.0), foreach=True)

    def bp_forward(self, x):
        """ReLU hidden layers, linear output: the logits."""
        h = x
        for l, (w, b) in enumerate(self.layers):
            h = h @ w + b
            if l + 1 < len(self.layers):
                h = self.torch.relu(h)
        return h

    # ---- ff pieces ----
    def normalize(self, x):
        square = (x * x).mean(dim=1, keepdim=True) if self.rms else (x * x).sum(dim=1, keepdim=True)
        return x / (square.sqrt() + 1e-4)

    def embed(self, x, labels):
        out = x.clone()
        value = x.max(dim=1).values if self.o.get("label_from_max", False) else \
            self.torch.full((x.shape[0],), float(self.o.get("label_value", 1.0)))
        out[:, :self.k] = 0.0
        if labels is None:
            out[:, :self.k] = (value / self.k)[:, None]
        else:
            out[self.torch.arange(x.shape[0]), labels] = value
        return out

    def layer(self, l, x):
        w, b = self.layers[l]
        return self.torch.relu(self.normalize(x) @ w + b)

    def goodness(self, h):
        return (h * h).mean(dim=1) if self.mean else (h * h).sum(dim=1)

    def classifier_logits(self, x):
        torch = self.torch
        features = []
        h = self.embed(x, None)
        with torch.no_grad():
            for l in range(self.depth):
                h = self.layer(l, h)
                if l >= self.c0:
                    features.append(self.normalize(h))
        return torch.cat(features, dim=1) @ self.cw + self.cb

    def train_step(self, x, y):
        torch = self.torch
        if self.algorithm == "bp":
            loss = torch.nn.functional.cross_entropy(self.bp_forward(x), y)
            self.optimizers[0].zero_grad()
            loss.backward()
            self.optimizers[0].step()
            return float(loss)
        probs = None
        if self.classifier_on:
            logits = self.classifier_logits(x)
            closs = torch.nn.functional.cross_entropy(logits, y)
            self.classifier_optimizer.zero_grad()
            closs.backward()
            probs = torch.softmax(logits.detach(), dim=1)
            self.classifier_optimizer.step()
        if self.o.get("negatives", "uniform") == "hard":
            masked = probs.clone()
            masked[torch.arange(x.shape[0]), y] = -1.0
            negatives = masked.argmax(dim=1)
        else:
            negatives = (y + torch.randint(1, self.k, y.shape, generator=self.generator)) % self.k
        h = torch.cat([self.embed(x, y), self.embed(x, negatives)])
        total = 0.0
        batch = x.shape[0]
        self.steps_done += 1
        trained = -1
        if self.layerwise:
            trained = (self.steps_done - 1) // self.layer_steps if self.layer_steps > 0 else self.epoch // self.layer_epochs
            trained = min(self.depth - 1, trained)
        for l in range(self.depth):
            if trained >= 0 and l > trained:
                break
            h = h.detach()
            if trained >= 0 and l < trained:
                with torch.no_grad():
                    h = self.layer(l, h)
                continue
            out = self.layer(l, h)
            g = self.goodness(out)
            theta = self.threshold if self.mean else self.threshold * out.shape[1]
            loss = self.pair_loss(g, batch, theta)
            self.optimizers[l].zero_grad()
            loss.backward()
            self.optimizers[l].step()
            total += float(loss)
            h = out
        return total

    def pair_loss(self, g, batch, theta):
        torch = self.torch
        if self.algorithm == "ff_symba":
            return torch.nn.functional.softplus(-self.o.get("alpha", 4.0) * (g[:batch] - g[batch:])).mean()
        return torch.nn.functional.softplus(torch.cat([theta - g[:batch], g[batch:] - theta])).mean()

    def modes(self):
        if self.algorithm == "bp":
            return ["softmax"]
        return ["goodness", "softmax"] if self.classifier_on else ["goodness"]

    def scores(self, x, mode):
        torch = self.torch
        with torch.no_grad():
            if self.algorithm == "bp":
                return self.bp_forward(x)
            if mode == "softmax":
                return self.classifier_logits(x)
            batch = x.shape[0]
            # All K labels as one K*B batch per layer (the plain way: no shared first-layer product).
            h = torch.cat([self.embed(x, torch.full((batch,), c, dtype=torch.long)) for c in range(self.k)])
            total = torch.zeros(self.k * batch)
            for l in range(self.depth):
                h = self.layer(l, h)
                if l >= self.g0:
                    total += self.goodness(h)
            return total.view(self.k, batch).t()

    def flops(self, phase, mode):
        macs = [self.sizes[l] * (self.sizes[l + 1] if l + 1 < len(self.sizes) else self.k) for l in range(len(self.layers))]
        if self.algorithm == "bp":
            forward = 2.0 * sum(macs)
            return forward if phase == "inference" else 2 * forward + 2.0 * sum(macs[1:])
        classifier = sum(self.sizes[l + 1] for l in range(self.c0, self.depth)) * self.k if self.classifier_on else 0
        neutral = 2.0 * sum(macs)
        if phase == "inference":
            return neutral + 2.0 * classifier if mode == "softmax" else self.k * neutral
        return 8.0 * sum(macs) + ((neutral + 4.0 * classifier) if self.classifier_on else 0.0)

    def gemm_shapes(self, batch):
        """The matmuls one training step runs here (the simultaneous schedule), in ffbench's terms:
        C[m,n] = op(A)[m,k] op(B)[k,n], row-major; weights are in x out, so the forward is x @ w,
        dW = x^T @ dY (trans_a) and dX = dY @ w^T (trans_b). Their FLOPs are flops("train") * batch."""
        counts = {}
        def add(m, n, k, trans_a=False, trans_b=False):
            counts[(m, n, k, trans_a, trans_b)] = counts.get((m, n, k, trans_a, trans_b), 0) + 1
        fans = [(self.sizes[l], self.sizes[l + 1] if l + 1 < len(self.sizes) else self.k) for l in range(len(self.layers))]
        if self.algorithm == "bp":
            for l, (fan_in, fan_out) in enumerate(fans):
                add(batch, fan_out, fan_in)
                add(fan_in, fan_out, batch, trans_a=True)
                if l > 0:  # the input needs no gradient
                    add(batch, fan_in, fan_out, trans_b=True)
        else:
            if self.classifier_on:
                for fan_in, fan_out in fans:  # the neutral-label pass that makes the classifier's features
                    add(batch, fan_out, fan_in)
                width = self.cw.shape[0]
                add(batch, self.k, width)
                add(width, self.k, batch, trans_a=True)
            for fan_in, fan_out in fans:  # positives and negatives as one batch; inputs are detached
                add(2 * batch, fan_out, fan_in)
                add(fan_in, fan_out, 2 * batch, trans_a=True)
        return [{"m": m, "n": n, "k": k, "trans_a": ta, "trans_b": tb, "runs_per_step": runs}
                for (m, n, k, ta, tb), runs in counts.items()]


# ---- the peer's own GEMM rate, on the shapes of ffbench's ceiling ---------------------------------
def ffbench_shapes(point_path):
    """(shapes, None) from `$FFBENCH_BIN shapes --point-file POINT` (what `ffbench run` passes), or
    (None, why not)."""
    binary = os.environ.get("FFBENCH_BIN")
    if not binary:
        return None, "FFBENCH_BIN is not set (the peer was run by hand, not by 'ffbench run')"
    if not point_path:
        return None, "no point file to give 'ffbench shapes'"
    try:
        done = subprocess.run([binary, "shapes", "--point-file", point_path], capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.SubprocessError) as error:
        return None, f"{binary} shapes could not run: {error}"
    if done.returncode != 0:
        return None, f"{binary} shapes failed (exit {done.returncode}): {done.stderr.strip()[-300:]}"
    try:
        lines = [line for line in done.stdout.splitlines() if line.strip().startswith("{")]
        shapes = json.loads(lines[-1])["shapes"]
        for shape in shapes:
            for field in ("m", "n", "k"):
                if not isinstance(shape[field], int) or shape[field] <= 0:
                    raise ValueError(f"{field}={shape[field]!r}")
        if not shapes:
            raise ValueError("no shapes")
    except (IndexError, KeyError, TypeError, ValueError) as error:
        return None, f"{binary} shapes printed no usable shapes ({error!r}): {done.stdout.strip()[:200]}"
    return shapes, None


def measure_gemm(torch, shapes, timings):
    """f32 torch.mm on each shape (transposes as .t() views: ffbench's strides), measured as ffbench
    measures its ceiling (bench/harness/point.cpp): one warm-up call, enough calls for about 20 ms
    per timing, the fastest of `timings`. Total: FLOPs over time, weighted by runs_per_step."""
    measured, total_flops, total_seconds = [], 0.0, 0.0
    for shape in shapes:
        m, n, k = shape["m"], shape["n"], shape["k"]
        trans_a, trans_b = bool(shape.get("trans_a")), bool(shape.get("trans_b"))
        a = torch.rand(k, m) if trans_a else torch.rand(m, k)
        b = (torch.rand(n, k) if trans_b else torch.rand(k, n)) - 0.5
        a, b = (a.t() if trans_a else a), (b.t() if trans_b else b)
        c = torch.empty(m, n)
        torch.mm(a, b, out=c)
        start = time.perf_counter()
        torch.mm(a, b, out=c)
        calls = max(1, int(0.02 / max(time.perf_counter() - start, 1e-6)))
        seconds = float("inf")
        for _ in range(timings):
            start = time.perf_counter()
            for _ in range(calls):
                torch.mm(a, b, out=c)
            seconds = min(seconds, (time.perf_counter() - start) / calls)
        flops = 2.0 * m * n * k
        runs = int(shape.get("runs_per_step", 1))
        measured.append(dict(shape, gflops=flops / seconds * 1e-9))
        total_flops += flops * runs
        total_seconds += seconds * runs
    return {"shapes": measured, "gflops": total_flops / total_seconds * 1e-9 if total_seconds > 0 else 0.0,
            "precision": "f32", "timings": timings}


def point_gemm(torch, point_path, model, batch, timings):
    """The peer's GEMM rate on the shapes of ffbench's ceiling for this point (its own when run by hand)."""
    shapes, why = ffbench_shapes(point_path)
    source = "ffbench shapes"
    if shapes is None:
        shapes, source = model.gemm_shapes(batch), "peer's own layer shapes"
    gemm = measure_gemm(torch, shapes, timings)
    gemm["source"] = source
    if why:
        gemm["why_not_ffbench_shapes"] = why
    return gemm


# ---- denormals (issue 17) -------------------------------------------------------------------------
def set_denormals(torch, setting):
    """flush: FTZ/DAZ (subnormal floats become 0, as ffbench's default); keep: IEEE subnormals. Then
    checks that it holds where the work runs: a product of subnormals on OpenBLAS's threads (it passes
    the caller's MXCSR to them) and an elementwise op on PyTorch's OpenMP threads."""
    if setting not in ("flush", "keep"):
        raise ValueError(f"denormals '{setting}': use 'flush' (FTZ/DAZ on, the default) or 'keep' (IEEE subnormals)")
    supported = torch.set_flush_denormal(setting == "flush")
    # 1000 * 2^-149, a subnormal, made from its bits: a conversion from a literal would itself flush.
    tiny = torch.full((512, 512), 1000, dtype=torch.int32).view(torch.float32)
    product = torch.mm(tiny, torch.ones(512, 512))
    scaled = torch.full((1 << 18,), 1000, dtype=torch.int32).view(torch.float32) * 0.5
    if setting == "flush":
        holds = bool((product == 0).all()) and bool((scaled == 0).all())
    else:
        holds = bool((product != 0).all()) and bool((scaled != 0).all())
    return {"setting": setting, "supported": bool(supported), "all_threads": holds}


def peak_rss():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run_point(point, pools, point_path=None):
    import torch
    torch.set_num_threads(point["threads"])
    torch.set_num_interop_threads(1)
    denormals = set_denormals(torch, point.get("denormals", "flush"))  # before any pool runs work
    result = {"schema_version": 1, "id": point["id"], "point": point, "engine": "torch", "threads": point["threads"],
              "torch_version": torch.__version__, "blas": blas_record(torch), "denormals": denormals,
              "thread_pools": dict(pools, torch_threads=torch.get_num_threads(),
                                                                       torch_interop_threads=torch.get_num_interop_threads())}
    algorithm = point["algorithm"]
    options = point["options"]
    unsupported = [k for k in options if k in ("peer_normalization", "schedule")
                   and options[k] not in (0, 0.0, "simultaneous", "layerwise")]
    if algorithm not in ("bp", "ff", "ff_symba") or unsupported:
        return dict(result, status="skipped", detail=f"the PyTorch peer does not implement {algorithm} {unsupported}")
    if point["dataset"] == "synthetic":
        return dict(result, status="skipped", detail="the synthetic dataset is generated inside ffbench; the PyTorch peer runs on mnist or fashion")
    sizes = [784] + point["hidden"]
    model = Model(algorithm, options, sizes, 10, point["seed"])
    result["model"] = "[" + ",".join(map(str, sizes)) + "]->10"
    result["modes"] = model.modes()
    result["flops_per_sample"] = {"train": model.flops("train", None),
                                  "inference": {m: model.flops("inference", m) for m in model.modes()}}
    batch = point["batch"]
    # Beside the training figures, the rate of the BLAS itself on the shapes ffbench's ceiling uses:
    # a framework ratio means little when one side's GEMM runs a fallback kernel. Cheaper (3 timings)
    # once per convergence point.
    result["gemm"] = point_gemm(torch, point_path, model, batch, 7 if point["measure"] == "throughput" else 3)
    if point["measure"] == "throughput":
        generator = torch.Generator().manual_seed(point["seed"])
        xs = torch.rand(8, batch, 784, generator=generator)
        ys = torch.randint(0, 10, (8, batch), generator=generator)
        for i in range(point["warmup"] + 1):
            model.train_step(xs[i % 8], ys[i % 8])
        rates = []
        for r in range(point["repeats"]):
            start = time.perf_counter()
            for s in range(point["steps"]):
                model.train_step(xs[s % 8], ys[s % 8])
            rates.append(point["steps"] * batch / (time.perf_counter() - start))
        rates_sorted = sorted(rates)
        result["train"] = {"samples_per_s": rates, "samples_per_s_median": rates_sorted[len(rates) // 2],
                           "samples_per_s_min": rates_sorted[0], "samples_per_s_max": rates_sorted[-1]}
        result["inference"] = {}
        for mode in model.modes():
            model.scores(xs[0], mode)
            mode_rates = []
            for r in range(point["repeats"]):
                start = time.perf_counter()
                for s in range(point["steps"]):
                    model.scores(xs[s % 8], mode)
                mode_rates.append(point["steps"] * batch / (time.perf_counter() - start))
            result["inference"][mode] = {"samples_per_s": mode_rates, "samples_per_s_median": sorted(mode_rates)[len(mode_rates) // 2]}
    else:
        x_train, y_train, x_test, y_test = load_dataset(point["dataset"], point["limit_train"], point["limit_test"],
                                                        point.get("standardize", False))
        eval_every = point.get("eval_every", 1)
        result["train_samples"], result["test_samples"] = len(y_train), len(y_test)
        generator = torch.Generator().manual_seed(point["seed"] * 7919 + 17)
        epochs, train_seconds = [], 0.0
        steps_done, last_note = 0, time.perf_counter()
        for epoch in range(point["epochs"]):
            model.epoch = epoch
            order = torch.randperm(len(y_train), generator=generator)
            losses = []
            start = time.perf_counter()
            for i in range(len(y_train) // batch):
                index = order[i * batch:(i + 1) * batch]
                losses.append(model.train_step(x_train[index], y_train[index]))
                steps_done += 1
                if time.perf_counter() - last_note >= 30.0:  # progress for long runs, in the point's .stderr
                    last_note = time.perf_counter()
                    print(f"step {steps_done}: {train_seconds + last_note - start:.1f} s of training", file=sys.stderr, flush=True)
            epoch_seconds = time.perf_counter() - start
            train_seconds += epoch_seconds
            loss = sum(losses) / max(len(losses), 1)
            if loss != loss or loss in (float("inf"), float("-inf")):
                epochs.append({"epoch": epoch + 1, "train_loss": loss, "train_seconds": train_seconds})
                result.update(status="diverged", detail=f"loss {loss} in epoch {epoch + 1}", epochs=epochs)
                return result
            last = epoch + 1 == point["epochs"] or (point.get("time_budget_s", 0) and train_seconds >= point["time_budget_s"])
            if not last and (epoch + 1) % eval_every:
                continue  # as ffbench: an epoch without evaluation is not recorded
            eval_start = time.perf_counter()
            record = {"epoch": epoch + 1, "train_loss": loss, "train_seconds": train_seconds, "epoch_seconds": epoch_seconds,
                      "samples_per_second": len(losses) * batch / epoch_seconds, "test_accuracy": {}, "test_loss": {}}
            for mode in model.modes():
                correct, nll = 0, 0.0
                for i in range(0, len(y_test), batch):
                    s = model.scores(x_test[i:i + batch], mode)
                    correct += int((s.argmax(dim=1) == y_test[i:i + batch]).sum())
                    nll += float(torch.nn.functional.cross_entropy(s, y_test[i:i + batch], reduction="sum"))
                record["test_accuracy"][mode] = correct / len(y_test)
                record["test_loss"][mode] = nll / len(y_test)
            record["eval_seconds"] = time.perf_counter() - eval_start
            epochs.append(record)
            if point.get("time_budget_s", 0) and train_seconds >= point["time_budget_s"]:
                break
        result["epochs"] = epochs
        result["final_accuracy"] = epochs[-1]["test_accuracy"]
        result["time_to_target"] = {m: {f"{t:.4g}": next(({"epoch": e["epoch"], "seconds": e["train_seconds"]} for e in epochs
                                                          if e["test_accuracy"][m] >= t), None) for t in point.get("targets", [])}
                                    for m in model.modes()}
    result["memory"] = {"peak_rss": peak_rss()}
    result["status"] = "ok"
    return result


# ---- equal work with ffbench: its weights file format (algorithms/README.md) ----
def read_weights(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b"FFBW", f"{path}: not an ffbench weights file"
    pos = 8
    def text():
        nonlocal pos
        (n,) = struct.unpack_from("<I", data, pos)
        pos += 4
        s = data[pos:pos + n].decode()
        pos += n
        return s
    algorithm, spec = text(), json.loads(text())
    (count,) = struct.unpack_from("<I", data, pos)
    pos += 4
    buffers = {}
    for _ in range(count):
        name = text()
        (floats,) = struct.unpack_from("<Q", data, pos)
        pos += 8
        buffers[name] = list(struct.unpack_from(f"<{floats}f", data, pos))
        pos += 4 * floats
    return algorithm, spec, buffers


def equal_work(args):
    import torch
    torch.set_num_threads(1)
    denormals = set_denormals(torch, args.denormals)
    algorithm, spec, buffers = read_weights(args.weights)
    options = json.loads(args.options)
    sizes = [spec["input"]] + spec["hidden"]
    model = Model(args.algorithm, options, sizes, spec["classes"], 1)
    with torch.no_grad():
        for l, (w, b) in enumerate(model.layers):
            w.copy_(torch.tensor(buffers[f"layer{l}.weight"]).view_as(w))
            b.copy_(torch.tensor(buffers[f"layer{l}.bias"]))
        if args.algorithm != "bp" and model.classifier_on:
            model.cw.copy_(torch.tensor(buffers["classifier.weight"]).view_as(model.cw))
            model.cb.copy_(torch.tensor(buffers["classifier.bias"]))
    with open(args.batch, "rb") as f:
        raw = f.read()
    rows, d = struct.unpack_from("<qq", raw, 0)
    x = torch.tensor(struct.unpack_from(f"<{rows * d}f", raw, 16)).view(rows, d)
    y = torch.tensor(struct.unpack_from(f"<{rows}i", raw, 16 + 4 * rows * d), dtype=torch.long)
    losses = [model.train_step(x, y) for _ in range(args.steps)]
    weights = {}
    for l, (w, b) in enumerate(model.layers):
        weights[f"layer{l}.weight"] = w.detach().flatten().tolist()
        weights[f"layer{l}.bias"] = b.detach().flatten().tolist()
    write_json_atomic(args.out, {"losses": losses, "weights": weights, "blas": blas_record(torch), "denormals": denormals})


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--point", help="suite point file (JSON) written by ffbench run")
    parser.add_argument("--out", required=True, help="result file (JSON)")
    parser.add_argument("--equal-work", action="store_true", help="run K steps from an ffbench weights file on one batch")
    parser.add_argument("--algorithm", default="ff")
    parser.add_argument("--options", default="{}")
    parser.add_argument("--weights")
    parser.add_argument("--batch")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--denormals", default="flush", choices=("flush", "keep"),
                        help="with --equal-work: flush (FTZ/DAZ, ffbench's default) or keep (IEEE subnormals)")
    args = parser.parse_args()
    if args.equal_work:
        set_pools_and_reexec(1)
        return equal_work(args)
    if not args.point:
        parser.error("give --point (a suite point) or --equal-work")
    with open(args.point) as f:
        point = json.load(f)
    pools = set_pools_and_reexec(point["threads"])
    try:
        import torch  # noqa: F401
    except ImportError:
        write_json_atomic(args.out, {"schema_version": 1, "id": point["id"], "point": point, "status": "skipped",
                                     "detail": "PyTorch is not installed: scripts/setup.sh --with-peers installs python3-torch"})
        print(f"{point['id']}: skipped (PyTorch is not installed; scripts/setup.sh --with-peers)")
        return 0
    started = time.perf_counter()
    try:
        result = run_point(point, pools, args.point)
    except Exception as error:  # recorded, so the sweep goes on
        result = {"schema_version": 1, "id": point["id"], "point": point, "status": "failed", "detail": repr(error)}
    result["wall_seconds"] = time.perf_counter() - started
    write_json_atomic(args.out, result)
    summary = ""
    if result.get("final_accuracy"):
        summary = " ".join(f"{m} {100 * a:.2f}%" for m, a in result["final_accuracy"].items())
    if result.get("train"):
        summary = f"train {result['train']['samples_per_s_median']:.0f} samples/s"
    print(f"{point['id']} {result['status']} in {result['wall_seconds']:.1f}s {summary}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

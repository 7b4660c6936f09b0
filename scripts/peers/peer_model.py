"""The PyTorch peer's data loading and its bp / ff model with ffbench's options (scripts/peers/torch_peer.py)."""
import gzip
import json
import os
import struct


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
            decay = self.o.get("classifier_weight_decay", -1.0)
            self.classifier_optimizer = self.make_optimizer([self.cw, self.cb], self.o.get("classifier_lr", 0.01),
                                                            None if decay < 0 else decay)
        self.generator = torch.Generator().manual_seed(seed ^ 0x6E65676174697665)
        # Schedules: simultaneous (every layer every step) or layerwise (ffbench's: layer l trains
        # alone for layer_steps steps, or layer_epochs epochs, the layers below it run frozen).
        self.layerwise = self.o.get("schedule", "simultaneous") == "layerwise"
        self.layer_steps = int(self.o.get("layer_steps", 0))
        self.layer_epochs = int(self.o.get("layer_epochs", 1))
        self.steps_done = 0
        self.epoch = 0

    def make_optimizer(self, params, lr, weight_decay=None):
        torch = self.torch
        decay = self.o.get("weight_decay", 0.0) if weight_decay is None else weight_decay
        if self.o.get("optimizer", "sgd" if self.algorithm != "bp" else "adam") == "sgd":
            return torch.optim.SGD(params, lr=lr, momentum=self.o.get("momentum", 0.9), weight_decay=decay, foreach=True)
        return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=decay, foreach=True)

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
        negatives_option = self.o.get("negatives", "auto")
        if negatives_option == "hard" or (negatives_option == "auto" and self.o.get("classifier", True)):
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

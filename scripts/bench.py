"""Benchmark of the exact engines (not a test): regions, in-call seconds (median of 5 runs for
runs under 3 s), regions/s, LP and QP solves per region, peak memory, and speed-up with 1 and 2
worker processes.

Nets: seeded He-normal weights, biases N(0, 0.5^2), float64, one output; the speed workloads of
issue 10 use the nets of ``data/speed/`` (copied from the issue's reference material, with the
public exact counters' in-call seconds on them in ``peers.json``: the ``peer s`` column is the
fastest of them, ``ratio`` ours / theirs). Each workload runs in a fresh process (so its peak RSS
is its own), single-threaded BLAS. ``cli-2d-64x64-box-process`` is the whole ``exactregions
count`` process (start-up, imports, loading, counting), median of 5.
``--sweeps``: the sweep workloads (whole ``exactregions sweep`` processes) and where a tiny
count's time goes (:func:`run_sweeps`, :func:`sweep_overhead`).
Usage: python scripts/bench.py [--quick] [--only NAME,...] [--json out.json] [--sweeps]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from exactregions import Ball, Box, Plane, count_regions, load_model  # noqa: E402
from exactregions.network import random_network  # noqa: E402
from training import fit  # noqa: E402  (scripts/training.py)

SPEED = ROOT / "data" / "speed"
PEERS = json.loads((SPEED / "peers.json").read_text())
CENTRE = np.array(PEERS["centre"])


def _disc(d):
    return Ball([0.1, -0.2] + [0.0] * (d - 2), 0.7)


def _image(r):
    return lambda d: Ball(np.load(SPEED / "d784_center.npy").ravel(), r)


def _lenet_plane(name="lenet", **kw):
    """The plane through three training images of ``data/speed/<name>_plane.npy`` (issue 11)."""
    return lambda d: Plane(*np.load(SPEED / f"{name}_plane.npy"), **kw)


def _peer(net_file, kind, size):
    """The fastest public counter's seconds on this workload of peers.json (None if none ran)."""
    for w in PEERS["workloads"]:
        dom = w["domain"]
        if w["net"] == net_file and kind in dom and (dom[kind] == size if kind == "box" else dom[kind]["radius"] == size):
            times = [v for k, v in w["seconds"].items() if "under_load" not in k]
            return min(times) if times else None
    return None


# name: (input dim and widths, or a net file of data/speed; domain maker, engine, workers, keep
# regions[, options: subdivision kernel, reduce])
WORKLOADS = {
    "bfs-2d-32x32x32-box": (2, [32, 32, 32], lambda d: Box(-1, 1, dim=d), "bfs", 1, True),
    "bfs-2d-32x32x32-disc": (2, [32, 32, 32], _disc, "bfs", 1, True),
    "bfs-4d-16x16-box": (4, [16, 16], lambda d: Box(-1, 1, dim=d), "bfs", 1, True),
    "bfs-16d-32x32-ball-r0.2": (16, [32, 32], lambda d: Ball(np.full(d, 0.1), 0.2), "bfs", 1, True),
    "bfs-64d-32x32-ball-r0.15": (64, [32, 32], lambda d: Ball(np.full(d, 0.1), 0.15), "bfs", 1, True),
    "sub-2d-32x32x32-box": (2, [32, 32, 32], lambda d: Box(-1, 1, dim=d), "subdivision", 1, False),
    "sub-2d-64x64-box": (2, [64, 64], lambda d: Box(-1, 1, dim=d), "subdivision", 1, False),
    "sub-2d-128x128-box": (2, [128, 128], lambda d: Box(-1, 1, dim=d), "subdivision", 1, False),
    "sub-4d-16x16-box": (4, [16, 16], lambda d: Box(-1, 1, dim=d), "subdivision", 1, False),
    "sub-4d-32x32-box": (4, [32, 32], lambda d: Box(-1, 1, dim=d), "subdivision", 1, False),
    "sub-5d-16x16-box": (5, [16, 16], lambda d: Box(-1, 1, dim=d), "subdivision", 1, False),
    "sub-5d-16x16-box-numpy": (5, [16, 16], lambda d: Box(-1, 1, dim=d), "subdivision", 1, False,
                               {"kernel": "numpy"}),
    "sub-4d-32x32-box-numpy": (4, [32, 32], lambda d: Box(-1, 1, dim=d), "subdivision", 1, False,
                               {"kernel": "numpy"}),
    "sub-2d-64x64-disc": (2, [64, 64], _disc, "subdivision", 1, False),
    "sub-2d-64x64-disc-bbox": (2, [64, 64], lambda d: Box([-0.6, -0.9], [0.8, 0.5]), "subdivision", 1, False),
    "sub-4d-32x32-box-2workers": (4, [32, 32], lambda d: Box(-1, 1, dim=d), "subdivision", 2, False),
    "sub-5d-32x32-box": (5, [32, 32], lambda d: Box(-1, 1, dim=d), "subdivision", 1, False),
    "sub-5d-32x32-box-2workers": (5, [32, 32], lambda d: Box(-1, 1, dim=d), "subdivision", 2, False),
    # issue 10: the public counters' workloads (engine="auto", as a user runs them)
    "auto-6d-12x12-ball-r0.9": ("d6_12x12.npz", None, lambda d: Ball(CENTRE[:d], 0.9), "auto", 1, False),
    "auto-8d-16x16-box": ("d8_16x16.npz", None, lambda d: Box(-0.2, 0.2, dim=d), "auto", 1, False),
    "auto-10d-12x12-box": ("d10_12x12.npz", None, lambda d: Box(-0.3, 0.3, dim=d), "auto", 1, False),
    "auto-8d-16x16-ball-r0.5": ("d8_16x16.npz", None, lambda d: Ball(CENTRE[:d], 0.5), "auto", 1, False),
    "auto-10d-12x12-ball-r0.5": ("d10_12x12.npz", None, lambda d: Ball(CENTRE[:d], 0.5), "auto", 1, False),
    "auto-784d-32x32-digits-ball-r0.3": ("d784_32x32_digits.npz", None, _image(0.3), "auto", 1, False),
    "auto-784d-32x32-digits-ball-r1.0": ("d784_32x32_digits.npz", None, _image(1.0), "auto", 1, False),
    "auto-784d-64x64-digits-ball-r0.45": ("d784_64x64_digits.npz", None, _image(0.45), "auto", 1, False),
    "auto-784d-64x64-digits-ball-r0.52": ("d784_64x64_digits.npz", None, _image(0.52), "auto", 1, False),
    # issue 10: 12, 16, 32 and 64 dimensions, boxes and balls
    "auto-12d-16x16-box": (12, [16, 16], lambda d: Box(-0.15, 0.15, dim=d), "auto", 1, False),
    "auto-12d-16x16-ball-r0.3": (12, [16, 16], lambda d: Ball(np.full(d, 0.05), 0.3), "auto", 1, False),
    "auto-16d-32x32-ball-r0.2": (16, [32, 32], lambda d: Ball(np.full(d, 0.1), 0.2), "auto", 1, False),
    "auto-32d-32x32-ball-r0.2": (32, [32, 32], lambda d: Ball(np.full(d, 0.05), 0.2), "auto", 1, False),
    "auto-64d-32x32-ball-r0.15": (64, [32, 32], lambda d: Ball(np.full(d, 0.1), 0.15), "auto", 1, False),
    "bfs-64d-32x32-ball-r0.15-unreduced": (64, [32, 32], lambda d: Ball(np.full(d, 0.1), 0.15), "bfs", 1, False,
                                           {"reduce": False}),
}
WORKLOADS.update({
    # issue 11: 2-D inputs and plane slices of convolutional nets (the planar walk)
    "planar-2d-64x64-box": (2, [64, 64], lambda d: Box(-1, 1, dim=d), "planar", 1, False),
    "planar-2d-128x128-box": (2, [128, 128], lambda d: Box(-1, 1, dim=d), "planar", 1, False),
    "planar-2d-64x64-disc": (2, [64, 64], _disc, "planar", 1, False),
    "auto-lenet-plane-box": ("lenet_digits.onnx", None, _lenet_plane(), "auto", 1, False),
    "auto-lenet-plane-parallelogram": ("lenet_digits.onnx", None, _lenet_plane(parallelogram=True), "auto", 1, False),
    "auto-lenet-plane-disc-r1.5-decision": ("lenet_digits.onnx", None, _lenet_plane(radius=1.5), "auto", 1, False,
                                            {"decision": True}),
    "auto-lenet-maxpool-plane-disc-r0.5": ("lenet-max_digits.onnx", None, _lenet_plane("lenet-max", radius=0.5),
                                           "auto", 1, False),
    # a CIFAR-sized net (3x32x32, three conv layers, 26,688 units: scripts/train_lenet.py cifar)
    "auto-cifar-plane-disc-r0.5": ("cifar_digits.onnx", None, _lenet_plane("cifar", radius=0.5), "auto", 1, False),
    "auto-cifar-plane-disc-r1.0": ("cifar_digits.onnx", None, _lenet_plane("cifar", radius=1.0), "auto", 1, False),
    "auto-cifar-plane-disc-r2.0": ("cifar_digits.onnx", None, _lenet_plane("cifar", radius=2.0), "auto", 1, False),
    # the planar walk in two threads over pieces of the domain (cut along first-layer lines)
    "auto-lenet-plane-box-2threads": ("lenet_digits.onnx", None, _lenet_plane(), "auto", 2, False),
    "auto-cifar-plane-disc-r2.0-2threads": ("cifar_digits.onnx", None, _lenet_plane("cifar", radius=2.0), "auto", 2,
                                            False),
    "auto-cifar-plane-parallelogram": ("cifar_digits.onnx", None, _lenet_plane("cifar", parallelogram=True), "auto",
                                       1, False),
    "auto-cifar-plane-parallelogram-2threads": ("cifar_digits.onnx", None, _lenet_plane("cifar", parallelogram=True),
                                                "auto", 2, False),
})
QUICK = ["bfs-2d-32x32x32-box", "sub-2d-32x32x32-box", "sub-4d-16x16-box"]


def run_one(name):
    """One workload; runs under 3 s are repeated five times and the median is reported. A tiny
    count first loads the compiled kernel (numba's cache; compiled on the very first run),
    reported apart as ``kernel_load_s``: the peers' figures are in-call times too."""
    d, widths, dom, engine, workers, keep, *extra = WORKLOADS[name]
    opts = dict(extra[0]) if extra else {}
    net = load_model(SPEED / d) if isinstance(d, str) else random_network(d, widths, 0)
    domain = dom(net.input_dim)
    t = time.perf_counter()
    from exactregions.engines.subdivision import resolve_kernel

    kernel = resolve_kernel(opts.get("kernel", "auto"))  # loads (or compiles) the compiled kernel
    count_regions(random_network(2, [2], 0), Box(-1, 1, dim=2), engine="subdivision", kernel=kernel)
    if engine in ("planar", "auto"):
        count_regions(random_network(2, [2], 0), Box(-1, 1, dim=2), engine="planar")  # its kernel too
    if engine in ("bfs", "auto"):  # the BFS's compiled rays and certificates (from 6-D on)
        count_regions(random_network(6, [2], 0), Box(-1, 1, dim=6), engine="bfs", kernel=kernel)
    load = time.perf_counter() - t
    times = []
    while True:
        t = time.perf_counter()
        res = count_regions(net, domain, engine=engine, workers=workers, keep_regions=keep, **opts)
        times.append(time.perf_counter() - t)
        if times[0] >= 3.0 or len(times) == 5:
            break
    sec = float(np.median(times))
    n = res.activation_regions
    peer = _peer(d, "box" if isinstance(domain, Box) else "ball",
                 [float(domain.lo[0]), float(domain.hi[0])] if isinstance(domain, Box) else domain.radius) \
        if isinstance(d, str) else None
    red = res.stats.get("reduction")
    return {"workload": name, "regions": n, "complete": res.complete, "seconds": round(sec, 3),
            "engine": res.stats.get("engine", "bfs"), "dims": f"{net.input_dim}" + (f"->{red['reduced_dim']}" if red else ""),
            "peer_s": peer, "ratio": round(sec / peer, 3) if peer else None,
            "regions_per_s": round(n / sec), "lp_per_region": round(res.stats["lp_solves"] / n, 3),
            "qp_per_region": round(res.stats["qp_solves"] / n, 4), "workers": workers,
            "kernel": res.stats.get("kernel", ""),
            "kernel_load_s": round(load, 2) if res.stats.get("kernel") == "numba" or res.stats.get("engine") == "planar" else "",
            "peak_rss_MiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "worker_peak_rss_MiB": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024) or ""}


CLI_ROW = "cli-2d-64x64-box-process"


def run_cli_process(repeats=5):
    """The whole ``exactregions count`` process on the 2-D [64,64] box (start-up included)."""
    import tempfile

    from exactregions.io import save_npz

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "net.npz"
        save_npz(random_network(2, [64, 64], 0), path)
        exe = Path(sys.executable).parent / "exactregions"
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            out = subprocess.run([str(exe), "count", str(path), "--box", "-1", "1", "--json", "--quiet"],
                                 capture_output=True, text=True, check=True)
            times.append(time.perf_counter() - t)
    res = json.loads(out.stdout)
    sec = float(np.median(times))
    return {"workload": CLI_ROW, "engine": res["engine"], "dims": "2", "regions": res["activation_regions"],
            "complete": res["complete"], "seconds": round(sec, 3), "regions_per_s": round(res["activation_regions"] / sec),
            "lp_per_region": 0, "qp_per_region": 0, "workers": 1, "kernel": res["stats"].get("kernel", ""),
            "kernel_load_s": "", "peak_rss_MiB": ""}


def digits_conv_net(seed=0, epochs=3):
    """A small conv net trained briefly on scikit-learn's 8x8 digits (pixels / 16)."""
    import torch
    import torch.nn as nn
    from sklearn.datasets import load_digits

    from exactregions.io.torch import from_torch

    X, y = load_digits(return_X_y=True)
    X = torch.as_tensor(X / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    y = torch.as_tensor(y)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
                          nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(epochs):
        for i in range(0, len(X), 64):
            opt.zero_grad()
            nn.functional.cross_entropy(model(X[i:i + 64]), y[i:i + 64]).backward()
            opt.step()
    return from_torch(model.eval(), input_shape=(1, 8, 8)), X.reshape(len(X), -1).double().numpy()


def digits_mlp(seed=0, epochs=20):
    """A 64-D digits MLP with the recipe of scripts/experiments.py (8x8 pixels / 16, [32,32], Adam
    lr 0.01, batches of 32, 20 epochs), trained on all 1,797 images (the experiment trains on a
    70% split), and the images."""
    import torch
    import torch.nn as nn
    from sklearn.datasets import load_digits

    from exactregions.io.torch import from_torch

    X, y = load_digits(return_X_y=True)
    X, y = torch.as_tensor(X / 16.0), torch.as_tensor(y)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 10)).double()
    fit(model, X, y, epochs=epochs, lr=0.01, batch=32)
    return from_torch(model), X.numpy()


def run_verdicts():
    """Time to a robustness verdict (issue 12) on the digits MLPs, L2 and L-inf balls, with the
    share of regions whose margin programmes the branch and bound skipped."""
    from exactregions.analysis import robust

    net64, X = digits_mlp()
    net784 = load_model(SPEED / "d784_32x32_digits.npz")
    image = np.load(SPEED / "d784_center.npy").ravel()
    mid = (X[0] + X[1]) / 2  # between two images of different classes: near a decision boundary
    cases = [("64d-image0-l2-r0.1", net64, Ball(X[0], 0.1)), ("64d-image0-l2-r0.3", net64, Ball(X[0], 0.3)),
             ("64d-image0-linf-r0.02", net64, Ball(X[0], 0.02, norm="inf")),
             ("64d-between-l2-r0.05", net64, Ball(mid, 0.05)), ("64d-between-l2-r0.2", net64, Ball(mid, 0.2)),
             ("64d-between-linf-r0.005", net64, Ball(mid, 0.005, norm="inf")),
             ("64d-between-linf-r0.02", net64, Ball(mid, 0.02, norm="inf")),
             ("784d-image7-l2-r0.3", net784, Ball(image, 0.3)), ("784d-image7-l2-r1.0", net784, Ball(image, 1.0))]
    rows = []
    for name, net, dom in cases:
        t = time.perf_counter()
        v = robust(net, dom, time_limit=120)
        sec = time.perf_counter() - t
        rows.append({"workload": f"robust-{name}", "engine": "bfs", "dims": str(dom.dim), "regions": v.regions,
                     "complete": v.verdict != "unknown", "seconds": round(sec, 3),
                     "regions_per_s": round(v.regions / sec) if sec else 0,
                     "lp_per_region": "", "qp_per_region": "", "workers": 1, "kernel": "", "kernel_load_s": "",
                     "peak_rss_MiB": "", "verdict": v.verdict, "programmes": v.programmes_solved,
                     "pruned_share": round(v.regions_pruned / v.regions, 3) if v.regions else None})
    return rows


#: robustness questions on L-infinity balls timed against the public star-set verifier nnenum:
#: (name, input dimension, hidden widths, classes, seed, radii asked besides the two on either side of
#: the flip); seeded random nets of the shapes of the verifier comparison, the digits MLP of
#: data/speed/ around its image (clipped to the pixel range [0, 1])
VERDICT_NETS = [("8d-24x24-2c", 8, [24, 24], 2, 0, (0.123, 0.47, 0.506)),
                ("64d-48x48-10c", 64, [48, 48], 10, 0, (0.02, 0.09)),
                ("64d-10x10-10c", 64, [10, 10], 10, 0, (0.176,)),
                ("784d-digits-32x32", 784, None, 10, None, ())]


def _flip_radius(net, centre, clip, lo=0.0, hi=2.0, steps=10):
    """The L-infinity radius where the verdict flips, bracketed by bisection on exact verdicts:
    (largest robust radius, smallest not-robust radius) found."""
    from exactregions.analysis import robust

    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        v = robust(net, Ball(centre, mid, norm="inf", clip=clip), exact_margin=False, time_limit=30)
        if v.verdict == "unknown":  # the bracket so far
            break
        lo, hi = (mid, hi) if v.verdict == "robust" else (lo, mid)
    return lo, hi


def verdict_questions(folder):
    """The questions of :data:`VERDICT_NETS` (each net also written to ``folder`` as ONNX for the
    verifier): dicts with the net, the domain and the box the verifier is given."""
    import warnings

    import torch
    import torch.nn as nn

    from exactregions import Network

    def single(net):  # the verifier reads float32 ONNX: both answer for the float32-rounded net
        return Network([np.asarray(w, np.float32).astype(np.float64) for w in net.weights],
                       [np.asarray(b, np.float32).astype(np.float64) for b in net.biases])

    def to_torch(net):  # a ReLU MLP as a torch Sequential, for the ONNX file
        layers = []
        for i, (W, b) in enumerate(zip(net.weights, net.biases)):
            lin = nn.Linear(W.shape[1], W.shape[0])
            with torch.no_grad():
                lin.weight.copy_(torch.as_tensor(np.asarray(W)))
                lin.bias.copy_(torch.as_tensor(b))
            layers += [lin] + ([nn.ReLU()] if i < len(net.weights) - 1 else [])
        return nn.Sequential(*layers)

    qs = []
    for name, d, widths, k, seed, radii in VERDICT_NETS:
        if widths is None:
            net = single(load_model(SPEED / "d784_32x32_digits.npz"))
            centre, clip = np.load(SPEED / "d784_center.npy").ravel(), Box(np.zeros(d), np.ones(d))
        else:
            net = single(random_network(d, widths, seed, outputs=k))
            centre, clip = np.random.default_rng(1000 + d).uniform(-0.5, 0.5, d), None
        centre = centre.astype(np.float32).astype(np.float64)
        onnx = Path(folder) / f"{name}.onnx"
        with warnings.catch_warnings():  # the TorchScript exporter is deprecated but needs no extra package
            warnings.simplefilter("ignore")
            torch.onnx.export(to_torch(net), torch.zeros((1, d)), str(onnx), dynamo=False)
        r_rob, r_not = _flip_radius(net, centre, clip, hi=0.3 if d == 784 else 2.0)
        label = int(np.argmax(net.forward(centre)))
        for r in sorted({*radii, round(1.03 * r_not, 6)} | ({round(0.97 * r_rob, 6)} if r_rob > 0 else set())):
            dom = Ball(centre, r, norm="inf", clip=clip)
            lo, hi = dom.bounding_box()
            qs.append({"name": f"{name}-linf-{r:g}", "net": net, "domain": dom, "label": label, "onnx": str(onnx),
                       "lo": lo.tolist(), "hi": hi.tolist(), "outputs": k, "flip": (r_rob, r_not)})
    return qs


def run_verdict_questions(peer_python=None, timeout=60.0, region_limit=20.0):
    """Every question of :func:`verdict_questions`: our verdict and in-call seconds (bounds first,
    ``exact_margin=False``: the verdict a verifier gives; then the region search alone,
    ``bounds=False``, stopped after ``region_limit`` seconds), and the verifier's (``timeout``),
    one thread, in one run."""
    import tempfile

    from exactregions.analysis import robust

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        qs = verdict_questions(tmp)
        peer = {}
        if peer_python:
            spec = Path(tmp) / "questions.json"
            spec.write_text(json.dumps([{k: q[k] for k in ("name", "onnx", "lo", "hi", "label", "outputs")}
                                        | {"timeout": timeout} for q in qs]))
            out = subprocess.run([peer_python, str(ROOT / "scripts" / "peer_nnenum.py"), str(spec)],
                                 capture_output=True, text=True)
            for line in out.stdout.splitlines():
                if line.startswith("{"):
                    r = json.loads(line)
                    peer[r["name"]] = r
        robust(qs[0]["net"], qs[0]["domain"], exact_margin=False)  # warm: the solvers' first imports
        for q in qs:
            t = time.perf_counter()
            v = robust(q["net"], q["domain"], label=q["label"], exact_margin=False, time_limit=timeout)
            sec = time.perf_counter() - t
            old, old_sec = None, None
            if q["domain"].dim <= 64:  # in 784-D the region search neither finishes nor stops on time
                t = time.perf_counter()
                old = robust(q["net"], q["domain"], label=q["label"], bounds=False, time_limit=region_limit)
                old_sec = time.perf_counter() - t
            p = peer.get(q["name"], {})
            rows.append({"workload": f"robust-{q['name']}", "verdict": v.verdict, "decided_by": v.decided_by,
                         "seconds": round(sec, 4), "regions": v.regions, "nodes": v.nodes,
                         "region_search_verdict": old.verdict if old else "not run",
                         "region_search_s": round(old_sec, 3) if old else None,
                         "peer_result": p.get("result", ""), "peer_s": round(p["seconds"], 4) if p else None,
                         "ratio": round(sec / p["seconds"], 2) if p and p["seconds"] > 0 else None,
                         "flip": [round(f, 6) for f in q["flip"]]})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def run_slices(radius=1.0, n_segments=1000):
    from exactregions.domains import Plane, Segment

    net, X = digits_conv_net()
    count_regions(random_network(2, [2], 0), Box(-1, 1, dim=2), engine="subdivision", kernel="numba")  # load it
    rows = []
    for engine in ("bfs", "subdivision"):
        plane = Plane(X[0], X[1], X[2], radius=radius)
        t = time.perf_counter()
        res = count_regions(net, plane, engine=engine)
        sec = time.perf_counter() - t
        rows.append({"workload": f"digits-conv-plane-disc-r{radius:g}-{engine}", "regions": res.activation_regions,
                     "complete": res.complete, "seconds": round(sec, 3),
                     "regions_per_s": round(res.activation_regions / sec),
                     "lp_per_region": round(res.stats["lp_solves"] / res.activation_regions, 3),
                     "qp_per_region": round(res.stats["qp_solves"] / res.activation_regions, 4), "workers": 1,
                     "peak_rss_MiB": ""})
    rng = np.random.default_rng(0)
    pairs = rng.integers(0, len(X), size=(n_segments, 2))
    t, total = time.perf_counter(), 0
    for i, j in pairs:
        if i != j:
            total += count_regions(net, Segment(X[i], X[j]), keep_regions=False).activation_regions
    sec = time.perf_counter() - t
    rows.append({"workload": f"digits-conv-{n_segments}-segments", "regions": total, "complete": True,
                 "seconds": round(sec, 3), "regions_per_s": round(total / sec), "lp_per_region": 0.0,
                 "qp_per_region": 0.0, "workers": 1, "peak_rss_MiB": ""})
    return rows


SWEEP_CENTRES = 1000  # balls of the 2-D sweep rows
SWEEP_MEMORY_ROWS = 10000


def _sweep_2d(folder, n=SWEEP_CENTRES):
    """The 2-D [32,32] net (seed 0) and ``n`` centres uniform in [-2, 2]^2 (seed 0): balls of
    radius 0.5 around them hold 66 regions at the median."""
    from exactregions.io import save_npz

    net_path, centres = Path(folder) / "net2d.npz", Path(folder) / f"centres2d_{n}.npy"
    save_npz(random_network(2, [32, 32], 0), net_path)
    np.save(centres, np.random.default_rng(0).uniform(-2, 2, size=(n, 2)))
    return net_path, centres


def _digits784_checkpoints(folder, every=3, epochs=30):
    """The recipe of scripts/train_digits784.py ([32,32], Adam lr 1e-3, batches of 128, torch
    seed 0, one thread) with a checkpoint saved every ``every`` epochs (10 checkpoints,
    ``digits784_epoch3.npz`` ... ``digits784_epoch30.npz``; the last is data/speed's
    d784_32x32_digits.npz up to float rounding) and the first 100 images as centres."""
    import copy

    import torch
    import torch.nn as nn

    from exactregions.io import save_npz
    from exactregions.io.torch import from_torch
    from train_digits784 import digits784

    folder = Path(folder) / "digits784"
    folder.mkdir()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    X, y = digits784()
    model = nn.Sequential(nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 10))

    def save(epoch, m):
        if epoch % every == 0:
            save_npz(from_torch(copy.deepcopy(m).double()), folder / f"digits784_epoch{epoch}.npz")

    fit(model, X, y, epochs=epochs, lr=1e-3, batch=128, on_epoch=save)
    centres = folder.parent / "digits784_centres.npy"
    np.save(centres, X[:100].double().numpy())
    return folder, centres


def _env():
    """The environment of a benchmarked process: this checkout's package first."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def _children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _timed(cmd, repeats):
    """Wall seconds and CPU seconds (the process and its workers; on a machine shared with other
    work the wall time grows, the CPU time much less), medians of ``repeats`` runs."""
    times, cpus, out = [], [], None
    for _ in range(repeats):
        c, t = _children_cpu(), time.perf_counter()
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=_env())
        times.append(time.perf_counter() - t)
        cpus.append(_children_cpu() - c)
    return float(np.median(times)), float(np.median(cpus)), out


def _cli_sweep(args, out, repeats):
    """Wall and CPU seconds (medians of ``repeats``) of the whole ``exactregions sweep``
    process writing a fresh table, and that table."""
    import pyarrow.parquet as pq

    exe = Path(sys.executable).parent / "exactregions"
    times, cpus = [], []
    for _ in range(repeats):
        if out.exists():
            out.unlink()
        sec, cpu, _ = _timed([str(exe), "sweep", *map(str, args), "--out", str(out), "--quiet"], 1)
        times.append(sec)
        cpus.append(cpu)
    return float(np.median(times)), float(np.median(cpus)), pq.read_table(out).to_pylist()


def _sweep_row(name, sec, cpu, rows, workers, dims):
    regions = sum(r["activation_regions"] or 0 for r in rows)
    return {"workload": name, "cpu_s": round(cpu, 3), "engine": ",".join(sorted({r["engine"] or "error" for r in rows})),
            "dims": dims,
            "regions": regions, "complete": all(r["complete"] for r in rows), "seconds": round(sec, 3),
            "regions_per_s": round(regions / sec), "lp_per_region": "", "qp_per_region": "", "workers": workers,
            "kernel": "", "kernel_load_s": "", "peak_rss_MiB": "", "rows": len(rows),
            "ms_per_row": round(1000 * sec / len(rows), 2)}


_LOOP = """
import sys, time, numpy as np
from exactregions import Ball, count_regions, load_model
net, C = load_model(sys.argv[1]), np.load(sys.argv[2])
print(sum(count_regions(net, Ball(c, 0.5), keep_regions=False).activation_regions for c in C))
"""

_MEMORY = """
import importlib, resource, sys, threading, time, numpy as np
from exactregions import random_network, sweep
s = importlib.import_module("exactregions.sweeps")
samples, done = [], threading.Event()
def watch():
    while not done.is_set():
        with open("/proc/self/statm") as f:
            samples.append((s.STATS["counts"], int(f.read().split()[1]) * 4096))
        time.sleep(0.05)
threading.Thread(target=watch, daemon=True).start()
C = np.random.default_rng(0).uniform(-2, 2, size=(int(sys.argv[1]), 2))
df = sweep(random_network(2, [16, 16], 0), C, [0.3], progress=False, out=sys.argv[2])
done.set()
n = np.array([a for a, _ in samples], float); rss = np.array([b for _, b in samples], float)
late = n > n.max() / 5  # past the first fifth: kernels loaded, buffers warm
slope = np.polyfit(n[late], rss[late], 1)[0]
print(len(df), slope, rss.max() / 2**20)
"""


def run_sweeps(repeats=3):
    """Sweep workloads (whole processes, start-up included; the tables are written to
    .parquet): 1,000 balls of radius 0.5 around points of a 2-D [32,32] net as a plain loop
    over count_regions in one process, as one ``exactregions sweep`` command (1 and 2 workers);
    10 checkpoints of the 784-D digits MLP x 100 images x radii 0.1, 0.3 (2 workers); the RSS
    growth per row over a 10,000-row sweep."""
    import tempfile

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        net, centres = _sweep_2d(tmp)
        sec, cpu, out = _timed([sys.executable, "-c", _LOOP, str(net), str(centres)], repeats)
        rows.append({"workload": "loop-2d-32x32-1000-balls-r0.5-process", "cpu_s": round(cpu, 3),
                     "engine": "planar", "dims": "2",
                     "regions": int(out.stdout.strip()), "complete": True, "seconds": round(sec, 3),
                     "regions_per_s": round(int(out.stdout.strip()) / sec), "lp_per_region": "", "qp_per_region": "",
                     "workers": 1, "kernel": "", "kernel_load_s": "", "peak_rss_MiB": "", "rows": SWEEP_CENTRES,
                     "ms_per_row": round(1000 * sec / SWEEP_CENTRES, 2)})
        for w in (1, 2):
            sec, cpu, table = _cli_sweep([net, "--centres", centres, "--radii", "0.5", "--workers", w],
                                         tmp / "t2d.parquet", repeats)
            rows.append(_sweep_row(f"sweep-cli-2d-32x32-1000-balls-r0.5-{w}workers", sec, cpu, table, w, "2"))
        folder, centres = _digits784_checkpoints(tmp)
        sec, cpu, table = _cli_sweep([folder, "--centres", centres, "--radii", "0.1,0.3", "--workers", 2],
                                     tmp / "t784.parquet", 1)
        rows.append(_sweep_row("sweep-cli-784d-digits-10ckpt-100pts-2radii-2workers", sec, cpu, table, 2, "784"))
        out = subprocess.run([sys.executable, "-c", _MEMORY, str(SWEEP_MEMORY_ROWS), str(tmp / "mem.parquet")],
                             check=True, capture_output=True, text=True, env=_env())
        n, slope, peak = out.stdout.split()
        rows.append({"workload": f"sweep-memory-{n}-rows-2d-16x16-r0.3", "engine": "planar", "dims": "2",
                     "regions": "", "complete": True, "seconds": "", "regions_per_s": "", "lp_per_region": "",
                     "qp_per_region": "", "workers": 1, "kernel": "", "kernel_load_s": "",
                     "peak_rss_MiB": round(float(peak)), "rows": int(n), "rss_bytes_per_row": round(float(slope))})
    return rows


def sweep_overhead(n=1000):
    """CPU milliseconds per count of the stages of one count_regions call on the 1,000 balls of
    the 2-D sweep rows (warm: kernels loaded), in this process: where a tiny count's time goes."""
    from exactregions.engines import auto_engine
    from exactregions.engines import planar as P
    from exactregions.intervals import preactivation_bounds, stability
    from exactregions.reduction import reduce_dimension

    net = random_network(2, [32, 32], 0)
    C = np.random.default_rng(0).uniform(-2, 2, size=(n, 2))
    count_regions(net, Ball(C[0], 0.5))
    balls = [Ball(c, 0.5) for c in C]
    polys = [P._domain_polygon(b) for b in balls]
    setups = [P._setup(net, b, q) for b, q in zip(balls, polys)]
    X = balls[0].sample(P.REF_SAMPLES, np.random.default_rng(0))
    stages = {
        "count_regions (all of it)": lambda i: count_regions(net, balls[i], keep_regions=False),
        "Ball()": lambda i: Ball(C[i], 0.5),
        "as_network + reduce_dimension": lambda i: reduce_dimension(net, balls[i]),
        "auto_engine": lambda i: auto_engine(balls[i], net),
        "planar: domain polygon": lambda i: P._domain_polygon(balls[i]),
        "planar: set-up (all of it)": lambda i: P._setup(net, balls[i], polys[i]),
        "  set-up: interval bounds": lambda i: stability(*preactivation_bounds(net, balls[i], None, {}),
                                                         net.linear_mask()),
        "  set-up: 256 reference samples": lambda i: balls[i].sample(P.REF_SAMPLES, np.random.default_rng(0)),
        "  set-up: their patterns": lambda i: net.pattern(X),
        "planar: cut into pieces": lambda i: P.cut_polygon(polys[i], setups[i][0], 1, P.TOL, P.PIECE_LINES),
        "planar: chain arrays": lambda i: P._chain_arrays(setups[i][3]),
        "boundary distance (one point)": lambda i: net.boundary_distance(C[i]),
    }
    out = {}
    for name, f in stages.items():
        t = time.process_time()
        for i in range(n):
            f(i)
        out[name] = 1000 * (time.process_time() - t) / n
    parts = [k for k in out if not k.startswith(("count_regions", "  ", "boundary"))]
    out["the rest: the compiled walk, domain checks, the result"] = out["count_regions (all of it)"] - sum(
        out[k] for k in parts)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="three small workloads")
    ap.add_argument("--only", help="comma-separated workload names")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one workload in this process
    ap.add_argument("--no-slices", action="store_true", help="skip the conv-net slice workloads")
    ap.add_argument("--verdicts", action="store_true", help="only the robustness-verdict workloads")
    ap.add_argument("--sweeps", action="store_true", help="only the sweep workloads (and a tiny count's overhead)")
    ap.add_argument("--peer-python", help="--verdicts: a Python with nnenum installed, to time it on the same "
                                          "questions (scripts/peer_nnenum.py)")
    ap.add_argument("--json", help="also write the rows to this JSON file")
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one)))
        return
    names = QUICK if args.quick else (args.only.split(",") if args.only else list(WORKLOADS) + [CLI_ROW])
    if args.verdicts:
        print("| workload | dims | verdict | regions | seconds | margin programmes | regions pruned |")
        print("|---|---:|---|---:|---:|---:|---:|")
        for r in run_verdicts():
            print(f"| {r['workload']} | {r['dims']} | {r['verdict']} | {r['regions']:,} | {r['seconds']} | "
                  f"{r['programmes']} | {r['pruned_share']} |", flush=True)
        print("\n| question (L-inf ball) | verdict | decided by | seconds | region search | region search s "
              "| nnenum | nnenum s | ratio |")
        print("|---|---|---|---:|---|---:|---|---:|---:|")
        for r in run_verdict_questions(args.peer_python):
            print(f"| {r['workload']} | {r['verdict']} | {r['decided_by']} | {r['seconds']} | "
                  f"{r['region_search_verdict']} | {r['region_search_s'] or ''} | {r['peer_result']} | "
                  f"{r['peer_s'] if r['peer_s'] is not None else ''} | {r['ratio'] or ''} |", flush=True)
        return
    if args.sweeps:
        print("| workload | engine | dims | rows | regions | seconds | CPU s | ms per row | workers "
              "| RSS bytes per row | peak RSS MiB |")
        print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in run_sweeps():
            flag = "" if r["complete"] else " (LOWER BOUND)"
            print(f"| {r['workload']} | {r['engine']} | {r['dims']} | {r['rows']:,} | {r['regions']}{flag} | "
                  f"{r['seconds']} | {r.get('cpu_s', '')} | {r.get('ms_per_row', '')} | {r['workers']} | "
                  f"{r.get('rss_bytes_per_row', '')} | {r['peak_rss_MiB']} |", flush=True)
        print("\n| stage of one tiny count (2-D [32,32], r=0.5) | CPU ms per count |\n|---|---:|")
        for k, v in sweep_overhead().items():
            print(f"| {k} | {v:.3f} |")
        return
    rows = []
    print("| workload | engine | dims | regions | seconds | regions/s | peer s | ratio | LP/region | QP/region "
          "| workers | kernel (load s) | peak RSS MiB | worker peak RSS MiB |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|")

    def show(r):
        rows.append(r)
        flag = "" if r["complete"] else " (LOWER BOUND)"
        print(f"| {r['workload']} | {r.get('engine', '')} | {r.get('dims', '')} | {r['regions']:,}{flag} | "
              f"{r['seconds']} | {r['regions_per_s']:,} | {r.get('peer_s') or ''} | {r.get('ratio') or ''} | "
              f"{r['lp_per_region']} | {r['qp_per_region']} | {r['workers']} | "
              f"{r.get('kernel') or ''}{' (%s)' % r['kernel_load_s'] if r.get('kernel_load_s', '') != '' else ''} | "
              f"{r['peak_rss_MiB']} | "
              f"{r.get('worker_peak_rss_MiB', '')} |", flush=True)

    for name in names:
        if name == CLI_ROW:
            show(run_cli_process())
            continue
        out = subprocess.run([sys.executable, __file__, "--one", name], capture_output=True, text=True, check=True)
        show(json.loads(out.stdout.strip().splitlines()[-1]))
    if not args.quick and not args.no_slices and not args.only:
        for r in run_slices():
            show(r)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

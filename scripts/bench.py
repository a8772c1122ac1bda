"""Benchmark of the exact engines (not a test): regions, seconds, regions/s, LP/QP per region.

Nets: seeded He-normal weights, biases N(0, 0.5^2), float64. One thread.
Usage: python scripts/bench.py [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import resource
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from exactregions import Ball, Box, Network, count_regions  # noqa: E402


def he_net(d, widths, seed):
    rng = np.random.default_rng(seed)
    dims = [d] + list(widths) + [1]
    Ws = [rng.normal(size=(dims[i + 1], dims[i])) * np.sqrt(2.0 / dims[i]) for i in range(len(dims) - 1)]
    bs = [rng.normal(size=dims[i + 1]) * 0.5 for i in range(len(dims) - 1)]
    return Network(Ws, bs)


WORKLOADS = [
    ("2-D [32,32,32] box [-1,1]^2", 2, [32, 32, 32], "box"),
    ("2-D [32,32,32] disc c=(0.1,-0.2) r=0.7", 2, [32, 32, 32], "ball"),
    ("2-D [64,64] box [-1,1]^2", 2, [64, 64], "box"),
    ("2-D [64,64] disc c=(0.1,-0.2) r=0.7", 2, [64, 64], "ball"),
    ("4-D [16,16] box [-1,1]^4", 4, [16, 16], "box"),
]


def run(name, d, widths, kind, seed=0):
    net = he_net(d, widths, seed)
    dom = Box(-1, 1, dim=d) if kind == "box" else Ball([0.1, -0.2] + [0.0] * (d - 2), 0.7)
    t = time.perf_counter()
    res = count_regions(net, dom)
    sec = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # process peak so far
    n = res.activation_regions
    return {"workload": name, "regions": n, "complete": res.complete, "seconds": round(sec, 3),
            "regions_per_s": round(n / sec), "lp_per_region": round(res.stats["lp_solves"] / n, 3),
            "qp_per_region": round(res.stats["qp_solves"] / n, 3), "peak_rss_MiB": round(peak, 1)}


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


def run_slices(radius=1.0, n_segments=1000):
    from exactregions.domains import Plane, Segment

    net, X = digits_conv_net()
    rows = []
    plane = Plane(X[0], X[1], X[2], radius=radius)
    t = time.perf_counter()
    res = count_regions(net, plane)
    sec = time.perf_counter() - t
    rows.append({"workload": f"digits conv net {net.architecture}, plane through 3 images, disc r={radius}",
                 "regions": res.activation_regions, "seconds": round(sec, 3),
                 "regions_per_s": round(res.activation_regions / sec),
                 "lp_per_region": round(res.stats["lp_solves"] / res.activation_regions, 3),
                 "qp_per_region": round(res.stats["qp_solves"] / res.activation_regions, 3), "peak_rss_MiB": ""})
    rng = np.random.default_rng(0)
    pairs = rng.integers(0, len(X), size=(n_segments, 2))
    t, total = time.perf_counter(), 0
    for i, j in pairs:
        if i != j:
            total += count_regions(net, Segment(X[i], X[j]), keep_regions=False).activation_regions
    sec = time.perf_counter() - t
    rows.append({"workload": f"digits conv net, {n_segments} segments between images", "regions": total,
                 "seconds": round(sec, 3), "regions_per_s": round(total / sec), "lp_per_region": 0.0,
                 "qp_per_region": 0.0, "peak_rss_MiB": ""})
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="only the first workload")
    ap.add_argument("--no-slices", action="store_true", help="skip the conv-net slice workloads")
    ap.add_argument("--json", help="also write the rows to this JSON file")
    args = ap.parse_args()
    rows = []
    print("| workload | regions | seconds | regions/s | LP/region | QP/region | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for w in WORKLOADS[:1] if args.quick else WORKLOADS:
        r = run(*w)
        rows.append(r)
        print(f"| {r['workload']} | {r['regions']:,} | {r['seconds']} | {r['regions_per_s']:,} | "
              f"{r['lp_per_region']} | {r['qp_per_region']} | {r['peak_rss_MiB']} |", flush=True)
    if not args.quick and not args.no_slices:
        for r in run_slices():
            rows.append(r)
            print(f"| {r['workload']} | {r['regions']:,} | {r['seconds']} | {r['regions_per_s']:,} | "
                  f"{r['lp_per_region']} | {r['qp_per_region']} | |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

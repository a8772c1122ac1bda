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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="only the first workload")
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
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

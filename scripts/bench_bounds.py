"""Tightness benchmark of every bound method (not a test).

Seeded random nets: input 2 or 3, one to three hidden layers of widths 6 to 16, He-normal
weights, biases N(0, 0.5^2); L2 balls of radius 0.05 to 1.5 around random centres. For each
method: median and worst ratio bound / exact count, and mean seconds per bound.
Usage: python scripts/bench_bounds.py [--cases N] [--seed S]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from exactregions import Ball, count_regions  # noqa: E402
from exactregions.network import random_network  # noqa: E402
from exactregions.bounds import ALL_METHODS, all_bounds  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    ratios = {m: [] for m in ALL_METHODS}
    secs = {m: [] for m in ALL_METHODS}
    exact_secs = []
    for i in range(args.cases):
        d = int(rng.integers(2, 4))
        widths = [int(w) for w in rng.integers(6, 17, size=int(rng.integers(1, 4)))]
        net = random_network(d, widths, rng=rng)
        r = float(np.exp(rng.uniform(np.log(0.05), np.log(1.5))))
        dom = Ball(rng.uniform(-1, 1, size=d), r)
        t = time.perf_counter()
        exact = count_regions(net, dom).activation_regions
        exact_secs.append(time.perf_counter() - t)
        for m, b in all_bounds(net, dom).items():
            ratios[m].append(b.value / exact)
            secs[m].append(b.seconds)
        print(f"case {i + 1}/{args.cases}: d={d} widths={widths} r={r:.3f} exact={exact}", file=sys.stderr)
    print(f"{args.cases} cases; exact count: mean {np.mean(exact_secs):.3f} s\n")
    print("| method | median bound/exact | worst bound/exact | mean seconds |")
    print("|---|---:|---:|---:|")
    for m in ALL_METHODS:
        x = np.array(ratios[m], dtype=float)
        print(f"| {m} | {np.median(x):.4g} | {x.max():.4g} | {np.mean(secs[m]):.4f} |")


if __name__ == "__main__":
    main()

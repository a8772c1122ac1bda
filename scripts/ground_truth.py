"""Ground-truth table: exact region counts next to every upper bound, on a seeded grid.

Writes ``data/ground_truth.csv`` (and ``.parquet`` if pyarrow is installed), the models as
``.npz`` under ``data/ground_truth_models/`` so every row can be recomputed, and a sidecar
``data/ground_truth.json`` (package, solver and library versions, grid, tolerances).
Resumable: rows already in the CSV are skipped. Progress on stderr.

Usage: python scripts/ground_truth.py [--grid full|small|tiny] [--out data/ground_truth.csv]
       [--time-limit S]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import exactregions  # noqa: E402
from exactregions import Ball, Box, Tolerances, count_regions  # noqa: E402
from exactregions.bounds import ALL_METHODS, all_bounds, critical_radius  # noqa: E402
from exactregions.io import save_npz  # noqa: E402
from exactregions.network import random_network  # noqa: E402

#: linear regions (which need the BFS engine's adjacency graph) are computed up to this count
LINEAR_MAX_REGIONS = 5000

KEY = ["input_dim", "hidden", "seed", "domain", "centre_kind", "radius"]
COLUMNS = KEY + ["centre", "activation_regions", "linear_regions", "complete", "engine", "seconds", "lp_solves",
                 "qp_solves", "critical_radius"] + [f"bound_{m}" for m in ALL_METHODS] + \
          [f"ratio_{m}" for m in ALL_METHODS] + ["model_file"]

# (input dimension, architectures, ball radii); every ball at two centres, plus the box [-1,1]^d for d <= 4
GRIDS = {
    "full": [
        (1, [[2], [8], [64], [16, 16], [8, 8, 8], [6, 6, 6, 6]], [0.01, 0.1, 0.5, 100.0]),
        (2, [[4], [16], [64], [8, 8], [32, 32], [16, 16, 16], [8, 8, 8, 8]], [0.01, 0.1, 0.5, 100.0]),
        (3, [[6], [16], [8, 8], [12, 12, 12], [6, 6, 6, 6]], [0.01, 0.1, 0.5, 100.0]),
        (4, [[8], [16], [8, 8], [8, 8, 8], [4, 4, 4, 4]], [0.01, 0.1, 0.5, 100.0]),
        (8, [[8], [16], [8, 8], [6, 6, 6]], [0.01, 0.05, 0.2]),
    ],
    "small": [
        (1, [[8], [8, 8]], [0.1, 100.0]),
        (2, [[8], [8, 8]], [0.1, 0.5]),
    ],
    "tiny": [(2, [[4, 4]], [0.5])],
}
SEEDS = {"full": range(5), "small": range(2), "tiny": range(1)}


def grid_rows(grid: str):
    """The row keys of a grid, in a fixed order."""
    for d, archs, radii in GRIDS[grid]:
        for widths in archs:
            for seed in SEEDS[grid]:
                for centre_kind in ("origin", "random"):
                    for r in radii:
                        yield d, widths, seed, "ball", centre_kind, r
                if d <= 4 and grid != "tiny":
                    yield d, widths, seed, "box", "origin", 1.0


def make_net(d, widths, seed):
    """He-normal weights, biases N(0, 0.5^2), seeded by (d, widths, seed)."""
    return random_network(d, widths, rng=np.random.default_rng([seed, d] + list(widths)))


def centre_of(d, widths, seed, kind):
    if kind == "origin":
        return np.zeros(d)
    return np.random.default_rng([seed, d, 7] + list(widths)).uniform(-1, 1, size=d)


def key_of(d, widths, seed, domain, centre_kind, radius):
    return (str(d), "x".join(map(str, widths)), str(seed), domain, centre_kind, repr(float(radius)))


def compute_row(d, widths, seed, domain_kind, centre_kind, radius, models_dir: Path, time_limit: float):
    net = make_net(d, widths, seed)
    name = f"d{d}_{'x'.join(map(str, widths))}_s{seed}.npz"
    models_dir.mkdir(parents=True, exist_ok=True)
    if not (models_dir / name).exists():
        save_npz(net, models_dir / name)
    c = centre_of(d, widths, seed, centre_kind)
    dom = Ball(c, radius) if domain_kind == "ball" else Box(c - radius, c + radius)
    res = count_regions(net, dom, engine="auto", time_limit=time_limit, keep_regions=False)
    n = res.activation_regions
    linear = res.linear_regions
    if linear is None and res.complete and n <= LINEAR_MAX_REGIONS:  # the BFS gives linear regions
        lin = count_regions(net, dom, engine="bfs", time_limit=time_limit)
        linear = lin.linear_regions if lin.complete else None
    bounds = all_bounds(net, dom)
    row = dict(zip(KEY, key_of(d, widths, seed, domain_kind, centre_kind, radius)))
    row.update({"centre": ";".join(f"{v:.17g}" for v in c), "activation_regions": n,
                "linear_regions": "" if linear is None else linear,
                "complete": res.complete, "engine": res.stats.get("engine", "bfs"),
                "seconds": f"{res.stats['seconds']:.4f}",
                "lp_solves": res.stats["lp_solves"], "qp_solves": res.stats["qp_solves"],
                "critical_radius": f"{critical_radius(net, c):.6g}" if domain_kind == "ball" else "",
                "model_file": f"{models_dir.name}/{name}"})
    for m in ALL_METHODS:
        v = bounds[m].value
        row[f"bound_{m}"] = "" if v is None else v
        row[f"ratio_{m}"] = "" if v is None else f"{v / n:.6g}"
    return row


def done_keys(path: Path) -> set:
    if not path.exists():
        return set()
    keys = set()
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            if row.get("model_file"):  # a complete line (an interrupted write has no last field)
                keys.add(tuple(row[k] for k in KEY))
    return keys


def run(grid="full", out=ROOT / "data" / "ground_truth.csv", time_limit=30.0, progress=True) -> int:
    """Compute the missing rows of ``grid`` into ``out``; returns how many were computed."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    models_dir = out.parent / (out.stem + "_models")
    have = done_keys(out)
    todo = [r for r in grid_rows(grid) if key_of(*r) not in have]
    _write_sidecar(out, grid, time_limit)
    new_file = not out.exists() or out.stat().st_size == 0
    t0, computed = time.perf_counter(), 0
    with out.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        if new_file:
            w.writeheader()
        for i, r in enumerate(todo):
            row = compute_row(*r, models_dir=models_dir, time_limit=time_limit)
            w.writerow(row)
            f.flush()
            computed += 1
            if progress:
                print(f"[{i + 1}/{len(todo)}] d={r[0]} {r[1]} seed={r[2]} {r[3]} {r[4]} r={r[5]}: "
                      f"{row['activation_regions']} regions{'' if row['complete'] else ' (LOWER BOUND)'} "
                      f"{row['seconds']} s; elapsed {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    _write_parquet(out)
    return computed


def _write_sidecar(out: Path, grid: str, time_limit: float):

    meta = {"package": "exactregions", "version": exactregions.__version__,
            "highspy": _highs_version(),
            "numpy": np.__version__, "python": platform.python_version(), "platform": platform.platform(),
            "grid": grid, "grid_definition": GRIDS[grid], "seeds": list(SEEDS[grid]),
            "time_limit_per_row_s": time_limit, "tolerances": Tolerances().to_dict(),
            "nets": "He-normal weights N(0, 2/fan_in), biases N(0, 0.5^2), seeded by (seed, d, widths)",
            "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, out.with_suffix(".json"))


def _highs_version():
    try:
        from importlib.metadata import version
        return version("highspy")
    except Exception:  # pragma: no cover
        return "unknown"


def _write_parquet(out: Path):
    """A Parquet copy of the table when pandas and pyarrow are installed."""
    try:
        import pandas as pd
        import pyarrow  # noqa: F401  (pandas' Parquet engine)
    except ImportError:
        return
    pd.read_csv(out).to_parquet(out.with_suffix(".parquet"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", default="full", choices=list(GRIDS))
    ap.add_argument("--out", default=str(ROOT / "data" / "ground_truth.csv"))
    ap.add_argument("--time-limit", type=float, default=30.0, help="per row; a stopped count is a lower bound")
    args = ap.parse_args()
    n = run(args.grid, Path(args.out), args.time_limit)
    print(f"computed {n} new rows into {args.out}")


if __name__ == "__main__":
    main()

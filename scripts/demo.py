"""`make demo`: train a small MLP on scikit-learn's moons, then count regions exactly in balls
around training points and random points, next to the local and global upper bounds."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import make_moons

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exactregions import Ball, Box, count_regions  # noqa: E402
from exactregions.bounds import global_bound, local_bound  # noqa: E402
from exactregions.io import save_npz  # noqa: E402
from exactregions.io.torch import from_torch  # noqa: E402
from exactregions.plot import plot_regions  # noqa: E402


def train_moons(seed=0, epochs=300):
    X, y = make_moons(n_samples=400, noise=0.15, random_state=seed)
    X = (X - X.mean(0)) / X.std(0)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 1)).double()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y, dtype=torch.float64)[:, None]
    for _ in range(epochs):
        opt.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(model(Xt), yt)
        loss.backward()
        opt.step()
    acc = float(((model(Xt) > 0).double() == yt).double().mean())
    return model, X, acc


def main():
    t0 = time.perf_counter()
    model, X, acc = train_moons()
    net = from_torch(model)
    out = ROOT / "data" / "moons_mlp.npz"
    save_npz(net, out)
    print(f"trained {net!r} on moons (400 points, train accuracy {acc:.3f}) in "
          f"{time.perf_counter() - t0:.1f} s; saved {out.relative_to(ROOT)}")
    rng = np.random.default_rng(0)
    train_pts = X[rng.choice(len(X), 4, replace=False)]
    random_pts = rng.uniform(X.min(0), X.max(0), size=(4, 2))
    glob = global_bound(net, "serra2018").value
    print(f"\nglobal upper bound (Serra et al. 2018, Thm 1): {glob:,} regions for {net.architecture}")
    print(f"\n{'centre':<24}{'radius':>7}{'regions':>9}{'linear':>8}{'seconds':>9}"
          f"{'local':>9}{'local_lp':>10}{'hybrid':>8}")
    for kind, pts in (("train", train_pts), ("random", random_pts)):
        for c in pts:
            for r in (0.1, 0.3):
                ball = Ball(c, r)
                res = count_regions(net, ball, engine="bfs")  # the BFS gives linear regions
                b = {m: local_bound(net, ball, m).value for m in ("local", "local_lp", "hybrid")}
                label = f"{kind} ({c[0]:+.2f},{c[1]:+.2f})"
                print(f"{label:<24}{r:>7.2f}{res.label():>9}{res.linear_regions:>8}{res.stats['seconds']:>9.3f}"
                      f"{b['local']:>9,}{b['local_lp']:>10,}{b['hybrid']:>8,}")
    lo, hi = X.min(0) - 0.5, X.max(0) + 0.5
    res = count_regions(net, Box(lo, hi), engine="bfs")
    print(f"\nwhole data range box: {res.label()} activation regions, {res.linear_regions} linear, "
          f"{res.stats['seconds']:.2f} s ({res.activation_regions / res.stats['seconds']:.0f} regions/s)")
    c = train_pts[0]
    ball = Ball(c, 0.6)
    pic = ROOT / "data" / "demo_regions.png"
    res = count_regions(net, ball)
    plot_regions(res, pic, points=[c], point_labels=["training point"])
    print(f"\npicture of the {res.label()} regions in the ball of radius 0.6 "
          f"around training point ({c[0]:+.2f},{c[1]:+.2f}): {pic.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

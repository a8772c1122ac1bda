"""Two published claims on local complexity, tested with EXACT counts on real data.

Zhu, Lin & Tang (arXiv:2007.06803) claim (1) during training the region boundaries move away
from the training points and (2) balls centred at training points hold more regions than balls
at arbitrary points. Data shipped with scikit-learn (no download): moons (2-D), iris (4-D),
wine (13-D, standardised), digits (64-D, pixels / 16, small radii).

Per data set: an MLP trained with Adam, a checkpoint per epoch (epoch 0 = initialisation). At
each checkpoint, the distance from every training, held-out and random point to its region's
boundary (closed form), and, at a few checkpoints, the exact count and the local bounds in balls
around training points. After training: exact counts in balls around training, held-out and
random points (uniform in the training data's bounding box); medians, Mann-Whitney U tests
(scipy) with the number of points behind each figure. Writes CSVs, PNGs and REPORT.md under
data/experiments/.

Usage: python scripts/experiments.py [--quick] [--out data/experiments]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from scipy.stats import mannwhitneyu  # noqa: E402
from sklearn import datasets  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from exactregions import Ball, count_regions  # noqa: E402
from exactregions.bounds import local_bound  # noqa: E402
from exactregions.io.torch import from_torch  # noqa: E402

# name: (loader, hidden widths, epochs, radii, checkpoints with counts)
SETS = {
    "moons": (lambda: datasets.make_moons(n_samples=600, noise=0.15, random_state=0), [16, 16], 40, [0.1, 0.3]),
    "iris": (lambda: datasets.load_iris(return_X_y=True), [16, 16], 60, [0.1, 0.3]),
    "wine": (lambda: datasets.load_wine(return_X_y=True), [16, 16], 60, [0.1, 0.3]),
    "digits": (lambda: datasets.load_digits(return_X_y=True), [32, 32], 20, [0.05, 0.15]),
}
COUNT_EPOCHS = 4  # checkpoints (spread over training, epoch 0 included) with exact counts


def load(name):
    X, y = SETS[name][0]()
    X = X.astype(np.float64)
    if name == "digits":
        X = X / 16.0
    else:
        X = (X - X.mean(0)) / X.std(0)
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


def make_model(d, widths, k, seed=0):
    torch.manual_seed(seed)
    dims = [d] + widths
    layers = []
    for a, b in zip(dims[:-1], dims[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(dims[-1], k)).double()


def train_checkpoints(name, Xtr, ytr, widths, epochs, seed=0):
    """Networks at epochs 0..epochs (Adam, lr 1e-2, batch 32)."""
    k = int(ytr.max()) + 1
    model = make_model(Xtr.shape[1], widths, k, seed)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    X, y = torch.as_tensor(Xtr), torch.as_tensor(ytr, dtype=torch.long)
    g = torch.Generator().manual_seed(seed)
    nets, accs = [from_torch(model)], [float((model(X).argmax(1) == y).double().mean())]
    for _ in range(epochs):
        perm = torch.randperm(len(X), generator=g)
        for i in range(0, len(X), 32):
            idx = perm[i:i + 32]
            opt.zero_grad()
            nn.functional.cross_entropy(model(X[idx]), y[idx]).backward()
            opt.step()
        with torch.no_grad():
            accs.append(float((model(X).argmax(1) == y).double().mean()))
        nets.append(from_torch(model))
    return nets, accs


def count_row(net, c, r, time_limit):
    ball = Ball(c, r)
    res = count_regions(net, ball, time_limit=time_limit, keep_regions=False)
    return {"exact": res.activation_regions, "complete": res.complete,
            "local": local_bound(net, ball, "local").value, "local_lp": local_bound(net, ball, "local_lp").value,
            "seconds": round(res.stats["seconds"], 4)}


def write_csv(path, rows):
    if not rows:
        return
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def run_dataset(name, out: Path, n_points: int, time_limit: float, quick: bool):
    loader, widths, epochs, radii = SETS[name]
    if quick:
        epochs = max(3, epochs // 10)
    Xtr, Xte, ytr, yte = load(name)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    nets, accs = train_checkpoints(name, Xtr, ytr, widths, epochs)
    lo, hi = Xtr.min(0), Xtr.max(0)
    pts = {"train": Xtr[rng.choice(len(Xtr), min(n_points, len(Xtr)), replace=False)],
           "test": Xte[rng.choice(len(Xte), min(n_points, len(Xte)), replace=False)],
           "random": rng.uniform(lo, hi, size=(n_points, Xtr.shape[1]))}
    # claim 1: boundary distance over epochs (all training points; sampled test/random points)
    dist_rows = []
    for e, net in enumerate(nets):
        for kind, P in (("train", Xtr), ("test", Xte), ("random", pts["random"])):
            for i, v in enumerate(net.boundary_distance(P)):
                dist_rows.append({"epoch": e, "kind": kind, "point": i, "boundary_distance": float(v)})
    write_csv(out / f"{name}_boundary_distance.csv", dist_rows)
    count_epochs = sorted(set(np.linspace(0, epochs, COUNT_EPOCHS).round().astype(int).tolist()))
    epoch_rows = []
    for e in count_epochs:
        for r in radii:
            for i, c in enumerate(pts["train"][: n_points // 2]):
                epoch_rows.append({"epoch": e, "radius": r, "point": i, **count_row(nets[e], c, r, time_limit)})
    write_csv(out / f"{name}_counts_over_epochs.csv", epoch_rows)
    # claim 2: final network, train vs test vs random points
    point_rows = []
    for kind, P in pts.items():
        for r in radii:
            for i, c in enumerate(P):
                point_rows.append({"kind": kind, "radius": r, "point": i, **count_row(nets[-1], c, r, time_limit)})
    write_csv(out / f"{name}_counts_by_point_kind.csv", point_rows)
    summary = summarise(name, Xtr.shape[1], widths, epochs, accs, dist_rows, epoch_rows, point_rows, radii,
                        count_epochs, time.perf_counter() - t0)
    figures(name, out, dist_rows, point_rows, radii)
    return summary


def _median(rows, **match):
    v = [r for r in rows if all(r[k] == x for k, x in match.items())]
    return v


def summarise(name, d, widths, epochs, accs, dist_rows, epoch_rows, point_rows, radii, count_epochs, secs):
    s = {"name": name, "d": d, "widths": widths, "epochs": epochs, "acc0": accs[0], "acc": accs[-1], "seconds": secs}
    # claim 1
    med = {}
    for kind in ("train", "test", "random"):
        for e in (0, epochs):
            med[kind, e] = float(np.median([r["boundary_distance"] for r in dist_rows if r["kind"] == kind and r["epoch"] == e]))
    n_train = sum(1 for r in dist_rows if r["kind"] == "train" and r["epoch"] == 0)
    tr0 = [r["boundary_distance"] for r in dist_rows if r["kind"] == "train" and r["epoch"] == 0]
    trE = [r["boundary_distance"] for r in dist_rows if r["kind"] == "train" and r["epoch"] == epochs]
    rdE = [r["boundary_distance"] for r in dist_rows if r["kind"] == "random" and r["epoch"] == epochs]
    s["claim1"] = {"median": med, "n_train": n_train, "n_random": len(rdE),
                   "p_train_grows": mannwhitneyu(trE, tr0, alternative="greater").pvalue,
                   "p_train_vs_random_final": mannwhitneyu(trE, rdE, alternative="greater").pvalue}
    s["counts_over_epochs"] = {(e, r): float(np.median([x["exact"] for x in epoch_rows if x["epoch"] == e and x["radius"] == r]))
                               for e in count_epochs for r in radii}
    s["n_epoch_count_points"] = len([x for x in epoch_rows if x["epoch"] == count_epochs[0] and x["radius"] == radii[0]])
    # claim 2
    c2 = {}
    for r in radii:
        vals = {k: [x["exact"] for x in point_rows if x["kind"] == k and x["radius"] == r] for k in ("train", "test", "random")}
        loc = {k: [x["local_lp"] for x in point_rows if x["kind"] == k and x["radius"] == r] for k in ("train", "random")}
        c2[r] = {"median": {k: float(np.median(v)) for k, v in vals.items()}, "n": {k: len(v) for k, v in vals.items()},
                 "p_train_gt_random": mannwhitneyu(vals["train"], vals["random"], alternative="greater").pvalue,
                 "p_train_vs_test": mannwhitneyu(vals["train"], vals["test"], alternative="two-sided").pvalue,
                 "median_local_lp": {k: float(np.median(v)) for k, v in loc.items()},
                 "incomplete": sum(1 for x in point_rows if x["radius"] == r and not x["complete"])}
    s["claim2"] = c2
    return s


def figures(name, out, dist_rows, point_rows, radii):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    epochs = sorted({r["epoch"] for r in dist_rows})
    for kind, col in (("train", "C0"), ("test", "C1"), ("random", "C2")):
        q = np.array([np.percentile([r["boundary_distance"] for r in dist_rows if r["kind"] == kind and r["epoch"] == e],
                                    [25, 50, 75]) for e in epochs])
        axes[0].plot(epochs, q[:, 1], color=col, label=f"{kind} (median, IQR)")
        axes[0].fill_between(epochs, q[:, 0], q[:, 2], color=col, alpha=0.2)
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("distance to nearest region boundary")
    axes[0].set_yscale("log")
    axes[0].set_title(f"{name}: claim 1, boundary distance during training")
    axes[0].legend()
    data, labels = [], []
    for r in radii:
        for kind in ("train", "test", "random"):
            data.append([x["exact"] for x in point_rows if x["kind"] == kind and x["radius"] == r])
            labels.append(f"{kind}\nr={r}")
    axes[1].boxplot(data, tick_labels=labels)
    axes[1].set_yscale("log")
    axes[1].set_ylabel("exact activation regions in the ball")
    axes[1].set_title(f"{name}: claim 2, regions around points (final net)")
    fig.tight_layout()
    fig.savefig(out / f"{name}.png", dpi=110)
    plt.close(fig)


def report(summaries, out: Path, n_points):
    L = ["# Local complexity claims, tested with exact counts", "",
         "Generated by `scripts/experiments.py`. Claims from Zhu, Lin & Tang (arXiv:2007.06803): (1) during "
         "training, region boundaries move away from the training points; (2) balls centred at training points "
         "contain more regions than balls centred at arbitrary points. Exact counts from `exactregions`; "
         "`local_lp` is the best bound that costs no traversal. One-sided Mann-Whitney U tests; p < 0.05 is "
         "called significant. Random points are uniform in the training data's bounding box.", ""]
    for s in summaries:
        c1 = s["claim1"]
        m = c1["median"]
        e = s["epochs"]
        grows = m["train", e] > m["train", 0] and c1["p_train_grows"] < 0.05
        rel0 = m["train", 0] / m["random", 0]
        relE = m["train", e] / m["random", e]
        L += [f"## {s['name']} ({s['d']}-D, hidden {s['widths']}, {e} epochs, train accuracy "
              f"{s['acc0']:.2f} -> {s['acc']:.2f}, {s['seconds']:.0f} s)", "",
              "**Claim 1 (boundaries move away from training points):** "
              + ("holds" if grows else "does not hold") +
              f". Median distance from the {c1['n_train']} training points to their region boundary: "
              f"{m['train', 0]:.4g} at epoch 0, {m['train', e]:.4g} at epoch {e} (p = {c1['p_train_grows']:.2g}); "
              f"held-out points {m['test', 0]:.4g} -> {m['test', e]:.4g}; {c1['n_random']} random points "
              f"{m['random', 0]:.4g} -> {m['random', e]:.4g}. Relative to random points the training points' "
              f"distance went from {rel0:.3g}x to {relE:.3g}x"
              + (" (so the move is not specific to training points)." if grows and relE <= rel0 else "."), "",
              "Exact regions in balls around training points over training (median of "
              f"{s['n_epoch_count_points']} points): " + "; ".join(
                  f"epoch {ep}, r={r}: {v:g}" for (ep, r), v in s["counts_over_epochs"].items()) + ".", "",
              "**Claim 2 (more regions around training points than arbitrary points):**", "",
              "| radius | median train | median test | median random | n each | p (train > random) | p (train vs test) | median local_lp train / random |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|"]
        verdicts = []
        for r, c in s["claim2"].items():
            L.append(f"| {r} | {c['median']['train']:g} | {c['median']['test']:g} | {c['median']['random']:g} | "
                     f"{c['n']['train']} | {c['p_train_gt_random']:.2g} | {c['p_train_vs_test']:.2g} | "
                     f"{c['median_local_lp']['train']:g} / {c['median_local_lp']['random']:g} |")
            holds = c["median"]["train"] > c["median"]["random"] and c["p_train_gt_random"] < 0.05
            verdicts.append(f"r={r}: {'holds' if holds else 'does not hold'}")
            if c["incomplete"]:
                verdicts[-1] += f" ({c['incomplete']} counts hit the time limit: lower bounds)"
        L += ["", "Verdict: " + "; ".join(verdicts) + ".", "", f"![{s['name']}]({s['name']}.png)", ""]
    tmp = out / "REPORT.md.tmp"
    tmp.write_text("\n".join(L) + "\n")
    tmp.replace(out / "REPORT.md")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "data" / "experiments"))
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--points", type=int, default=30, help="points of each kind")
    ap.add_argument("--time-limit", type=float, default=20.0, help="per exact count (then a lower bound)")
    ap.add_argument("--quick", action="store_true", help="few epochs, for a smoke run")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summaries = []
    for name in args.sets.split(","):
        print(f"{name}: training and counting ...", file=sys.stderr)
        summaries.append(run_dataset(name, out, args.points, args.time_limit, args.quick))
        print(f"{name}: done in {summaries[-1]['seconds']:.0f} s", file=sys.stderr)
    report(summaries, out, args.points)
    print(f"wrote {out / 'REPORT.md'}")


if __name__ == "__main__":
    main()

"""Two published claims on local complexity, tested with EXACT counts on real data.

Zhu, Lin & Tang (arXiv:2007.06803) claim (1) during training the region boundaries move away
from the training points and (2) balls centred at training points hold more regions than balls
at arbitrary points. Data shipped with scikit-learn (no download): moons (2-D), iris (4-D),
wine (13-D, standardised), digits (64-D, pixels / 16, small radii).

Per data set and training seed: an MLP trained with Adam, a checkpoint per epoch (epoch 0 =
initialisation). At
each checkpoint, the distance from every training, held-out and random point to its region's
boundary (closed form), and, at a few checkpoints, the exact count and the local bounds in balls
around training points. After training: exact counts in balls around training, held-out and
random points (uniform in the training data's bounding box); medians with bootstrap 95%
confidence intervals pooled over the seeds, Mann-Whitney U tests (scipy) per seed, with the
number of points behind each figure. Writes CSVs (a ``seed`` column), PNGs and REPORT.md under
data/experiments/.

``digits784`` is digits upsampled to 28x28 (bilinear, torch) and divided by 16, the stand-in for
784-D images; its radii are digits' scaled by 3.5 (the ratio of the images' L2 norms, 28/8).

The exact counts are one :func:`exactregions.sweep` per checkpoint set (the counts over training,
the counts by point kind): rows of one table, with the local bounds as columns. The figures are
:func:`exactregions.plot_sweep`'s, drawn from those tables (and from the boundary distances, in
the same layout), pooled over the seeds:

* ``NAME_boundary_distance.png``: claim 1, the distance from training, held-out and random points
  to their region's boundary over training (median and interquartile band);
* ``NAME_counts_over_epochs.png``: the exact counts in balls around training points over training;
* ``NAME.png``: claim 2, the exact counts around each kind of point in the final network (box
  plots); a count that hit the time limit is a hollow triangle, a lower bound.

Usage: python scripts/experiments.py [--quick] [--seeds 3] [--points 60] [--workers 1] [--out data/experiments]
"""

from __future__ import annotations

import argparse
import csv
import os
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

from exactregions import plot_sweep, sweep  # noqa: E402
from exactregions.io.torch import from_torch  # noqa: E402

# name: (loader, hidden widths, epochs, radii, checkpoints with counts)
SETS = {
    "moons": (lambda: datasets.make_moons(n_samples=600, noise=0.15, random_state=0), [16, 16], 40, [0.1, 0.3]),
    "iris": (lambda: datasets.load_iris(return_X_y=True), [16, 16], 60, [0.1, 0.3]),
    "wine": (lambda: datasets.load_wine(return_X_y=True), [16, 16], 60, [0.1, 0.3]),
    "digits": (lambda: datasets.load_digits(return_X_y=True), [32, 32], 20, [0.05, 0.15]),
    "digits784": (lambda: datasets.load_digits(return_X_y=True), [32, 32], 20, [0.175, 0.525]),
}
#: fewer points where one count is costly: at initialisation a 784-D ball holds thousands of
#: regions (about 20 s each), so digits784 uses this many points of each kind
POINTS_CAP = {"digits784": 20}
COUNT_EPOCHS = 4  # checkpoints (spread over training, epoch 0 included) with exact counts


def load(name):
    X, y = SETS[name][0]()
    X = X.astype(np.float64)
    if name == "digits784":
        img = torch.as_tensor(X / 16.0).reshape(-1, 1, 8, 8)
        X = nn.functional.interpolate(img, size=(28, 28), mode="bilinear", align_corners=False).reshape(-1, 784)
        X = X.numpy()
    elif name == "digits":
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


def count_rows(models: dict, centres, radii, time_limit, workers=1, groups=None):
    """The exact count and the local bounds of every model in a ball around every centre for
    every radius (:func:`exactregions.sweep`), as a DataFrame; a count that fails stops the run."""
    df = sweep(models, centres, radii, groups=groups, bounds=["local", "local_lp"], time_limit=time_limit,
               boundary_distance=False, workers=workers, progress=sys.stderr.isatty())
    if df.error.notna().any():
        raise RuntimeError(f"a count failed: {df.error.dropna().iloc[0]}")
    return df


def count_fields(row) -> dict:
    """The CSV fields of one sweep row."""
    return {"exact": int(row.activation_regions), "complete": bool(row.complete), "local": int(row.bound_local),
            "local_lp": int(row.bound_local_lp), "seconds": round(float(row.seconds), 4)}


def write_csv(path, rows):
    """Write ``rows`` (dicts) as a CSV file, atomically (a temporary file renamed over it)."""
    if not rows:
        return
    tmp = Path(f"{path}.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


def run_dataset(name, n_points: int, time_limit: float, quick: bool, seed: int = 0, workers: int = 1):
    """One training seed of one data set: its rows and summary (the points are the same for
    every seed: they are drawn with a fixed generator)."""
    loader, widths, epochs, radii = SETS[name]
    if quick:
        epochs = max(3, epochs // 10)
    Xtr, Xte, ytr, yte = load(name)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    nets, accs = train_checkpoints(name, Xtr, ytr, widths, epochs, seed)
    lo, hi = Xtr.min(0), Xtr.max(0)
    pts = {"train": Xtr[rng.choice(len(Xtr), min(n_points, len(Xtr)), replace=False)],
           "test": Xte[rng.choice(len(Xte), min(n_points, len(Xte)), replace=False)],
           "random": rng.uniform(lo, hi, size=(n_points, Xtr.shape[1]))}
    # claim 1: boundary distance over epochs (all training points; sampled test/random points)
    dist_rows = []
    for e, net in enumerate(nets):
        for kind, P in (("train", Xtr), ("test", Xte), ("random", pts["random"])):
            for i, v in enumerate(net.boundary_distance(P)):
                dist_rows.append({"seed": seed, "epoch": e, "kind": kind, "point": i, "boundary_distance": float(v)})
    count_epochs = sorted(set(np.linspace(0, epochs, COUNT_EPOCHS).round().astype(int).tolist()))
    over_epochs = count_rows({f"epoch{e}": nets[e] for e in count_epochs}, pts["train"][: n_points // 2], radii,
                             time_limit, workers)
    epoch_rows = [{"seed": seed, "epoch": int(r.step), "radius": float(r.radius), "point": int(r.point),
                   **count_fields(r)}
                  for r in over_epochs.sort_values(["step", "radius", "point"], kind="stable").itertuples()]
    # claim 2: final network, train vs test vs random points
    kinds = list(pts)
    first = dict(zip(kinds, np.cumsum([0] + [len(pts[k]) for k in kinds[:-1]]).tolist()))
    by_kind = count_rows({"final": nets[-1]}, np.vstack([pts[k] for k in kinds]), radii, time_limit, workers,
                         groups=[k for k in kinds for _ in pts[k]])
    ranked = by_kind.assign(rank=by_kind.group.map(kinds.index))
    point_rows = [{"seed": seed, "kind": str(r.group), "radius": float(r.radius),
                   "point": int(r.point) - first[r.group], **count_fields(r)}
                  for r in ranked.sort_values(["rank", "radius", "point"], kind="stable").itertuples()]
    summary = summarise(name, Xtr.shape[1], widths, epochs, accs, dist_rows, epoch_rows, point_rows, radii,
                        count_epochs, time.perf_counter() - t0)
    summary["seed"] = seed
    tables = {"over_epochs": over_epochs.assign(seed=seed), "by_kind": by_kind.assign(seed=seed)}
    return summary, dist_rows, epoch_rows, point_rows, tables


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


def _save(pic, path: Path):
    """Write a :func:`exactregions.plot_sweep` figure relabelled here, through a temporary file."""
    tmp = path.with_name(f".{path.name}.tmp")
    pic.figure.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    os.replace(tmp, path)


def figures(name, out: Path, dist_rows, over_epochs, by_kind, seeds):
    """The data set's figures, drawn by :func:`exactregions.plot_sweep` and pooled over the seeds:
    ``over_epochs`` and ``by_kind`` are the sweep tables of the counts over training and by point
    kind (every seed's rows), ``dist_rows`` the boundary distances (put in a sweep table's layout:
    ``step`` the epoch, ``group`` the kind of point). The training axis is relabelled "epoch" (the
    checkpoints' steps are epochs), and the distance's one panel is retitled (it has no radius)."""
    import pandas as pd

    pooled = f"{seeds} seed{'s' * (seeds != 1)} pooled"
    distances = pd.DataFrame(dist_rows).rename(columns={"epoch": "step", "kind": "group"})
    pic = plot_sweep(distances.assign(radius=0.0, complete=True), y="boundary_distance", logy=True,
                     title=f"{name}: claim 1, distance from each point to its region's boundary ({pooled})")
    pic.axes[0].set_title("training, held-out and random points", fontsize="medium")
    pic.axes[0].set_ylabel("distance to the nearest region boundary")
    pic.axes[0].set_xlabel("epoch")
    _save(pic, out / f"{name}_boundary_distance.png")
    pic = plot_sweep(over_epochs.assign(group="training points"),
                     title=f"{name}: exact regions in balls around training points over training ({pooled})")
    for ax in pic.axes:
        ax.set_xlabel("epoch")
    _save(pic, out / f"{name}_counts_over_epochs.png")
    plot_sweep(by_kind, out / f"{name}.png", kind="groups", dpi=110,
               title=f"{name}: claim 2, exact regions in balls around each kind of point, final network ({pooled})")


def bootstrap_ci(values, n_boot=2000, level=0.95):
    """Percentile bootstrap confidence interval of the median (seeded: the report is reproducible)."""
    v = np.asarray(values, dtype=float)
    rng = np.random.default_rng(0)
    meds = np.median(v[rng.integers(0, v.size, size=(n_boot, v.size))], axis=1)
    return tuple(np.quantile(meds, [(1 - level) / 2, (1 + level) / 2]))


def lower_bound_note(epoch_rows) -> str:
    """Which of the counts over training hit the time limit: those counts, and the medians they
    enter, are LOWER bounds (empty when every count is complete)."""
    from collections import Counter

    total = Counter((str(r["epoch"]), str(r["radius"])) for r in epoch_rows)
    short = Counter((str(r["epoch"]), str(r["radius"])) for r in epoch_rows if str(r["complete"]) == "False")
    if not short:
        return ""
    return (" Counts that hit the time limit are LOWER BOUNDS, and so is any median they enter: "
            + "; ".join(f"epoch {e}, r={r}: {n} of {total[e, r]}" for (e, r), n in sorted(short.items())) + ".")


def _tally(flags):
    k, n = sum(flags), len(flags)
    word = "holds" if k == n else "does not hold" if k == 0 else "mixed"
    return f"{word} ({k} of {n} seeds)"


def _fmt(v, ci):
    return f"{v:.4g} [{ci[0]:.4g}, {ci[1]:.4g}]"


def report(per_set, out: Path, n_points):
    """``per_set``: {name: (per-seed summaries, pooled dist rows, pooled point rows, pooled epoch
    rows)}."""
    L = ["# Local complexity claims, tested with exact counts", "",
         "Generated by `scripts/experiments.py`. Claims from Zhu, Lin & Tang (arXiv:2007.06803): (1) during "
         "training, region boundaries move away from the training points; (2) balls centred at training points "
         "contain more regions than balls centred at arbitrary points. Exact counts from `exactregions`; "
         "`local_lp` is the best bound that costs no traversal. Each data set is trained with several seeds "
         "(initialisation and batch order; the points are the same for every seed). Medians are pooled over the "
         "seeds with 95% bootstrap confidence intervals; one-sided Mann-Whitney U tests per seed, p < 0.05 "
         "called significant; a verdict holds in a seed when the median moves the claimed way and p < 0.05. "
         "Random points are uniform in the training data's bounding box.", ""]
    for name, (ss, dist_rows, point_rows, epoch_rows) in per_set.items():
        s0, e = ss[0], ss[0]["epochs"]
        secs = sum(s["seconds"] for s in ss)
        accs = ", ".join(f"{s['acc0']:.2f} -> {s['acc']:.2f}" for s in ss)
        L += [f"## {name} ({s0['d']}-D, hidden {s0['widths']}, {e} epochs, {len(ss)} seeds, train accuracy "
              f"{accs}, {secs:.0f} s)", ""]
        flags1 = [s["claim1"]["median"]["train", e] > s["claim1"]["median"]["train", 0]
                  and s["claim1"]["p_train_grows"] < 0.05 for s in ss]
        pooled = {(k, ep): [r["boundary_distance"] for r in dist_rows if r["kind"] == k and r["epoch"] == ep]
                  for k in ("train", "test", "random") for ep in (0, e)}
        L += ["**Claim 1 (boundaries move away from training points):** " + _tally(flags1)
              + ". Median distance from the training points to their region boundary, pooled over seeds: "
              f"{_fmt(np.median(pooled['train', 0]), bootstrap_ci(pooled['train', 0]))} at epoch 0, "
              f"{_fmt(np.median(pooled['train', e]), bootstrap_ci(pooled['train', e]))} at epoch {e}; held-out "
              f"{np.median(pooled['test', 0]):.4g} -> {np.median(pooled['test', e]):.4g}; random "
              f"{np.median(pooled['random', 0]):.4g} -> {np.median(pooled['random', e]):.4g}. p (training "
              "distance grows) per seed: " + ", ".join(f"{s['claim1']['p_train_grows']:.2g}" for s in ss)
              + f" ({s0['claim1']['n_train']} training points each).", "",
              "Exact regions in balls around training points over training (median over seeds of the median of "
              f"{s0['n_epoch_count_points']} points): " + "; ".join(
                  f"epoch {ep}, r={r}: {np.median([s['counts_over_epochs'][ep, r] for s in ss]):g}"
                  for (ep, r) in s0["counts_over_epochs"]) + "." + lower_bound_note(epoch_rows), "",
              f"![{name}: claim 1]({name}_boundary_distance.png)", "",
              f"![{name}: counts over training]({name}_counts_over_epochs.png)", "",
              "**Claim 2 (more regions around training points than arbitrary points):**", "",
              "| radius | median train [95% CI] | median test [95% CI] | median random [95% CI] | n each | "
              "p (train > random) per seed | p (train vs test) per seed | median local_lp train / random |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|"]
        verdicts = []
        for r in s0["claim2"]:
            vals = {k: [x["exact"] for x in point_rows if x["kind"] == k and x["radius"] == r]
                    for k in ("train", "test", "random")}
            cs = [s["claim2"][r] for s in ss]
            L.append(f"| {r} | " + " | ".join(_fmt(np.median(vals[k]), bootstrap_ci(vals[k]))
                                              for k in ("train", "test", "random"))
                     + f" | {len(vals['train'])} ({len(ss)} x {cs[0]['n']['train']}) | "
                     + ", ".join(f"{c['p_train_gt_random']:.2g}" for c in cs) + " | "
                     + ", ".join(f"{c['p_train_vs_test']:.2g}" for c in cs) + " | "
                     + f"{np.median([c['median_local_lp']['train'] for c in cs]):g} / "
                       f"{np.median([c['median_local_lp']['random'] for c in cs]):g} |")
            flags = [c["median"]["train"] > c["median"]["random"] and c["p_train_gt_random"] < 0.05 for c in cs]
            verdicts.append(f"r={r}: " + _tally(flags))
            incomplete = sum(c["incomplete"] for c in cs)
            if incomplete:
                verdicts[-1] += f" ({incomplete} counts hit the time limit: lower bounds)"
        L += ["", "Verdict: " + "; ".join(verdicts) + ".", "", f"![{name}]({name}.png)", ""]
    tmp = out / "REPORT.md.tmp"
    tmp.write_text("\n".join(L) + "\n")
    tmp.replace(out / "REPORT.md")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "data" / "experiments"))
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--points", type=int, default=60, help="points of each kind")
    ap.add_argument("--seeds", type=int, default=3, help="training seeds per data set")
    ap.add_argument("--time-limit", type=float, default=20.0, help="per exact count (then a lower bound)")
    ap.add_argument("--quick", action="store_true", help="few epochs, for a smoke run")
    ap.add_argument("--workers", type=int, default=1, help="processes counting in parallel (the same counts)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    per_set = {}
    import pandas as pd

    for name in args.sets.split(","):
        ss, rows, tables = [], ([], [], []), []
        for seed in range(args.seeds):
            print(f"{name}, seed {seed}: training and counting ...", file=sys.stderr)
            summary, *new, seed_tables = run_dataset(name, min(args.points, POINTS_CAP.get(name, args.points)),
                                                     args.time_limit, args.quick, seed, args.workers)
            ss.append(summary)
            tables.append(seed_tables)
            for acc, part in zip(rows, new):
                acc.extend(part)
            print(f"{name}, seed {seed}: done in {summary['seconds']:.0f} s", file=sys.stderr)
        dist_rows, epoch_rows, point_rows = rows
        write_csv(out / f"{name}_boundary_distance.csv", dist_rows)
        write_csv(out / f"{name}_counts_over_epochs.csv", epoch_rows)
        write_csv(out / f"{name}_counts_by_point_kind.csv", point_rows)
        figures(name, out, dist_rows, pd.concat([t["over_epochs"] for t in tables], ignore_index=True),
                pd.concat([t["by_kind"] for t in tables], ignore_index=True), len(ss))
        per_set[name] = (ss, dist_rows, point_rows, epoch_rows)
    report(per_set, out, args.points)
    print(f"wrote {out / 'REPORT.md'}")


if __name__ == "__main__":
    main()

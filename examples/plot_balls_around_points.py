"""
Balls around training, test and random points
=============================================

Do balls centred at training points hold more linear regions than balls centred elsewhere
(Zhu, Lin & Tang, arXiv:2007.06803)? One :func:`~exactregions.sweep` counts, exactly, the
regions of a trained network in balls of two radii around training points, held-out points
and random points, with each centre's group in the table; :func:`~exactregions.plot_sweep`
draws the groups side by side.
"""

# %%
# A classifier of the iris flowers
# --------------------------------
# Four standardised features, three classes, a 4-16-16-3 ReLU network trained with Adam.
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.stats import mannwhitneyu
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split

from exactregions import plot_sweep, sweep

X, y = load_iris(return_X_y=True)
X = (X - X.mean(0)) / X.std(0)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)

torch.manual_seed(0)
model = torch.nn.Sequential(
    torch.nn.Linear(4, 16), torch.nn.ReLU(),
    torch.nn.Linear(16, 16), torch.nn.ReLU(),
    torch.nn.Linear(16, 3),
).double()
optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
Xt, yt = torch.tensor(X_train), torch.tensor(y_train)
for step in range(300):
    optimiser.zero_grad()
    torch.nn.functional.cross_entropy(model(Xt), yt).backward()
    optimiser.step()
with torch.no_grad():
    test_accuracy = float((model(torch.tensor(X_test)).argmax(1).numpy() == y_test).mean())
print(f"test accuracy {test_accuracy:.3f}")

# %%
# The centres and their groups
# ----------------------------
# 15 points of each kind: training points, held-out points, and points drawn uniformly in the
# training data's bounding box. ``groups=`` gives one label per centre.
rng = np.random.default_rng(0)
n = 15
centres = np.vstack([X_train[rng.choice(len(X_train), n, replace=False)],
                     X_test[rng.choice(len(X_test), n, replace=False)],
                     rng.uniform(X_train.min(0), X_train.max(0), size=(n, 4))])
groups = ["train"] * n + ["test"] * n + ["random"] * n

# %%
# One sweep
# ---------
# 45 centres times 2 radii: 90 exact counts, with the ball-local upper bound as a column
# (``bounds=["local"]``). ``out=`` writes the table as rows finish; running the same sweep again
# returns the stored rows and counts only those the file lacks (here: a smaller radius).
table_file = Path(tempfile.mkdtemp()) / "balls.parquet"
table = sweep(model, centres, [0.3, 0.6], groups=groups, bounds=["local"], out=table_file, progress=False)
print(table[["point", "group", "radius", "activation_regions", "bound_local", "complete", "engine"]].head(6)
      .to_string(index=False))

more = sweep(model, centres, [0.15, 0.3, 0.6], groups=groups, bounds=["local"], out=table_file, progress=False)
kept = more[more.radius > 0.2].reset_index(drop=True)
print(f"{len(more)} rows; the {len(kept)} stored ones were not counted again:",
      kept.seconds.equals(table.seconds))

# %%
# By group
# --------
# Medians per group and radius, next to the median bound; every count is complete (no time
# limit was set: a count stopped by one would be a row with ``lower_bound`` True).
summary = more.groupby(["radius", "group"], sort=False).agg(
    median_exact=("activation_regions", "median"), median_local_bound=("bound_local", "median"),
    lower_bounds=("lower_bound", "sum"))
print(summary.to_string())

for r in (0.15, 0.3, 0.6):
    at = more[more.radius == r]
    p = mannwhitneyu(at.activation_regions[at.group == "train"], at.activation_regions[at.group == "random"],
                     alternative="greater").pvalue
    print(f"r = {r}: p (train > random, one-sided Mann-Whitney U) = {p:.3g}")

# %%
# Fifteen points a group is few: read the p-values before the medians. The project's
# ``scripts/experiments.py`` asks the same question on five data sets, with several training
# seeds, 60 points of each kind and bootstrap confidence intervals
# (``data/experiments/REPORT.md``).
#
# The figure
# ----------
# ``kind="groups"`` draws box plots per group and radius at one step (here the table has one
# model and no steps: that model). Hollow triangles would mark counts that are lower bounds.
picture = Path(tempfile.mkdtemp()) / "balls_by_group.png"
plot_sweep(more, picture, kind="groups", title="Exact regions in balls around iris points", dpi=100)
image = plt.imread(picture)
fig = plt.figure(figsize=(image.shape[1] / 100, image.shape[0] / 100), dpi=100)
fig.add_axes((0, 0, 1, 1)).imshow(image)
fig.axes[0].set_axis_off()
plt.show()

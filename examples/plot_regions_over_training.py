"""
Regions over training
=====================

How does the number of linear regions around the data change while a network trains? A
:class:`~exactregions.RegionTracker` called inside an ordinary torch training loop counts,
exactly, every few optimiser steps, the regions in small balls around training points and
around random points of the data's range; :func:`~exactregions.plot_sweep` draws the table it
keeps.
"""

# %%
# The data, the points and the model
# ----------------------------------
# Ten training points and ten points drawn uniformly in the data's bounding box, each with its
# group label: the rows of the table carry it, and the figure draws one curve per group.
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import make_moons
from torch.utils.data import DataLoader, TensorDataset

from exactregions import RegionTracker, plot_sweep

X, y = make_moons(n_samples=300, noise=0.15, random_state=1)
X = (X - X.mean(0)) / X.std(0)
rng = np.random.default_rng(0)
points = np.vstack([X[rng.choice(len(X), 10, replace=False)], rng.uniform(X.min(0), X.max(0), size=(10, 2))])
groups = ["training points"] * 10 + ["random points"] * 10

torch.manual_seed(1)
model = torch.nn.Sequential(
    torch.nn.Linear(2, 16), torch.nn.ReLU(),
    torch.nn.Linear(16, 16), torch.nn.ReLU(),
    torch.nn.Linear(16, 1),
).double()
optimiser = torch.optim.Adam(model.parameters(), lr=0.02)
loader = DataLoader(TensorDataset(torch.tensor(X), torch.tensor(y, dtype=torch.float64)), batch_size=50,
                    shuffle=True, generator=torch.Generator().manual_seed(0))

# %%
# Training, with a tracker
# ------------------------
# ``tracker(model, step)`` does nothing unless ``step % every == 0``; then it copies the model's
# weights (as an :class:`~exactregions.Network`: that copy is all the training waits for) and
# counts the balls of both radii around the 20 points in a background process (``workers=1``,
# the default), while training goes on. ``close()`` waits for the last counts and returns the
# table, one row per (step, point, radius). With ``out="track.parquet"`` the rows would also be
# written as they finish, and a resumed run would skip the steps already there.
#
# The worker is forked where the system can; where processes are spawned (macOS, Windows) a
# script keeps its training under ``if __name__ == "__main__":``.
tracker = RegionTracker(points, [0.1, 0.3], every=15, groups=groups, name="moons MLP")
step = 0
for epoch in range(25):
    for xb, yb in loader:
        tracker(model, step)
        optimiser.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(xb)[:, 0], yb)
        loss.backward()
        optimiser.step()
        step += 1
tracker(model, step)  # the trained model, at step 150 (a multiple of every: counted)
table = tracker.close()
accuracy = float(((model(torch.tensor(X))[:, 0] > 0).numpy() == (y == 1)).mean())
print(f"{step} optimiser steps, training accuracy {accuracy:.3f}; {len(table)} exact counts, "
      f"{int(table.lower_bound.sum())} of them lower bounds")

# %%
# The table
# ---------
# A pandas DataFrame in long form: one row per count, one column per quantity (see
# :func:`~exactregions.sweep` for every column). The medians per group, radius and step:
medians = table.pivot_table(index="step", columns=["radius", "group"], values="activation_regions",
                            aggfunc="median")
print(medians.to_string())

# %%
# The figure
# ----------
# :func:`~exactregions.plot_sweep` draws, per group, the median over the points against the step
# with the interquartile band, one panel per radius. A count stopped by a time limit would be a
# hollow triangle, and a median over such counts a hollow marker: a lower bound. The file's
# suffix chooses the format (``.png``, ``.pdf``, ``.svg``); shown here with matplotlib.
picture = Path(tempfile.mkdtemp()) / "regions_over_training.png"
pic = plot_sweep(table, picture, title="Exact regions in balls around 20 points, during training", dpi=100)
image = plt.imread(picture)
fig = plt.figure(figsize=(image.shape[1] / 100, image.shape[0] / 100), dpi=100)
fig.add_axes((0, 0, 1, 1)).imshow(image)
fig.axes[0].set_axis_off()
plt.show()

# %%
# ``pic.summary`` holds the numbers drawn (per radius, group and step: the number of points,
# the median, the quartiles and how many counts are lower bounds). The project's
# ``scripts/experiments.py`` runs this comparison on real data sets with several seeds,
# confidence intervals and tests (``data/experiments/REPORT.md``).
print(pic.summary.head().to_string(index=False))

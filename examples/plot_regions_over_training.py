"""
Regions over training
=====================

How does the number of linear regions around the data change while a network trains? Count
exactly, after every few epochs, the regions in small balls around training points and around
random points of the data's range.
"""

# %%
# The data and the model
# ----------------------
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import make_moons

from exactregions import Ball, as_network, count_regions

X, y = make_moons(n_samples=300, noise=0.15, random_state=1)
X = (X - X.mean(0)) / X.std(0)
Xt, yt = torch.tensor(X), torch.tensor(y, dtype=torch.float64)
rng = np.random.default_rng(0)
train_points = X[rng.choice(len(X), 10, replace=False)]
random_points = rng.uniform(X.min(0), X.max(0), size=(10, 2))

torch.manual_seed(1)
model = torch.nn.Sequential(
    torch.nn.Linear(2, 16), torch.nn.ReLU(),
    torch.nn.Linear(16, 16), torch.nn.ReLU(),
    torch.nn.Linear(16, 1),
).double()
optimiser = torch.optim.Adam(model.parameters(), lr=0.02)


def median_count(net, centres, radius):
    """The median exact count over balls of ``radius`` around ``centres``."""
    return float(np.median([count_regions(net, Ball(c, radius)).activation_regions for c in centres]))


# %%
# Training, with a count every 20 epochs
# --------------------------------------
# The model is converted to an :class:`~exactregions.Network` once per checkpoint (a copy of
# its weights at that epoch).
radius = 0.3
epochs, at_train, at_random = [], [], []
for epoch in range(0, 201):
    if epoch % 20 == 0:
        net = as_network(model)
        epochs.append(epoch)
        at_train.append(median_count(net, train_points, radius))
        at_random.append(median_count(net, random_points, radius))
        print(f"epoch {epoch:>3}: median regions in a ball of radius {radius} around training points "
              f"{at_train[-1]:>5}, around random points {at_random[-1]:>5}")
    optimiser.zero_grad()
    loss = torch.nn.functional.binary_cross_entropy_with_logits(model(Xt)[:, 0], yt)
    loss.backward()
    optimiser.step()

# %%
# The curves
# ----------
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(epochs, at_train, "o-", label="around training points")
ax.plot(epochs, at_random, "s--", label="around random points")
ax.set_xlabel("epoch")
ax.set_ylabel(f"median exact regions, r = {radius}")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# Every count above is complete (no time limit was set); with ``time_limit=`` a count that
# stops early is a lower bound, and ``result.complete`` says so. The project's
# ``scripts/experiments.py`` runs this comparison with several seeds, confidence intervals and
# tests on real data sets (``data/experiments/REPORT.md``).

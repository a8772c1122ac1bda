"""
A ball around a data point of a torch MLP
=========================================

Train a small ReLU network on scikit-learn's two moons, then count **exactly** the activation
regions inside an L2 ball around one training point. The count sits next to two upper bounds:
a bound local to the ball (:func:`~exactregions.local_bound`) and the global bound of the
architecture (:func:`~exactregions.global_bound`). Then draw the regions.
"""

# %%
# A torch model trained for a few epochs
# --------------------------------------
# Any ``torch.nn.Sequential`` of ``Linear`` and ``ReLU`` layers can be passed as it is to every
# function of the package. Double precision keeps the network the same as the one counted.
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from sklearn.datasets import make_moons

from exactregions import Ball, count_regions, global_bound, local_bound, plot_regions

X, y = make_moons(n_samples=300, noise=0.15, random_state=0)
X = (X - X.mean(0)) / X.std(0)
X, y = torch.tensor(X), torch.tensor(y, dtype=torch.float64)

torch.manual_seed(0)
model = torch.nn.Sequential(
    torch.nn.Linear(2, 16), torch.nn.ReLU(),
    torch.nn.Linear(16, 16), torch.nn.ReLU(),
    torch.nn.Linear(16, 1),
).double()
optimiser = torch.optim.Adam(model.parameters(), lr=0.02)
for epoch in range(150):
    optimiser.zero_grad()
    loss = torch.nn.functional.binary_cross_entropy_with_logits(model(X)[:, 0], y)
    loss.backward()
    optimiser.step()
accuracy = float(((model(X)[:, 0] > 0) == (y > 0.5)).double().mean())
print(f"training accuracy {accuracy:.3f}")

# %%
# The exact count in a ball
# -------------------------
# ``Ball(centre, radius)`` is the open L2 ball; the centre may be a tensor, a list or a numpy
# array. ``engine="auto"`` (the default) runs the planar walk on a 2-D input, and
# ``polygons=True`` keeps each region's exact polygon for the picture. A count that stops early
# (``time_limit=``, ``max_regions=``) says so: ``result.complete`` is False and
# ``result.label()`` reads ``">= N (lower bound ...)"``.
centre = X[0]
ball = Ball(centre, 0.8)
result = count_regions(model, ball, polygons=True)
print(f"exact count: {result.label()} activation regions "
      f"(complete: {result.complete}, {result.stats['seconds']:.3f} s)")

# %%
# Next to the bounds
# ------------------
# The local bound drops the neurons that are stable on the ball (their sign cannot change
# there); the global one knows only the widths. Both are exact integers with a derivation.
local = local_bound(model, ball)
glob = global_bound(model)
print(f"{'exact count':<28}{result.activation_regions:>10,}")
print(f"{'local bound (local_lp)':<28}{local.value:>10,}")
print(f"{'global bound (serra2018)':<28}{glob.value:>10,}")
print("\nhow the local bound was derived:")
print("\n".join(local.derivation))

# %%
# The picture
# -----------
# :func:`~exactregions.plot_regions` draws every region as its exact polygon, clipped to the
# ball, neighbours in different colours of a colour-blind-safe palette, with the ball's outline
# and centre, the marked point and a legend, and writes the file (``.png``, ``.pdf`` or
# ``.svg``: the suffix chooses); shown here pixel for pixel. ``ax=`` would draw into axes of
# your own instead.
picture = Path(tempfile.mkdtemp()) / "ball_regions.png"
plot_regions(result, picture, points=[centre.numpy()], point_labels=["training point"],
             title="A ball around a training point", dpi=100)
image = plt.imread(picture)
fig = plt.figure(figsize=(image.shape[1] / 100, image.shape[0] / 100), dpi=100)
fig.add_axes((0, 0, 1, 1)).imshow(image)
fig.axes[0].set_axis_off()
plt.show()

# %%
# A larger ball holds more regions, and the bounds grow with it:
for radius in (0.1, 0.25, 0.5, 1.0):
    b = Ball(centre, radius)
    n = count_regions(model, b).activation_regions
    print(f"r = {radius:<5} exact {n:>5,}   local bound {local_bound(model, b).value:>7,}")

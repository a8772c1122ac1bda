"""
A CNN plane slice with its decision boundary
============================================

A convolutional network on 64-pixel images cannot be drawn, but the 2-D plane through three of
its inputs can. :class:`~exactregions.Plane` composes the network with the plane's map, so the
slice is counted exactly in two dimensions; with ``decision=True`` the planar walk also gives
the exact decision boundary of the classifier inside every region.
"""

# %%
# A small CNN on scikit-learn's 8x8 digits
# ----------------------------------------
# ``Conv2d``, ``AvgPool2d`` and ``MaxPool2d`` models are read through an in-memory ONNX export,
# which needs the input shape without the batch axis: ``input_shape=(1, 8, 8)``.
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits

from exactregions import Plane, as_network, count_regions, plot_regions

X, y = load_digits(return_X_y=True)
images = torch.tensor(X / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
labels = torch.tensor(y)

torch.manual_seed(0)
model = torch.nn.Sequential(
    torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.AvgPool2d(2),
    torch.nn.Flatten(), torch.nn.Linear(36, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10),
)
optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
for epoch in range(8):
    for batch in torch.randperm(len(images)).split(64):
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(images[batch]), labels[batch])
        loss.backward()
        optimiser.step()
accuracy = float((model(images).argmax(1) == labels).float().mean())
print(f"training accuracy {accuracy:.3f}")

# %%
# Convert the model once (it is checked against torch on random inputs), and keep the network:
# every later call then skips the export.
net = as_network(model.eval(), input_shape=(1, 8, 8))
print(net)

# %%
# The plane through a 0, a 1 and a 2
# ----------------------------------
# The slice's domain is, by default, the bounding box of the three images in the plane's own
# Euclidean coordinates with a 25% margin; ``radius=R`` makes it the disc of radius R around
# their centroid and ``parallelogram=True`` the parallelogram with corners at the images.
picks = [int(np.flatnonzero(y == digit)[0]) for digit in (0, 1, 2)]
p0, p1, p2 = (X[i] / 16.0 for i in picks)
plane = Plane(p0, p1, p2)
result = count_regions(net, plane, decision=True, polygons=True)
boundary = result.decision
print(f"{result.label()} activation regions in the slice (complete: {result.complete}, "
      f"{result.stats['seconds']:.2f} s)")
print(f"the decision boundary crosses {boundary.regions_crossed} of them, "
      f"{boundary.length:.3f} plane units long")
for (i, j), length in sorted(boundary.pairs.items(), key=lambda kv: -kv[1]):
    print(f"  classes {i} and {j} meet along {length:.3f}")

# %%
# Points exactly on the boundary: the top two logits tie there.
on_boundary = plane.lift(boundary.sample(3))
top_two = np.sort(net.forward(on_boundary), axis=1)[:, -2:]
print("top two logits at three boundary points:\n", np.round(top_two, 6))

# %%
# The picture
# -----------
# Every region as its exact polygon, filled from a colour-blind-safe palette with neighbours in
# different colours; the decision boundary thick in black over a white halo; the three images
# as white stars. On the right, the same slice in the shaded style: thin region edges over the
# distance to the decision boundary (from its exact segments, on a grid of pixels), the style of
# slices of hundreds of thousands of regions, where one colour per region is confetti. ``ax=``
# draws into axes of your own (here the panels of one figure); with a file name instead,
# ``plot_regions`` writes a PNG, PDF or SVG.
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5.6), layout="constrained")
plot_regions(result, ax=left, points=plane.points_2d(), point_labels=["0", "1", "2"],
             axes_labels=("plane u1", "plane u2"), title="Regions", legend=False)
plot_regions(result, ax=right, shade="distance", points=plane.points_2d(), point_labels=["0", "1", "2"],
             axes_labels=("plane u1", "plane u2"), title="Distance to the decision boundary", legend=False)
plt.show()

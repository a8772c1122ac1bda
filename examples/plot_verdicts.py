"""
Robustness, output range and Lipschitz constant
===============================================

Inside one activation region a ReLU network is affine, and a complete count covers the domain
with regions. So exact answers about the network on a domain are read off the regions:

* :func:`~exactregions.output_range`: the exact minimum and maximum of every output, with the
  points attaining them;
* :func:`~exactregions.lipschitz`: the exact local Lipschitz constant, next to the global bound
  from the weights' norms;
* :func:`~exactregions.robust`: is the class the top output everywhere in the domain? The
  verdict is "robust" (with the smallest margin, or a proven lower bound on it), "not robust"
  (with a checked counterexample) or "unknown" when the count did not finish: never a guess.
"""

# %%
# A small classifier on iris
# --------------------------
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_iris

from exactregions import Ball, as_network, lipschitz, output_range, robust

X, y = load_iris(return_X_y=True)
X = (X - X.mean(0)) / X.std(0)
Xt, yt = torch.tensor(X), torch.tensor(y)
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(4, 10), torch.nn.ReLU(), torch.nn.Linear(10, 10), torch.nn.ReLU(),
                            torch.nn.Linear(10, 3)).double()
optimiser = torch.optim.Adam(model.parameters(), lr=0.02)
for epoch in range(200):
    optimiser.zero_grad()
    torch.nn.functional.cross_entropy(model(Xt), yt).backward()
    optimiser.step()
net = as_network(model)
print(f"{net}: training accuracy {float((model(Xt).argmax(1) == yt).double().mean()):.3f}")

# %%
# The output range over a ball
# ----------------------------
# The 4-D ball of radius 0.3 around the first flower (class 0):
x = X[0]
ball = Ball(x, 0.3)
rng_ = output_range(net, ball)
for k, out in enumerate(rng_.outputs):
    print(f"logit {k}: min {out['min']:+.4f}  max {out['max']:+.4f}")
print(f"({rng_.regions} regions, {rng_.programmes_solved} programmes, complete: {rng_.complete})")

# %%
# The extremes are attained at the points returned (on the ball's closure); a forward pass
# there gives the same value:
argmax0 = np.array(rng_.outputs[0]["argmax"])
print("logit 0 at its argmax:", float(net.forward(argmax0)[0]), "distance from x:",
      round(float(np.linalg.norm(argmax0 - x)), 6))

# %%
# The local Lipschitz constant
# ----------------------------
# Of the logit difference between classes 0 and 1, for the L2 input norm:
lip = lipschitz(net, ball, classes=(0, 1))
print(f"exact local Lipschitz constant {lip.lipschitz:.4f}; global bound {lip.global_upper_bound:.4f}")

# %%
# Robustness as the ball grows
# ----------------------------
# A radius search also gives the exact minimal adversarial radius: the distance from ``x`` to
# the nearest point where another class ties or wins.
verdicts = []
for radius in (0.25, 0.5, 1.0, 1.5):
    v = robust(net, Ball(x, radius), label=0)
    verdicts.append((radius, v.verdict, v.min_margin))
    if v.verdict == "robust":  # the exact smallest margin, or a proven lower bound on it
        extra = (f"smallest margin {v.min_margin:.4f}" if v.min_margin is not None else
                 f"smallest margin at least {v.margin_lower_bound:.4f} (proven)")
    else:
        extra = f"counterexample of class {v.counterexample_class}" if v.verdict == "not robust" else v.note
    print(f"r = {radius:<5} {v.verdict:<11} {extra}")

search = robust(net, Ball(x, 1.5), label=0, radius_search=True)
print(f"exact minimal adversarial radius: {search.radius:.5f}")

# %%
# The counterexample lies inside the ball and is of another class, checked by a forward pass:
v = robust(net, Ball(x, 1.5), label=0)
cx = np.array(v.counterexample)
d = float(np.linalg.norm(cx - x))
print(f"|cx - x| = {d:.6f}, inside the open ball: {d < 1.5}; predicted class {int(np.argmax(net.forward(cx)))}")

# %%
# Along the line from ``x`` to the counterexample, the margin ``F_0 - max_j F_j`` crosses zero
# no closer to ``x`` than the adversarial radius:
t = np.linspace(0, 1, 400)
line = x + t[:, None] * (cx - x)
F = net.forward(line)
margin = F[:, 0] - F[:, 1:].max(axis=1)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(t * np.linalg.norm(cx - x), margin)
ax.axhline(0, color="k", lw=1)
ax.axvline(search.radius, color="tab:red", ls="--", label="exact minimal adversarial radius")
ax.set_xlabel("distance from x along the segment")
ax.set_ylabel("margin of class 0")
ax.legend()
fig.tight_layout()
plt.show()

"""
Bounds against exact counts
===========================

How far above the truth are the analytical upper bounds of the literature? On a few seeded
random networks, :func:`~exactregions.compare` counts the regions in a ball exactly and puts
every bound next to the count (:func:`~exactregions.all_bounds` gives the bounds alone).
"""

# %%
# One network, every bound
# ------------------------
# :func:`~exactregions.random_network` draws He-normal weights and biases N(0, 0.5^2), seeded:
# the nets of the project's tests and benchmarks.
import matplotlib.pyplot as plt
import numpy as np

from exactregions import Ball, all_bounds, compare, random_network

net = random_network(2, [8, 8, 8], seed=1)
ball = Ball([0.2, -0.1], 0.8)
comparison = compare(net, ball)
print(comparison.table())

# %%
# Every bound is an exact integer with its derivation, layer by layer. The architecture-only
# bounds need no domain:
for method, bound in all_bounds([2, 8, 8, 8], methods=["montufar2014", "raghu2017", "serra2018"]).items():
    print(f"{method:<14}{bound.value:>12,}")

# %%
# Several networks
# ----------------
# Seeded nets of two to three hidden layers, balls of three radii. The ratio bound / exact is
# at least 1 for every sound bound: the table checks it.
methods = ["serra2018", "local", "stable", "local_interval", "local_lp", "hybrid"]
rows = []
for seed in range(3):
    for widths in ([8, 8], [6, 6, 6]):
        net = random_network(2, widths, seed=seed)
        for radius in (0.2, 0.6, 1.2):
            c = compare(net, Ball([0.1, -0.2], radius), methods=methods)
            assert all(r is None or r >= 1 for r in c.ratios().values())
            rows.append((widths, seed, radius, c.count.activation_regions, c.ratios()))

print(f"{'widths':<10}{'seed':>4}{'r':>5}{'exact':>7}" + "".join(f"{m:>16}" for m in methods))
for widths, seed, radius, exact, ratios in rows:
    print(f"{str(widths):<10}{seed:>4}{radius:>5}{exact:>7}" + "".join(f"{ratios[m]:>16.3g}" for m in methods))

# %%
# The median ratio of each bound over these cases, on a log scale (1 is the exact count):
median = [np.median([r[4][m] for r in rows]) for m in methods]
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.bar(methods, median, color="tab:blue")
ax.axhline(1, color="k", lw=1)
ax.set_yscale("log")
ax.set_ylabel("median bound / exact count")
ax.set_title(f"{len(rows)} seeded nets and balls")
plt.setp(ax.get_xticklabels(), rotation=20, ha="right")
fig.tight_layout()
plt.show()

# %%
# ``hybrid`` counts all but the last hidden layer exactly and bounds only the rest, so it is
# nearly exact at the cost of a traversal; ``local_lp`` is the tightest bound that needs none.

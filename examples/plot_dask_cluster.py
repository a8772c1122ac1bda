"""
A count and a sweep on a Dask cluster
=====================================

The subdivision engine cuts the domain's cells into independent batches, which can run in this
process, in local processes (``workers=N``) or on a Dask cluster (``scheduler="tcp://..."``):
the same code and the same regions. A :func:`~exactregions.sweep` of many balls sends its
counts to a cluster with the same argument. Here a local cluster of two worker processes on the
loopback interface stands in for a real one.
"""

# %%
# The work, done in this process
# ------------------------------
# One count of a 4-D box, and a sweep of 24 balls (12 centres, 2 radii): one row per count.
import multiprocessing
import time

import dask
import matplotlib.pyplot as plt
import numpy as np
from dask.distributed import LocalCluster

from exactregions import Box, count_regions, random_network, sweep

net = random_network(4, [16, 16], seed=0)
box = Box(-1, 1, dim=4)
centres = np.random.default_rng(0).uniform(-1, 1, size=(12, 4))

t = time.perf_counter()
serial = count_regions(net, box, engine="subdivision")
t_serial = time.perf_counter() - t
local_rows = sweep(net, centres, [0.2, 0.5], progress=False)

# %%
# A cluster of two processes
# --------------------------
# ``dask[distributed]`` is an optional dependency (``pip install ".[dask]"``). Dask starts its
# worker processes by "spawn", which re-runs a script's top level in every worker (a script
# must then keep its work under ``if __name__ == "__main__":``); forking them, where the
# system can, lets this example run as it is. (Forked after the counts above, the workers find
# the compiled kernels loaded; a worker of a real cluster loads them from numba's cache on its
# first count.)
if "fork" in multiprocessing.get_all_start_methods():
    dask.config.set({"distributed.worker.multiprocessing-method": "fork"})
cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                       dashboard_address=":0")
print("scheduler:", cluster.scheduler_address)

# %%
# The same count on the cluster
# -----------------------------
t = time.perf_counter()
distributed = count_regions(net, box, engine="subdivision", scheduler=cluster.scheduler_address)
t_dask = time.perf_counter() - t

print(f"serial:       {serial.label():>8} regions in {t_serial:.2f} s")
print(f"Dask cluster: {distributed.label():>8} regions in {t_dask:.2f} s")

# %%
# Not only the number: the regions are the same, activation pattern for activation pattern.
same = {r.pattern.tobytes() for r in serial.regions} == {r.pattern.tobytes() for r in distributed.regions}
print("same regions:", same)
assert same and serial.activation_regions == distributed.activation_regions

# %%
# The same sweep on the cluster
# -----------------------------
# With ``scheduler=`` the sweep's counts run on the cluster's workers, in batches of bounded
# estimated cost; the network and the centres travel to each worker once. The rows are those
# of the sweep in this process, timings aside.
cluster_rows = sweep(net, centres, [0.2, 0.5], scheduler=cluster.scheduler_address, progress=False)
cluster.close()
columns = [c for c in local_rows.columns if c != "seconds"]
print(cluster_rows[["point", "radius", "activation_regions", "complete", "engine"]].head(4).to_string(index=False))
print(f"{len(cluster_rows)} rows, the same as in this process:", cluster_rows[columns].equals(local_rows[columns]))
assert cluster_rows[columns].equals(local_rows[columns])

# %%
# On work this small the cluster's start-up and the shipping of batches dominate; a cluster
# pays on counts of millions of regions and on sweeps of thousands of balls. Every region has a
# point inside it, here the first two coordinates of each region's point:
P = [r.point for r in distributed.regions]
fig, ax = plt.subplots(figsize=(5, 5))
ax.scatter([p[0] for p in P], [p[1] for p in P], s=2)
ax.set_xlabel("x1")
ax.set_ylabel("x2")
ax.set_title(f"{distributed.label()} regions of a 4-D box: one point each (x1, x2)")
fig.tight_layout()
plt.show()

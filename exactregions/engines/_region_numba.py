"""The BFS's ray shooting compiled with numba: the same rays, the same test and the same answer
as :func:`exactregions.engines.region._ray_facets` (the readable reference, which the tests hold
this to), in one loop over rays and rows instead of a rows-by-rays matrix of hit times, a
sort for the second-smallest and a ``np.unique`` (a 784-D digits ball, 22-D after the
reduction: about 110 us per call in numpy, two calls per region).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def ray_hits(G, h, x0, normals, directions, max_normal_rays):
    """Rays from ``x0`` along the normals of the rows ``normals`` (the ``max_normal_rays`` with
    the least slack when there are more) and along ``directions``: for each row that is the
    unique first hit of some ray (the second hit at least ``1e-7`` relatively and ``1e-12``
    absolutely later), at its first such ray, the row and the hit point."""
    m, d = G.shape
    slack = np.empty(m)
    for i in range(m):
        s = h[i]
        for j in range(d):
            s -= G[i, j] * x0[j]
        slack[i] = s
    rows = normals
    if normals.size > max_normal_rays:
        rows = normals[np.argsort(slack[normals])[:max_normal_rays]]
    nr = rows.size + directions.shape[0]
    seen = np.zeros(m, np.bool_)
    found = np.empty(nr, np.int64)
    points = np.empty((nr, d))
    u = np.empty(d)
    k = 0
    for ray in range(nr):
        if ray < rows.size:
            u[:] = G[rows[ray]]
        else:
            u[:] = directions[ray - rows.size]
        t1, t2, first = np.inf, np.inf, -1
        for i in range(m):
            rate = 0.0
            for j in range(d):
                rate += G[i, j] * u[j]
            if rate > 1e-12:
                t = slack[i] / rate
                if t < t1:
                    t1, t2, first = t, t1, i
                elif t < t2:
                    t2 = t
        if first >= 0 and t1 < np.inf and t2 > t1 * (1 + 1e-7) + 1e-12 and not seen[first]:
            seen[first] = True
            found[k] = first
            for j in range(d):
                points[k, j] = x0[j] + t1 * u[j]
            k += 1
    return found[:k], points[:k]


@njit(cache=True, nogil=True)
def pair_bound(G, h, c, Gi, hi):
    """:func:`exactregions.engines.region.pair_distance_bound` for the rows ``Gi x = hi`` (not
    rows of ``G``): for each, the largest over the rows ``j`` of ``G`` of the exact distance from
    ``c`` to ``{Gi x = hi, G_j x <= h_j}`` (unit rows)."""
    m, d = G.shape
    k = Gi.shape[0]
    a = np.empty(m)
    for j in range(m):
        s = -h[j]
        for t in range(d):
            s += G[j, t] * c[t]
        a[j] = s
    out = np.empty(k)
    for i in range(k):
        ai = -hi[i]
        for t in range(d):
            ai += Gi[i, t] * c[t]
        best = abs(ai)
        for j in range(m):
            cos = 0.0
            for t in range(d):
                cos += Gi[i, t] * G[j, t]
            foot = a[j] - ai * cos
            sin2 = 1.0 - cos * cos
            if foot > 0 and sin2 > 1e-12:
                two = np.sqrt(max(ai * ai - 2.0 * cos * ai * a[j] + a[j] * a[j], 0.0) / max(sin2, 1e-300))
                if two > best:
                    best = two
        out[i] = best
    return out

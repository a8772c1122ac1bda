"""Exact 1-D counts along a segment: one pass of interval splitting, no LP.

On the segment ``x(t) = p + t (q - p)``, ``0 < t < 1``, every pre-activation is affine in ``t``
on each interval of constant pattern. Layer by layer, each interval is split at the roots
``t = -c / a`` of its neurons' affine forms ``a t + c`` that fall strictly inside it; the
pattern of a sub-interval is read at its midpoint. Each root changes the sign of its neuron,
so consecutive intervals have different patterns, and a convex region meets a line in one
interval: the count is the number of intervals (breakpoints + 1).
"""

from __future__ import annotations

import time

import numpy as np

from ..domains import check_dimension
from ..network import times_t
from ..result import Region, RegionCount
from .verify import verify_count

__all__ = ["count_segment"]


def count_segment(net, segment, tol=None, keep_regions: bool = True, time_limit=None) -> RegionCount:
    """Activation regions of ``net`` met by the open ``segment`` (a :class:`Segment`).

    ``time_limit`` (seconds or a :class:`~exactregions.deadline.Deadline`) is checked after
    every layer: stopped, the count is the number of intervals so far, a lower bound (each holds
    at least one region, and different intervals different ones), without the regions (their
    patterns are not known yet).

    Examples
    --------
    >>> import numpy as np
    >>> from exactregions import Network, Segment
    >>> net = Network([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0]]], [[0.0, 0.0], [0.0]])
    >>> count_segment(net, Segment(np.array([-1.0, -2.0]), np.array([1.0, 2.0]))).activation_regions
    2
    """
    from ..deadline import Deadline
    from .region import Tolerances

    tol = tol or Tolerances()
    deadline = Deadline.of(time_limit)
    check_dimension(segment, net.input_dim, "the segment")
    t0 = time.perf_counter()
    length = float(np.linalg.norm(segment.q - segment.p))
    eps = tol.inradius / length  # breakpoints closer than this (in t) are one breakpoint
    lo, hi = np.array([0.0]), np.array([1.0])
    P, Q = (segment.q - segment.p)[None, :], segment.p[None, :]  # h(t) = P t + Q per interval
    bits_by_layer = []
    for layer, (W, b, s, lin) in enumerate(zip(net.weights[:-1], net.biases[:-1], net.slopes, net.linear)):
        if layer and deadline.expired():  # intervals so far: a lower bound, patterns unknown
            stats = {"seconds": time.perf_counter() - t0, "lp_solves": 0, "qp_solves": 0, "solver_retries": 0,
                     "layers_done": layer}
            numerics = {"tolerances": tol.to_dict(), "thin_regions_skipped": 0, "near_degenerate": [],
                        "seed_perturbed": None}
            return RegionCount(int(lo.size), None, False, [], [], stats, numerics, "time_limit", net, segment, tol,
                               verifier=verify_count)
        a, c = times_t(P, W), times_t(Q, W) + b
        with np.errstate(divide="ignore", invalid="ignore"):
            roots = np.where((a != 0) & ~lin, -c / a, np.nan)
        inside = (roots > lo[:, None] + eps) & (roots < hi[:, None] - eps)
        k_idx, _ = np.nonzero(inside)
        r = roots[inside]
        order = np.lexsort((r, k_idx))
        k_idx, r = k_idx[order], r[order]
        keep = np.ones(r.size, bool)  # drop coincident roots (duplicated or rescaled neurons)
        keep[1:] = ~((k_idx[1:] == k_idx[:-1]) & (r[1:] - r[:-1] <= eps))
        k_idx, r = k_idx[keep], r[keep]
        cuts = np.bincount(k_idx, minlength=lo.size)
        parent = np.repeat(np.arange(lo.size), cuts + 1)
        starts = np.concatenate([[0], np.cumsum(cuts + 1)[:-1]])
        new_lo, new_hi = lo[parent].copy(), hi[parent].copy()
        # the j-th root of interval k ends sub-interval starts[k]+j and starts the next
        rank = np.arange(r.size) - np.repeat(np.cumsum(np.r_[0, cuts[:-1]]), cuts)
        pos = np.repeat(starts, cuts) + rank
        new_hi[pos], new_lo[pos + 1] = r, r
        mid = (new_lo + new_hi) / 2
        a, c = a[parent], c[parent]
        z = a * mid[:, None] + c
        bits = (z > 0) | lin
        g = np.where(bits, 1.0, s)
        P, Q = g * a, g * c
        bits_by_layer = [bb[parent] for bb in bits_by_layer] + [bits]
        lo, hi = new_lo, new_hi
    n = lo.size
    patterns = np.concatenate(bits_by_layer, axis=1) if bits_by_layer else np.zeros((n, 0), bool)
    mids = segment.point((lo + hi) / 2)
    regions = []
    if keep_regions:
        for k in range(n):
            regions.append(Region(pattern=patterns[k], point=mids[k], inradius=(hi[k] - lo[k]) * length / 2,
                                  affine=net.affine_map(patterns[k])))
    else:
        regions = [None] * n
    keys = [p.tobytes() for p in patterns]
    edges = [(keys[k], keys[k + 1]) for k in range(n - 1)]
    stats = {"seconds": time.perf_counter() - t0, "lp_solves": 0, "qp_solves": 0, "solver_retries": 0,
             "breakpoints": (lo[1:]).tolist() if n <= 10000 else n - 1}
    numerics = {"tolerances": tol.to_dict(), "thin_regions_skipped": 0, "near_degenerate": [],
                "seed_perturbed": None}
    return RegionCount.build(net, segment, keys, regions, edges, complete=True, stop_reason=None,
                             stats=stats, numerics=numerics, tol=tol, verifier=verify_count)

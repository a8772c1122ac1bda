"""Hyperplane-arrangement counts (exact integers).

* Zaslavsky's ``Phi(m, d)`` and Cover's central count live in :mod:`exactregions.combinatorics`
  (the engines use them too) and are re-exported here.
* Restricted to a convex open set K, general position:
  ``1 + sum_{k=1}^{d} #{k-subsets whose flat meets K}`` (add hyperplanes one at a time;
  each adds the number of regions it induces inside itself; induct on d).
"""

from __future__ import annotations

import itertools

import numpy as np

from ..combinatorics import cover, phi

__all__ = ["phi", "cover", "restricted_count_ball", "flat_meets_ball"]


def flat_meets_ball(A: np.ndarray, beta: np.ndarray, center: np.ndarray, radius: float,
                    rtol: float = 1e-9) -> bool:
    """Does the flat ``{A x = beta}`` meet the open ball ``B(center, radius)``?

    Nearest point of the flat: ``x* = c + A^T (A A^T)^+ (beta - A c)`` (minimum-norm solution;
    dependent rows allowed: an inconsistent system is an empty flat). ``rtol`` errs towards
    "meets", which keeps :func:`restricted_count_ball` an upper bound under rounding.
    """
    A = np.atleast_2d(A)
    rhs = beta - A @ center
    y, *_ = np.linalg.lstsq(A, rhs, rcond=None)
    scale = 1.0 + np.abs(rhs).max() + np.abs(A).max()
    if np.linalg.norm(A @ y - rhs) > rtol * scale:
        return False
    return float(np.linalg.norm(y)) < radius * (1 + rtol)


def restricted_count_ball(W: np.ndarray, b: np.ndarray, center, radius) -> int:
    """Regions of the arrangement ``{W x + b = 0}`` meeting the open ball:
    ``1 + sum_{k<=d} #{k-subsets whose flat meets the ball}``.

    Exact in general position; an upper bound for any arrangement (adding a hyperplane adds at
    most the regions it induces on itself; coincident or parallel ones only add terms).
    """
    W = np.atleast_2d(np.asarray(W, dtype=float))
    b = np.asarray(b, dtype=float)
    center = np.asarray(center, dtype=float)
    m, d = W.shape
    total = 1
    for k in range(1, min(m, d) + 1):
        for S in itertools.combinations(range(m), k):
            S = list(S)
            if flat_meets_ball(W[S], -b[S], center, radius):
                total += 1
    return total

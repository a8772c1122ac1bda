"""Counts of hyperplane arrangements in general position (exact integers), used both by the
engines (to size the subdivision's batches) and by the bounds: below both.

* Zaslavsky (Memoirs AMS 154, 1975): m hyperplanes in R^d cut it into at most
  ``Phi(m, d) = sum_{j=0}^{min(m,d)} C(m, j)`` regions, with equality in general position.
* Cover (IEEE Trans. EC-14, 1965): m central hyperplanes with normals in general position
  give exactly ``2 sum_{k=0}^{d-1} C(m-1, k)`` regions.
"""

from __future__ import annotations

from math import comb

__all__ = ["phi", "cover"]


def phi(m: int, d: int) -> int:
    """``Phi(m, d) = sum_{j=0}^{min(m, d)} C(m, j)``: Zaslavsky's bound for m hyperplanes in R^d."""
    if m < 0 or d < 0:
        raise ValueError("phi needs m >= 0 and d >= 0")
    return sum(comb(m, j) for j in range(min(m, d) + 1))


def cover(m: int, d: int) -> int:
    """Cover's count of regions of m central hyperplanes in general position in R^d."""
    if m == 0:
        return 1
    return 2 * sum(comb(m - 1, k) for k in range(d))

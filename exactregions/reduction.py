"""Exact reduction of the input dimension for rotation-invariant domains.

Every region boundary of a network is a hyperplane ``{x : a x + b = 0}`` whose normal ``a`` lies
in the row space of the first layer's weights ``W0``: each deeper pre-activation is an affine
function of ``W0 x`` on every region. With ``V`` (k x d) an orthonormal basis of that row space,
the network depends on ``x`` only through ``y = V (x - c)``, every region is a cylinder
``R' x (row space)^perp``, and the regions meeting the L2 ball ``B(c, r)`` (or the whole space)
correspond one to one with the regions of the reduced network ``y -> F(c + V^T y)`` meeting the
k-dimensional ball ``B(0, r)`` (an orthogonal projection maps an L2 ball onto the L2 ball of the
same radius, and a cylinder meets the ball iff its base meets the projected ball). Full
dimensionality, adjacency and the affine maps carry over, so every count and every region's
data is exact in the original space after :meth:`Reduction.lift`.

Refinement: a ReLU unit of the first layer that is inactive on the whole ball
(``W0_i c + b0_i + r ||W0_i|| <= 0``) outputs exactly 0 there and contributes nothing to any
normal, so it is removed before ``V`` is computed (its pattern bit is False everywhere).

Not used for boxes, polytopes, L1/L-inf balls or clipped balls: their projection is a zonotope
or a general polytope, not a ball, and they are counted in the original space.

The one numerical choice is the rank: singular values of the kept ``W0`` rows below
``rank_rtol * s_max`` are treated as zero (default ``max(shape) * eps``, NumPy's
``matrix_rank`` rule: below it the singular values are rounding noise). The largest dropped
singular value is reported in the statistics; ``count_regions(..., reduce=False)`` (CLI
``--no-reduce``) switches the reduction off.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .domains import Ball, Whole
from .network import Network
from .result import Region, RegionCount

__all__ = ["Reduction", "reduce_dimension"]


@dataclass(frozen=True)
class Reduction:
    """A reduced problem and the map back.

    net, domain: the k-dimensional network and domain the engines count.
    basis: ``V``, k x d with orthonormal rows; a reduced point ``y`` is ``center + y @ V``.
    center: the ball's centre (zero for the whole space).
    kept: boolean mask over the first hidden layer: the units the reduced network keeps.
    dropped_singular_value: the largest singular value of the kept rows treated as zero.
    """

    net: Network
    domain: object
    basis: np.ndarray
    center: np.ndarray
    kept: np.ndarray
    dropped_singular_value: float

    @property
    def input_dim(self) -> int:
        return self.basis.shape[1]

    @property
    def reduced_dim(self) -> int:
        return self.basis.shape[0]

    def stats(self) -> dict:
        return {"input_dim": self.input_dim, "reduced_dim": self.reduced_dim,
                "dead_first_layer_units": int((~self.kept).sum()),
                "largest_dropped_singular_value": self.dropped_singular_value}

    def lift_points(self, Y) -> np.ndarray:
        """Reduced points (n, k) or (k,) -> original points ``center + y V``."""
        return self.center + np.asarray(Y, dtype=np.float64) @ self.basis

    def lift_patterns(self, P) -> np.ndarray:
        """Reduced patterns -> original patterns (removed units are inactive: bit False)."""
        P = np.atleast_2d(np.asarray(P, dtype=bool))
        n1, nk = self.kept.size, int(self.kept.sum())
        out = np.zeros((P.shape[0], P.shape[1] + n1 - nk), bool)
        out[:, :n1][:, self.kept] = P[:, :nk]
        out[:, n1:] = P[:, nk:]
        return out

    def lift_affine(self, M, m):
        """The reduced map ``y -> M y + m`` as a map of the original input (or a stack of maps,
        ``M`` of shape (n, outputs, k): one 2-D product for all of them)."""
        M = np.asarray(M)
        MV = (M.reshape(-1, M.shape[-1]) @ self.basis).reshape(M.shape[:-1] + (self.basis.shape[1],))
        return MV, m - MV @ self.center

    def lift(self, res: RegionCount, net: Network, domain) -> RegionCount:
        """The reduced count as a count of ``net`` on ``domain``: same regions, graph and
        counts; patterns, points and affine maps in the original space. Each region's
        ``inradius`` is the one measured in the reduced space."""
        regions = res.regions
        if regions and all(r is not None for r in regions):
            pats = self.lift_patterns([r.pattern for r in regions])
            pts = self.lift_points(np.array([r.point for r in regions]))
            if all(r.affine is not None for r in regions):  # all maps at once
                maps = list(zip(*self.lift_affine(np.array([r.affine[0] for r in regions]),
                                                  np.array([r.affine[1] for r in regions]))))
            else:
                maps = [None if r.affine is None else self.lift_affine(*r.affine) for r in regions]
            regions = [Region(pattern=p, point=x, inradius=r.inradius, affine=a)
                       for p, x, r, a in zip(pats, pts, regions, maps)]
        stats = {**res.stats, "reduction": self.stats()}
        return RegionCount(res.activation_regions, res.linear_regions, res.complete, regions, res.edges, stats,
                           res.numerics, res.stop_reason, net, domain, res.tol, res.slice, res.verifier)


def reduce_dimension(net: Network, domain, rank_rtol: float | None = None) -> Reduction | None:
    """The exact reduction of ``(net, domain)`` (module docstring), or None where it does not
    apply (not an unclipped L2 ball or the whole space, no hidden layer) or gains nothing
    (the kept first-layer rows already span the input space)."""
    if isinstance(domain, Ball) and domain.norm == 2 and domain.clip is None:
        c, r = domain.center, domain.radius
    elif isinstance(domain, Whole):
        c, r = np.zeros(domain.dim), None
    else:
        return None
    if len(net.weights) < 2:
        return None
    W0, b0 = net.weights[0], net.biases[0]
    norms = np.linalg.norm(W0, axis=1)
    top = W0 @ c + b0 + (r * norms if r is not None else np.where(norms > 0, np.inf, 0.0))
    kept = ~((top <= 0) & ~net.linear[0]) if net.slopes[0] == 0.0 else np.ones(W0.shape[0], bool)
    if not kept.any():  # the first layer is dead on the ball: keep it whole, the engines see one region
        kept[:] = True
    W = W0[kept]
    d = net.input_dim
    if W.shape[0]:
        # one BLAS thread, as in the traversal: the 1258 x 784 SVD of a digits CNN's first layer
        # took 1.4-1.9 s on one thread and 12-21 s on two with other processes busy (2 cores)
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            _, s, Vt = np.linalg.svd(W, full_matrices=False)
    else:
        s, Vt = np.zeros(0), np.zeros((0, d))
    rtol = max(W.shape) * np.finfo(float).eps if rank_rtol is None else rank_rtol
    k = int(np.sum(s > rtol * s.max())) if s.size and s.max() > 0 else 0
    if k >= d:
        return None
    if k == 0:  # the network is constant on the domain: one region, counted in one dimension
        V = np.eye(1, d)
    else:
        V = Vt[:k]
    dropped = float(s[k:].max()) if s.size > k else 0.0
    ws = [W @ V.T, net.weights[1][:, kept], *net.weights[2:]]
    bs = [b0[kept] + W @ c, *net.biases[1:]]
    linear = [net.linear[0][kept], *net.linear[1:]]
    small = Network(ws, bs, net.slopes, linear)
    kd = V.shape[0]
    dom = Ball(np.zeros(kd), r) if r is not None else Whole(kd)
    return Reduction(small, dom, V, c.copy(), kept, dropped)

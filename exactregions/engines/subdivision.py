"""Vectorised layer-wise subdivision for polytope domains in low dimension (no LP).

Every cell is a convex polytope held by its vertices, its edges and, per vertex, the ids of
the ``d`` constraints tight there (the cells stay *simple*: general position). Neuron by
neuron, all cells are split at once by that neuron's hyperplane, which is affine on each cell
because the cell fixes the earlier layers' pattern:

* each vertex gets its value ``s = a . v + c``; a cell with values of both signs is split;
* an edge whose ends have opposite signs gets a new vertex (tight set: the edge's ``d - 1``
  shared constraints plus the neuron), copied into both halves;
* the two new vertices on the boundary of a common 2-face (same ``d - 2`` shared constraints,
  same cell) are joined by a new edge in both halves.

A split happens only when the hyperplane strictly crosses the cell, so every final cell is a
full-dimensional activation region ∩ domain and the count is the number of cells. A vertex on
a splitting hyperplane (within ``tol``) breaks general position: :class:`Degenerate` is raised
and ``count_regions(engine="auto")`` falls back to the breadth-first engine. Cells are
independent after every layer, so work is cut into batches of cells: bounded memory, and
batches run in parallel processes or on a Dask cluster with the same code. An L2 ball starts
from its bounding box; cells whose bounding box misses the ball are pruned after each layer;
at the end a cell counts when one of its vertices is inside the open ball or, at the rim, when
the exact distance QP from the centre to the region is below the radius.

Reference: the edge-subdivision idea of Berzins, *Polyhedral complex extraction from ReLU
networks using edge subdivision*, ICML 2023, reimplemented here with explicit cells.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass

import numpy as np

from ..domains import Ball, Box, Polytope
from ..intervals import preactivation_bounds, stability
from ..network import is_sparse, times_t
from ..oracle import Oracle
from ..combinatorics import phi
from ..deadline import reporter
from .kernels import choose_kernel
from .region import Tolerances, _vertices, neuron_rows, step_inside

__all__ = ["Degenerate", "Plan", "plan", "run_batch", "supports"]

#: 2-D cells whose inradius is at most this are thin and not counted (as in the BFS)
MIN_INRADIUS = Tolerances.inradius
#: hard limit on vertex enumeration of a general polytope domain (d-subsets of its rows)
MAX_DOMAIN_COMBOS = 200000
#: the largest temporaries of a layer's set-up, in float64s (128 MB): the vertex values of a
#: layer and the next layer's maps are made in chunks of cells or vertices this size, with the
#: deadline checked between them
CHUNK_FLOATS = 1 << 24
#: ... and of at most this many multiply-adds each (a CIFAR-sized net's second layer, sparse with
#: 1.1 million weights, costs 3.4 million per cell of a 3-D slice: 19 cells a chunk)
CHUNK_WORK = 1 << 26


class Degenerate(ValueError):
    """The subdivision met a non-generic configuration (a vertex on a splitting hyperplane)."""


@dataclass
class Cells:
    """A batch of cells. ``parent`` indexes the per-layer affine maps ``A, c``."""

    V: np.ndarray       # (nv, d) vertex coordinates
    vcell: np.ndarray   # (nv,) cell of each vertex
    T: np.ndarray       # (nv, d) sorted ids of the constraints tight at each vertex
    E: np.ndarray       # (ne, 2) vertex indices
    ecell: np.ndarray   # (ne,) cell of each edge
    bits: np.ndarray    # (nc, N) pattern so far
    parent: np.ndarray  # (nc,) row of A/c of the current layer

    @property
    def n(self) -> int:
        return self.bits.shape[0]

    def take(self, cells: np.ndarray) -> "Cells":
        """The sub-batch made of the given cells (renumbered)."""
        newid = np.full(self.n, -1)
        newid[cells] = np.arange(cells.size)
        vk = newid[self.vcell] >= 0
        vid = np.full(self.V.shape[0], -1)
        vid[vk] = np.arange(vk.sum())
        ek = newid[self.ecell] >= 0
        return Cells(self.V[vk], newid[self.vcell[vk]], self.T[vk], vid[self.E[ek]], newid[self.ecell[ek]],
                     self.bits[cells], self.parent[cells])

    def chunks(self, size: int):
        """``(first cell, sub-batch)`` for consecutive runs of ``size`` cells, in order: the
        same sub-batches as :meth:`take` of each run, with one sort instead of a pass per run."""
        vo = np.argsort(self.vcell, kind="stable")
        eo = np.argsort(self.ecell, kind="stable")
        where = np.empty_like(vo)
        where[vo] = np.arange(vo.size)  # a vertex's position in cell order
        starts = np.arange(0, self.n, size)
        vb = np.searchsorted(self.vcell[vo], np.r_[starts, self.n])
        eb = np.searchsorted(self.ecell[eo], np.r_[starts, self.n])
        for k, lo in enumerate(starts):
            hi = min(self.n, lo + size)
            vs, es = vo[vb[k]:vb[k + 1]], eo[eb[k]:eb[k + 1]]
            yield lo, Cells(self.V[vs], self.vcell[vs] - lo, self.T[vs], where[self.E[es]] - vb[k],
                            self.ecell[es] - lo, self.bits[lo:hi], self.parent[lo:hi])


def supports(domain) -> bool:
    """Polytope domains (and L2 balls through their box) that give a simple first cell."""
    if isinstance(domain, Box) or (isinstance(domain, Ball) and domain.norm in (2, np.inf)):
        return True
    if isinstance(domain, Ball) and domain.norm == 1:
        return domain.dim <= 2
    return isinstance(domain, Polytope) and domain.bounded


def initial_cell(domain, n_neurons: int):
    """The domain's polytope as one simple cell; constraint ids are its row indices."""
    d = domain.dim
    if isinstance(domain, Box) or (isinstance(domain, Ball) and domain.norm != 1):
        lo, hi = domain.bounding_box()
        # a box (the intersection of boxes): corners, facet ids 2k+{0: lo, 1: hi}
        corners = np.array(np.meshgrid(*[[0, 1]] * d, indexing="ij")).reshape(d, -1).T
        V = np.where(corners == 1, hi, lo)
        T = np.sort(2 * np.arange(d) + corners, axis=1)
        diff = (corners[:, None, :] != corners[None, :, :]).sum(axis=2)
        iu = np.argwhere(np.triu(diff == 1))
        m = 2 * d
    else:  # a bounded polytope (or an L1 ball in 2-D): enumerate its vertices
        A, b = domain.rows()
        norms = np.linalg.norm(A, axis=1)
        A, b = A / norms[:, None], b / norms
        m = A.shape[0]
        if math.comb(m, d) > MAX_DOMAIN_COMBOS:
            raise Degenerate("domain polytope has too many rows to enumerate its vertices")
        V = np.unique(np.round(_vertices(A, b), 12), axis=0)
        tight = np.abs(V @ A.T - b) <= 1e-9
        if not np.all(tight.sum(axis=1) == d):
            raise Degenerate("domain polytope is not simple (a vertex on more than d facets)")
        T = np.sort(np.nonzero(tight)[1].reshape(-1, d), axis=1)
        share = (T[:, None, :, None] == T[None, :, None, :]).any(axis=3).sum(axis=2)
        iu = np.argwhere(np.triu(share == d - 1, 1))
    E = iu[:, :2] if iu.size else np.zeros((0, 2), int)
    nv = V.shape[0]
    return Cells(V.astype(np.float64), np.zeros(nv, int), T.astype(np.int64), E.astype(np.int64),
                 np.zeros(E.shape[0], int), np.zeros((1, n_neurons), bool), np.zeros(1, int)), m


class _Work:
    """One layer's cells in growable buffers, split in place. A neuron's value at a vertex is
    computed when the neuron splits (``a . v + c`` of the vertex's layer-start cell, d products)
    into the scratch ``s``: storing every neuron at every vertex would cost n_l floats each.

    ``R[p, i]``: neuron ``i`` cuts the layer's starting cell ``p``; ``B[p, i]``: it is positive
    somewhere on ``p``. A cell inside ``p`` can only be cut by a neuron that cuts ``p``, and
    otherwise takes the bit ``B[p, i]``: each split looks at the cells it can cut, not all.
    """

    def __init__(self, cells: Cells, A, c, deadline=None):
        self.d = cells.V.shape[1]
        self.A, self.c = (np.require(x, np.float64, ["C", "W"]) for x in (A, c))  # one compiled signature
        self.nv, self.ne, self.nc = cells.V.shape[0], cells.E.shape[0], cells.n
        cv, ce, cc = 8 * self.nv + 256, 8 * self.ne + 256, 8 * self.nc + 64  # few regrowths
        n_l = A.shape[1]
        i32 = np.int32  # ids and indices: half the memory traffic of int64
        self.V = _buffer(cells.V, cv)
        self.vcell = _buffer(cells.vcell.astype(i32), cv)
        self.T = _buffer(cells.T.astype(i32), cv)
        self.E = _buffer(cells.E.astype(i32), ce)
        self.ecell = _buffer(cells.ecell.astype(i32), ce)
        self.bits = _buffer(cells.bits, cc)
        self.parent = _buffer(cells.parent.astype(i32), cc)
        self.vpar = _buffer(cells.parent[cells.vcell].astype(i32), cv)
        self.epar = _buffer(cells.parent[cells.ecell].astype(i32), ce)
        self.s = np.empty(cv)
        n_par = A.shape[0]
        self.B = np.zeros((n_par, n_l), bool)
        neg = np.zeros((n_par, n_l), bool)
        step = max(1, min(4096, CHUNK_FLOATS // max(1, n_l * self.d)))  # chunks bound the temporaries
        for lo in range(0, self.nv, step):
            if deadline is not None:  # (a wide layer: a CIFAR-sized net's 8,192 units per vertex)
                deadline.check()
            hi = min(self.nv, lo + step)
            pv = self.vpar[lo:hi]
            vals = np.einsum("vd,vnd->vn", self.V[lo:hi], A[pv]) + c[pv]
            np.logical_or.at(self.B, pv, vals > 0)
            np.logical_or.at(neg, pv, vals < 0)
        self.R = self.B & neg

    def reserve(self, add_v, add_e, add_c):
        for name, count, add in (("V", self.nv, add_v), ("vcell", self.nv, add_v), ("T", self.nv, add_v),
                                 ("vpar", self.nv, add_v), ("s", self.nv, add_v), ("E", self.ne, add_e),
                                 ("ecell", self.ne, add_e), ("epar", self.ne, add_e),
                                 ("bits", self.nc, add_c), ("parent", self.nc, add_c)):
            arr = getattr(self, name)
            if count + add > arr.shape[0]:
                setattr(self, name, _buffer(arr[:count], 2 * (count + add)))

    def cells(self) -> Cells:
        """The layer's cells as views of the buffers (the work is done with them; a copy of the
        10-D box's 2.2 million vertices and 11 million edges was a fifth of its count)."""
        nv, ne, nc = self.nv, self.ne, self.nc
        return Cells(self.V[:nv], self.vcell[:nv], self.T[:nv], self.E[:ne], self.ecell[:ne], self.bits[:nc],
                     self.parent[:nc])


def _buffer(arr, capacity):
    out = np.empty((capacity,) + arr.shape[1:], dtype=arr.dtype)
    out[: arr.shape[0]] = arr
    return out


@functools.lru_cache(maxsize=16)
def _drop_one(k: int) -> np.ndarray:
    """Rows: the indices 0..k-1 without one of them, for each one in turn (shape (k, k-1))."""
    return np.array([[i for i in range(k) if i != j] for j in range(k)], dtype=np.intp).reshape(k, k - 1)


def split_numba(w: _Work, i: int, j: int, cid: int, tol: float) -> None:
    """:func:`split_numpy` compiled (``exactregions.engines._split_numba``): the same cells."""
    from . import _split_numba as nb

    if w.d > 2 and (cid + 1) ** (w.d - 2) >= 2 ** 62:  # 2-face codes would overflow
        return split_numpy(w, i, j, cid, tol)
    cut = np.empty(w.nc, bool)
    k, nx = nb._scan(i, j, w.nv, w.ne, w.nc, w.V, w.vcell, w.vpar, w.s, w.E, w.ecell, w.epar, w.bits,
                     w.parent, w.R, w.B, w.A, w.c, tol, cut)
    if k < 0:
        raise Degenerate(nb.MESSAGES[k].format(j=j))
    if k == 0:
        return
    w.reserve(2 * nx, nx * w.d, k)  # nx crossing edges, nx (d - 1) / 2 cut 2-faces, two edges each
    nv, ne, nc = nb._apply(i, j, cid, w.nv, w.ne, w.nc, nx, w.V, w.vcell, w.T, w.s, w.vpar, w.E, w.ecell,
                           w.epar, w.bits, w.parent, w.R, cut)
    if nv < 0:
        raise Degenerate(nb.MESSAGES[nv].format(j=j))
    w.nv, w.ne, w.nc = nv, ne, nc


def split_collapsed(w: _Work, i: int, j: int, tol: float) -> Cells:
    """The last split of a count whose cells are wanted only as patterns and points (a box or
    polytope, above 2-D): each cell comes back as one vertex, its vertex centroid, with no
    edges; the cut cells' halves are never built (:func:`_split_numba._halves`). The split
    that makes the most cells is the costliest to build (10-D box: 0.25 of 0.55 s) and, last,
    the one nothing reads afterwards."""
    from . import _split_numba as nb

    cut = np.empty(w.nc, bool)
    k, _ = nb._scan(i, j, w.nv, w.ne, w.nc, w.V, w.vcell, w.vpar, w.s, w.E, w.ecell, w.epar, w.bits, w.parent, w.R,
                    w.B, w.A, w.c, tol, cut)
    if k < 0:
        raise Degenerate(nb.MESSAGES[k].format(j=j))
    w.reserve(0, 0, k)
    n = w.nc + k
    sums, counts = np.zeros((n, w.d)), np.zeros(n, np.int64)
    nb._halves(j, w.nv, w.ne, w.nc, w.V, w.vcell, w.s, w.E, w.ecell, w.bits, w.parent, cut, sums, counts)
    none = np.zeros((0, 2), np.int32)
    return Cells(sums / counts[:, None], np.arange(n, dtype=np.int32), np.zeros((n, w.d), np.int32), none,
                 np.zeros(0, np.int32), w.bits[:n], np.zeros(n, np.int32))


def split_numpy(w: _Work, i: int, j: int, cid: int, tol: float) -> None:
    """Split every cell of ``w`` by the hyperplane of the layer's neuron ``i`` (pattern bit
    ``j``, constraint id ``cid``), in place; sets bit ``j`` of every cell."""
    d, nv, ne, nc = w.d, w.nv, w.ne, w.nc
    rel_par = w.R[:, i]
    w.bits[:nc, j] = w.B[w.parent[:nc], i]
    if not rel_par.any():
        return
    idx = np.flatnonzero(rel_par[w.vpar[:nv]])  # vertices of cells this neuron may cut
    pv = w.vpar[idx]
    s = w.c[pv, i].copy()
    for t in range(d):  # term by term, in the compiled kernel's order: the same values
        s += w.A[pv, i, t] * w.V[idx, t]
    w.s[idx] = s
    vc = w.vcell[idx]
    relc = rel_par[w.parent[:nc]]
    has_pos = np.zeros(nc, bool)
    has_pos[vc[s > 0]] = True
    has_neg = np.zeros(nc, bool)
    has_neg[vc[s < 0]] = True
    w.bits[:nc, j] = np.where(relc, has_pos, w.bits[:nc, j])
    cut = has_pos & has_neg
    if not cut.any():
        return
    vcut = cut[vc]
    cand = np.flatnonzero(vcut & (np.abs(s) <= 1e-6))
    if cand.size:  # confirm against the scale of the affine form there
        pv = w.vpar[idx[cand]]
        a, c = w.A[pv, i], w.c[pv, i]
        scale = np.abs(a).sum(axis=1) * np.maximum(1.0, np.abs(w.V[idx[cand]]).max(axis=1)) + np.abs(c)
        if np.any(np.abs(s[cand]) <= tol * scale):
            raise Degenerate(f"a vertex lies on the hyperplane of neuron {j}")
    k = int(cut.sum())
    newid = np.full(nc, -1)
    newid[cut] = nc + np.arange(k)
    vn = idx[vcut & (s < 0)]  # vertices of the negative halves move to the new cells
    eidx = np.flatnonzero(rel_par[w.epar[:ne]])
    eidx = eidx[cut[w.ecell[eidx]]]  # edges of cut cells
    u, v = w.E[eidx, 0], w.E[eidx, 1]
    su_all, sv_all = w.s[u], w.s[v]
    cross = (su_all > 0) != (sv_all > 0)
    ci = eidx[cross]
    en = eidx[~cross & (su_all < 0)]
    w.ecell[en] = newid[w.ecell[en]]
    old_cell = w.ecell[ci]
    w.vcell[vn] = newid[w.vcell[vn]]
    cu, cw = u[cross], v[cross]
    su, sw = su_all[cross], sv_all[cross]
    t = (su / (su - sw))[:, None]
    P = w.V[cu] + t * (w.V[cw] - w.V[cu])
    both = np.sort(np.hstack([w.T[cu], w.T[cw]]), axis=1)  # the shared ids appear twice, adjacent
    twice = both[:, 1:] == both[:, :-1]
    if not np.all(twice.sum(axis=1) == d - 1):
        raise Degenerate("an edge's ends do not share d-1 constraints (not a simple cell)")
    S = both[:, :-1][twice].reshape(len(both), d - 1)
    # neurons are cut in order, so cid exceeds every id already tight anywhere: still sorted
    Tnew = np.hstack([S, np.full((S.shape[0], 1), cid, dtype=S.dtype)])
    nx_ = ci.size
    pairs = _pair_new_vertices(S, old_cell, cid, d) if d > 1 else np.zeros((0, 2), int)
    npair = pairs.shape[0]
    w.reserve(2 * nx_, nx_ + 2 * npair, k)
    wpos, wneg = nv + np.arange(nx_), nv + nx_ + np.arange(nx_)
    new_cell = newid[old_cell]
    par = w.parent[old_cell]
    for half, cell_ids in ((slice(nv, nv + nx_), old_cell), (slice(nv + nx_, nv + 2 * nx_), new_cell)):
        w.V[half] = P
        w.vcell[half] = cell_ids
        w.T[half] = Tnew
        w.vpar[half] = par
    pos_u = su > 0
    w.E[ci, 0] = np.where(pos_u, cu, cw)  # the positive part of each crossing edge keeps its row
    w.E[ci, 1] = wpos
    p0, p1 = pairs[:, 0], pairs[:, 1]
    a, b, e = ne, ne + nx_, ne + nx_ + npair
    w.E[a:b, 0], w.E[a:b, 1] = wneg, np.where(pos_u, cw, cu)  # negative parts of crossing edges
    w.E[b:e, 0], w.E[b:e, 1] = wpos[p0], wpos[p1]  # new edges across each cut 2-face, both halves
    w.E[e:e + npair, 0], w.E[e:e + npair, 1] = wneg[p0], wneg[p1]
    w.ecell[a:b], w.ecell[b:e], w.ecell[e:e + npair] = new_cell, old_cell[p0], new_cell[p0]
    w.epar[a:b], w.epar[b:e], w.epar[e:e + npair] = par, par[p0], par[p0]
    cs = slice(nc, nc + k)
    w.bits[cs] = w.bits[:nc][cut]
    w.bits[cs, j] = False  # the new cells are the negative halves; the old ids keep bit True
    w.parent[cs] = w.parent[:nc][cut]
    w.nv, w.ne, w.nc = nv + 2 * nx_, ne + nx_ + 2 * npair, nc + k


def _pair_new_vertices(S, old_cell, cid, d):
    """Pairs of crossing edges on a common 2-face: same cell, same ``d - 2`` shared constraints
    (a convex 2-face cut by a hyperplane is cut in exactly two edges)."""
    nx_ = S.shape[0]
    drop = _drop_one(d - 1)
    base = cid + 1  # every id in S is below cid
    if base ** (d - 1) * (int(old_cell.max(initial=0)) + 1) < 2 ** 62:  # one integer per 2-face
        powers = base ** np.arange(d - 3, -1, -1, dtype=np.int64)
        code = ((S[:, drop].astype(np.int64) @ powers) + (old_cell.astype(np.int64) * base ** (d - 2))[:, None]).ravel()
        order = np.argsort(code)
        cs = code[order]
        same = cs[1:] == cs[:-1]
    else:
        keys = np.concatenate([np.repeat(old_cell, d - 1)[:, None], S[:, drop].reshape(-1, d - 2)], axis=1)
        order = np.lexsort(keys.T[::-1])
        ks = keys[order]
        same = np.all(ks[1:] == ks[:-1], axis=1)
    owner = order // (d - 1)
    starts = np.flatnonzero(np.r_[True, ~same])
    if np.any(np.diff(np.r_[starts, nx_ * (d - 1)]) != 2):
        raise Degenerate("a 2-face is not cut in exactly two edges")
    return np.stack([owner[starts], owner[starts + 1]], axis=1)


#: Frank-Wolfe steps of the compiled hull-ball test before a cell is left to the exact QP
HULL_ITERS = 60


def _hull_vs_ball(cells: Cells, center, radius):
    """The compiled hull-ball test (:func:`_split_numba.ball_hull`) of every cell: its state
    (MEETS, MISSES, UNDECIDED) and, where it meets, a point of the cell inside the ball."""
    from . import _split_numba as nb

    order = np.argsort(cells.vcell, kind="stable")
    start = np.searchsorted(cells.vcell[order], np.arange(cells.n + 1))
    state = np.empty(cells.n, np.int64)
    point = np.empty((cells.n, cells.V.shape[1]))
    nb.ball_hull(np.ascontiguousarray(cells.V[order]), start, np.asarray(center, np.float64), float(radius),
                 HULL_ITERS, state, point)
    return state, point


def _prune_ball(cells: Cells, center, radius, kernel="numpy") -> Cells:
    """Drop cells that miss the ball: with the compiled kernel, every cell whose vertex hull is
    certified to stay at distance >= radius (:func:`_hull_vs_ball`); with numpy, every cell whose
    vertices' bounding box does."""
    if kernel == "numba":
        state, _ = _hull_vs_ball(cells, center, radius)
        keep = state != 0
        return cells if keep.all() else cells.take(np.flatnonzero(keep))
    n, d = cells.n, cells.V.shape[1]
    lo = np.full((n, d), np.inf)
    hi = np.full((n, d), -np.inf)
    np.minimum.at(lo, cells.vcell, cells.V)
    np.maximum.at(hi, cells.vcell, cells.V)
    gap = np.maximum(0, np.maximum(lo - center, center - hi))
    keep = np.linalg.norm(gap, axis=1) < radius
    return cells if keep.all() else cells.take(np.flatnonzero(keep))


def _finish(net, domain, cells: Cells, unstable, oracle, kernel="numpy", min_inradius=0.0):
    """Final patterns, one point per cell inside the open domain, and how many cells were thin
    (2-D: inradius at most ``min_inradius``, :func:`_thin_polygons`; not counted).

    The point is the vertex centroid (interior to the cell). For an L2 ball, a cell with a
    vertex inside the open ball meets it; the point is moved towards that vertex to lie
    inside. With the compiled kernel, the other cells go through the hull-ball test first
    (a point of the hull inside the ball, or a separating plane). A cell still undecided is at
    the rim: the exact distance QP from the centre to region ∩ box decides, and its nearest
    point gives the cell's point.
    """
    n = cells.n
    counts = np.bincount(cells.vcell, minlength=n)
    cen = _vertex_sums(cells.V, cells.vcell, n) / counts[:, None]
    thin = 0
    if cells.V.shape[1] == 2 and min_inradius > 0:  # thin cells leave before the domain tests
        is_thin = _thin_polygons(cells, cen, min_inradius, oracle)
        if is_thin.any():
            rest = np.flatnonzero(~is_thin)
            cells, cen, n, thin = cells.take(rest), cen[rest], rest.size, int(is_thin.sum())
    ball = domain.l2_ball
    if ball is None:
        return cells.bits, cen, thin
    c, r = ball
    margin = r - np.linalg.norm(cells.V - c, axis=1)
    order = np.lexsort((-margin, cells.vcell))  # per cell, its vertex deepest inside the ball first
    first = order[np.r_[True, cells.vcell[order][1:] != cells.vcell[order][:-1]]]
    best = np.empty(n)
    best[cells.vcell[first]] = margin[first]
    vin = np.empty((n, cells.V.shape[1]))
    vin[cells.vcell[first]] = cells.V[first]
    keep = best > 0
    pts = cen.copy()
    if kernel == "numba" and not keep.all():
        state, point = _hull_vs_ball(cells, c, r)
        hull = (state == 1) & ~keep
        keep[hull], vin[hull] = True, point[hull]
        best[hull] = r - np.linalg.norm(point[hull] - c, axis=1)
        rim = np.flatnonzero(~keep & (state == -1))
    else:
        rim = np.flatnonzero(~keep)
    for k in rim:  # the rim: exact QP
        q = _rim_point(net, domain, cells.bits[k], unstable, oracle)
        if q is not None:
            keep[k], vin[k], best[k] = True, q, r - np.linalg.norm(q - c)
    for k in np.flatnonzero(keep):
        if np.linalg.norm(cen[k] - c) >= r:
            pts[k] = step_inside(vin[k], cen[k], best[k])
    return cells.bits[keep], pts[keep], thin


def _vertex_sums(V, vcell, n):
    """Per cell, the sum of its vertices: one bincount per coordinate, or one sparse product when
    there are many vertices (10-D box: 2.2 million vertices, 0.15 s -> 0.04 s)."""
    if len(V) < 200000:
        return np.stack([np.bincount(vcell, weights=col, minlength=n) for col in V.T], axis=1)
    from scipy.sparse import csc_matrix

    return csc_matrix((np.ones(len(V)), (vcell, np.arange(len(V)))), shape=(n, len(V))) @ V


def _thin_polygons(cells: Cells, cen, rmin, oracle):
    """2-D cells whose inradius is at most ``rmin`` (thin: not counted, as the BFS and the planar
    walk decide). A convex polygon of area A and perimeter L has ``A / L <= inradius <= 2 A / L``
    (vertices ordered by angle around their centroid, so counter-clockwise); between the bounds
    its Chebyshev LP decides. In higher dimension the subdivision counts every cell it splits
    off."""
    n = cells.n
    d = cells.V - cen[cells.vcell]
    order = np.lexsort((np.arctan2(d[:, 1], d[:, 0]), cells.vcell))
    V, vc = cells.V[order], cells.vcell[order]
    start = np.r_[0, np.cumsum(np.bincount(vc, minlength=n))[:-1]]
    nxt = np.arange(len(V)) + 1
    last = np.r_[vc[1:] != vc[:-1], True]
    nxt[last] = start[vc[last]]
    W = V[nxt]
    area = 0.5 * np.abs(np.bincount(vc, weights=V[:, 0] * W[:, 1] - W[:, 0] * V[:, 1], minlength=n))
    per = np.bincount(vc, weights=np.hypot(*(W - V).T), minlength=n)
    thin = 2 * area <= rmin * per
    for k in np.flatnonzero(~thin & (area <= rmin * per)):
        P = V[vc == k]
        E = np.roll(P, -1, axis=0) - P
        G = np.stack([E[:, 1], -E[:, 0]], axis=1)  # outward normals (counter-clockwise order)
        _, r = oracle.chebyshev(G, np.einsum("ij,ij->i", G, P), what="the inradius of a thin cell")
        thin[k] = not r > rmin
    return thin


def _rim_point(net, domain, pattern, unstable, oracle):
    """Nearest point of region ∩ box to the ball centre if closer than the radius, else None."""
    c, r = domain.l2_ball
    A, b = Ball(domain.center, domain.radius, norm=np.inf, clip=domain.clip).rows()
    G, h = neuron_rows(net, pattern, unstable, Tolerances())
    dist, q = oracle.nearest_point(np.vstack([G, A]), np.concatenate([h, b]), c,
                                   what="the distance from the ball centre to a region")
    return q if dist < r else None


#: ``kernel="auto"`` in a process that has not loaded the compiled kernel yet takes the numpy
#: one when 4,096 random points of a box or polytope domain in at most :data:`SMALL_DIM`
#: dimensions show fewer than this many regions by the Chao1 estimate: loading numba costs about
#: 0.7 s, more than the numpy kernel needs for such counts (2-D [64,64] box, 3,997 regions: numpy
#: 0.13 s in-call; 4-D [16,16], 8,706 regions: 0.21 s). Above 4-D a cell has so many vertices
#: that the compiled kernel pays for its load even on small counts (10-D box, 2,157 regions:
#: numpy 3.6 s, numba 1.2 s).
SMALL_COUNT = 2500
SMALL_DIM = 4


def resolve_kernel(kernel: str, net=None, domain=None) -> str:
    """``"auto"``: the compiled kernel when numba imports and passes :func:`_numba_works`,
    else the numpy one; given ``net`` and ``domain``, a small count in a process that has not
    loaded the compiled kernel yet stays with numpy (:data:`SMALL_COUNT`)."""
    return choose_kernel(kernel, _numba_works, lambda: net is not None and numpy_kernel_pays(net, domain))


def numpy_kernel_pays(net, domain) -> bool:
    """No compiled kernel is loaded in this process yet and the count looks small
    (:func:`_looks_small`): the numpy kernel finishes before numba would have loaded."""
    return _numba_works.cache_info().currsize == 0 and _looks_small(net, domain)


def _looks_small(net, domain) -> bool:
    """Chao1's richness estimate from the patterns of 4,096 seeded random points of a box or
    polytope domain in at most :data:`SMALL_DIM` dimensions is below :data:`SMALL_COUNT` (L2
    balls keep the compiled kernel: its hull-ball test is what makes them fast)."""
    if domain.l2_ball is not None or not domain.bounded or domain.dim > SMALL_DIM:
        return False
    X = domain.sample(4096, np.random.default_rng(0))
    # the first 256 points first: all of them in different regions (no count below SMALL_COUNT
    # does that but with probability about exp(-256^2 / (2 SMALL_COUNT)) = 2e-6) settles it at a
    # sixteenth of the forward passes (a CIFAR-sized plane slice: 32 s for 4,096 on a loaded machine)
    head = np.unique(np.packbits(net.pattern(X[:256]), axis=1), axis=0).shape[0]
    if head == 256:
        return False
    _, counts = np.unique(np.packbits(net.pattern(X), axis=1), axis=0, return_counts=True)
    f1, f2 = int((counts == 1).sum()), int((counts == 2).sum())
    return counts.size + f1 * (f1 - 1) / (2 * (f2 + 1)) < SMALL_COUNT


@functools.lru_cache(maxsize=1)
def _numba_works() -> str | None:
    """Compile (or load) the kernel and split a square by a line with it, once per process:
    None if that gives the two expected cells, else what went wrong."""
    try:
        from . import _split_numba  # noqa: F401
    except ImportError:
        return "numba is not installed: pip install numba"
    try:
        cells, m = initial_cell(Box(-1, 1, dim=2), 1)
        w = _Work(cells, np.array([[[1.0, 0.0]]]), np.array([[-0.3]]))
        split_numba(w, 0, 0, m, 1e-10)
        if (w.nc, w.nv, w.ne) != (2, 8, 8):
            return f"the self-test split gave {w.nc} cells, {w.nv} vertices, {w.ne} edges"
    except Exception as e:  # a compiler or platform failure: fall back, never crash a count
        return f"{type(e).__name__}: {e}"
    return None


def _split_layer(net, cells: Cells, l: int, maps, unstable, fixed, m_dom, tol, kernel, first=0, stop_cells=None,
                 progress=None, collapse=False, deadline=None):
    """Split the cells by the neurons ``first, first+1, ...`` of layer ``l``, stopping early once
    there are ``stop_cells`` cells; returns the cells and the next neuron (the layer's width when
    it is done). ``collapse`` (the compiled kernel): the cells come back as their vertex
    centroids (:func:`split_collapsed`). ``deadline`` (a
    :class:`~exactregions.deadline.Deadline`) is checked before every neuron: past it,
    :class:`~exactregions.deadline.TimeLimitReached` (the layer's cells are not regions yet)."""
    A, c = maps
    sl = net.layer_slices()[l]
    work = _Work(cells, A, c, deadline)
    split = split_numba if kernel == "numba" else split_numpy
    resumable = first > 0 or stop_cells is not None
    order = np.arange(sl.stop - sl.start) if resumable else _split_order(work)
    held = None
    if collapse and order.size > first and unstable[sl.start + order[-1]] and work.R[:, order[-1]].any():
        held, order = int(order[-1]), order[:-1]  # split last, into centroids
    t0 = time.perf_counter()
    k = first
    while k < order.size and not (stop_cells and work.nc >= stop_cells):
        if deadline is not None:
            deadline.check()
        i = int(order[k])
        j = sl.start + i
        if unstable[j]:
            split(work, i, j, m_dom + sl.start + k, tol)  # ids rise in the order of the splits
        else:
            work.bits[:work.nc, j] = fixed[j]
        if progress is not None:
            progress(work.nc, order.size - k - 1, time.perf_counter() - t0, stage=f"layer {l + 1}")
        k += 1
    if held is not None:
        return split_collapsed(work, held, sl.start + held, tol), k + 1
    return work.cells(), k


def _split_order(work: _Work) -> np.ndarray:
    """The layer's neurons, those that may cut the fewest vertices first (the vertices of the
    layer-start cells each one cuts): a split's cost follows the cells that exist when it
    comes, so the splits that make the most of them go last. The cells are the same in any
    order (10-D box, second layer: 0.74 -> 0.66 s)."""
    load = np.bincount(work.vpar[:work.nv], minlength=work.R.shape[0]) @ work.R
    return np.argsort(load, kind="stable")


def _next_layer(net, cells: Cells, l: int, maps, ball, kernel="numpy", deadline=None):
    """After layer ``l``: drop cells that miss the ball; each cell's affine map of layer l+1
    (None after the last layer), made in chunks of cells (:data:`CHUNK_FLOATS`) with ``deadline``
    checked between them."""
    A, c = maps
    last = l + 1 == len(net.hidden_widths)
    # after the last layer, the compiled kernel's _finish runs this same hull test on every cell
    if ball is not None and not (last and kernel == "numba"):
        cells = _prune_ball(cells, *ball, kernel=kernel)
    if last:
        return cells, None
    sl = net.layer_slices()[l]
    W, b, s, lin = net.weights[l + 1], net.biases[l + 1], net.slopes[l], net.linear[l]
    g = np.where(cells.bits[:, sl] | lin, 1.0, s)
    d = A.shape[2]
    A_next = np.empty((cells.n, W.shape[0], d))
    work = (W.nnz if is_sparse(W) else W.size) * d  # per cell
    step = max(1, min(CHUNK_FLOATS // max(1, max(W.shape) * d), CHUNK_WORK // max(1, work)))
    for lo in range(0, cells.n, step):  # one GEMM per chunk of cells
        if deadline is not None:
            deadline.check()
        hi = min(cells.n, lo + step)
        M = (g[lo:hi, :, None] * A[cells.parent[lo:hi]]).transpose(1, 0, 2).reshape(W.shape[1], -1)
        A_next[lo:hi] = (W @ M).reshape(W.shape[0], hi - lo, d).transpose(1, 0, 2)
    cp = c[cells.parent]
    cells.parent = np.arange(cells.n)
    return cells, (A_next, times_t(g * cp, W) + b)


def _with_maps(cells: Cells, maps, size: int):
    """Sub-batches of ``size`` cells after a finished layer (one map per cell, ``parent`` the
    identity), each with its own contiguous copy of its rows of the next layer's maps."""
    A, c = maps
    for lo, sub in cells.chunks(size):
        sub.parent = np.arange(sub.n)
        rows = slice(lo, lo + sub.n)
        yield sub, (np.ascontiguousarray(A[rows]), np.ascontiguousarray(c[rows]))


def run_batch(net, domain, cells: Cells, start: int, first: int, maps, unstable, fixed, m_dom, tol, max_cells,
              kernel, min_inradius=0.0, deadline=None):
    """Push a batch of cells through layer ``start`` from its neuron ``first`` on, then through
    the later layers (in sub-batches of at most ``max_cells`` cells); returns (patterns, points,
    (QPs solved, thin cells skipped)) of its regions meeting the domain. Past ``deadline`` (checked
    before every neuron and every rim QP) it raises
    :class:`~exactregions.deadline.TimeLimitReached`: a batch counts whole or not at all."""
    oracle = Oracle(deadline=deadline)
    ball = domain.l2_ball
    # a box or polytope above 2-D keeps only each final cell's pattern and vertex centroid
    collapse = kernel == "numba" and ball is None and domain.dim > 2
    for l in range(start, len(net.hidden_widths)):
        last = l + 1 == len(net.hidden_widths)
        cells, _ = _split_layer(net, cells, l, maps, unstable, fixed, m_dom, tol, kernel, first if l == start else 0,
                                collapse=collapse and last, deadline=deadline)
        cells, maps = _next_layer(net, cells, l, maps, ball, kernel, deadline)
        if cells.n == 0:
            break
        if maps is not None and cells.n > max_cells:
            outs = [run_batch(net, domain, sub, l + 1, 0, sub_maps, unstable, fixed, m_dom, tol, max_cells, kernel,
                              min_inradius, deadline) for sub, sub_maps in _with_maps(cells, maps, max_cells)]
            return (np.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs]),
                    tuple(int(v) for v in np.sum([o[2] for o in outs], axis=0)))
    if cells.n == 0:  # every cell of the batch missed the ball
        return np.zeros((0, net.n_hidden), bool), np.zeros((0, net.input_dim)), (0, 0)
    p, q, thin = _finish(net, domain, cells, unstable, oracle, kernel, min_inradius)
    return p, q, (oracle.qp_solves, thin)


@dataclass
class Plan:
    """Everything a batch needs, computed once: cells of the first layer (all of it, or its
    first ``first`` neurons when it is large), cut into batches."""

    net: object
    domain: object
    batches: list  # (cells, their affine maps, the layer and neuron they continue from)
    unstable: np.ndarray
    fixed: np.ndarray
    m_dom: int
    tol: float
    max_cells: int
    kernel: str
    min_inradius: float = MIN_INRADIUS  # 2-D cells at most this thin are not counted
    deadline: object = None  # the count's Deadline, which every batch keeps (also in a worker)

    def run(self, i):
        cells, maps, layer, first = self.batches[i]
        return run_batch(self.net, self.domain, cells, layer, first, maps, self.unstable, self.fixed, self.m_dom,
                         self.tol, self.max_cells, self.kernel, self.min_inradius, self.deadline)


def default_batch_cells(d: int) -> int:
    """First-layer cells per batch: fewer in higher dimension, where cells have more vertices
    (measured: 512 is fastest in 2-D, 256 in 4-D and 5-D)."""
    return 512 if d <= 3 else 256


def plan(net, domain, *, batch_cells: int | None = None, max_cells: int = 200000, tol: float = 1e-10,
         kernel: str = "auto", progress=None, min_inradius: float = MIN_INRADIUS, deadline=None) -> Plan:
    """The first layer in this process, cut into batches (the same batches for the same input:
    checkpoints and workers rely on it). ``kernel``: see :func:`resolve_kernel`.

    A small first layer (at most ``256 * batch_cells`` cells by Zaslavsky's bound, which no
    domain exceeds: :func:`~exactregions.combinatorics.phi`) is
    split whole and its cells cut into batches of ``batch_cells`` (default
    :func:`default_batch_cells`). A large one is split only until one cell is expected (bound
    / cells so far) to grow to about ``batch_cells`` cells in the rest of the layer; its cells
    are cut into batches of that expected size, and each batch finishes the layer itself: the
    first layer is then parallel too, and no process ever holds all its cells.
    ``min_inradius``: in 2-D, a cell whose inradius is at most it is thin and not counted.
    ``deadline``: a :class:`~exactregions.deadline.Deadline`, checked before every neuron of the
    first layer (past it, :class:`~exactregions.deadline.TimeLimitReached`) and kept by the plan
    for its batches.
    """

    kernel = resolve_kernel(kernel, net, domain)
    batch_cells = batch_cells or default_batch_cells(net.input_dim)
    if not supports(domain):
        raise Degenerate(f"the subdivision engine does not handle {domain!r}")
    unstable, fixed = stability(*preactivation_bounds(net, domain), net.linear_mask())
    cells, m_dom = initial_cell(domain, net.n_hidden)
    if net.n_hidden == 0:
        return Plan(net, domain, [], unstable, fixed, m_dom, tol, max_cells, kernel, min_inradius, deadline)
    W, b = net.weights[0], net.biases[0]
    maps = (W[None, :, :], b[None, :])
    n0 = net.hidden_widths[0]
    bound = phi(int(unstable[:n0].sum()), net.input_dim)
    # stop where one cell is expected to grow to about batch_cells (never holding more than
    # 64 batches' worth of cells at once)
    stop = min(max(batch_cells, bound // batch_cells), 64 * batch_cells) if bound > 256 * batch_cells else None
    report = reporter(progress)
    cells, first = _split_layer(net, cells, 0, maps, unstable, fixed, m_dom, tol, kernel, 0, stop, report,
                                deadline=deadline)
    if first < n0:  # stopped early: the batches finish the layer
        size = max(1, batch_cells * cells.n // bound)
        return Plan(net, domain, [(sub, maps, 0, first) for _, sub in cells.chunks(size)], unstable, fixed, m_dom,
                    tol, max_cells, kernel, min_inradius, deadline)
    cells, maps = _next_layer(net, cells, 0, maps, domain.l2_ball, kernel, deadline)
    if maps is None:  # one hidden layer: layer 1 is all the work
        return Plan(net, domain, [(cells, None, 1, 0)], unstable, fixed, m_dom, tol, max_cells, kernel, min_inradius,
                    deadline)
    batches = [(sub, sub_maps, 1, 0) for sub, sub_maps in _with_maps(cells, maps, batch_cells)]
    return Plan(net, domain, batches, unstable, fixed, m_dom, tol, max_cells, kernel, min_inradius, deadline)

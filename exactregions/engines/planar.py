"""The planar engine: exact counts in two dimensions (2-D inputs and plane slices), for wide
and degenerate networks, with the decision boundary.

A depth-first walk over a binary space partition of the domain polygon, compiled
(:mod:`exactregions.engines._planar_numba`). A node is a convex polygon inside which every
earlier unit's sign is fixed, so each unit of the current layer is an affine function of the
plane there: a unit whose line does not cross the polygon is decided for the whole subtree, the
first one that crosses it splits it. Every leaf is one full-dimensional activation region ∩
domain (two leaves differ in the unit that split their lowest common ancestor), so the count is
the number of leaves whose inradius exceeds ``Tolerances.inradius``: a thinner leaf is skipped,
as the BFS skips a region whose Chebyshev radius is that small (a convex polygon of area A and
perimeter L has ``A / L <= inradius <= 2 A / L``; between the bounds it is computed exactly).

Why not the general subdivision: it keeps cells *simple* (d constraints tight at each vertex),
so a vertex on a hyperplane, coincident hyperplanes or a unit constant on the slice stop it,
and those are the rule on slices of convolutional nets (zero background: many units see the
same patch in all three images). Here a vertex within ``tol`` of a line belongs to both sides
(:data:`TOL`, relative to the size of the line's terms at the vertex): coincident lines,
several lines through a vertex, lines along an edge and constant units need no special case.

Wide layers: the cost of a node follows the units that may still cut it (its parent's cutting
units), not the layer's width, and the later layers' maps are never recomputed per cell. Each
slot holds every later layer's pre-activations (and the output) as affine maps of the plane,
computed once at the root with *reference gates* (each unstable unit's majority state on a
sample of the domain); deciding a unit differently from its reference adds a rank-one term
through the precomputed chain ``W_k G_{k-1} ... W_{l+1} e_j`` (``G`` the reference gates),
which is exact because every later unit is still at its reference when it happens; a chain
through convolutions reaches few later units and is kept sparse (:data:`SPARSE_CHAINS`)
(Hanin & Rolnick 2019 describe regions by the same layer-wise affine maps; the BSP walk follows
the arrangement construction of de Berg et al., *Computational Geometry*, ch. 8).

MaxPool nets arrive with the max as a tournament of ReLU comparisons (:mod:`exactregions.io.trace`);
their regions are merged by the argmax in the dispatch like every engine's.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time

import numpy as np

from ..deadline import Deadline, TimeLimitReached, reporter
from ..domains import Ball
from ..intervals import preactivation_bounds, stability
from ..network import absolute, is_sparse
from ..polygons import clip_halfplane, meets_disc, polygon_area
from ..result import PackedRegion, Region, RegionCount
from .region import SEED_NOTE, Tolerances, first_region, neuron_rows
from .verify import verify_count

__all__ = ["count_regions_planar", "supports", "Decision", "TOL"]

#: vertices within this relative distance of a unit's line lie on it (both sides): the one
#: tolerance of the planar engine, ``tol=`` to change it (``|a.v + c| <= tol (|a_x v_x| + |a_y v_y| + |c|)``)
TOL = 1e-9

#: a unit's coefficients are summed from terms (the reference map, rank-one updates) whose
#: absolute values add up to at most ``m`` (computed per unit); their rounding error is taken to
#: be below ``NOISE * m`` (about 4,500 units of float64 rounding): values within it are zero
NOISE = 1e-12

#: a layer's chains are kept sparse in the walk when at most this fraction of their entries is
#: non-zero: a sparse entry costs a scatter, a dense one a vectorised multiply-add (measured,
#: CIFAR-sized disc r=2: 47.5 s all dense, 33.4 s with its first layer's chains sparse (5%
#: non-zero), 27.8 s with its second's too (10%); LeNet box: 8.75 -> 8.6 s (25%))
SPARSE_CHAINS = 0.3

#: sample size for the reference gates (the majority state of each unit); any choice is exact,
#: a better one only saves rank-one updates
REF_SAMPLES = 256

#: ``workers > 1``: the domain polygon is cut into at least this many pieces per worker thread,
#: handed out one at a time (the regions are not spread evenly over the plane)
PIECES_PER_WORKER = 8

#: ``pieces=None``: the domain polygon is cut along first-layer lines until no piece is crossed
#: by more than this many of them, and each piece is walked with its own reference gates and
#: its own units that can cut (:func:`cut_polygon`). A wide domain is far from most units'
#: reference states: on the CIFAR-sized slice's parallelogram (4,811 first-layer lines) a leaf
#: cost 30,000 sparse chain entries; in one of 64 pieces 1,700, and the piece walked 6x faster.
#: Measured there, two threads: 800 lines 84 s (70 pieces), 500 57 s, 400 49 s (286 pieces),
#: 250 52 s (705 pieces: the set-ups begin to weigh); one walk: 466 s. One thread, 16 samples:
#: 400 lines 87 s, 300 80 s, 200 88 s; but the LeNet box 4.2 s at 400, 4.5 s at 300 (its leaves
#: are cheaper, so a set-up needs more of them to pay).
PIECE_LINES = 400

#: reference-gate samples of a piece's set-up (the whole domain's: :data:`REF_SAMPLES`); the
#: sample's forward pass is most of a set-up (0.36 of 0.42 s with 256 on the CIFAR-sized net;
#: the parallelogram above: 57 s with 64 samples per piece, 49 s with 32, 47 s with 16; one
#: thread, first 30 s: 2.96 million regions with 32, 3.11 million with 8)
PIECE_SAMPLES = 16


def supports(domain) -> bool:
    """Bounded 2-D domains: boxes, polytopes, L1/L-inf balls and discs (clipped or not)."""
    return domain.dim == 2 and domain.bounded


def _domain_polygon(domain) -> np.ndarray:
    """The domain's polygon (the bounding box of a disc), counter-clockwise."""
    lo, hi = domain.bounding_box()
    poly = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]], float)
    A, b = domain.rows()
    for g, h in zip(A, b):
        poly = clip_halfplane(poly, g, h)
    return poly


def _setup(net, domain, poly, samples=REF_SAMPLES, shared=None, deadline=None, lines_only=False):
    """Reference gates, the root slot (every later layer's maps at the reference gates), the
    rank-one chains, the fixed bits, and the units the walk sees (``ug``: each unstable unit's
    pattern index, layer by layer from ``uoff``), for the polygon ``poly`` of ``domain``
    (``samples`` points of it choose the reference gates). ``shared``: a dict keeping what
    depends on the network only (the layers' signed parts, the rounding floors) across the
    set-ups of one count's pieces. ``deadline``: checked between the layers' chains (past it,
    :class:`~exactregions.deadline.TimeLimitReached`). ``lines_only``: just the first layer's
    lines that can cut ``poly`` (rows ``a_x, a_y, c``: the first item of the full set-up), which
    is all :func:`cut_polygon` needs."""
    shared = {} if shared is None else shared
    H = len(net.hidden_widths)
    lin = net.linear_mask()
    first = None
    if domain.l2_ball is None:  # layer 1 exactly from the polygon's vertices (no LP per unit)
        Z = poly @ net.weights[0].T + net.biases[0]
        first = (Z.min(axis=0), Z.max(axis=0))
    unstable, fixed = stability(*preactivation_bounds(net, domain, first, shared.setdefault("splits", {})), lin)
    if lines_only:
        keep0 = np.flatnonzero(unstable[:net.hidden_widths[0]])
        return np.ascontiguousarray(np.hstack([net.weights[0], net.biases[0][:, None]])[keep0])
    X = domain.sample(samples, np.random.default_rng(0))
    P = net.pattern(X)
    slopes = np.concatenate([np.full(w, s) for w, s in zip(net.hidden_widths, net.slopes)])
    active = np.where(unstable, P.mean(axis=0) >= 0.5, fixed)
    gref = np.where(active, 1.0, slopes)
    gneg = np.where(lin, 1.0, slopes)
    hoff = np.r_[0, np.cumsum(net.hidden_widths)].astype(np.int64)
    # only the units that can cut are walked and kept in the slots: a stable or pass-through unit
    # is never a line and never leaves its reference gate, its effect is in the chains already
    kept = [np.flatnonzero(unstable[hoff[l]:hoff[l + 1]]) for l in range(H)]
    ug = np.concatenate([hoff[l] + kept[l] for l in range(H)]).astype(np.int64)  # global unit of each
    uoff = np.r_[0, np.cumsum([k.size for k in kept])].astype(np.int64)
    M0 = np.hstack([net.weights[0], net.biases[0][:, None]])
    maps, cur = [], M0  # maps of layers 1..H at the reference gates, kept rows only
    for l in range(1, H + 1):
        g = gref[hoff[l - 1]:hoff[l]]
        cur = net.weights[l] @ (g[:, None] * cur)
        cur[:, 2] += net.biases[l]
        maps.append(cur[kept[l]] if l < H else cur)
    slot0 = np.ascontiguousarray(np.vstack(maps).T)  # (3, rows): a_x, a_y and c, each contiguous
    rowoff = np.r_[0, 0, np.cumsum([m.shape[0] for m in maps])[:-1]].astype(np.int64)
    CTs = []
    for l in range(H):  # chain of each kept unit of layer l through the later layers' reference gates
        if deadline is not None:
            deadline.check()
        B = net.weights[l + 1][:, kept[l]]  # (sparse while the layers are convolutions)
        blocks = [B[kept[l + 1]] if l + 1 < H else B]
        for k in range(l + 2, H + 1):
            B = _chain_step(net.weights[k], gref[hoff[k - 1]:hoff[k]], B)
            blocks.append(B[kept[k]] if k < H else B)
        CTs.append(_chain_matrix(blocks))
    # the rounding floor of each unit: NOISE times the sum of the absolute terms any of its
    # coefficients can be built from (|W| times the previous layer's bound, gates at most 1)
    mag = shared.get("mag")
    if mag is None:
        mag = [np.abs(M0).sum(axis=1)]
        for l in range(1, H):
            mag.append(absolute(net.weights[l]) @ mag[-1] + np.abs(net.biases[l]))
        shared["mag"] = mag
    unoise = NOISE * np.concatenate([m[k] for m, k in zip(mag, kept)])
    return (np.ascontiguousarray(M0[kept[0]]), slot0, rowoff, CTs, fixed, gref, gneg, ug, uoff,
            unoise)  # fixed: True on pass-through units


class _Piece:
    """A piece of the domain polygon, as much of a domain as :func:`_setup` reads: no L2 ball
    (the piece's vertices bound the first layer; a disc is clipped by the walk) and uniform
    samples (triangles of a fan, chosen by area)."""

    l2_ball = None

    def __init__(self, poly):
        self.poly = poly

    def sample(self, n, rng):
        P = self.poly
        a, b = P[1:-1] - P[0], P[2:] - P[0]
        area = np.abs(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])
        t = rng.choice(len(area), size=n, p=area / area.sum())
        u, v = rng.random(n), rng.random(n)
        flip = u + v > 1
        u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
        return P[0] + u[:, None] * a[t] + v[:, None] * b[t]


def _chain_matrix(blocks):
    """One layer's chains (a row per walked unit, a column per later row) from its blocks (one
    per later layer, dense or sparse): a scipy CSR matrix when at most :data:`SPARSE_CHAINS` of
    its entries are non-zero, never made dense on the way (a ResNet-sized slice's chains would
    not fit), else a dense array."""
    if not any(is_sparse(b) for b in blocks):
        C = np.ascontiguousarray(np.vstack(blocks).T)
        if C.size == 0 or np.count_nonzero(C) > SPARSE_CHAINS * C.size:
            return C
    import scipy.sparse as sp

    C = sp.vstack([sp.csr_array(b) for b in blocks]).T.tocsr()
    C.eliminate_zeros()
    C.sort_indices()
    if C.nnz > SPARSE_CHAINS * C.shape[0] * C.shape[1]:
        return np.ascontiguousarray(C.toarray())
    return C


def _chain_arrays(CTs):
    """The walk's chains: one flat row-major array for the layers kept dense (``ct``, a section
    per layer from ``ctoff``) and CSR arrays for the sparse ones (:func:`_chain_matrix`; their
    section of ``ct`` empty): a unit of a convolution reaches only its neighbours in the next
    convolutions (CIFAR-sized slice: 5% of its first layer's chain entries)."""
    ct = np.concatenate([np.zeros(0)] + [c.ravel() for c in CTs if not is_sparse(c)])
    ctoff = np.r_[0, np.cumsum([0 if is_sparse(c) else c.size for c in CTs])].astype(np.int64)
    counts = [np.diff(c.indptr) if is_sparse(c) else np.zeros(c.shape[0], np.int64) for c in CTs]
    vals = [np.zeros(0)] + [c.data for c in CTs if is_sparse(c)]
    idx = [np.zeros(0, np.int64)] + [c.indices.astype(np.int64) for c in CTs if is_sparse(c)]
    sp_ptr = np.r_[0, np.cumsum(np.concatenate([np.zeros(0, np.int64)] + counts))].astype(np.int64)
    return ct, ctoff, np.concatenate(vals), np.concatenate(idx), sp_ptr


def _chain_step(W, g, B):
    """``W @ (g[:, None] * B)`` for dense or sparse ``W`` and ``B``: sparse as long as both are
    (a chain through convolutions stays local), dense from the first dense factor on."""
    if is_sparse(B):
        B = B.multiply(g[:, None]).tocsr()
        return (W @ B).tocsr() if is_sparse(W) else (B.T @ W.T).T
    return W @ (g[:, None] * B)


class Decision:
    """The exact decision boundary of a 2-D count (argmax of the outputs, or the sign of a
    single output): ``segments`` (k, 4) in the count's coordinates with the two classes
    ``classes`` (k, 2) that tie on each; ``length`` the total; ``regions_crossed`` (and
    ``crossed``, one flag per region); ``pairs`` {(i, j): length}. Pieces of the boundary that
    run exactly along a region's edge (a tie that coincides with a unit's line: not generic)
    are not inside any region and are left out of the length."""

    def __init__(self, segments, classes, pairs, crossed):
        self.segments, self.classes = segments, classes
        self.pairs = pairs
        self.length = float(np.hypot(*(segments[:, 2:] - segments[:, :2]).T).sum()) if len(segments) else 0.0
        self.crossed = crossed  # per region of the count: does the boundary pass through it
        self.regions_crossed = int(crossed.sum())

    def to_dict(self, complete=True):
        return {"regions_crossed": self.regions_crossed, "length": self.length,
                "classes": [list(p) for p in sorted(self.pairs)], "complete": complete}

    def sample(self, n: int, rng=None) -> np.ndarray:
        """``n`` points drawn uniformly (by length) on the boundary's segments, exactly on them."""
        if not len(self.segments):
            raise ValueError("the decision boundary does not meet the domain: no point to sample")
        rng = np.random.default_rng(rng)
        L = np.hypot(*(self.segments[:, 2:] - self.segments[:, :2]).T)
        k = rng.choice(len(L), size=n, p=L / L.sum())
        t = rng.random(n)[:, None]
        return self.segments[k, :2] + t * (self.segments[k, 2:] - self.segments[k, :2])


def count_regions_planar(net, domain, *, workers=1, scheduler=None, checkpoint=None, max_regions=None,
                         time_limit=None, tol=None, progress=None, keep_regions=True, decision=False,
                         polygons=False, pieces=None, **ignored) -> RegionCount:
    """Count the regions of a network with 2-D input in a bounded 2-D ``domain`` (the engines'
    common signature; no checkpoint).

    tol: the vertex-on-line tolerance (a float, :data:`TOL` by default) or a :class:`Tolerances`
        object, of which ``inradius`` applies: a leaf whose inradius is at most it is thin and
        not counted (``numerics["thin_regions_skipped"]``), as the BFS decides (0 counts every
        leaf of positive area).
    keep_regions: keep each region's pattern and point (``result.regions``); False keeps the
        points only (``result.stats["points"]``), for counts in the millions.
    decision: also compute the decision boundary (``result.decision``, a :class:`Decision`).
    polygons: keep each region's exact polygon (``result.polygons``, for pictures).
    pieces: None (the default) cuts the domain along first-layer lines until no piece is crossed
        by more than :data:`PIECE_LINES` of them (:func:`cut_polygon`: the same leaves, so the
        same regions, in piece order), each piece walked with its own reference gates and units;
        a number asks for that many pieces (1: one walk). ``max_regions`` makes one walk.
    workers: threads walking the pieces (at least :data:`PIECES_PER_WORKER` pieces each).
    time_limit: seconds, or the count's :class:`~exactregions.deadline.Deadline`; kept in the
        set-up, between the cuts of the domain, in every piece's set-up and inside the compiled
        walk (it looks every :data:`~exactregions.engines._planar_numba.TICK` nodes), in every
        thread. Stopped, the count is a lower bound (``stop_reason="time_limit"``) of the leaves
        walked; before the first one, the seed point's region
        (:func:`~exactregions.engines.region.first_region`).
    progress: ``progress(found, None, seconds, stage="planar walk")`` (a callback of three
        arguments is called with those).
    """
    from . import _planar_numba as nb

    t0 = time.perf_counter()
    deadline = Deadline.of(time_limit)
    report = reporter(progress, every=0.25)
    if not supports(domain):
        raise ValueError(f"the planar engine needs a bounded 2-D domain, got {domain!r}")
    tol_v = tol if isinstance(tol, float) else TOL
    # the inradius below which a leaf is thin and not counted (as the BFS does) and the
    # verifier's LP tolerances
    checks = tol if isinstance(tol, Tolerances) else Tolerances()
    H = len(net.hidden_widths)
    if H == 0:
        return _single(net, domain, t0)
    poly = _domain_polygon(domain)
    shared = {}
    ball = domain.l2_ball
    disc = np.array([ball[0][0], ball[0][1], ball[1]]) if ball is not None else np.zeros(3)
    stop_reason = None

    interrupted = [False]  # Ctrl-C during the walks: they stop at their next tick, results kept

    def tick(count):
        nonlocal stop_reason
        if report is not None:  # (with pieces: the leaves of the finished pieces and this one)
            report(count + tick.done, None, time.perf_counter() - t0, stage="planar walk")
        if interrupted[0]:
            stop_reason = "interrupted"
            return True
        if deadline.expired():
            stop_reason = "time_limit"
            return True
        return False

    tick.done = 0

    def walk(piece, given=None):  # (given: a set-up already made, else the piece's own)
        if given is None:
            deadline.check()
            given = _setup(net, _Piece(piece), piece, PIECE_SAMPLES, shared, deadline)
            deadline.check()
        M0, slot0, rowoff, CTs, fixed, gref, gneg, ug, uoff, unoise = given
        ct, ctoff, sp_val, sp_idx, sp_ptr = _chain_arrays(CTs)
        return nb.walk(piece, disc, M0, slot0, rowoff, ct, ctoff, sp_val, sp_idx, sp_ptr, fixed, gref, gneg, ug, uoff,
                       unoise, float(tol_v), float(checks.inradius), float(checks.near), bool(keep_regions),
                       bool(polygons), bool(decision), net.output_dim, int(max_regions or 0))

    workers = max(1, int(workers)) if max_regions is None else 1
    parts, outs, skipped, seeded = [poly], [], True, False
    try:
        if max_regions is not None:
            parts = [poly]  # (one walk stops at exactly max_regions leaves)
        else:  # (the pieces are cut along the first layer's lines; each makes its own set-up)
            lines = _setup(net, domain, poly, shared=shared, lines_only=True)
            k = (workers * PIECES_PER_WORKER if workers > 1 else 1) if pieces is None else int(pieces)
            parts = cut_polygon(poly, lines, k, tol_v, PIECE_LINES if pieces is None else None, deadline)
        if ball is not None:  # pieces that miss the disc hold no region
            parts = [q for q in parts if meets_disc(q, *ball)] or parts[:1]
        deadline.check()
        nb._callback[0] = tick
        try:
            with _interrupt_flag(interrupted):
                outs, skipped = _walk_pieces(walk, parts, workers, tick) if len(parts) > 1 \
                    else ([walk(poly, _setup(net, domain, poly, shared=shared, deadline=deadline))], False)
        finally:
            nb._callback[0] = None
    except TimeLimitReached:  # in a set-up (the walk's threads keep theirs: _walk_pieces)
        stop_reason = "time_limit"
    except KeyboardInterrupt:  # in a set-up (during the walks Ctrl-C only raises the flag)
        stop_reason = "interrupted"
    if outs:
        count, pts, pats, vtx, voff, crossed, segs, pairs, stopped, thin, near = _join(outs, polygons)
    else:  # stopped before any walk: the seed point's region, when it is certified
        count, stopped, thin, near, pairs = 0, 1, 0, 0, np.zeros((max(net.output_dim, 2),) * 2)
        pts, pats, crossed = np.zeros((0, 2)), [], np.zeros(0, bool)
        vtx, voff, segs = np.zeros((0, 2)), np.zeros(1, np.int64), np.zeros((0, 6))
        seed = first_region(net, domain, checks)
        seeded = seed is not None
        if seed is not None:  # (its part of the decision boundary is not looked for: a lower bound)
            count, pts, pats, crossed = 1, seed.point[None], [np.packbits(seed.pattern)[None]], np.zeros(1, bool)
            if polygons:
                vtx = _region_polygon(net, seed.pattern, poly)
                voff = np.array([0, len(vtx)], np.int64)
    stopped = stopped or skipped
    if stopped and stop_reason is None:
        stop_reason = "max_regions" if max_regions is not None else "time_limit"
    if report is not None:
        report(int(count), None, time.perf_counter() - t0, stage="planar walk", force=True)
    regions = []
    if keep_regions:  # (each piece's patterns as the walk left them: one copy of them fewer)
        rows = (p for pat in pats for p in pat)
        regions = [PackedRegion(p, net.n_hidden, x, float("nan"), None) for p, x in zip(rows, pts)]
    stats = {"seconds": time.perf_counter() - t0, "lp_solves": 0, "qp_solves": 0, "engine": "planar",
             "workers": workers, "pieces": len(parts), "scheduler": None,
             "regions_per_second": count / max(time.perf_counter() - t0, 1e-9)}
    if not keep_regions:
        stats["points"] = pts
    # slivers: the BFS notes each region thinner than Tolerances.near; here one line for all of them
    slivers = [f"near-thin leaves (inradius at most {checks.near:g}): {near}, of which {thin} at most "
               f"{checks.inradius:g} were skipped as thin; a sliver within rounding of that threshold can fall "
               "on either side of it under another split order (another pieces=)"] if near else []
    numerics = {"tolerances": {"vertex_on_line": tol_v, "inradius": checks.inradius, "near": checks.near},
                "thin_regions_skipped": int(thin), "near_thin_leaves": int(near), "near_degenerate": slivers,
                "seed_perturbed": None, **({"seed_region": SEED_NOTE} if seeded else {}),
                "linear_regions": "not computed by the planar engine (use engine='bfs')"}
    res = RegionCount(int(count), None, stop_reason is None, regions, [], stats, numerics, stop_reason, net, domain,
                      checks, verifier=verify_count)
    if polygons:
        res.polygons = [vtx[voff[i]:voff[i + 1]] for i in range(count)]
    if decision:
        n = max(net.output_dim, 2)
        found = {(int(i), int(j)): float(pairs[i, j]) for i in range(n) for j in range(n) if pairs[i, j] > 0}
        res.decision = Decision(segs[:, :4].copy(), segs[:, 4:].astype(int), found, crossed.astype(bool))
    return res


def cut_polygon(poly, lines, k=1, tol=TOL, max_lines=None, deadline=None):
    """Convex pieces of ``poly`` cut along first-layer lines (``lines``: rows ``(a_x, a_y, c)``
    of the units that can cut, ``a . x + c = 0``): while a piece is crossed by more than
    ``max_lines`` lines (the most crossed first), or there are fewer than ``k`` pieces (the
    largest first), a piece is cut by the crossing line passing nearest its vertex centroid.

    Exact for the count: every region lies on one side of every first-layer line, so each
    region of the polygon is a region of exactly one piece with the same polygon (the walk of a
    piece finds the cutting unit decided on it: its vertices on the line count on both sides),
    and the leaves of the pieces are the leaves of one walk. ``deadline`` (a
    :class:`~exactregions.deadline.Deadline`) is checked before every cut."""
    norms = np.hypot(lines[:, 0], lines[:, 1])
    ok = norms > 0
    A, c = lines[ok, :2] / norms[ok, None], lines[ok, 2] / norms[ok]

    def crossing(P):
        V = P @ A.T + c  # (vertices, lines): signed distances
        scale = tol * (np.abs(P[:, :1] * A[:, 0]) + np.abs(P[:, 1:] * A[:, 1]) + np.abs(c))
        return np.flatnonzero((V > scale).any(axis=0) & (V < -scale).any(axis=0))

    pieces, cross = [poly], [crossing(poly)]
    while True:
        if deadline is not None:
            deadline.check()
        counts = [len(x) for x in cross]
        if max_lines is not None and max(counts) > max_lines:
            i = int(np.argmax(counts))
        elif len(pieces) < k:
            i = int(np.argmax([polygon_area(p) if len(x) else -1.0 for p, x in zip(pieces, cross)]))
        else:
            break
        P, rows = pieces[i], cross[i]
        if not len(rows):
            break
        j = rows[np.argmin(np.abs(A[rows] @ P.mean(axis=0) + c[rows]))]
        halves = [h for h in (clip_halfplane(P, A[j], -c[j]), clip_halfplane(P, -A[j], c[j])) if len(h) >= 3]
        pieces[i:i + 1] = halves
        cross[i:i + 1] = [crossing(h) for h in halves]
    return pieces


@contextlib.contextmanager
def _interrupt_flag(flag):
    """While the walks run (compiled, in threads, where a KeyboardInterrupt cannot land), Ctrl-C
    sets ``flag[0]``, which the walks' tick reads, instead of raising: the leaves walked so far
    are kept. Only in the main thread (elsewhere signals cannot be handled)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        flag[0] = True

    old = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _region_polygon(net, pattern, poly):
    """The polygon of the region of ``pattern`` in the domain polygon ``poly``: ``poly`` clipped
    by the half-plane of every unit that is not pass-through
    (:func:`~exactregions.engines.region.neuron_rows`; those whose line misses ``poly`` are
    skipped: they hold on all of it)."""
    G, h = neuron_rows(net, pattern, ~net.linear_mask(), Tolerances())
    for i in np.flatnonzero((poly @ G.T > h).any(axis=0)):
        poly = clip_halfplane(poly, G[i], h[i])
    return poly


def _walk_pieces(walk, pieces, workers, tick):
    """Walk the pieces in ``workers`` threads (the compiled walk releases the GIL), largest
    first, one piece at a time per thread: the outputs of the pieces walked, in piece order, and
    whether some were not (after a stop, the time limit, no further piece starts)."""
    from concurrent.futures import ThreadPoolExecutor

    order = np.argsort([-polygon_area(p) for p in pieces])
    outs = [None] * len(pieces)
    stop, lock = [False], threading.Lock()

    def run(i):
        # the time limit, also between pieces smaller than a tick, and in a piece's set-up
        if stop[0] or tick(0):
            stop[0] = True
            return
        try:
            out = walk(pieces[i])
        except TimeLimitReached:
            stop[0] = True
            return
        # the patterns out of the walk's grown buffer, here in the thread (they stay apart)
        outs[i] = out[:2] + (out[2].copy(),) + out[3:]
        with lock:
            stop[0] |= bool(outs[i][8])
            tick.done += int(outs[i][0])

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, order))
    return [o for o in outs if o is not None], any(o is None for o in outs)


def _join(outs, polygons):
    """One walk's outputs from the pieces': leaves in piece order, polygon offsets shifted
    (``polygons``: they were kept), decision lengths added, stopped if any piece stopped. The
    packed patterns stay one array per piece (a list: joined, those of a CIFAR-sized slice's
    first 85,000 leaves were 280 MB copied once more)."""
    if len(outs) == 1:
        o = outs[0]
        return (o[0], o[1], [o[2]]) + tuple(o[3:])
    count = sum(int(o[0]) for o in outs)
    pats = [o[2] for o in outs]
    cat = [np.concatenate([o[k] for o in outs]) for k in (1, 3, 5, 6)]
    voff = outs[0][4][:1]  # without polygons: one zero offset
    if polygons:
        shift = np.cumsum([0] + [len(o[3]) for o in outs[:-1]])
        voff = np.concatenate([voff] + [o[4][1:] + s for o, s in zip(outs, shift)])
    pairs = sum(o[7] for o in outs)
    stopped = max(int(o[8]) for o in outs)
    thin = sum(int(o[9]) for o in outs)
    near = sum(int(o[10]) for o in outs)
    pts, vtx, crossed, segs = cat
    return count, pts, pats, vtx, voff, crossed, segs, pairs, stopped, thin, near


def _single(net, domain, t0):
    x = domain.seed_point()
    stats = {"seconds": time.perf_counter() - t0, "lp_solves": 0, "qp_solves": 0, "engine": "planar"}
    return RegionCount(1, 1, True, [Region(np.zeros(0, bool), x, float("nan"), None)], [], stats,
                       {"tolerances": {"vertex_on_line": TOL}, "thin_regions_skipped": 0, "near_degenerate": [],
                        "seed_perturbed": None}, None, net, domain, None)

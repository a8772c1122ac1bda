"""Geometry of one activation region inside the domain: constraints, interior, facets.

For a pattern, each unstable neuron ``i`` gives the half-space ``s_i (A_i x + c_i) >= 0``
(``s_i = +1`` if active); with the domain's polyhedral rows this is the polytope ``P``.
The region counts when ``P``'s Chebyshev radius exceeds ``tol.inradius``; its neighbours
lie across the facets of ``P`` on neuron rows that meet the open domain.

Facets are found with as few LPs as possible, all decisions exact up to the tolerances:

1. *Ray shooting* (no LP): from the Chebyshev centre ``x0`` the first row hit by a ray is a
   facet when the hit is unique, and the hit point is a generic point of it.
2. *Known from the other side* (no LP): a facet shared with an already-processed region was
   found when that region was processed.
3. *Bounding box* (2d LPs, only when many rows remain): rows that stay strictly slack on
   the box of ``P`` cannot be facets.
4. *Facet LP* for each remaining row: the Chebyshev radius of ``P`` within the row's
   hyperplane; ``> tol.facet`` means a (d-1)-dimensional facet.
For the exact L2 ball a facet must also meet the open ball: its hit or centre point lies
inside, or the distance QP from the centre to the facet is below the radius.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from ..deadline import TimeLimitReached
from ..intervals import preactivation_bounds, stability
from ..oracle import FaceDistances, PolytopeLP
from ..result import Region

__all__ = ["Tolerances", "RegionGeometry", "Facet", "analyse_region", "generic_seed", "seed_region", "first_region",
           "SEED_NOTE"]

#: ``numerics["seed_region"]`` of a count stopped before its first region: what it counts
SEED_NOTE = ("counted from the seed point (in the open domain, off every hyperplane): its region's facets were not "
             "decided")

#: Chebyshev radius cap for unbounded domains (the whole space): inradius reports min(r, cap).
UNBOUNDED_CAP = 1.0
#: Vertex enumeration of the known-facet polytope is used while it needs at most this many
#: d-subsets of rows (low dimension); beyond it the remaining rows go to LPs.
MAX_VERTEX_COMBOS = 3000
#: rays along the normals of this many nearest rows (plus fixed directions) per region
MAX_NORMAL_RAYS = 512


@dataclass(frozen=True)
class Tolerances:
    """Decision tolerances, absolute, in input units. Defaults sit above HiGHS's 1e-10
    feasibility tolerance and far below the geometry of any sensible network.

    inradius: a region counts iff the Chebyshev radius of region ∩ domain polytope exceeds it.
    facet: a row is a facet iff the facet's radius inside its hyperplane exceeds it.
    ball: a facet meets the open L2 ball iff its distance to the centre is below radius - ball.
    coincide: normalised rows closer than this are one hyperplane (one facet, flipped together).
    zero_row: an effective row with norm below this is a constant pre-activation.
    near: decisions within this of their threshold are reported as near-degenerate.
    """

    inradius: float = 1e-8
    facet: float = 1e-8
    ball: float = 0.0
    coincide: float = 1e-9
    zero_row: float = 1e-12
    near: float = 1e-6

    def to_dict(self):
        return dict(self.__dict__)


@dataclass
class Facet:
    row: int                 # index into RegionGeometry.G
    point: np.ndarray        # a generic point of the facet inside the open domain
    how: str                 # "ray", "known", "lp"


@dataclass
class RegionGeometry:
    pattern: np.ndarray
    G: np.ndarray            # unit-norm neuron rows G x <= h (coincident rows merged)
    h: np.ndarray
    x0: np.ndarray | None = None  # Chebyshev centre of region ∩ domain polytope
    inradius: float = -np.inf
    point: np.ndarray | None = None  # a point of the region inside the open domain
    facets: list = field(default_factory=list)
    near: list = field(default_factory=list)  # near-degenerate decisions (text)
    ball_rows: np.ndarray | None = None  # L2 ball: rows of the polytope that can bind inside it
    row_keys: np.ndarray | None = None  # each row's neuron and side (2 * neuron + bit), then
                                        # -1 - k for the domain's row k
    multipliers: np.ndarray | None = None  # the Chebyshev LP's, when certified (a warm start)
    ball_index: np.ndarray | None = None  # each ball row's position among the ball rows
    faces: FaceDistances | None = None  # L2 ball: distance QPs to the faces of those rows


def traversal_setup(net, domain):
    """What every traversal of ``domain`` shares: the neurons that can switch on it (and the
    fixed bits of the others), the domain's unit-norm rows, and the Chebyshev radius cap."""
    unstable, fixed = stability(*preactivation_bounds(net, domain), net.linear_mask())
    DA, Db = domain.rows()
    if DA.shape[0]:
        norms = np.linalg.norm(DA, axis=1)
        DA, Db = DA / norms[:, None], Db / norms
    cap = np.inf if domain.bounded else UNBOUNDED_CAP
    return unstable, fixed, (DA, Db), cap


def generic_seed(net, domain, unstable, tol: Tolerances):
    """The domain's seed point (:meth:`~exactregions.domains.Domain.seed_point`), nudged off any
    neuron hyperplane it lies on: a point of the open domain at least ``1e3 * tol.inradius`` from
    the hyperplane of every unstable neuron. Returns ``(point, note)``, the note saying how far it
    was moved (None when it was not).

    Examples
    --------
    >>> from exactregions import Network, Box
    >>> net = Network([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0]]], [[0.0, 0.0], [0.0]])
    >>> x, note = generic_seed(net, Box(-1, 1, dim=2), np.ones(2, bool), Tolerances())
    >>> bool(np.all(np.abs(x) > 1e-6)), note is not None
    (True, True)
    """
    x = domain.seed_point()
    rng = np.random.default_rng(0)
    lo, hi = domain.bounding_box()
    scale = float(np.min(np.where(np.isfinite(hi - lo), hi - lo, 2.0)))
    for attempt in range(200):
        A, c = net.region_constraints(net.pattern(x))
        A, c = A[unstable], c[unstable]
        norms = np.linalg.norm(A, axis=1)
        dist = np.abs(A @ x + c) / np.maximum(norms, 1e-300)
        if not np.any((dist <= 1e3 * tol.inradius) & (norms > tol.zero_row)):
            return x, (None if attempt == 0 else f"seed moved off a hyperplane after {attempt} tries")
        step = scale * 1e-4 * (1 + attempt)
        y = domain.seed_point() + step * rng.normal(size=x.shape) / np.sqrt(x.size)
        if domain.contains(y)[0]:
            x = y
    raise RuntimeError("could not find a seed point off every neuron hyperplane")


def seed_region(net, seed, pattern, unstable, domain_rows, tol: Tolerances) -> Region | None:
    """The region of ``seed`` (a point of the open domain with activation ``pattern``) as a
    counted region, without its LPs, when the point itself proves that it counts: it is more
    than ``tol.inradius`` from every unstable neuron's hyperplane (of non-zero row) and inside
    every domain row ``domain_rows`` (unit rows ``DA x <= Db``) by more than ``tol.inradius``.
    Then the ball of radius ``tol.inradius`` about it lies in the region and in the domain's
    polytope, so the region's Chebyshev radius exceeds ``tol.inradius``: the region is
    full-dimensional, meets the open domain and is counted by every engine. None otherwise.
    The region's ``inradius`` is not computed (NaN); its affine map is."""
    A, c = net.region_constraints(pattern)
    A, c = A[unstable], c[unstable]
    norms = np.linalg.norm(A, axis=1)
    live = norms > tol.zero_row
    if np.any(np.abs(A[live] @ seed + c[live]) / norms[live] <= tol.inradius):
        return None
    DA, Db = domain_rows
    if DA.shape[0] and not np.all(Db - DA @ seed > tol.inradius):
        return None
    return Region(pattern=pattern, point=seed, inradius=float("nan"), affine=net.affine_map(pattern))


def first_region(net, domain, tol: Tolerances | None = None) -> Region | None:
    """The region of the domain's generic seed point (:func:`generic_seed`) when the point proves
    that it counts (:func:`seed_region`): what a count stopped before its first region knows, so
    that it reports ">= 1" rather than ">= 0". None when the seed is not certified.

    Examples
    --------
    >>> from exactregions import Network, Box
    >>> net = Network([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0]]], [[0.0, 0.0], [0.0]])
    >>> first_region(net, Box(0.5, 1, dim=2)).pattern.tolist()
    [True, True]
    """
    tol = tol if isinstance(tol, Tolerances) else Tolerances()
    unstable, _, rows, _ = traversal_setup(net, domain)
    try:
        seed, _ = generic_seed(net, domain, unstable, tol)
    except RuntimeError:
        return None
    return seed_region(net, seed, net.pattern(seed), unstable, rows, tol)


def neuron_rows(net, pattern, unstable, tol: Tolerances, constraints=None, keys=False):
    """Unit rows ``G x <= h`` of the unstable neurons, coincident rows merged.

    ``constraints``: the pattern's ``(A, c)`` if already computed. Returns ``(G, h)``, or
    ``None`` if a neuron that is constant on the region has the wrong sign for the pattern
    (the pattern's region is empty). With ``keys``, ``(G, h, key)``: each row's neuron and side
    (``2 * neuron + bit``), which names the same half-space in every region that has it.
    """
    A, c = net.region_constraints(pattern) if constraints is None else constraints
    A, c, bits = A[unstable], c[unstable], pattern[unstable]
    norms = np.sqrt(np.einsum("ij,ij->i", A, A))
    key = 2 * np.flatnonzero(unstable) + bits
    const = norms <= tol.zero_row
    if const.any():  # constant pre-activation: active iff c > 0
        if np.any((c[const] > 0) != bits[const]):
            return None
        A, c, bits, norms, key = A[~const], c[~const], bits[~const], norms[~const], key[~const]
    s = np.where(bits, 1.0, -1.0) / norms
    G = -s[:, None] * A
    h = s * c
    if G.shape[0] > 1:
        keep = _merge_coincident(G, h, tol.coincide)
        if keep is not None:
            G, h, key = G[keep], h[keep], key[keep]
    return (G, h, key) if keys else (G, h)


def _merge_coincident(G, h, tol):
    """The rows to keep: the first of rows equal within ``tol`` (sort a 1-D projection, compare
    neighbours); None when all are kept. Equal rows have equal offsets: when no two offsets
    round alike (the usual case) no row is compared."""
    kh = np.sort(np.round(h / tol))
    if not np.any(kh[1:] == kh[:-1]):
        return None
    key = np.round(np.hstack([G, h[:, None]]) / tol)
    proj = key @ np.linspace(1.0, 2.0, key.shape[1])
    order = np.argsort(proj, kind="stable")
    same = np.all(key[order[1:]] == key[order[:-1]], axis=1)
    if not same.any():
        return None
    drop = np.zeros(len(h), bool)
    for k in np.flatnonzero(same):  # runs of equal keys: drop all but the lowest index
        a, b = order[k], order[k + 1]
        drop[max(a, b)] = True
        order[k + 1] = min(a, b)
    return ~drop


def analyse_region(net, pattern, unstable, domain_rows, l2_ball, oracle, tol: Tolerances,
                   cap: float, known=(), directions=None, shortcuts=True,
                   constraints=None, box=None, warm=None, tick=None) -> RegionGeometry | None:
    """Interior and facets of a pattern's region in the domain.

    ``known``: facets already found from the neighbouring side, as ``(g, h)`` (their hyperplane)
    or ``(g, h, p)`` (and a point of the facet inside the open domain, where a region whose
    Chebyshev centre lies outside an L2 ball finds its point inside the ball without a QP);
    ``shortcuts=False`` decides every row by LP (used by :func:`verify`); ``box``: a box
    holding the domain, which lets the oracle certify its fast LP answers; ``warm``: a
    neighbour's ``(row_keys, multipliers)``, the Chebyshev LP's starting active set; ``tick``:
    an optional callable ``tick(detail)`` told, between the steps and after every row decided by
    an LP, what is being decided (progress while one region takes long: hundreds of rows in high
    dimension). Returns None when the pattern's region is empty. The oracle's deadline
    (:class:`~exactregions.oracle.Oracle`) is checked at every solve: past it,
    :class:`~exactregions.deadline.TimeLimitReached` leaves the region undecided.
    """
    rows = neuron_rows(net, pattern, unstable, tol, constraints, keys=True)
    if rows is None:
        return None
    G, h, keys = rows
    DA, Db = domain_rows
    geo = RegionGeometry(pattern, G, h)
    geo.row_keys = np.concatenate([keys, -1 - np.arange(len(Db))])
    m = G.shape[0]
    allG, allh = np.vstack([G, DA]), np.concatenate([h, Db])
    if allG.shape[0] == 0:  # no boundary at all: the whole domain is one region
        geo.x0, geo.inradius, geo.point = np.zeros(net.input_dim), cap, np.zeros(net.input_dim)
        return geo
    lp = PolytopeLP(oracle, allG, allh, cap=cap, box=box, unit=True)  # (neuron and domain rows: unit)
    if tick is not None:
        tick(f"Chebyshev LP, {m} rows")
    x0, r = lp.chebyshev("the Chebyshev centre of a region", dual_start=_carry(warm, geo.row_keys))
    geo.multipliers = lp.multipliers
    geo.x0, geo.inradius = x0, r
    if not r > tol.inradius:
        return geo
    if r < tol.near:
        geo.near.append(f"region inradius {r:.3g}")
    geo.point = _point_in_domain(x0, lp, l2_ball, oracle, geo, [k[2] for k in known if len(k) > 2])
    if geo.point is None:
        geo.inradius = -np.inf  # region polytope misses the ball: not in the domain
        return geo

    try:  # the region is established (it counts): a deadline from here on leaves its facets undecided
        _find_facets(net, geo, lp, x0, m, l2_ball, oracle, tol, cap, known, directions, shortcuts, tick)
    except TimeLimitReached as stop:
        stop.region = geo  # (the caller may count it: its inradius and point are decided)
        raise
    return geo


def _find_facets(net, geo, lp, x0, m, l2_ball, oracle, tol, cap, known, directions, shortcuts, tick):
    """The facets of an established region (its Chebyshev centre ``x0`` and point are decided)
    into ``geo.facets``: the steps of the module docstring, in order. ``m``: its neuron rows
    (the first rows of ``lp``)."""
    G, h = geo.G, geo.h
    if l2_ball is not None:  # a hyperplane at distance >= r from the centre misses the open ball
        c, r = l2_ball
        decided = np.abs(G @ c - h) >= r - tol.ball
    else:
        decided = np.zeros(m, bool)
    oracle.check()  # (the steps below take seconds in high dimension; the solves check it as well)
    if tick is not None:
        tick(f"{int(decided.sum())} of {m} rows decided, ray shooting")
    if shortcuts:
        if len(known):  # facets recorded from the other side: their rows are decided
            Gk, hk = np.array([k[0] for k in known]), np.array([k[1] for k in known])
            same = ((np.abs(G[None, :, :] - Gk[:, None, :]).max(axis=2) <= 1e3 * tol.coincide)
                    & (np.abs(h[None, :] - hk[:, None]) <= 1e3 * tol.coincide))
            decided |= same.any(axis=0)
        facet_rows = set(np.flatnonzero(decided).tolist())
        if l2_ball is not None:  # a facet kept that far by its hyperplane and one other row misses too
            rest = np.flatnonzero(~decided)  # (decided, but not rows for the vertex test below)
            br = geo.ball_rows  # (the others, the ball's bounding box among them, never bind in it)
            decided[rest] = pair_distance_bound(lp.G[br], lp.h[br], rest, c, lp.G[rest], lp.h[rest],
                                                oracle.compiled) > (r - tol.ball) * (1 + 1e-12)
        # rays from the Chebyshev centre and, in an L2 ball that misses it, also from the
        # region's point inside the ball (a hit inside the ball needs no distance QP). In a ball
        # only the rows that can bind inside it take part: a unique first hit among them is a
        # facet of the region inside the ball (the others hold strictly there), and the ball's
        # bounding box would add 2d rows to every ray.
        hits = {}
        sub = np.flatnonzero(geo.ball_rows) if l2_ball is not None else np.arange(lp.m)
        aim = np.flatnonzero(~decided[sub[sub < m]])  # rays along the normals of the rows still open
        for origin in ([x0] if geo.point is x0 else [geo.point, x0]):
            for k, p in _ray_facets(lp.G[sub], lp.h[sub], origin, directions, aim, oracle.compiled):
                i = int(sub[k])
                facet_rows.add(i)
                if i < m and not decided[i] and i not in hits:
                    hits[i] = p
        for n_hit, (i, p) in enumerate(hits.items()):
            if tick is not None:  # (in a ball a hit outside it costs a distance QP)
                tick(f"{int(decided.sum())} of {m} rows decided, ray hit {n_hit + 1} of {len(hits)}")
            decided[i] = True
            _accept(geo, lp, i, p, l2_ball, oracle, tol, "ray")
        undecided = np.flatnonzero(~decided)
        if undecided.size and cap == np.inf and math.comb(len(facet_rows | set(range(m, lp.m))),
                                                          net.input_dim) <= MAX_VERTEX_COMBOS:
            undecided = _vertex_certify(geo, lp, m, x0, facet_rows, undecided, l2_ball, oracle, tol)
        if undecided.size > 2 * net.input_dim + 2 and cap == np.inf:  # bounded domain
            oracle.check()
            left = undecided.size

            def box_tick(done, total):
                tick(f"{m - left} of {m} rows decided, the region's bounding box: {done} of {total} LPs")

            box = lp.bounding_box("the bounding box of a region", box_tick if tick is not None else None)
            if box is not None:
                lo, hi = box
                top = np.maximum(G[undecided], 0) @ hi + np.minimum(G[undecided], 0) @ lo
                undecided = undecided[top >= h[undecided] - tol.facet]
    else:
        undecided = np.arange(m)
    for n_done, i in enumerate(undecided):
        if tick is not None:
            tick(f"{m - undecided.size + n_done} of {m} rows decided, {undecided.size - n_done} left by LP")
        q = None
        if l2_ball is not None and shortcuts:
            # the QP first (most such faces miss the ball); a face the fast path cannot answer
            # (typically an empty one) goes to the facet LP, then _accept decides the ball
            q = _facet_near_ball(geo, lp, int(i), l2_ball, oracle, tol, certified_only=True)
            if q is None:
                continue
            if isinstance(q, str):
                q = None
        xf, t = lp.facet(int(i), "whether a neuron's hyperplane is a facet")
        if t > tol.facet:
            if t < tol.near:
                geo.near.append(f"facet inradius {t:.3g}")
            _accept(geo, lp, int(i), xf, l2_ball, oracle, tol, "lp", q)


@functools.lru_cache(maxsize=1)
def numba_problem() -> str | None:
    """Load (or compile) the traversal's compiled kernels and run them once per process on a
    square seen from its centre and from outside: None when they give the numpy code's
    answers, else what went wrong."""
    try:
        from . import _region_numba  # noqa: F401
        from .. import _oracle_numba  # noqa: F401
    except ImportError:
        return "numba is not installed: pip install numba"
    try:
        from ..oracle import Oracle
        G = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
        h = np.array([1.0, 1.0, 1.0, 2.0])
        rays = [[i for i, _ in _ray_facets(G, h, np.zeros(2), None, compiled=flag)] for flag in (True, False)]
        dist = [FaceDistances(Oracle(compiled=flag), G, h, np.array([3.0, 0.5])).face(2) for flag in (True, False)]
        cheb = [PolytopeLP(Oracle(compiled=flag), G, h, box=(-np.full(2, 3.0), np.full(2, 3.0)), unit=True).chebyshev()
                for flag in (True, False)]
        if rays[0] != rays[1] or (dist[0] is None) != (dist[1] is None) or (cheb[0][1] != cheb[1][1]):
            return f"the self-test gave rays {rays[0]}, distance {dist[0]}, radius {cheb[0][1]}"
    except Exception as e:  # a compiler or platform failure: fall back, never crash a count
        return f"{type(e).__name__}: {e}"
    return None


def _carry(warm, keys):
    """A neighbour's Chebyshev multipliers ``warm = (its row keys, multipliers)`` moved onto the
    rows ``keys`` (0 for a row it does not have, e.g. the facet crossed, whose side flipped)."""
    if warm is None or warm[1] is None:
        return None
    pk, lam = warm
    order = np.argsort(pk)
    at = np.minimum(np.searchsorted(pk, keys, sorter=order), len(pk) - 1)
    return np.where(pk[order[at]] == keys, lam[order[at]], 0.0)


def _point_in_domain(x0, lp, l2_ball, oracle, geo, entries=()):
    """A point of int(region) inside the open domain (x0 itself unless an L2 ball misses it).

    Where the ball misses x0: a point of a facet by which the region was entered (``entries``:
    on its boundary, inside the ball) moved towards x0, checked strictly inside every row and
    the ball; else the point where the segment from x0 towards the centre leaves the region, if
    inside the ball; else the distance QP (1,554 of the 1,608 regions of a 784-D digits ball
    needed the QP before the entries were used).

    For an L2 ball it also sets ``geo.ball_rows``: the rows that can bind inside the ball. A row
    with the whole open ball on its feasible side (``g c - h <= -r``) is redundant there: every
    distance question about the region and its faces inside the ball is the same without it
    (the box rows of the ball's domain are such rows), so the walks and QPs leave it out. A row
    with the whole ball on its infeasible side means the region misses the ball."""
    if l2_ball is None:
        return x0
    c, r = l2_ball
    side = lp.G @ c - lp.h
    if np.any(side >= r):
        return None
    geo.ball_rows = side > -r
    geo.ball_index = np.cumsum(geo.ball_rows) - 1  # a ball row's position among them
    if _dist(x0, c) < r:
        return x0
    G, h = lp.G[geo.ball_rows], lp.h[geo.ball_rows]
    for e in entries:
        y = step_inside(e, x0, r - _dist(e, c))
        if _dist(y, c) < r and np.all(G @ y < h):
            return y
    y = _walk(G, h, x0, c)  # straight towards the centre, as far as the region allows
    dy = _dist(y, c)
    if dy < r:
        return step_inside(y, x0, r - dy)
    dist, q = oracle.nearest_point(G, h, c, what="the distance from the ball centre to a region")
    if q is None or not dist < r:
        return None
    return step_inside(q, x0, r - dist)


def pair_distance_bound(G, h, rows, c, Gi=None, hi=None, compiled=False):
    """For each row ``i`` of ``rows``, a lower bound on the distance from ``c`` to the face
    ``{x : G_i x = h_i, G x <= h}``: the largest over ``j`` of the exact distance from ``c`` to
    ``{G_i x = h_i, G_j x <= h_j}`` (unit rows; a closed form: the distance to the hyperplane
    when its foot point satisfies row j, else the distance to the intersection of both
    hyperplanes). A face whose bound reaches the radius cannot meet the open ball. ``Gi, hi``:
    the rows ``i`` themselves when they are not rows of ``G`` (then ``rows`` only counts them).
    ``compiled``: the same by :func:`exactregions.engines._region_numba.pair_bound`."""
    if rows.size == 0:
        return np.zeros(0)
    if compiled:
        from ._region_numba import pair_bound
        if Gi is None:
            Gi, hi = G[rows], h[rows]
        return pair_bound(np.ascontiguousarray(G), h, c, np.ascontiguousarray(Gi), hi)
    a = G @ c - h
    if Gi is None:
        Gi, ai = G[rows], a[rows][:, None]
    else:
        ai = (Gi @ c - hi)[:, None]
    cos = Gi @ G.T
    foot = a[None, :] - ai * cos  # row j's value at the foot of c on hyperplane i
    sin2 = 1.0 - cos * cos
    two = np.sqrt(np.maximum(ai * ai - 2.0 * cos * ai * a + a * a, 0.0) / np.maximum(sin2, 1e-300))
    bound = np.where((foot > 0) & (sin2 > 1e-12), two, np.abs(ai))
    return bound.max(axis=1)


def _walk(G, h, p, target):
    """The point of the segment from ``p`` (in ``{G x <= h}``) to ``target`` where it leaves the
    polytope (``target`` itself if it stays inside). Every point of the segment up to it is in
    the polytope, so a point found inside the ball this way needs no QP."""
    u = target - p
    rate = G @ u
    slack = h - G @ p
    hit = rate > 0
    t = min(1.0, float(np.min(np.maximum(slack[hit], 0.0) / rate[hit]))) if hit.any() else 1.0
    return p + t * u


def _dist(a, b) -> float:
    """Euclidean distance of two points (``np.linalg.norm(a - b)``, the same value, without its
    dispatch: the traversal measures some ten distances per facet)."""
    v = a - b
    return math.sqrt(v @ v)


def step_inside(q, x, margin):
    """A point on the segment from ``q`` (inside the open ball by ``margin``) towards ``x``:
    strictly inside the ball, and in the relative interior of any convex set holding ``q`` on
    its boundary and ``x`` in its relative interior."""
    lam = min(0.5, 0.5 * margin / max(_dist(x, q), 1e-300))
    return q + lam * (x - q)


def _ray_facets(G, h, x0, directions, normals=None, compiled=False):
    """Rows certified as facets by rays from x0 (along the normals of the rows ``normals``, all
    of ``G``'s by default, and along ``directions``): a list of (row, hit point), one for every
    row that is the unique first hit of some ray (at its first such ray). ``compiled``: the
    same by :func:`exactregions.engines._region_numba.ray_hits`."""
    if G.shape[0] < 2:
        return []
    if compiled:
        from ._region_numba import ray_hits
        rows = np.arange(G.shape[0]) if normals is None else normals
        dirs = directions if directions is not None else np.zeros((0, G.shape[1]))
        found, points = ray_hits(np.ascontiguousarray(G), h, x0, rows, dirs, MAX_NORMAL_RAYS)
        return list(zip(found.tolist(), points))
    slack = h - G @ x0
    rows = np.arange(G.shape[0]) if normals is None else normals
    near = G[rows[np.argsort(slack[rows])[:MAX_NORMAL_RAYS]]] if rows.size > MAX_NORMAL_RAYS else G[rows]
    U = np.concatenate([near, directions]) if directions is not None else near
    rate = G @ U.T
    T = np.full(rate.shape, np.inf)
    np.divide(slack[:, None], rate, out=T, where=rate > 1e-12)
    first = np.argmin(T, axis=0)
    cols = np.arange(T.shape[1])
    t1 = T[first, cols]
    T[first, cols] = np.inf
    t2 = T.min(axis=0)  # the second smallest
    ok = np.flatnonzero(np.isfinite(t1) & (t2 > t1 * (1 + 1e-7) + 1e-12))
    _, at = np.unique(first[ok], return_index=True)
    at = np.sort(at)  # each row at its first such ray, in the order of the rays
    k = ok[at]
    return list(zip(first[k].tolist(), x0 + t1[k, None] * U[k]))


@functools.lru_cache(maxsize=256)
def _combos(k: int, d: int) -> np.ndarray:
    return np.array(list(itertools.combinations(range(k), d)), dtype=np.intp).reshape(-1, d)


def _vertices(G, h):
    """All vertices of the bounded polytope {G x <= h} (every d-subset of rows solved)."""
    k, d = G.shape
    C = _combos(k, d)
    M, rhs = G[C], h[C]
    det = np.linalg.det(M)
    ok = np.abs(det) > 1e-12
    if not np.any(ok):
        return np.zeros((0, d))
    V = np.linalg.solve(M[ok], rhs[ok][..., None])[..., 0]
    return V[np.all(V @ G.T <= h + 1e-9, axis=1)]


def _vertex_certify(geo, lp, m, x0, facet_rows, undecided, l2_ball, oracle, tol):
    """Decide rows without LPs in low dimension, exactly.

    ``P_K`` (the known facets plus the domain rows) contains ``P``. A row slack at every
    vertex of ``P_K`` is not a facet of ``P``. A vertex violating a row lies outside ``P``,
    so the ray from ``x0`` to it leaves ``P`` through a facet not yet in ``K``: add it and
    repeat. Returns the rows still undecided (left to LPs).
    """
    K = set(facet_rows) | set(range(m, lp.m))
    while undecided.size:
        if math.comb(len(K), lp.d) > MAX_VERTEX_COMBOS:
            break
        rows = np.array(sorted(K))
        V = _vertices(lp.G[rows], lp.h[rows])
        if V.shape[0] <= lp.d:
            break
        viol = lp.G[undecided] @ V.T - lp.h[undecided][:, None] >= -tol.facet
        undecided = undecided[viol.any(axis=1)]
        if not undecided.size:
            break
        targets = V[viol.any(axis=0)] - x0
        targets /= np.linalg.norm(targets, axis=1, keepdims=True)
        new = [(i, p) for i, p in _ray_facets(lp.G, lp.h, x0, targets, compiled=oracle.compiled) if i not in K]
        if not new:
            break
        for i, p in new:
            K.add(i)
            if i < m:
                _accept(geo, lp, i, p, l2_ball, oracle, tol, "ray")
                undecided = undecided[undecided != i]
    return undecided


def _facet_near_ball(geo, lp, i, l2_ball, oracle, tol, certified_only=False):
    """Distance QP from the ball centre to the face on row ``i``: its nearest point if that lies
    inside the open ball (by ``tol.ball``), else None; near-threshold answers are noted. With
    ``certified_only``, "unknown" (the string) where the fast path has no certified answer."""
    c, r = l2_ball
    fast = None
    if geo.ball_rows[i]:  # the region's rows inside the ball, shifted to the centre once
        if geo.faces is None:
            geo.faces = FaceDistances(oracle, lp.G[geo.ball_rows], lp.h[geo.ball_rows], c)
        fast = geo.faces.face(int(geo.ball_index[i]))
    if fast is None and certified_only:
        return "unknown"
    if fast is not None:
        dist, q = fast
    else:
        keep = geo.ball_rows.copy()
        keep[i] = False
        dist, q = oracle.nearest_point(lp.G[keep], lp.h[keep], c, lp.G[i], lp.h[i],
                                       what="the distance from the ball centre to a facet")
    if q is None or not dist < r - tol.ball:
        if q is not None and abs(dist - r) < tol.near:
            geo.near.append(f"facet tangent to the ball (distance - radius = {dist - r:.3g})")
        return None
    if r - dist < tol.near:
        geo.near.append(f"facet barely inside the ball (radius - distance = {r - dist:.3g})")
    return q


def _accept(geo, lp, i, p, l2_ball, oracle, tol, how, q=None):
    """Record row i as a facet if it meets the open domain; ``p`` is a generic facet point, ``q``
    (if known) a point of the facet inside the ball."""
    if l2_ball is not None:
        c, r = l2_ball
        if not _dist(p, c) < r - tol.ball:
            # (a straight walk inside the facet towards the centre's projection, tried before
            # the QP, reached the ball for 5% of such facets of a 784-D digits ball and cost
            # more than the QPs it saved)
            if q is None:
                q = _facet_near_ball(geo, lp, i, l2_ball, oracle, tol)
            if q is None:
                return
            p = step_inside(q, p, r - tol.ball - _dist(q, c))
    geo.facets.append(Facet(i, p, how))

"""Upper bounds local to a domain (a ball above all), sound for every weight setting.

The shared structure (``../shared/bounds.md`` §4-5, derived in the spirit of Zhu, Lin & Tang,
arXiv:2007.06803, whose formula is not reproduced): decide which neurons are *stable* on the
domain (their hyperplane misses it), then run the stable-neuron dimension DP
(:func:`~exactregions.bounds.global_bounds.dimension_dp`) with only the unstable neurons as
hyperplanes. Methods differ in how stability is decided and in optional tightenings:

=================  =====================================================================
``local``          radius propagation with spectral norms (§5 step 1)
``local_t1``       ``local`` + T1: the first layer's regions counted exactly
``local_t2``       ``local`` + T2: ``j_l`` capped by the rank of the unstable rows of ``W_l``
``stable``         interval arithmetic (layer 1 exact) + DP (Serra & Ramalingam 2020 idea)
``local_interval`` interval arithmetic + T1 + T2
``local_lp``       LP-relaxation (triangle) intervals, HiGHS, + T1 + T2
``hybrid``         the engine counts the first k layers exactly; each region's remaining
                   layers are bounded by the DP on that region (k = all: the exact count)
=================  =====================================================================

Every method reports ``min(local, serra2018)``. Domains: all methods are sound on every
domain. ``local*`` replace a non-L2 domain by its circumscribed L2 ball (L1 ball: same radius;
L-inf ball: ``r sqrt(d)``; box: half its diagonal), which is sound but looser; T1's closed-form
flat count is for L2 balls, other domains count the first layer with the engine; the whole
space makes every neuron unstable, so local bounds equal the global ones there.
"""

from __future__ import annotations

import time
from math import comb

import numpy as np

from ..domains import Ball, Whole
from ..intervals import preactivation_bounds
from ..network import Network, activate, as_array, as_network, dense
from ..oracle import Oracle, PolytopeLP
from .arrangements import phi, restricted_count_ball
from .global_bounds import Bound, LayerCounts, dimension_dp, serra2018

__all__ = ["LOCAL_METHODS", "local_bound", "critical_radius", "radius_stability",
           "interval_stability", "lp_stability", "hybrid_bound"]

#: margin (relative) by which a neuron must clear zero to be called stable: errs towards unstable
STABLE_MARGIN = 1e-9


def _enclosing_l2_ball(domain):
    """(centre, radius) of an L2 ball containing the domain; None for an unbounded domain."""
    if isinstance(domain, Whole):
        return None
    if isinstance(domain, Ball):
        r = domain.radius * (np.sqrt(domain.dim) if domain.norm == np.inf else 1.0)
        return domain.center, r
    lo, hi = domain.bounding_box()
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        return None
    return (lo + hi) / 2, float(np.linalg.norm(hi - lo)) / 2


def _classify(lo, hi, linear=None):
    """(inactive, unstable) masks from sound intervals, erring towards unstable; pass-through
    units (``linear``) are stably active."""
    tol = STABLE_MARGIN * (1 + np.maximum(np.abs(lo), np.abs(hi)))
    tol = np.where(np.isfinite(tol), tol, 0.0)
    inactive = hi <= -tol
    active = lo >= tol
    const_zero = (lo == 0) & (hi == 0)
    inactive |= const_zero
    if linear is not None:
        inactive &= ~linear
        active |= linear
    return inactive, ~(inactive | active)


def radius_stability(net: Network, domain):
    """§5 step 1: forward the centre; neuron i of layer l is possibly unstable iff
    ``|z_i(c)| < rho_{l-1} ||w_i||``; then ``rho_l = ||D W_K||_2 rho_{l-1}`` (rows of stably
    inactive neurons dropped, or scaled by the LeakyReLU slope). Returns per-layer
    ``(inactive, unstable)`` masks and derivation lines."""
    ball = _enclosing_l2_ball(domain)
    if ball is None:
        return [(np.zeros(n, bool), np.ones(n, bool)) for n in net.hidden_widths], ["unbounded domain: all unstable"]
    h, rho = np.asarray(ball[0], float), float(ball[1])
    out, lines = [], [f"enclosing L2 ball radius rho_0 = {rho:.6g}"]
    for l, (W, b, s, lin) in enumerate(zip(net.weights[:-1], net.biases[:-1], net.slopes, net.linear), start=1):
        W = dense(W)
        z = W @ h + b
        reach = rho * np.linalg.norm(W, axis=1)
        unstable = (reach > 0) & (np.abs(z) < reach * (1 + STABLE_MARGIN)) & ~lin
        inactive = ~unstable & (z <= 0) & ~lin
        out.append((inactive, unstable))
        scale = np.where(inactive, s, 1.0)
        rho = float(np.linalg.norm(scale[:, None] * W, 2)) * rho if np.any(scale) else 0.0
        h = activate(z, s, lin)
        lines.append(f"layer {l}: unstable {int(unstable.sum())}, stably inactive {int(inactive.sum())}, "
                     f"rho_{l} = {rho:.6g}")
    return out, lines


def interval_stability(net: Network, domain):
    """Stability from interval arithmetic (layer 1 exact via the support function)."""
    los, his = preactivation_bounds(net, domain)
    out = [_classify(lo, hi, lin) for lo, hi, lin in zip(los, his, net.linear)]
    return out, [f"layer {l}: unstable {int(u.sum())}, stably inactive {int(i.sum())} (intervals)"
                 for l, (i, u) in enumerate(out, start=1)]


def lp_stability(net: Network, domain, oracle: Oracle | None = None):
    """Stability from the LP (triangle) relaxation, layer by layer, solved by HiGHS.

    Variables ``x, z_1, h_1, ..., z_{l-1}, h_{l-1}``; ``x`` in the domain's polyhedral part (an
    L2 ball contributes its box, and its exact layer-1 intervals as bounds on ``z_1``);
    ``z_k = W_k h_{k-1} + b_k``; each unstable ``h = act(z)`` relaxed to its convex hull on
    ``[l, u]``. Bounds are widened by 1e-7 relative for solver tolerance.
    """
    oracle = oracle or Oracle()
    d = net.input_dim
    DA, Db = domain.rows()
    los, his = preactivation_bounds(net, domain)  # sound start; LP tightens layers >= 2
    out, lines = [], []
    for l in range(len(net.hidden_widths)):
        if l > 0:
            lo, hi = _lp_layer_bounds(net, l, DA, Db, los, his, d, oracle)
            los[l], his[l] = np.maximum(los[l], lo), np.minimum(his[l], hi)
        inact, unst = _classify(los[l], his[l], net.linear[l])
        out.append((inact, unst))
        lines.append(f"layer {l + 1}: unstable {int(unst.sum())}, stably inactive {int(inact.sum())} (LP relaxation)")
    return out, lines


def _lp_layer_bounds(net, l, DA, Db, los, his, d, oracle):
    """Min and max of layer ``l``'s pre-activations over the triangle relaxation of layers < l."""
    sizes = [d] + [n for k in range(l) for n in (net.hidden_widths[k],) * 2]
    offs = np.concatenate([[0], np.cumsum(sizes)])
    nv = int(offs[-1])
    rows, rlo, rhi = [], [], []

    def row():
        return np.zeros(nv)

    for a, bb in zip(DA, Db):
        r = row()
        r[:d] = a
        rows.append(r), rlo.append(-np.inf), rhi.append(bb)
    col_lo, col_hi = np.full(nv, -np.inf), np.full(nv, np.inf)
    prev = slice(0, d)
    for k in range(l):
        W, b, s, lin = dense(net.weights[k]), net.biases[k], net.slopes[k], net.linear[k]
        zs = slice(offs[1 + 2 * k], offs[2 + 2 * k])
        hs = slice(offs[2 + 2 * k], offs[3 + 2 * k])
        col_lo[zs], col_hi[zs] = los[k], his[k]
        for i in range(W.shape[0]):
            r = row()  # z_i - W_i h_prev = b_i
            r[zs.start + i] = 1.0
            r[prev] = -W[i]
            rows.append(r), rlo.append(b[i]), rhi.append(b[i])
            lo, hi = los[k][i], his[k][i]
            zi, hi_ = zs.start + i, hs.start + i
            if lo >= 0 or lin[i]:  # active or pass-through: h = z
                r = row(); r[hi_], r[zi] = 1.0, -1.0
                rows.append(r), rlo.append(0.0), rhi.append(0.0)
            elif hi <= 0:  # inactive: h = s z
                r = row(); r[hi_], r[zi] = 1.0, -s
                rows.append(r), rlo.append(0.0), rhi.append(0.0)
            else:  # h >= z, h >= s z, h <= s*lo + (hi - s*lo)/(hi - lo) (z - lo)
                r = row(); r[hi_], r[zi] = 1.0, -1.0
                rows.append(r), rlo.append(0.0), rhi.append(np.inf)
                r = row(); r[hi_], r[zi] = 1.0, -s
                rows.append(r), rlo.append(0.0), rhi.append(np.inf)
                slope = (hi - s * lo) / (hi - lo)
                r = row(); r[hi_], r[zi] = 1.0, -slope
                rows.append(r), rlo.append(-np.inf), rhi.append(s * lo - slope * lo)
        prev = hs
    W, b = dense(net.weights[l]), net.biases[l]
    objectives = np.zeros((W.shape[0], nv))
    objectives[:, prev] = W
    mins, maxs = oracle.ranges(objectives, np.array(rows), np.array(rlo), np.array(rhi), col_lo, col_hi)
    pad = 1e-7 * (1 + np.abs(mins)), 1e-7 * (1 + np.abs(maxs))
    return mins + b - pad[0], maxs + b + pad[1]


def _first_layer_regions(net, domain, unstable1):
    """T1: number of layer-1 regions meeting the domain (only the unstable rows cut it)."""
    W, b = net.weights[0][unstable1], net.biases[0][unstable1]
    m, d = W.shape
    if m == 0:
        return 1, "no unstable first-layer neuron"
    if isinstance(domain, Ball) and domain.norm == 2 and domain.clip is None and \
            phi(m, d) <= 20000:
        n = restricted_count_ball(W, b, domain.center, domain.radius)
        return min(n, phi(m, d)), f"flats of the {m} unstable rows meeting the ball: {n}"
    if d <= 6:
        from ..engines import count_regions
        sub = Network([W, np.zeros((1, m))], [b, np.zeros(1)])
        res = count_regions(sub, domain, time_limit=30.0, keep_regions=False)
        if res.complete:
            return res.activation_regions, f"engine count of the {m} unstable rows: {res.activation_regions}"
    return phi(m, d), f"Phi({m}, {d}) = {phi(m, d)}"


def _dp_bound(net, domain, stab, t1=False, t2=False):
    """The stable-neuron DP (optionally with T1, T2) on per-layer (inactive, unstable) masks."""
    leaky = any(s != 0 for s in net.slopes)
    layers = _layer_counts(stab, [dense(W) for W in net.weights[:-1]], leaky, rank_cap=t2)
    start, lines, first = {net.input_dim: 1}, [], 1
    if t1 and layers:
        N1, how = _first_layer_regions(net, domain, stab[0][1])
        L1 = layers[0]
        hist, left = {}, N1
        for j in range(0, L1.m + 1):  # greedy: fewest inactive (highest dimension) first
            take = min(left, comb(L1.m, j))
            if take <= 0:
                break
            dim = min(net.input_dim, L1.width) if leaky else min(net.input_dim, L1.width - L1.inactive - j)
            hist[dim] = hist.get(dim, 0) + take
            left -= take
        lines.append(f"T1 layer 1: {how}; filled greedily by dimension: {dict(sorted(hist.items()))}")
        start, layers, first = hist, layers[1:], 2
    value, dp_lines = dimension_dp(layers, start, first_layer=first)
    return value, lines + dp_lines


def _layer_counts(stab, weights, leaky, rank_cap):
    """LayerCounts from per-layer (inactive, unstable) masks; T2 caps j by the unstable rows' rank."""
    return [LayerCounts(W.shape[0], int(i.sum()), int(u.sum()),
                        int(np.linalg.matrix_rank(W[u])) if (rank_cap and u.any()) else None, leaky)
            for (i, u), W in zip(stab, weights)]


def _method(stability_fn, t1=False, t2=False):
    def run(net, domain):
        stab, lines = stability_fn(net, domain)
        value, dp = _dp_bound(net, domain, stab, t1, t2)
        return value, lines + dp
    return run


LOCAL_METHODS = {
    "local": _method(radius_stability),
    "local_t1": _method(radius_stability, t1=True),
    "local_t2": _method(radius_stability, t2=True),
    "stable": _method(interval_stability),
    "local_interval": _method(interval_stability, t1=True, t2=True),
    "local_lp": _method(lp_stability, t1=True, t2=True),
}


def local_bound(net: Network, domain, method: str = "local_lp", **kwargs) -> Bound:
    """Upper bound on the activation regions of ``net`` meeting ``domain``: ``min(method, serra2018)``."""
    t = time.perf_counter()
    net = as_network(net)
    if method == "hybrid":
        return hybrid_bound(net, domain, **kwargs)
    if method not in LOCAL_METHODS:
        raise ValueError(f"unknown local bound '{method}': choose from {', '.join(LOCAL_METHODS)}, hybrid")
    value, lines = LOCAL_METHODS[method](net, domain)
    glob = serra2018(net).value
    lines.append(f"min(local {value}, serra2018 {glob}) = {min(value, glob)}")
    return Bound(method, min(value, glob), lines, seconds=time.perf_counter() - t)


def critical_radius(net: Network, center) -> float:
    """``r* = min_l min_i |z_i(c)| / (||w_i|| prod_{k<l} ||W_k||_2)``: below it the ball around
    ``center`` lies in one region (§5). Zero denominators give infinity."""
    net = as_network(net)
    h = as_array(center)
    lip, best = 1.0, np.inf
    for W, b, s, lin in zip(net.weights[:-1], net.biases[:-1], net.slopes, net.linear):
        W = dense(W)
        z = W @ h + b
        den = np.linalg.norm(W, axis=1) * lip
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where((den > 0) & ~lin, np.abs(z) / den, np.inf)
        best = min(best, float(ratio.min()) if ratio.size else np.inf)
        lip *= float(np.linalg.norm(W, 2))
        h = activate(z, s, lin)
    return best


def hybrid_bound(net: Network, domain, k: int | None = None, max_regions: int = 200000,
                 time_limit: float = 120.0) -> Bound:
    """Count the first ``k`` hidden layers exactly with the engine; bound the rest per region.

    Inside a region R of the first k layers (k = 0: R is the whole domain), ``h_k(x) = P x + q``
    with image dimension ``rank(P)``; layer k+1's pre-activations are affine on R and their
    exact range over R ∩ (the domain's polyhedral part) costs two LPs each (for an L2 ball also
    capped by its support function); deeper layers use interval arithmetic. The regions inside
    R are bounded by the stable-neuron DP from ``{rank(P): 1}`` and, when layer k+1 is the last
    hidden layer, also by the restricted-arrangement count ``1 + sum_{j<d} C(m, j) + #(d-subsets
    of unstable hyperplanes whose common point lies in R ∩ domain)`` (§2 P3, an upper bound
    for any arrangement). Summed over R. Default ``k = L - 1``; ``k = L`` gives the exact count.
    """
    from ..engines import count_regions
    from ..engines.region import Tolerances, neuron_rows

    t = time.perf_counter()
    L = len(net.hidden_widths)
    k = L - 1 if k is None else max(0, min(int(k), L))
    d = net.input_dim
    DA, Db = domain.rows()
    if k == 0:
        pieces, n_first = [(np.eye(d), np.zeros(d), np.zeros((0, d)), np.zeros(0))], 1
    else:
        nk = net.hidden_widths[k - 1]
        trunc = Network(list(net.weights[:k]) + [np.eye(nk)], list(net.biases[:k]) + [np.zeros(nk)],
                        net.slopes[:k], net.linear[:k])
        res = count_regions(trunc, domain, engine="bfs", max_regions=max_regions, time_limit=time_limit)
        if not res.complete:
            return Bound("hybrid", None, [f"first {k} layers: more than {res.activation_regions} regions (stopped)"],
                         note="incomplete count of the first layers: no bound", seconds=time.perf_counter() - t)
        if k == L:
            return Bound("hybrid", res.activation_regions, [f"k = {L} (all layers): exact count {res.activation_regions}"],
                         seconds=time.perf_counter() - t)
        allmask = ~trunc.linear_mask()
        pieces = [(*reg.affine, *neuron_rows(trunc, reg.pattern, allmask, Tolerances())) for reg in res.regions]
        n_first = res.activation_regions
    oracle = Oracle()
    W1, b1 = net.weights[k], net.biases[k]
    rest = Network(net.weights[k:], net.biases[k:], net.slopes[k:], net.linear[k:])
    leaky = any(s != 0 for s in net.slopes)
    total = 0
    for P, q, G, h in pieces:
        A, c = W1 @ P, W1 @ q + b1
        RG, Rh = np.vstack([G, DA]), np.concatenate([h, Db])
        if RG.shape[0]:
            lp = PolytopeLP(oracle, RG, Rh)
            hi = np.array([lp.maximize(a) for a in A]) + c
            lo = -np.array([lp.maximize(-a) for a in A]) + c
        else:
            hi, lo = np.full(len(c), np.inf), np.full(len(c), -np.inf)
        if domain.l2_ball is not None:
            cen, r = domain.l2_ball
            mid, reach = A @ cen + c, r * np.linalg.norm(A, axis=1)
            hi, lo = np.minimum(hi, mid + reach), np.maximum(lo, mid - reach)
        pad = 1e-7 * (1 + np.where(np.isfinite(lo), np.abs(lo), 0) + np.where(np.isfinite(hi), np.abs(hi), 0))
        los, his = preactivation_bounds(rest, None, first_layer=(lo - pad, hi + pad))
        stab = [_classify(a, b, lin) for a, b, lin in zip(los, his, rest.linear)]
        layers = _layer_counts(stab, [dense(W) for W in rest.weights[:-1]], leaky, rank_cap=True)
        rank = int(np.linalg.matrix_rank(P)) if P.size else 0
        value = dimension_dp(layers, {rank: 1})[0]
        if len(layers) == 1:
            value = min(value, _arrangement_in_piece(A[stab[0][1]], c[stab[0][1]], RG, Rh, domain))
        total += value
    glob = serra2018(net).value
    lines = [f"first {k} layer(s): {n_first} region(s) counted exactly" if k else "k = 0: the domain is one piece",
             f"sum over them of the per-region bound for layers {k + 1}..{L}: {total}",
             f"min(hybrid {total}, serra2018 {glob}) = {min(total, glob)}"]
    return Bound("hybrid", min(total, glob), lines, seconds=time.perf_counter() - t)


#: the vertex test of the restricted-arrangement count is skipped beyond this many d-subsets
MAX_VERTEX_SUBSETS = 200000


def _arrangement_in_piece(A, c, G, h, domain) -> int:
    """Upper bound on the regions that hyperplanes ``A x + c = 0`` cut a convex piece
    ``{G x < h} ∩ domain`` into: ``1 + sum_{j<d} C(m, j) + #(d-subsets meeting in the piece)``.
    Singular d-subsets count 1 (their flat, if any, may meet the piece)."""
    import itertools

    m, d = A.shape
    if m == 0:
        return 1
    base = phi(m, d - 1)  # 1 + sum_{1 <= j < d} C(m, j)
    if m < d:
        return base
    if comb(m, d) > MAX_VERTEX_SUBSETS:
        return base + comb(m, d)
    S = np.array(list(itertools.combinations(range(m), d)), dtype=np.intp)
    M, rhs = A[S], -c[S]
    det = np.linalg.det(M)
    scale = np.abs(M).reshape(len(S), -1).max(axis=1) ** d
    regular = np.abs(det) > 1e-12 * np.maximum(scale, 1e-300)
    V = np.linalg.solve(M[regular], rhs[regular][..., None])[..., 0] if regular.any() else np.zeros((0, d))
    inside = np.ones(len(V), bool)
    if G.shape[0]:
        inside &= np.all(V @ G.T <= h + 1e-9 * (1 + np.abs(h)), axis=1)
    if domain.l2_ball is not None:
        cen, r = domain.l2_ball
        inside &= np.linalg.norm(V - cen, axis=1) < r * (1 + 1e-9)
    return base + int(inside.sum()) + int((~regular).sum())

"""Exact answers read off the regions: the range of each output over a domain and the local
Lipschitz constant of an output (or of a logit difference).

Inside one activation region the network is affine, ``F(x) = M x + m``, and the regions of a
complete count cover the domain. So

* the supremum of output ``k`` over the open domain is the largest, over the regions, of the
  maximum of ``M_k x + m_k`` over the closure of ``region ∩ domain``: a linear programme, with
  one second-order cone constraint for an L2 ball, solved by Clarabel (Goulart & Chen, 2024), an
  interior-point solver made for cone programmes; the regions are visited in decreasing order of
  a cheap upper bound (the output's support over the whole domain, exact for a ball or a box) and
  the search stops as soon as that bound cannot beat the best value found (branch and bound);
* the Lipschitz constant of a piecewise-linear function over an open convex domain, for the
  input norm ``||.||_p``, is the largest dual norm ``||grad||_q`` of its gradient over the
  regions that meet the domain (``q`` = 2, inf, 1 for ``p`` = 2, 1, inf): no solver at all.

Values are suprema over the open domain, attained on its closure: ``argmax`` / ``argmin`` may lie
on the domain's boundary. Where the count is incomplete (a time or region limit), every value is
only a bound from the regions found (``complete`` is False): a maximum or a Lipschitz constant
is then a LOWER bound, a minimum an UPPER bound.

Bounds first (:mod:`exactregions.relax`): on a box or a ball, a robustness verdict and an output
range are decided by sound linear relaxations, a counterexample search and a branch and bound
over input and unit splits whose leaves are single regions, each solved by the same per-region
programme; the search over every region (the BFS's regions, in the order of a cheap bound) is
the last resort, and the only way for a polytope domain and for the minimal adversarial radius.
Decided by bounds: a robust verdict (``robust(...)``, the default ``exact_margin=False``: the
verdict a verifier gives), which reports a PROVEN lower bound on the margin
(``margin_lower_bound``), not its minimum. Exact answers: the smallest margin
(``exact_margin=True``: the verdict from bounds, then the minimum over the regions), the minimal
adversarial radius and the output ranges.

``time_limit`` is one :class:`~exactregions.deadline.Deadline` for the whole answer: the bound
search, the count and the per-region programmes after it (each checked before it starts and
given the time left as Clarabel's own limit). Where it stops the programmes, the answer is incomplete in the same way:
the values are those of the programmes solved (and of the regions' own points), bounds as above;
a verdict is "unknown" unless a counterexample was already found.

The decision boundary in any dimension (:func:`decision_regions`; in 2-D the planar engine also
gives its segments and length): class ``k`` has a full-dimensional cell in a region iff the
largest ``t`` with ``F_k - F_j >= t`` for every rival ``j`` on the closure of region ∩ domain is
positive; the boundary crosses the regions with two classes or more; two classes meet in a
region iff the tie ``F_k = F_j`` has a point where both beat every other class by ``t > 0`` and
the region's and domain's constraints hold with slack ``t`` (always, for exactly two classes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .deadline import Deadline, TimeLimitReached
from .domains import Ball, Box, Domain, check_dimension
from .engines import count_regions
from .network import as_network, dense
from .oracle import SolverError
from .reduction import reduce_dimension

__all__ = ["OutputRange", "Lipschitz", "Robustness", "DecisionRegions", "output_range", "lipschitz", "robust",
           "decision_regions"]

#: Clarabel's gap and feasibility tolerances for the per-region programmes, tried in turn when the
#: solver ends "almost solved" (its own default is 1e-8)
CONE_TOLS = (1e-11, 1e-9, 1e-8)

#: a class is present in a region (or two classes meet there) when the programme's slack ``t``
#: exceeds this (the programmes are solved to :data:`CONE_TOLS`)
DECISION_TOL = 1e-9


@dataclass
class OutputRange:
    """``outputs[k]``: ``{"min", "max", "argmin", "argmax"}`` of output k over the domain."""

    outputs: list
    complete: bool
    regions: int
    programmes_solved: int
    seconds: float
    stats: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"outputs": self.outputs, "complete": self.complete, "regions": self.regions,
                "programmes_solved": self.programmes_solved, "seconds": self.seconds}


@dataclass
class Lipschitz:
    """The exact local Lipschitz constant (``norm``: the input norm; the gradient is measured in
    its dual), a point inside a region where it is attained, and the cheap global bound."""

    lipschitz: float
    point: list
    region: int
    global_upper_bound: float
    norm: str
    complete: bool
    regions: int
    seconds: float

    def to_dict(self) -> dict:
        return {"lipschitz": self.lipschitz, "point": self.point, "region": self.region,
                "global_upper_bound": self.global_upper_bound, "norm": self.norm, "complete": self.complete,
                "regions": self.regions, "seconds": self.seconds}


def _check_domain(domain):
    if not isinstance(domain, Domain):
        raise ValueError("output ranges, Lipschitz constants and verdicts take a ball, box, polytope or the "
                         "whole space")


def _deadline(count_kwargs) -> Deadline:
    """The answer's deadline, made from ``count_kwargs["time_limit"]`` (seconds or a deadline)
    and put back there, so that the count keeps the same one."""
    deadline = count_kwargs["time_limit"] = Deadline.of(count_kwargs.get("time_limit"))
    return deadline


def _regions(net, domain, input_shape, count_kwargs):
    """The BFS's regions of the problem as it is solved: the reduced one where the exact reduction
    applies (:mod:`exactregions.reduction`: every programme then has the reduced dimension, 21
    instead of 784 for a digits image), with the map that lifts its points back."""
    _check_domain(domain)
    net = as_network(net, input_shape)
    red = reduce_dimension(net, domain) if count_kwargs.pop("reduce", True) else None
    if red is not None:
        net, domain, lift = red.net, red.domain, red.lift_points
    else:
        def lift(X):
            return np.asarray(X, dtype=np.float64)
    res = count_regions(net, domain, engine="bfs", keep_regions=True, reduce=False, **count_kwargs)
    return net, domain, res, lift


def output_range(net, domain, *, input_shape=None, bounds: bool = True, **count_kwargs) -> OutputRange:
    """Exact minimum and maximum of every output over ``domain`` (module docstring).

    Parameters
    ----------
    net : Network, torch module or model path
    domain : Box, Ball, Polytope or Whole
    input_shape : tuple, optional
        A torch module's input shape.
    bounds : bool
        True (default): on a box or a ball of more than :data:`RANGE_SEARCH_MIN_DIM` (solved)
        dimensions, each extreme is found by the bound-based branch and bound
        (:func:`exactregions.relax.minimise`): a piece is dropped when its sound bound cannot
        beat the best value found, and only the regions it cannot drop are solved, one
        programme each; the answer is exact. When that search runs out of nodes
        (:data:`EXACT_NODES`), or with False, another domain, a lower dimension or a count
        argument the search does not take (``max_regions``): every region is counted (the BFS)
        and solved in the order of its bound.
    **count_kwargs
        ``time_limit``, ``progress``, ``reduce``, ``tol``; with the region count also
        ``max_regions`` and the other arguments of :func:`~exactregions.engines.count_regions`.
        ``time_limit`` covers the search, the count and the programmes (module docstring):
        stopped, ``complete`` is False and each max is a lower bound, each min an upper bound.

    Returns
    -------
    OutputRange
        Exact values (``complete``); from an incomplete count a max is a lower bound and a min an
        upper bound. From the bound-based search ``regions`` is the number of regions solved
        and ``stats["decided_by"]`` is "bounds".

    Examples
    --------
    >>> from exactregions import Box, random_network
    >>> r = output_range(random_network(2, [6], 0, outputs=1), Box(-1, 1, dim=2))
    >>> r.outputs[0]["min"] <= r.outputs[0]["max"]
    True
    """
    t0 = time.perf_counter()
    deadline = _deadline(count_kwargs)
    if bounds and _searchable(domain, count_kwargs):  # bounds first: regions only where they cannot decide
        full = as_network(net, input_shape)
        check_dimension(domain, full.input_dim)
        fast = _range_by_bounds(full, domain, t0, count_kwargs)
        if fast is not None:
            return fast
    net, domain, res, lift = _regions(net, domain, input_shape, count_kwargs)
    rows = _domain_rows(domain)
    outputs, solved, complete = [], 0, res.complete
    for k in range(net.output_dim):
        entry = {}
        for sign, key in ((1.0, "max"), (-1.0, "min")):
            value, point, n, done = _best_over_regions(net, res, domain, rows, k, sign, deadline)
            solved += n
            complete &= done
            entry[key] = sign * value
            entry["arg" + key] = None if point is None else lift(point).tolist()
        outputs.append({"min": entry["min"], "max": entry["max"], "argmin": entry["argmin"],
                        "argmax": entry["argmax"]})
    stats = dict(res.stats)
    if res.complete and not complete:
        stats["programmes_stopped"] = "time_limit"
    return OutputRange(outputs, complete, res.activation_regions, solved, time.perf_counter() - t0, stats)


def _domain_rows(domain):
    """The domain's polyhedral rows ``A x <= b`` without the L2 ball's bounding box (the cone
    stands for the ball itself)."""
    if isinstance(domain, Ball) and domain.norm == 2:
        return domain.clip.rows() if domain.clip is not None else (np.zeros((0, domain.dim)), np.zeros(0))
    return domain.rows()


def _best_over_regions(net, res, domain, rows, k, sign, deadline=None):
    """max of ``sign * F_k`` over the domain: (value, point, programmes solved, whether the
    search finished). It starts from the best value at the regions' own points (points of the
    open domain: a value attained, so a lower bound however early the deadline stops it)."""
    regs = res.regions
    w = np.array([sign * r.affine[0][k] for r in regs])
    b = np.array([sign * r.affine[1][k] for r in regs])
    bound = domain.support(w) + b
    at_points = np.einsum("ij,ij->i", w, np.array([r.point for r in regs])) + b
    start = int(np.argmax(at_points))
    best, arg, solved = float(at_points[start]), regs[start].point, 0
    for i in np.argsort(-bound, kind="stable"):
        if bound[i] <= best:
            break  # no later region can do better
        try:
            value, x = _maximise_on_region(net, regs[i].pattern, w[i], b[i], domain, rows, deadline)
        except TimeLimitReached:
            return best, arg, solved, False
        solved += 1
        if value > best:
            best, arg = value, x
    return best, arg, solved, True


def _region_rows(net, pattern, rows):
    """``G x <= h``: the region of ``pattern`` (every switching unit on its side) and the domain's
    polyhedral ``rows``."""
    A, c = net.region_constraints(pattern)
    keep = ~net.linear_mask()
    s = np.where(pattern[keep], 1.0, -1.0)
    return np.vstack([-s[:, None] * A[keep], rows[0]]), np.concatenate([s * c[keep], rows[1]])


def _region_programme(net, pattern, domain, rows):
    """``(G, h, cones)``: the closure of region ∩ domain as ``h - G x`` in Clarabel's cones (the
    region's and ``rows``' half-spaces, and for an L2 ball its second-order cone)."""
    import clarabel

    G, h = _region_rows(net, pattern, rows)
    d = net.input_dim
    cones = [clarabel.NonnegativeConeT(G.shape[0])] if G.shape[0] else []
    if isinstance(domain, Ball) and domain.norm == 2:  # (r, x - c) in the second-order cone
        G = np.vstack([G, np.zeros((1, d)), -np.eye(d)])
        h = np.concatenate([h, [domain.radius], -domain.center])
        cones.append(clarabel.SecondOrderConeT(d + 1))
    return G, h, cones


def _maximise_on_region(net, pattern, w, b, domain, rows, deadline=None):
    """max of ``w x + b`` over the closure of region ∩ domain (Clarabel): (value, point). Past
    ``deadline``: :class:`~exactregions.deadline.TimeLimitReached`."""
    G, h, cones = _region_programme(net, pattern, domain, rows)
    x = _cone_programme(-w, G, h, cones, "the maximum of an output over a region", deadline)
    if isinstance(x, str):  # a nonempty region (it has a point) can only be unbounded
        return np.inf, None
    return float(w @ x + b), x


def _cone_programme(cost, A, b, cones, what, deadline=None):
    """``min cost.x`` subject to ``b - A x`` in ``cones``, by Clarabel: the solution, or
    "infeasible" / "unbounded". Its gap and feasibility tolerances are :data:`CONE_TOLS`, the next
    one tried when it ends "almost solved" (short of the tolerance asked); any other status, or
    "almost solved" at the last one, raises :class:`~exactregions.oracle.SolverError`. With a
    ``deadline``: checked before each solve and given to Clarabel as its time limit; a solve it
    stops raises :class:`~exactregions.deadline.TimeLimitReached` (never an answer)."""
    import clarabel
    from scipy import sparse

    n = cost.size
    P, A = sparse.csc_matrix((n, n)), sparse.csc_matrix(A)
    for tol in CONE_TOLS:
        settings = clarabel.DefaultSettings()
        settings.verbose = False
        settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = tol
        if deadline:
            deadline.check()
            settings.time_limit = max(deadline.remaining(), 1e-3)
        sol = clarabel.DefaultSolver(P, cost, A, b, cones, settings).solve()
        status = str(sol.status)
        if deadline is not None and status == "MaxTime":
            raise TimeLimitReached(f"time limit reached while deciding {what}")
        if status == "Solved":
            return np.asarray(sol.x)
        if status in ("PrimalInfeasible", "DualInfeasible"):
            return "infeasible" if status == "PrimalInfeasible" else "unbounded"
        if status != "AlmostSolved":
            break
    from .oracle import SolverError
    raise SolverError(f"Clarabel could not decide {what}: status {status}")


@dataclass
class DecisionRegions:
    """Which regions the decision boundary crosses (``crossed``, one flag per region of
    ``result``) and which pairs of classes meet (``pairs``: {(i, j): regions where they meet});
    ``length`` is None (a length exists in 2-D: the planar engine's ``Decision``)."""

    crossed: np.ndarray
    pairs: dict
    complete: bool
    programmes_solved: int
    length: None = None

    @property
    def regions_crossed(self) -> int:
        return int(self.crossed.sum())

    def to_dict(self, complete=None) -> dict:
        return {"regions_crossed": self.regions_crossed, "length": None,
                "classes": [list(p) for p in sorted(self.pairs)],
                "complete": self.complete if complete is None else complete}


def decision_regions(net, domain, *, result=None, input_shape=None, **count_kwargs) -> DecisionRegions:
    """The regions the decision boundary of a classifier crosses (argmax of the outputs, or the
    sign of a single output) and the classes that meet (module docstring), from ``result`` (a
    count with affine maps: the BFS's) or from a BFS count made here. Exact up to
    :data:`DECISION_TOL`; from an incomplete count, a lower bound (``complete`` False).
    ``time_limit`` (in ``count_kwargs``; also with a ``result``) covers the count and the
    programmes: stopped, the regions not yet examined are left uncrossed (``complete`` False)."""
    net = as_network(net, input_shape)
    deadline = _deadline(count_kwargs)
    if result is None:
        _check_domain(domain)
        result = count_regions(net, domain, engine="bfs", keep_regions=True, **count_kwargs)
    if any(r.affine is None for r in result.regions):
        raise ValueError("the decision boundary needs each region's affine map: count with engine='bfs'")
    rows = _domain_rows(domain)
    single = net.output_dim == 1
    crossed = np.zeros(len(result.regions), bool)
    pairs, solved = {}, 0
    try:
        solved = _decide_crossings(net, result, domain, rows, single, crossed, pairs, deadline)
        complete = result.complete
    except TimeLimitReached as stop:
        solved, complete = stop.args[1], False
    return DecisionRegions(crossed, pairs, complete, solved)


def _decide_crossings(net, result, domain, rows, single, crossed, pairs, deadline):
    """:func:`decision_regions`' programmes, region by region, filling ``crossed`` and ``pairs``;
    the programmes solved. A region is recorded only once all its programmes are solved: past
    the deadline, :class:`~exactregions.deadline.TimeLimitReached` with the programmes solved
    as its second argument."""
    solved = 0
    for i, reg in enumerate(result.regions):
        M, m = reg.affine
        if single:  # classes 0 (F < 0) and 1 (F > 0)
            M, m = np.vstack([np.zeros_like(M), M]), np.concatenate([[0.0], m])
        n_cls = M.shape[0]
        own = int(np.argmax(M @ reg.point + m))  # the class at the region's point is present
        present, met = [own], []
        try:
            for k in range(n_cls):
                if k == own:
                    continue
                W, B = np.delete(M[k] - M, k, axis=0), np.delete(m[k] - m, k)
                if np.any(domain.support(W) + B <= 0):  # a rival wins on the whole domain
                    continue
                slack = _max_slack(net, reg.pattern, W, B, domain, rows, deadline=deadline)
                solved += 1
                if slack > DECISION_TOL:
                    present.append(k)
            if len(present) < 2:
                continue
            present.sort()
            for a in range(len(present)):
                for b in range(a + 1, len(present)):
                    k, j = present[a], present[b]
                    meet = len(present) == 2
                    if not meet:
                        others = [o for o in range(n_cls) if o not in (k, j)]
                        meet = _max_slack(net, reg.pattern, M[k] - M[others], m[k] - m[others], domain, rows,
                                          tie=(M[k] - M[j], m[k] - m[j]), deadline=deadline) > DECISION_TOL
                        solved += 1
                    if meet:
                        met.append((k, j))
        except TimeLimitReached as e:
            raise TimeLimitReached(str(e), solved) from None
        crossed[i] = True
        for key in met:
            pairs[key] = pairs.get(key, 0) + 1
    return solved


def _max_slack(net, pattern, W, B, domain, rows, tie=None, deadline=None):
    """The largest ``t <= 1`` with ``W x + B >= t`` on the closure of region ∩ domain; with
    ``tie = (w, b)`` also ``w x + b = 0`` and the region's and domain's constraints kept with
    slack ``t`` (a relative-interior point of the tie). -inf when there is none."""
    import clarabel

    G, h = _region_rows(net, pattern, rows)
    d = net.input_dim
    slack = np.linalg.norm(G, axis=1) if tie is not None else np.zeros(G.shape[0])
    # z = (x, t); minimise -t subject to b - A z in the cones
    blocks = [np.hstack([G, slack[:, None]]), np.hstack([-W, np.ones((W.shape[0], 1))]), np.eye(1, d + 1, d)]
    rhs = [h, B, [1.0]]
    cones = [clarabel.NonnegativeConeT(G.shape[0] + W.shape[0] + 1)]
    if tie is not None:
        blocks.append(np.append(tie[0], 0.0)[None])
        rhs.append([-tie[1]])
        cones.append(clarabel.ZeroConeT(1))
    if isinstance(domain, Ball) and domain.norm == 2:  # (r - slack t, x - c) in the second-order cone
        blocks += [np.eye(1, d + 1, d) * (1.0 if tie is not None else 0.0), np.hstack([-np.eye(d), np.zeros((d, 1))])]
        rhs += [[domain.radius], -domain.center]
        cones.append(clarabel.SecondOrderConeT(d + 1))
    z = _cone_programme(-np.eye(1, d + 1, d)[0], np.vstack(blocks), np.concatenate([np.ravel(r) for r in rhs]),
                        cones, "the slack of a class in a region", deadline)
    return -np.inf if isinstance(z, str) else float(z[d])


def _dual_order(norm) -> float:
    return {2: 2, 1: np.inf, np.inf: 1}[norm]


def _norm_name(norm) -> str:
    return {2: "2", 1: "1", np.inf: "inf"}[norm]


def lipschitz(net, domain, *, norm=2, output: int | None = None, classes=None, input_shape=None,
              **count_kwargs) -> Lipschitz:
    """Exact local Lipschitz constant over ``domain`` of output ``output`` (default 0), or of the
    logit difference ``F_i - F_j`` for ``classes=(i, j)``, for the input norm ``norm`` (2, 1 or
    inf); next to it the global bound ``||w||_q prod_l ||W_l||_{p->p}`` (ReLU and LeakyReLU are
    1-Lipschitz coordinate by coordinate, so each layer is ``||W_l||_{p->p}``-Lipschitz)."""
    t0 = time.perf_counter()
    _check_domain(domain)
    net = as_network(net, input_shape)  # the gradients in the original space: no reduction here
    norm = {"2": 2, "1": 1, "inf": np.inf}.get(str(norm), norm)
    if norm not in (1, 2, np.inf):
        raise ValueError(f"norm must be 2, 1 or inf, got {norm}")
    if classes is not None and output is not None:
        raise ValueError("give an output or two classes, not both")
    out_dim = net.output_dim
    picks = list(classes) if classes is not None else [0 if output is None else output]
    for j in picks:
        if not 0 <= int(j) < out_dim:
            raise ValueError(f"output {j} does not exist: the network has {out_dim} outputs")
    q = _dual_order(norm)
    _deadline(count_kwargs)
    res = count_regions(net, domain, engine="bfs", keep_regions=True, **count_kwargs)

    def row(M):
        return M[picks[0]] - M[picks[1]] if classes is not None else M[picks[0]]

    grads = np.array([row(r.affine[0]) for r in res.regions])
    vals = np.linalg.norm(grads, ord=q, axis=1)
    best = int(np.argmax(vals))
    w_last = row(net.weights[-1])
    bound = float(np.linalg.norm(w_last, ord=q))
    for W in net.weights[:-1]:
        bound *= float(np.linalg.norm(dense(W), ord=norm if norm != 2 else 2))
    return Lipschitz(float(vals[best]), res.regions[best].point.tolist(), best, bound, _norm_name(norm),
                     res.complete, res.activation_regions, time.perf_counter() - t0)


@dataclass
class Robustness:
    """A robustness verdict for ``label`` over the open domain.

    Attributes
    ----------
    verdict : str
        "robust" (``label`` is the strict top output everywhere in the domain), "not robust"
        (``counterexample`` is a point of the open domain whose plain forward pass ranks
        ``counterexample_class`` above ``label``) or "unknown" (the search did not finish, or the
        smallest margin is exactly 0: a tie on the domain's boundary). Never a guess.
    min_margin : float or None
        ``F_label - max_{j != label} F_j`` minimised over the domain (exact; None unless the
        search finished without a counterexample stopping it early, and None for a verdict
        decided by bounds, the default ``exact_margin=False``), attained at ``argmin``.
    radius : float or None
        With a radius search, the exact minimal adversarial radius (the distance from the centre
        to the nearest point where another class ties or wins), None if it is at least the
        ball's radius.
    margin_lower_bound : float or None
        A PROVEN lower bound on the smallest margin (a robust verdict decided by bounds: sound
        linear relaxations and exact per-region programmes); equal to ``min_margin`` when that is
        exact, None when the verdict is not "robust".
    decided_by : str
        "counterexample search" (projected gradient steps, the point checked by a forward pass),
        "bounds" (the branch and bound of :mod:`exactregions.relax`) or "regions" (every region
        of the domain enumerated).
    nodes : int
        The pieces the bound-based search bounded.
    """

    verdict: str
    label: int
    min_margin: float | None
    argmin: list | None
    counterexample: list | None
    counterexample_class: int | None
    regions: int
    programmes_solved: int
    regions_pruned: int
    complete: bool
    seconds: float
    radius: float | None = None
    note: str = ""
    margin_lower_bound: float | None = None
    decided_by: str = "regions"
    nodes: int = 0

    @property
    def margin(self) -> str | None:
        """What the reported margin is: "exact" (``min_margin``), "lower bound"
        (``margin_lower_bound`` only) or None (no margin: not robust, or unknown)."""
        if self.min_margin is not None:
            return "exact"
        return "lower bound" if self.margin_lower_bound is not None else None

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("verdict", "label", "min_margin", "margin_lower_bound", "margin",
                                              "argmin", "counterexample", "counterexample_class", "radius", "regions",
                                              "programmes_solved", "regions_pruned", "nodes", "decided_by", "complete",
                                              "seconds", "note")}


def robust(net, domain, *, label: int | None = None, radius_search: bool = False, exact_margin: bool = False,
           bounds: bool = True, input_shape=None, **count_kwargs) -> Robustness:
    """Is ``label`` (default: the class predicted at the domain's centre) the top output everywhere
    in the open ``domain``?

    On a box or a ball (and without ``radius_search``) bounds come first
    (:mod:`exactregions.relax`):

    a. a counterexample search (projected gradient steps from the centre and seeded random
       starts): a point strictly inside the open domain whose forward pass ranks another class
       first is a "not robust" verdict at once;
    b. a branch and bound over input splits (boxes of up to 16 dimensions) and unit splits,
       bounded by sound linear relaxations (CROWN, Zhang et al. 2018; DeepPoly, Singh et al.
       2019; rounding included): a piece whose margin bound is positive is dropped, a piece on
       which every unit is stable is one region and is solved exactly, as below. A robust
       verdict is then decided by bounds, and ``margin_lower_bound`` is a proven lower bound
       (``min_margin`` None) unless ``exact_margin`` asks for the exact minimum:
       on a box or an L-inf ball of more than :data:`RANGE_SEARCH_MIN_DIM` dimensions the same
       search finds it (a piece dropped only when its bound reaches the smallest margin found,
       within :data:`EXACT_NODES` pieces), otherwise the regions below do; when their count
       stops early (a time limit) the robust verdict stands with its proven lower bound.

    When the search runs out of pieces (:data:`SEARCH_NODES`) or meets a margin of exactly 0,
    every region is enumerated:

    1. While the regions are found (the BFS's ``on_region``), the class at each region's point is
       checked by a plain forward pass: the first point of another class stops the traversal with
       a "not robust" verdict.
    2. Otherwise, over the complete set of regions, the smallest margin is minimised exactly:
       per region and rival class j an LP (an SOCP in an L2 ball) of ``(M_label - M_j) x`` over
       region ∩ domain, visited in increasing order of a lower bound (the margin's support over
       the whole domain) and stopped once no bound can beat the smallest margin found (branch and
       bound). A positive minimum is a robust verdict; a negative one yields a counterexample
       inside the open domain (stepped from the minimiser towards the region's point), checked
       by a forward pass.

    ``radius_search`` (unclipped balls): the exact minimal adversarial radius in the ball's norm,
    the smallest distance from the centre to a point of some region where a rival class ties or
    wins (per region and class a distance QP in L2, a linear programme in L1 and L-inf; branch and
    bound on the distance to the tie hyperplane).

    Parameters
    ----------
    net : Network, torch module or model path
    domain : Box, Ball or bounded Polytope
    label : int, optional
    radius_search : bool
        Also the exact minimal adversarial radius (counts every region of the ball).
    exact_margin : bool
        False (default): the verdict, decided by bounds where they suffice, with a proven lower
        bound on the margin (``margin_lower_bound``). True: a robust verdict also comes with the
        exact smallest margin (``min_margin``), which may take every region.
    bounds : bool
        False: skip the bound-based search (every region is enumerated).
    input_shape : tuple, optional
    **count_kwargs
        ``time_limit``, ``progress``, ``reduce``, ``tol``; any other argument of the region
        count (``max_regions``) asks for the region search. ``time_limit`` covers the bounds,
        the count and every programme after it: a count it stops gives "unknown"; margin
        programmes it stops give "not robust" if a counterexample was already found, else
        "unknown"; a radius search it stops leaves ``radius`` None and says so in ``note``
        (``complete`` False).

    Returns
    -------
    Robustness
        ``verdict``; exact: ``min_margin`` (when asked and robust), ``radius``; from bounds:
        ``margin_lower_bound``; ``decided_by`` names the search that answered.

    Examples
    --------
    >>> import numpy as np
    >>> from exactregions import Ball, random_network
    >>> net = random_network(2, [8, 8], 3, outputs=3)
    >>> v = robust(net, Ball([0.1, 0.2], 0.05), exact_margin=False)
    >>> v.verdict, v.margin, v.margin_lower_bound > 0
    ('robust', 'lower bound', True)
    """
    t0 = time.perf_counter()
    deadline = _deadline(count_kwargs)
    if not isinstance(domain, Domain) or not (isinstance(domain, (Box, Ball)) or domain.bounded):  # (boxes and
        raise ValueError("a robustness verdict needs a ball, a box or a bounded polytope")  # balls: no 2d supports)
    full = as_network(net, input_shape)  # the network as given; ``net`` below is the one solved
    if full.output_dim < 2:
        raise ValueError("a robustness verdict needs a classifier with at least two outputs")
    if label is None:
        label = int(np.argmax(full.forward(domain.seed_point())))
    if not 0 <= label < full.output_dim:
        raise ValueError(f"label {label} does not exist: the network has {full.output_dim} outputs")
    if radius_search and not (isinstance(domain, Ball) and domain.clip is None):
        raise ValueError("the radius search is for balls (L2, L1 or L-inf, not clipped)")
    proven = None  # a robust verdict from bounds whose exact smallest margin the regions give
    if bounds and not radius_search and _searchable(domain, count_kwargs):  # bounds first, regions last
        fast = _robust_by_bounds(full, domain, label, exact_margin, t0, count_kwargs)
        if fast is not None and not (exact_margin and fast.verdict == "robust" and fast.min_margin is None):
            return fast
        proven = fast

    def wrong_class(region):
        M, m = region.affine
        return int(np.argmax(M @ region.point + m)) != label

    # a radius search needs every region of the ball: no early stop then
    net, domain, res, lift = _regions(full, domain, None, {"on_region": None if radius_search else wrong_class,
                                                          **count_kwargs})
    n = res.activation_regions
    out = dict(label=label, regions=n, complete=res.complete)
    if res.stop_reason == "stopped by the caller":  # the last region's point is a counterexample
        x = lift(res.regions[-1].point)
        cls = int(np.argmax(full.forward(x)))
        if cls == label:  # pragma: no cover - the affine map and the forward pass disagree
            raise RuntimeError("a counterexample did not survive its forward-pass check")
        return Robustness("not robust", min_margin=None, argmin=None, counterexample=x.tolist(),
                          counterexample_class=cls, programmes_solved=0, regions_pruned=n,
                          seconds=time.perf_counter() - t0, **out)
    if not res.complete and proven is not None:  # the verdict stands; its exact margin did not finish
        proven.note = (f"the margin is a proven lower bound: the region count for its exact minimum stopped "
                       f"({res.stop_reason})")
        proven.seconds = time.perf_counter() - t0
        return proven
    if not res.complete:
        return Robustness("unknown", min_margin=None, argmin=None, counterexample=None, counterexample_class=None,
                          programmes_solved=0, regions_pruned=0, seconds=time.perf_counter() - t0,
                          note=f"the region count stopped ({res.stop_reason}) before every region was checked",
                          **out)
    value, point, where, solved, touched, done = _min_margin(net, res, domain, label, deadline)
    if not done and not value < 0:  # stopped before a counterexample or the whole minimum
        return Robustness("unknown", min_margin=None, argmin=None, counterexample=None, counterexample_class=None,
                          programmes_solved=solved, regions_pruned=0, seconds=time.perf_counter() - t0,
                          note="the time limit stopped the margin programmes before every region was checked",
                          **{**out, "complete": False})
    radius, note = None, ""
    if radius_search:
        radius, found = _adversarial_radius(net, res, domain, label, deadline)
        if not found:
            out["complete"] = False
            note = "the time limit stopped the radius search: the adversarial radius is not decided"
    if not done:  # a counterexample, but not the smallest margin
        out["complete"], value = False, None
        note = "; ".join(x for x in (note, "the time limit stopped the margin programmes: the smallest margin is "
                                           "not decided (the counterexample is checked)") if x)
    common = dict(programmes_solved=solved, regions_pruned=n - touched, seconds=0.0, radius=radius, note=note, **out)
    common.update(min_margin=value, argmin=lift(point).tolist() if done else None,
                  margin_lower_bound=value if value is not None and value > 0 else None)
    if value is None or value < 0:
        x = lift(_inside(net, res.regions[where[0]], point, label, where[1]))
        cls = int(np.argmax(full.forward(x)))
        if cls == label:  # pragma: no cover - the affine map and the forward pass disagree
            raise RuntimeError("a counterexample did not survive its forward-pass check")
        rob = Robustness("not robust", counterexample=x.tolist(), counterexample_class=cls, **common)
    elif value > 0:
        rob = Robustness("robust", counterexample=None, counterexample_class=None, **common)
    else:
        common["note"] = "; ".join(x for x in ("the smallest margin is exactly 0: two classes tie on the domain's "
                                               "boundary", note) if x)
        rob = Robustness("unknown", counterexample=None, counterexample_class=None, **common)
    rob.seconds = time.perf_counter() - t0
    return rob


def _margin_maps(region, label):
    """Per rival class j: the margin ``F_label - F_j`` on the region as ``(w_j, b_j)`` rows."""
    M, m = region.affine
    w, b = M[label] - M, m[label] - m
    return np.delete(w, label, axis=0), np.delete(b, label), np.delete(np.arange(M.shape[0]), label)


def _min_margin(net, res, domain, label, deadline=None):
    """Exact smallest margin over the domain by branch and bound: (value, point, (region, class),
    programmes solved, regions touched, whether it finished before ``deadline``)."""
    rows = _domain_rows(domain)
    cands = []
    for i, reg in enumerate(res.regions):
        w, b, cls = _margin_maps(reg, label)
        lower = b - domain.support(-w)  # min over the whole domain of w x + b
        cands += [(lo, i, k, wk, bk) for lo, k, wk, bk in zip(lower, cls, w, b)]
    cands.sort(key=lambda t: t[0])
    best, arg, where, solved, touched = np.inf, None, None, 0, set()
    for lo, i, k, wk, bk in cands:
        if lo >= best:
            break
        try:
            val, x = _maximise_on_region(net, res.regions[i].pattern, -wk, -bk, domain, rows, deadline)
        except TimeLimitReached:
            return best, arg, where, solved, len(touched), False
        solved += 1
        touched.add(i)
        if -val < best:
            best, arg, where = -val, x, (i, int(k))
    return best, arg, where, solved, len(touched), True


def _inside(net, region, x_star, label, rival):
    """A point of the open region ∩ domain where the rival still beats ``label``: on the segment
    from the minimiser (on the closure, margin < 0) towards the region's interior point."""
    M, m = region.affine
    w, b = M[label] - M[rival], m[label] - m[rival]
    at_star, at_point = float(w @ x_star + b), float(w @ region.point + b)
    lam = 0.5 * (-at_star) / max(at_point - at_star, 1e-300)
    return x_star + min(lam, 0.5) * (region.point - x_star)


def _adversarial_radius(net, res, domain, label, deadline=None):
    """Smallest distance, in the ball's norm, from its centre to a point of a region where a rival
    class ties or wins (L2: exact distance QPs; L1 and L-inf: linear programmes), with branch and
    bound on the distance to the tie hyperplane (``|w c + b| / ||w||_q``, q the dual norm); None
    when no such point lies inside the ball. Returns ``(radius, finished)``: ``(None, False)``
    when ``deadline`` stopped the search."""
    from .oracle import Oracle

    c, r, p = domain.center, domain.radius, domain.norm
    oracle = Oracle(deadline=deadline)
    keep = ~net.linear_mask()
    cands = []
    for i, reg in enumerate(res.regions):
        w, b, _ = _margin_maps(reg, label)
        norms = np.linalg.norm(w, ord=_dual_order(p), axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            lower = np.where(w @ c + b <= 0, 0.0, np.where(norms > 0, (w @ c + b) / norms, np.inf))
        cands += [(lo, i, wk, bk) for lo, wk, bk in zip(lower, w, b)]
    cands.sort(key=lambda t: t[0])
    best = np.inf
    for lo, i, wk, bk in cands:
        if lo >= min(best, r):
            break
        pattern = res.regions[i].pattern
        A, cc = net.region_constraints(pattern)
        s = np.where(pattern[keep], 1.0, -1.0)
        G = np.vstack([-s[:, None] * A[keep], wk[None, :]])  # region rows, and margin_j <= 0
        h = np.concatenate([s * cc[keep], [-bk]])
        nz = np.linalg.norm(G, axis=1) > 0
        if np.any(~nz & (h < 0)):
            continue  # a constant row that cannot hold: empty
        try:
            if p == 2:
                dist, _ = oracle.nearest_point(G[nz], h[nz], c, what="the distance from the centre to a class change")
            else:
                dist = _polyhedral_distance(G[nz], h[nz], c, p, deadline)
        except TimeLimitReached:
            return None, False
        best = min(best, dist)
    return (float(best) if best < r else None), True


def _polyhedral_distance(G, h, c, p, deadline=None):
    """``min ||x - c||_p`` over ``{G x <= h}`` for p = inf or 1, a linear programme (Clarabel):
    variables ``(x, s)`` with ``|x - c| <= s`` coordinate-wise; minimise ``max s`` (as ``t``) or
    ``sum s``. ``inf`` when the set is empty."""
    import clarabel

    m, d = G.shape
    I, Z = np.eye(d), np.zeros((d, 1))
    rows = [np.hstack([G, np.zeros((m, d + 1))]),
            np.hstack([I, -I, Z]), np.hstack([-I, -I, Z])]  # x - c <= s, c - x <= s
    rhs = [h, c, -c]
    if p == np.inf:
        rows.append(np.hstack([np.zeros((d, d)), I, -np.ones((d, 1))]))  # s <= t
        rhs.append(np.zeros(d))
        cost = np.r_[np.zeros(2 * d), 1.0]
    else:
        cost = np.r_[np.zeros(d), np.ones(d), 0.0]
    A = np.vstack(rows)
    x = _cone_programme(cost, A, np.concatenate(rhs), [clarabel.NonnegativeConeT(A.shape[0])],
                        "the distance to a class change", deadline)
    if isinstance(x, str):  # bounded below by 0: only an empty set gets here
        return np.inf
    return float(np.linalg.norm(x[:d] - c, ord=p))


# ------------------------------------------------------------------ answers from bounds first
#: nodes the bound-based search (:func:`exactregions.relax.minimise`) may bound for a verdict
#: before it hands the question to the search over every region
SEARCH_NODES = 5_000
#: nodes it may bound for an exact minimum (an output's extreme; the smallest margin of a robust
#: verdict on a box or L-inf ball of more than :data:`RANGE_SEARCH_MIN_DIM` dimensions), which
#: needs every piece near the minimiser down to single regions: beyond it, and on the other
#: domains, the region search finds the minimum (measured faster there: an L2 ball of the
#: reduced digits MLP, 29 regions in 0.07 s against 50 nodes in 4.4 s; a 3-D L2 ball, 338
#: regions in 4.1 s against 758 nodes in 14 s)
EXACT_NODES = 200
#: output ranges try the bound-based search above this (solved) input dimension only: below it the
#: region search was measured faster (a 3-D [8,8] box: 1.3 s against 4.9 s; 1-D [9]: 0.1 s
#: against 2.2 s), above it the region search is at its weakest
RANGE_SEARCH_MIN_DIM = 16
#: keyword arguments the bound-based search honours; any other (``max_regions``, an engine's
#: own) asks for the region count itself
_SEARCH_KWARGS = {"time_limit", "progress", "reduce", "tol"}


def _searchable(domain, count_kwargs) -> bool:
    """Whether the bound-based search applies: a box or a ball, and no argument it cannot honour."""
    return isinstance(domain, (Box, Ball)) and set(count_kwargs) <= _SEARCH_KWARGS


def _solved_space(full, domain, count_kwargs):
    """``(net, domain, lift)`` of the problem as the search solves it: the exact reduction where
    it applies (as for the region count), else the problem itself."""
    red = reduce_dimension(full, domain) if count_kwargs.get("reduce", True) else None
    if red is not None:
        return red.net, red.domain, red.lift_points
    return full, domain, lambda X: np.asarray(X, dtype=np.float64)


def _leaf_programmes(net, domain, deadline=None):
    """The search's leaf solver: per row ``W[j] x + B[j]`` (rows in ``order``) its exact minimum
    over the closure of region ∩ domain ∩ the node's box, one programme each (the per-region
    programme of the region search, :func:`_region_programme`); +inf where that set is empty;
    ``(None, None)`` when the solver cannot decide one (a thin or empty leaf) or ``deadline`` (a
    ``time.perf_counter()`` value) has passed. With ``stop``, up to the first negative minimum."""
    from .relax import Piece

    d = net.input_dim
    boxlike = isinstance(domain, Box) or domain.norm == np.inf  # the node's box is its piece of the domain
    root = Piece.of(domain)
    rows = []  # the domain's rows and the boxes' normals, made at the first leaf (3,000 rows in 784-D)

    def leaf(pattern, piece, W, B, order, stop):
        if not rows:
            rows.extend([np.zeros((0, d)), np.zeros(0)] if boxlike else _domain_rows(domain))
            rows.append(np.vstack([np.eye(d), -np.eye(d)]))
        if boxlike or np.any(piece.lo != root.lo) or np.any(piece.hi != root.hi):
            box = (np.vstack([rows[0], rows[2]]), np.concatenate([rows[1], piece.hi, -piece.lo]))
        else:  # a ball's node that was never split: the ball's own rows
            box = (rows[0], rows[1])
        G, h, cones = _region_programme(net, pattern, domain, box)
        vals, pts = [], []
        for j in order:
            if deadline is not None and time.perf_counter() > deadline:
                return None, None  # the time limit: the search ends undecided
            try:
                x = _cone_programme(W[j], G, h, cones, "the minimum of a margin over a region")
            except SolverError:  # a thin or empty leaf the solver cannot settle: the region search will
                return None, None
            if isinstance(x, str):  # the region misses the node's box (bounded: never unbounded)
                vals.append(np.inf)
                pts.append(None)
                continue
            vals.append(float(W[j] @ x + B[j]))
            pts.append(x)
            if stop and vals[-1] < 0:
                break
        return vals, pts

    return leaf


def _robust_by_bounds(full, domain, label, exact_margin, t0, count_kwargs):
    """The verdict from bounds first (:mod:`exactregions.relax`): a counterexample search, then
    branch and bound over input splits and unit splits, each leaf one region decided by its
    programmes. A :class:`Robustness`, or None when the search ran out of nodes (the region
    search then decides) or met a tie it cannot settle."""
    from .relax import Piece, Relaxation, counterexample_search, minimise, open_contains

    deadline = Deadline.of(count_kwargs.get("time_limit")).at  # the answer's deadline, as relax takes it
    common = dict(label=label, regions=0, programmes_solved=0, regions_pruned=0, complete=True)

    def unknown():
        return Robustness("unknown", min_margin=None, argmin=None, counterexample=None, counterexample_class=None,
                          seconds=time.perf_counter() - t0, decided_by="bounds",
                          note="the time limit ran out before the verdict was decided", **{**common, "complete": False})

    check_dimension(domain, full.input_dim)
    if deadline is not None and time.perf_counter() >= deadline:
        return unknown()
    net, dom, lift = _solved_space(full, domain, count_kwargs)
    rivals = np.delete(np.arange(net.output_dim), label)
    C = np.eye(net.output_dim)[label] - np.eye(net.output_dim)[rivals]

    def counterexample(x, how, **extra):
        x = lift(x)
        cls = int(np.argmax(full.forward(x)))
        if cls == label:  # pragma: no cover - the search checks every point by a forward pass
            raise RuntimeError("a counterexample did not survive its forward-pass check")
        return Robustness("not robust", min_margin=None, argmin=None, counterexample=x.tolist(),
                          counterexample_class=cls, seconds=time.perf_counter() - t0, decided_by=how,
                          **{**common, **extra})

    piece = Piece.of(dom)
    if not exact_margin:  # the bound over the whole domain first: a robust verdict needs no descent
        root = Relaxation(net, piece).backsub(len(net.weights) - 1, C)[0].min()
        if root > 0:
            return Robustness("robust", min_margin=None, argmin=None, counterexample=None, counterexample_class=None,
                              seconds=time.perf_counter() - t0, decided_by="bounds", margin_lower_bound=float(root),
                              note="the margin is a proven lower bound (exact_margin=True gives its exact minimum)",
                              **{**common, "nodes": 1})
    best_x, best_v, found = counterexample_search(net, piece, C, open_domain=dom)
    if found is not None:
        return counterexample(found, "counterexample search")
    leaf = _leaf_programmes(net, dom, deadline)
    res = minimise(net, dom, C, leaf, deadline=deadline, max_nodes=SEARCH_NODES,
                   progress=count_kwargs.get("progress"))
    common.update(regions=len(res.regions), programmes_solved=res.programmes, nodes=res.nodes)
    if res.status == "below":
        return counterexample(res.point, "bounds", **{k: common[k] for k in ("regions", "programmes_solved", "nodes")})
    if res.status == "undecided":
        return unknown() if deadline is not None and time.perf_counter() >= deadline else None
    verdict = Robustness("robust", min_margin=None, argmin=None, counterexample=None, counterexample_class=None,
                         seconds=time.perf_counter() - t0, decided_by="bounds", margin_lower_bound=res.lower_bound,
                         note="the margin is a proven lower bound (exact_margin=True gives its exact minimum)",
                         **common)
    if exact_margin and net.input_dim > RANGE_SEARCH_MIN_DIM and (isinstance(dom, Box) or dom.norm == np.inf):
        # a box in many dimensions, where the region search is weakest: the minimum by bounds too
        ex = minimise(net, dom, C, leaf, exact=True, deadline=deadline, max_nodes=EXACT_NODES,
                      incumbent=None if res.point is None else (res.value, res.point),
                      progress=count_kwargs.get("progress"))
        if ex.status == "above" and ex.value > 0:
            common.update(regions=len(res.regions | ex.regions), programmes_solved=res.programmes + ex.programmes,
                          nodes=res.nodes + ex.nodes)
            return Robustness("robust", min_margin=ex.value, argmin=lift(ex.point).tolist(), counterexample=None,
                              counterexample_class=None, seconds=time.perf_counter() - t0, decided_by="bounds",
                              margin_lower_bound=ex.value, **common)
    return verdict  # with exact_margin the caller's region search now finds the minimum


def _range_by_bounds(full, domain, t0, count_kwargs):
    """Exact output ranges by the bound-based branch and bound (each extreme one search, leaves
    decided by their programmes, nodes dropped when their bound cannot beat the best value
    found), or None when a search ran out of nodes or time (the region search then decides)."""
    from .relax import minimise

    deadline = Deadline.of(count_kwargs.get("time_limit")).at  # the answer's deadline, as relax takes it
    net, dom, lift = _solved_space(full, domain, count_kwargs)
    if net.input_dim <= RANGE_SEARCH_MIN_DIM:
        return None
    leaf = _leaf_programmes(net, dom, deadline)
    outputs, solved, regions, nodes = [], 0, set(), 0
    for k in range(net.output_dim):
        entry = {}
        for sign, key in ((1.0, "min"), (-1.0, "max")):
            res = minimise(net, dom, sign * np.eye(net.output_dim)[k:k + 1], leaf, exact=True, stop_below=False,
                           deadline=deadline, max_nodes=EXACT_NODES, progress=count_kwargs.get("progress"))
            if res.status != "above":
                return None
            solved += res.programmes
            nodes += res.nodes
            regions |= res.regions
            entry[key] = sign * res.value
            entry["arg" + key] = lift(res.point).tolist()
        outputs.append({"min": entry["min"], "max": entry["max"], "argmin": entry["argmin"], "argmax": entry["argmax"]})
    return OutputRange(outputs, True, len(regions), solved, time.perf_counter() - t0,
                       {"decided_by": "bounds", "nodes": nodes})

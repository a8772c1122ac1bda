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

The robustness verdict of issue 12 (``exactregions robust``) is not here yet.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .domains import Ball, Domain
from .engines import count_regions
from .network import as_network

__all__ = ["OutputRange", "Lipschitz", "output_range", "lipschitz"]

#: Clarabel's gap and feasibility tolerances for the per-region programmes (its defaults are 1e-8)
CONE_TOL = 1e-11


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


def _regions(net, domain, input_shape, count_kwargs):
    if not isinstance(domain, Domain):
        raise ValueError("output ranges and Lipschitz constants take a ball, box, polytope or the whole space")
    net = as_network(net, input_shape)
    res = count_regions(net, domain, engine="bfs", keep_regions=True, **count_kwargs)
    return net, res


def output_range(net, domain, *, input_shape=None, **count_kwargs) -> OutputRange:
    """Exact minimum and maximum of every output over ``domain`` (module docstring).

    ``count_kwargs`` go to :func:`~exactregions.engines.count_regions` (``time_limit``,
    ``max_regions``, ``tol``, ...); the count is the BFS's, which gives each region's map."""
    t0 = time.perf_counter()
    net, res = _regions(net, domain, input_shape, count_kwargs)
    rows = _domain_rows(domain)
    outputs, solved = [], 0
    for k in range(net.output_dim):
        entry = {}
        for sign, key in ((1.0, "max"), (-1.0, "min")):
            value, point, n = _best_over_regions(net, res, domain, rows, k, sign)
            solved += n
            entry[key] = sign * value
            entry["arg" + key] = None if point is None else point.tolist()
        outputs.append({"min": entry["min"], "max": entry["max"], "argmin": entry["argmin"],
                        "argmax": entry["argmax"]})
    return OutputRange(outputs, res.complete, res.activation_regions, solved, time.perf_counter() - t0,
                       res.stats)


def _domain_rows(domain):
    """The domain's polyhedral rows ``A x <= b`` without the L2 ball's bounding box (the cone
    stands for the ball itself)."""
    if isinstance(domain, Ball) and domain.norm == 2:
        return domain.clip.rows() if domain.clip is not None else (np.zeros((0, domain.dim)), np.zeros(0))
    return domain.rows()


def _best_over_regions(net, res, domain, rows, k, sign):
    """max of ``sign * F_k`` over the domain: (value, point, programmes solved)."""
    regs = res.regions
    w = np.array([sign * r.affine[0][k] for r in regs])
    b = np.array([sign * r.affine[1][k] for r in regs])
    bound = domain.support(w) + b
    best, arg, solved = -np.inf, None, 0
    for i in np.argsort(-bound, kind="stable"):
        if bound[i] <= best:
            break  # no later region can do better
        value, x = _maximise_on_region(net, regs[i].pattern, w[i], b[i], domain, rows)
        solved += 1
        if value > best:
            best, arg = value, x
    return best, arg, solved


def _maximise_on_region(net, pattern, w, b, domain, rows):
    """max of ``w x + b`` over the closure of region ∩ domain (Clarabel): (value, point)."""
    import clarabel
    from scipy import sparse

    A, c = net.region_constraints(pattern)
    keep = ~net.linear_mask()
    s = np.where(pattern[keep], 1.0, -1.0)
    G = np.vstack([-s[:, None] * A[keep], rows[0]])  # G x <= h
    h = np.concatenate([s * c[keep], rows[1]])
    d = net.input_dim
    cones = [clarabel.NonnegativeConeT(G.shape[0])] if G.shape[0] else []
    if isinstance(domain, Ball) and domain.norm == 2:  # (r, x - c) in the second-order cone
        G = np.vstack([G, np.zeros((1, d)), -np.eye(d)])
        h = np.concatenate([h, [domain.radius], -domain.center])
        cones.append(clarabel.SecondOrderConeT(d + 1))
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = CONE_TOL
    solver = clarabel.DefaultSolver(sparse.csc_matrix((d, d)), -w, sparse.csc_matrix(G), h, cones, settings)
    sol = solver.solve()
    status = str(sol.status)
    if "DualInfeasible" in status:
        return np.inf, None
    if "Solved" not in status:
        from .oracle import SolverError
        raise SolverError(f"Clarabel could not maximise an output over a region: status {status}")
    x = np.asarray(sol.x)
    return float(w @ x + b), x


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
    norm = {"2": 2, "1": 1, "inf": np.inf}.get(str(norm), norm)
    if norm not in (1, 2, np.inf):
        raise ValueError(f"norm must be 2, 1 or inf, got {norm}")
    net, res = _regions(net, domain, input_shape, count_kwargs)
    if classes is not None and output is not None:
        raise ValueError("give an output or two classes, not both")
    out_dim = net.output_dim
    picks = list(classes) if classes is not None else [0 if output is None else output]
    for j in picks:
        if not 0 <= int(j) < out_dim:
            raise ValueError(f"output {j} does not exist: the network has {out_dim} outputs")
    q = _dual_order(norm)

    def row(M):
        return M[picks[0]] - M[picks[1]] if classes is not None else M[picks[0]]

    grads = np.array([row(r.affine[0]) for r in res.regions])
    vals = np.linalg.norm(grads, ord=q, axis=1)
    best = int(np.argmax(vals))
    w_last = row(net.weights[-1])
    bound = float(np.linalg.norm(w_last, ord=q))
    for W in net.weights[:-1]:
        bound *= float(np.linalg.norm(W, ord=norm if norm != 2 else 2))
    return Lipschitz(float(vals[best]), res.regions[best].point.tolist(), best, bound, _norm_name(norm),
                     res.complete, res.activation_regions, time.perf_counter() - t0)

"""Linear and quadratic programs on polyhedra ``{x : G x <= h}``: DAQP first, HiGHS as arbiter.

Thin kernels over numpy arrays; the oracle never sees a network. Every HiGHS solve goes through
:meth:`Oracle._solve`, which accepts only *optimal* and *infeasible* answers: anything else
(time or iteration limit, numerical trouble, an unexpected unbounded status) is retried
with another algorithm and otherwise raised as :class:`SolverError`, never read as
"infeasible" (that would silently drop regions).

A :class:`~exactregions.deadline.Deadline` (``Oracle(deadline=...)``) is checked before every
solve and given to HiGHS as its own time limit, so even one long LP stops on time: the oracle
then raises :class:`~exactregions.deadline.TimeLimitReached` (never an answer), and the caller
keeps only what it had established. DAQP and the least-distance method have no time limit of
their own: where the time left is shorter than their last solve took, they are skipped and HiGHS
decides (the same answers); on a large problem (:data:`THREAD_ENTRIES`) they run in a helper
thread that is waited for only until the deadline (the first Chebyshev LP of a 729-D region took
over 20 s in DAQP), and that thread then finishes its one solve unobserved.

The fast path (``Oracle(lp_method="daqp", qp_method="daqp")``, the default) solves the small
dense LPs and distance QPs of the traversal with DAQP, the dual active-set solver of Arnstrom,
Bemporad & Axehill (IEEE TAC 2022), about 10-20x faster than a HiGHS call on them (8-D, 40 rows:
15 us against 230 us). Its answers are never taken on trust: each is accepted only with a
certificate we check ourselves, a primal point (its objective recomputed from the constraint
slacks) and a dual bound (from DAQP's multipliers, clipped to the right signs, with the
residual bounded over the domain's box), no more than :data:`CERTIFY_GAP` apart. Anything else
(no certificate, an infeasible or failed solve, an unbounded domain) goes to HiGHS exactly as
before, so a decision is as exact as HiGHS's. ``lp_method="highs"`` / ``qp_method="ldp"`` or
``"highs"`` switch the fast path off.
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass, field

import highspy
import numpy as np

from .deadline import Deadline, TimeLimitReached

__all__ = ["Oracle", "PolytopeLP", "FaceDistances", "SolverError"]

INF = highspy.kHighsInf
#: HiGHS primal/dual feasibility tolerance; the engine's decision tolerances sit above it.
FEASIBILITY_TOL = 1e-10
_OPTIMAL = highspy.HighsModelStatus.kOptimal
_INFEASIBLE = highspy.HighsModelStatus.kInfeasible
_UNBOUNDED = (highspy.HighsModelStatus.kUnbounded, highspy.HighsModelStatus.kUnboundedOrInfeasible)

#: Options of every solve: our LPs are small and dense, so presolve only costs time, and the
#: primal simplex was measured faster than the dual on them (BFS, 64-D ball: 4.8 s -> 3.7 s).
_OPTIONS = (("presolve", "off"), ("simplex_strategy", 4))
# Retries when HiGHS gives neither optimal nor infeasible: (option, value) pairs tried in turn.
_RETRIES = (
    (("presolve", "on"), ("simplex_strategy", 1)),  # HiGHS's defaults: presolve, dual simplex
    (("presolve", "on"), ("solver", "ipm")),
)


#: with a deadline, DAQP and the least-distance method run in a helper thread (waited for until
#: the deadline) on problems of at least this many constraint entries (rows x dimension): there a
#: solve takes milliseconds to seconds, against about 0.1 ms to start the thread
THREAD_ENTRIES = 1 << 16

#: A fast (DAQP) answer is accepted when its checked primal value and dual bound differ by at most
#: this (input units; measured gaps are about 1e-15); else HiGHS decides.
CERTIFY_GAP = 1e-10
#: DAQP settings for our problems: the LP is solved by proximal-point outer iterations
#: (eps_prox 1e-3 converges to the exact vertex in a few; the default 1e-6 leaves residuals of
#: 1e-7 that no certificate accepts), primal feasibility as strict as HiGHS's.
_DAQP_OPTIONS = {"eps_prox": 1e-3, "primal_tol": 1e-12, "iter_limit": 5000}
_NO_BOUND = 1e30  # DAQP's "no bound"


def _daqp():
    """The DAQP module, or None where it is not installed (then HiGHS decides everything)."""
    try:
        import daqp
    except ImportError:  # pragma: no cover - daqp is a dependency
        return None
    return daqp


class SolverError(RuntimeError):
    """HiGHS gave no trustworthy answer for an LP/QP, even after retries."""


try:  # the bare solver object: no banner on stdout, no callback set-up per model
    from highspy._core import _Highs as _HighsClass
except ImportError:  # pragma: no cover - other highspy layouts
    _HighsClass = highspy.Highs


def _new_highs():
    h = _HighsClass()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("primal_feasibility_tolerance", FEASIBILITY_TOL)
    h.setOptionValue("dual_feasibility_tolerance", FEASIBILITY_TOL)
    for key, value in _OPTIONS:
        h.setOptionValue(key, value)
    return h


def _rowwise(A: np.ndarray):
    """Dense matrix in HiGHS row-wise form (start, index, value); zeros are kept (harmless)."""
    m, n = A.shape
    start = np.arange(0, m * n + 1, n, dtype=np.int32)
    index = np.tile(np.arange(n, dtype=np.int32), m)
    return start, index, np.ascontiguousarray(A, dtype=np.float64).ravel()


def _lp(cost, col_lo, col_hi, A, row_lo, row_hi) -> highspy.HighsLp:
    lp = highspy.HighsLp()
    m, n = A.shape
    lp.num_col_, lp.num_row_ = n, m
    lp.col_cost_ = np.asarray(cost, dtype=np.float64)
    lp.col_lower_ = np.asarray(col_lo, dtype=np.float64)
    lp.col_upper_ = np.asarray(col_hi, dtype=np.float64)
    lp.row_lower_ = np.asarray(row_lo, dtype=np.float64)
    lp.row_upper_ = np.asarray(row_hi, dtype=np.float64)
    start, index, value = _rowwise(A)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = start
    lp.a_matrix_.index_ = index
    lp.a_matrix_.value_ = value
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n, m
    return lp


@dataclass
class Oracle:
    """Counts solves and applies the retry policy. One per traversal (no globals)."""

    lp_solves: int = 0
    qp_solves: int = 0
    retries: int = 0
    #: distance QPs: "daqp" (certified DAQP answer first, then as "ldp"), "ldp" (Lawson &
    #: Hanson's least-distance method through NNLS first, about 25x faster than HiGHS's QP in 64-D
    #: and more accurate at distance 0; an empty or failed answer goes to HiGHS) or "highs"
    #: (HiGHS's active-set QP first, LDP if it fails)
    qp_method: str = "daqp"
    #: LPs of :class:`PolytopeLP` on bounded domains: "daqp" (certified fast path, see the module
    #: docstring) or "highs" (HiGHS only)
    lp_method: str = "daqp"
    fast_lp: int = 0   # LPs / QPs answered by the certified fast path (every try, certified or
                       # not, also counts in lp_solves / qp_solves)
    fast_qp: int = 0
    #: check the fast path's certificates with the compiled kernels
    #: (:mod:`exactregions._oracle_numba`: the same tests; the traversal sets it)
    compiled: bool = False
    #: the computation's :class:`~exactregions.deadline.Deadline` (None: no limit), checked
    #: before every solve and passed to HiGHS as its ``time_limit``
    deadline: Deadline | None = None
    _took: dict = field(default_factory=dict)  # seconds of the last solve of each untimed method
    _lp_solver: object = None  # one HiGHS instance shared by this oracle's PolytopeLPs
    _lp_owner: object = None   # the PolytopeLP whose model is loaded in it

    def check(self):
        """Raise :class:`~exactregions.deadline.TimeLimitReached` once the deadline has passed."""
        if self.deadline is not None:
            self.deadline.check()

    def affords(self, method: str) -> bool:
        """Whether to start ``method`` ("daqp lp", "daqp qp", "ldp"), a solver without a time limit
        of its own: always without a deadline; with one, when the time left exceeds what its last
        solve here took (else HiGHS, which stops at the deadline, decides instead)."""
        return not self.deadline or self.deadline.remaining() > self._took.get(method, 0.0)

    def untimed(self, method: str, entries: int, solve, *args):
        """``solve(*args)`` for a solver without a time limit of its own (``method``: DAQP's LP
        or QP, the least-distance method), its time recorded for :meth:`affords`. With a
        deadline and at least :data:`THREAD_ENTRIES` constraint entries, in a helper thread
        waited for until the deadline: past it, :class:`~exactregions.deadline.TimeLimitReached`
        (the thread finishes its solve unobserved; DAQP and NNLS release the GIL)."""
        start = time.perf_counter()
        if not self.deadline or entries < THREAD_ENTRIES:
            out = solve(*args)
        else:
            box = []

            def run():
                try:
                    box.append((True, solve(*args)))
                except BaseException as e:  # handed to the waiting thread
                    box.append((False, e))

            worker = threading.Thread(target=run, name=f"exactregions {method}", daemon=True)
            worker.start()
            worker.join(self.deadline.remaining())
            if not box:
                raise TimeLimitReached(f"time limit of {self.deadline.seconds:g} s reached in a {method} solve")
            ok, out = box[0]
            if not ok:
                raise out
        self._took[method] = time.perf_counter() - start
        return out

    def _limit(self, h):
        """Give HiGHS the time left, so that a solve stops itself when the deadline passes (its
        ``time_limit`` counts the instance's run time over all its solves: the time left is added
        to what it has run so far)."""
        if self.deadline:
            h.setOptionValue("time_limit", h.getRunTime() + max(self.deadline.remaining(), 1e-3))

    def lp_solver(self):
        """The HiGHS instance that :class:`PolytopeLP` loads its models into (options set once;
        about 12% faster than a new instance per region in the BFS)."""
        if self._lp_solver is None:
            self._lp_solver = _new_highs()
        return self._lp_solver

    def _solve(self, h: highspy.Highs, what: str, qp: bool = False, unbounded_ok: bool = False):
        """Run ``h``: the optimal column values, or None if infeasible; else retry, else raise."""
        self.check()
        if qp:
            self.qp_solves += 1
        else:
            self.lp_solves += 1
        self._limit(h)
        h.run()
        status = h.getModelStatus()
        if status == _OPTIMAL:
            return np.array(h.getSolution().col_value)
        if status == _INFEASIBLE:
            return None
        if unbounded_ok and status in _UNBOUNDED:
            return "unbounded"
        self.check()  # (a solve stopped by the deadline is no answer: no retry either)
        first = h.modelStatusToString(status)
        model = h.getModel()
        for options in _RETRIES:
            if qp and any(k == "solver" for k, _ in options):
                continue
            self.retries += 1
            retry = _new_highs()
            for key, value in options:
                retry.setOptionValue(key, value)
            retry.passModel(model)
            self._limit(retry)
            retry.run()
            self.check()
            status = retry.getModelStatus()
            if status == _OPTIMAL:
                return np.array(retry.getSolution().col_value)
            if status == _INFEASIBLE:
                return None
        raise SolverError(f"HiGHS could not decide {what}: status '{first}', "
                          f"then '{h.modelStatusToString(status)}' after retries")

    # ------------------------------------------------------------------ kernels
    def chebyshev(self, G: np.ndarray, h: np.ndarray, cap: float = INF, what: str = "a Chebyshev ball"):
        """Largest ball inside ``{G x <= h}``: returns ``(center, radius)``.

        ``radius <= 0`` means the polyhedron has no interior (``-inf`` if empty);
        the radius is capped at ``cap`` (needed for unbounded polyhedra).
        """
        lp = PolytopeLP(self, G, h, cap=cap)
        return lp.chebyshev(what)

    def ranges(self, objectives, A, row_lo, row_hi, col_lo, col_hi, what="an LP relaxation bound"):
        """Min and max of ``objectives[i] @ v`` over ``{row_lo <= A v <= row_hi, col_lo <= v <= col_hi}``.

        One HiGHS model, re-solved with each objective (warm start). ``inf`` where unbounded.
        """
        objectives = np.atleast_2d(objectives)
        n = objectives.shape[1]
        hs = _new_highs()
        hs.passModel(_lp(np.zeros(n), np.where(np.isfinite(col_lo), col_lo, -INF),
                         np.where(np.isfinite(col_hi), col_hi, INF), np.atleast_2d(A).reshape(-1, n),
                         np.where(np.isfinite(row_lo), row_lo, -INF), np.where(np.isfinite(row_hi), row_hi, INF)))
        idx = np.arange(n, dtype=np.int32)
        out = np.empty((2, objectives.shape[0]))
        for i, w in enumerate(objectives):
            for k, sign in enumerate((1.0, -1.0)):
                hs.changeColsCost(n, idx, sign * w)
                v = self._solve(hs, what, unbounded_ok=True)
                if v is None:
                    raise SolverError(f"{what}: the relaxation is empty")
                out[k, i] = -sign * np.inf if isinstance(v, str) else float(w @ v)
        return out[0], out[1]

    def try_nearest_point(self, G, h, center, eq_row=None, eq_rhs=None):
        """The certified fast answer of :meth:`nearest_point` (``(distance, point)``), or None when
        the fast path gives none (an empty set among others): then ask :meth:`nearest_point`."""
        if self.qp_method != "daqp" or not len(h):
            return None
        self.check()
        A, hi = np.asarray(G, dtype=np.float64), np.asarray(h, dtype=np.float64)
        if eq_row is not None:
            A, hi = np.vstack([A, eq_row]), np.append(hi, eq_rhs)
        faces = FaceDistances(self, A, hi, np.asarray(center, dtype=np.float64))
        return faces.face(len(hi) - 1 if eq_row is not None else None)

    def nearest_point(self, G, h, center, eq_row=None, eq_rhs=None, what="a distance QP"):
        """Minimise ``||x - center||`` over ``{G x <= h}`` (and ``eq_row . x = eq_rhs``).

        Returns ``(distance, point)``; ``(inf, None)`` if the set is empty. An exact convex QP
        (see ``qp_method``), not a polygonal approximation of the ball; emptiness is always
        decided by HiGHS.
        """
        G = np.asarray(G, dtype=np.float64)
        center = np.asarray(center, dtype=np.float64)
        d = center.shape[0]
        rows, lo, hi = [G], [np.full(G.shape[0], -INF)], [np.asarray(h, dtype=np.float64)]
        if eq_row is not None:
            rows.append(np.asarray(eq_row, dtype=np.float64)[None, :])
            lo.append(np.array([eq_rhs], dtype=np.float64))
            hi.append(np.array([eq_rhs], dtype=np.float64))
        A = np.vstack(rows) if rows[0].size or eq_row is not None else np.zeros((0, d))
        lo, hi = np.concatenate(lo), np.concatenate(hi)
        fast = self.try_nearest_point(G, h, center, eq_row, eq_rhs) if A.shape[0] else None
        if fast is not None:
            return fast
        if self.qp_method in ("daqp", "ldp") and A.shape[0] and self.affords("ldp"):
            self.check()
            self.qp_solves += 1
            x = self.untimed("ldp", A.size, _least_distance, A, lo, hi, center)
            if not (x is None or isinstance(x, str)):
                return float(np.linalg.norm(x - center)), x
        # min 1/2 x'(2I)x - 2c'x  (+ ||c||^2) = ||x - c||^2
        lp = _lp(-2.0 * center, np.full(d, -INF), np.full(d, INF), A, lo, hi)
        model = highspy.HighsModel()
        model.lp_ = lp
        hess = highspy.HighsHessian()
        hess.dim_ = d
        hess.format_ = highspy.HessianFormat.kTriangular
        hess.start_ = np.arange(d + 1, dtype=np.int32)
        hess.index_ = np.arange(d, dtype=np.int32)
        hess.value_ = np.full(d, 2.0)
        model.hessian_ = hess
        hs = _new_highs()
        hs.passModel(model)
        try:
            x = self._solve(hs, what, qp=True)
        except SolverError:
            if self.qp_method != "highs":
                raise
            # HiGHS's active-set QP can fail outright; retry another way: the least-distance
            # problem solved exactly by non-negative least squares (Lawson & Hanson, 1974).
            self.retries += 1
            x = _least_distance(A, lo, hi, center)
            if isinstance(x, str):
                raise SolverError(f"{what}: HiGHS failed and the least-distance fallback found no answer") from None
        if x is None:
            return np.inf, None
        return float(np.linalg.norm(x - center)), x


@functools.lru_cache(maxsize=64)
def _identity(d: int) -> np.ndarray:
    """The QP's Hessian, made once per dimension (DAQP does not write to its arguments, but its
    typed-memoryview signature needs a writeable array)."""
    return np.eye(d)


def _certified_distance(A, b, tol, eq=None, lo=None, sense=None, compiled=False):
    """``y`` of least norm in ``{A y <= b}`` (row ``eq`` held at equality) by DAQP, returned only
    when certified: ``y`` is feasible within ``tol`` (per row; HiGHS's 1e-10, relative) and the
    Lagrangian dual bound ``-|A'lam|^2/2 - lam.b`` from DAQP's multipliers is within
    :data:`CERTIFY_GAP` of ``|y|``. None otherwise (the caller asks the other methods).

    The nearest point to a centre ``c`` of ``{A x <= hi}`` is ``c + y`` with ``b = hi - A c``.
    ``lo`` and ``sense`` are work arrays (all "no bound" and 0 except at ``eq``, which this sets
    and restores), so a caller asking about many faces of one polytope allocates them once: the
    traversal asks this some ten thousand times per count. ``compiled``: check the certificate
    with :func:`exactregions._oracle_numba.certify_distance` (the same test)."""
    daqp = _daqp()
    if daqp is None:
        return None
    m, d = A.shape
    if lo is None:
        lo, sense = np.full(m, -_NO_BOUND), np.zeros(m, dtype=np.int32)
    if eq is not None:
        lo[eq], sense[eq] = b[eq], 5
    try:
        y, _, flag, info = daqp.solve(_identity(d), np.zeros(d), A, b, lo, sense, **_DAQP_OPTIONS)
    finally:
        if eq is not None:
            lo[eq], sense[eq] = -_NO_BOUND, 0
    if flag != 1:
        return None
    if compiled:
        from ._oracle_numba import certify_distance
        return y if certify_distance(A, b, y, info["lam"], tol, -1 if eq is None else eq, CERTIFY_GAP) else None
    slack = A @ y - b
    lam = np.maximum(info["lam"], 0.0)
    if eq is not None:
        if abs(slack[eq]) > tol[eq]:
            return None
        slack[eq] = 0.0
        lam[eq] = info["lam"][eq]  # the equality's multiplier has either sign
    if (slack > tol).any():
        return None
    g = lam @ A
    dual = -0.5 * float(g @ g) - float(lam @ b)
    if float(np.sqrt(y @ y)) - np.sqrt(max(dual, 0.0) * 2.0) > CERTIFY_GAP:
        return None
    return y


class FaceDistances:
    """Certified distance QPs from one centre to faces of one polytope ``{G x <= h}`` (the face
    on row ``k``: row ``k`` at equality). The rows are shifted to the centre and the solver's
    work arrays made once, so each question is one DAQP solve and its certificate (the
    traversal's facets in a ball: about 130 us per question through :meth:`Oracle.nearest_point`,
    which copies the rows each time)."""

    def __init__(self, oracle: "Oracle", G, h, center):
        self.oracle, self.center = oracle, center
        self.A = np.ascontiguousarray(G, dtype=np.float64)
        self.b = h - self.A @ center
        self.tol = FEASIBILITY_TOL * (1.0 + np.abs(h))
        m = len(h)
        self.lo, self.sense = np.full(m, -_NO_BOUND), np.zeros(m, dtype=np.int32)

    def face(self, k: int | None):
        """``(distance, nearest point)`` of the face on row ``k`` (of the whole polytope for
        None), certified; None when the fast path gives no certified answer (then ask
        :meth:`Oracle.nearest_point`)."""
        if self.oracle.qp_method != "daqp" or not self.oracle.affords("daqp qp"):
            return None
        self.oracle.check()
        self.oracle.qp_solves += 1
        y = self.oracle.untimed("daqp qp", self.A.size, _certified_distance, self.A, self.b, self.tol, k, self.lo,
                                self.sense, self.oracle.compiled)
        if y is None:
            return None
        self.oracle.fast_qp += 1
        return float(np.sqrt(y @ y)), self.center + y


def _certified_lp(G, h, box, eq=None, dual_start=None, compiled=False):
    """``max t`` over ``{G x + t <= h}`` (unit rows; row ``eq`` instead held at equality without
    ``t``) by DAQP, with a certificate: returns ``(x, t, lam)`` where ``t`` is recomputed from
    the slacks at ``x`` and a dual bound from DAQP's multipliers ``lam`` (residual bounded over
    ``box``) is within :data:`CERTIFY_GAP` of it; None when no certificate holds.
    ``dual_start``: multipliers of a similar LP, DAQP's initial active set (their signs): a
    region's neighbour shares most of its rows, and starting from the neighbour's active set
    halves DAQP's iterations (784-D digits balls, 22-D and 47-D after the reduction: 64 -> 28
    and 119 -> 58 per Chebyshev LP). ``compiled``: check the certificate with
    :func:`exactregions._oracle_numba.certify_lp` (the same test)."""
    daqp = _daqp()
    if daqp is None:
        return None
    m, d = G.shape
    A = np.empty((m, d + 1))
    A[:, :d], A[:, d] = G, 1.0
    lo = np.full(m, -_NO_BOUND)
    sense = np.zeros(m, dtype=np.int32)
    if eq is not None:
        A[eq, d] = 0.0
        lo[eq] = h[eq]
        sense[eq] = 5
    cost = np.zeros(d + 1)
    cost[d] = -1.0
    warm = {} if dual_start is None else {"dual_start": dual_start}
    z, _, flag, info = daqp.solve(np.zeros((d + 1, d + 1)), cost, A, h, lo, sense, **warm, **_DAQP_OPTIONS)
    if flag != 1:
        return None
    x = np.array(z[:d], dtype=np.float64)
    lam = np.asarray(info["lam"], dtype=np.float64)
    if compiled:
        from ._oracle_numba import certify_lp
        ok, t = certify_lp(G, h, x, lam, -1 if eq is None else eq, box[0], box[1], CERTIFY_GAP)
        return (x, t, lam) if ok else None
    others = np.ones(m, bool)
    if eq is not None:  # put x exactly on the hyperplane (unit row)
        x = x + (h[eq] - G[eq] @ x) * G[eq]
        others[eq] = False
    if not others.any():
        return None
    t = float(np.min(h[others] - G[others] @ x))
    lam[others] = np.maximum(lam[others], 0.0)
    s = lam[others].sum()
    if not s > 0:
        return None
    lam /= s
    rho = lam @ G  # t <= lam.h - rho.x for every feasible x, and x lies in the box
    lo_b, hi_b = box
    upper = float(lam @ h - np.sum(np.minimum(rho * lo_b, rho * hi_b)))
    if upper - t > CERTIFY_GAP:
        return None
    return x, t, lam


def _least_distance(A, lo, hi, center, tol=1e-9):
    """Nearest point to ``center`` of ``{lo <= A x <= hi}`` by Lawson & Hanson's LDP/NNLS method.

    With ``y = x - center`` the constraints read ``E y >= f``; minimising ``||y||`` is solved by
    ``u = nnls([E^T; f^T], e_{n+1})``: a zero residual means infeasible, otherwise
    ``y = -r[:n] / r[n]``. Returns the point, None if infeasible, or "failed".
    """
    from scipy.optimize import nnls

    up, dn = np.isfinite(hi), np.isfinite(lo)
    Ac, n, ku = A @ center, center.size, int(up.sum())
    M = np.empty((n + 1, ku + int(dn.sum())))  # columns: the rows of [E^T; f^T]
    M[:n, :ku], M[n, :ku] = -A[up].T, Ac[up] - hi[up]
    M[:n, ku:], M[n, ku:] = A[dn].T, lo[dn] - Ac[dn]
    rhs = np.zeros(n + 1)
    rhs[-1] = 1.0
    try:
        u, _ = nnls(M, rhs, maxiter=50 * M.shape[1])
    except RuntimeError:
        return "failed"
    r = M @ u - rhs
    if np.linalg.norm(r) < tol or abs(r[-1]) < tol:
        return None
    y = -r[:n] / r[-1]
    f = M[n]
    if np.any(y @ M[:n] < f - FEASIBILITY_TOL * (1 + np.abs(f))):  # as strict as HiGHS
        return "failed"
    return center + y


class PolytopeLP:
    """One HiGHS model for ``{x : G x <= h}`` (rows normalised to unit norm) reused across
    the Chebyshev LP, the facet LPs and the bounding-box LPs of one region.

    Variables ``(x, t)``; row ``j`` reads ``g_j x + t <= h_j``. Maximising ``t`` gives the
    Chebyshev (largest inscribed) ball radius; forcing row ``i`` to equality and dropping
    its ``t`` gives the inradius of the facet on row ``i`` inside its hyperplane.
    """

    def __init__(self, oracle: Oracle, G: np.ndarray, h: np.ndarray, cap: float = INF, box=None,
                 unit: bool = False):
        G = np.asarray(G, dtype=np.float64)
        h = np.asarray(h, dtype=np.float64)
        if unit:  # the caller's rows are unit already (the traversal's: normalised once)
            self.G, self.h = G, h
        else:
            norms = np.linalg.norm(G, axis=1)
            if np.any(norms == 0):
                raise ValueError("zero constraint row passed to PolytopeLP")
            self.G, self.h = G / norms[:, None], h / norms
        self.oracle = oracle
        self.m, self.d = G.shape
        self.cap = cap
        # the certified fast path needs a box holding the polytope (its dual bound's residual)
        self.box = box if (box is not None and cap == INF and oracle.lp_method == "daqp") else None
        self._lp = None  # the HiGHS model, built when HiGHS is first needed
        self.multipliers = None  # of the last certified Chebyshev answer
        self.hs = oracle.lp_solver()

    def _own(self):
        """Load this polytope's model into the shared solver unless it is already there (another
        PolytopeLP of the same oracle may have loaded its own since)."""
        if self._lp is None:
            A = np.hstack([self.G, np.ones((self.m, 1))])
            cost = np.zeros(self.d + 1)
            cost[-1] = -1.0  # HiGHS minimises: maximise t
            self._lp = _lp(cost, np.r_[np.full(self.d, -INF), -INF], np.r_[np.full(self.d, INF), self.cap],
                           A, np.full(self.m, -INF), self.h)
        if self.oracle._lp_owner is not self:
            self.hs.passModel(self._lp)
            self.oracle._lp_owner = self
            self._box_mode = False

    def _fast(self, eq=None, dual_start=None):
        """The certified DAQP answer ``(x, t)``, or None (then HiGHS decides)."""
        if self.box is None or not self.oracle.affords("daqp lp"):
            return None
        self.oracle.check()
        self.oracle.lp_solves += 1
        out = self.oracle.untimed("daqp lp", self.G.size, _certified_lp, self.G, self.h, self.box, eq, dual_start,
                                  self.oracle.compiled)
        if out is None:
            return None
        self.oracle.fast_lp += 1
        if eq is None:
            self.multipliers = out[2]
        return out[:2]

    def chebyshev(self, what="a Chebyshev ball", dual_start=None):
        """Centre and radius of the largest ball inside the polytope (``-inf`` if empty). A
        certified fast answer also leaves its multipliers in ``self.multipliers`` (else None),
        a ``dual_start`` for a similar polytope's LP."""
        fast = self._fast(dual_start=dual_start)
        if fast is not None:
            return fast
        self._leave_box_mode()
        v = self.oracle._solve(self.hs, what)
        if v is None:
            return None, -np.inf
        return v[:-1], float(v[-1])

    def facet(self, i: int, what="a facet"):
        """Inradius of the facet on row ``i`` within its hyperplane, and its centre.

        ``> 0``: row ``i`` is a (d-1)-dimensional facet; ``<= 0``: it is not.
        """
        fast = self._fast(i)
        if fast is not None:
            return fast
        self._leave_box_mode()
        hs = self.hs
        hs.changeCoeff(i, self.d, 0.0)
        hs.changeRowBounds(i, self.h[i], self.h[i])
        try:
            v = self.oracle._solve(hs, what)
        finally:
            hs.changeCoeff(i, self.d, 1.0)
            hs.changeRowBounds(i, -INF, self.h[i])
        if v is None:
            return None, -np.inf
        return v[:-1], float(v[-1])

    def bounding_box(self, what="a bounding box", tick=None):
        """Exact axis-aligned bounding box of the polytope (2d LPs); None if empty. ``tick``: an
        optional callable ``tick(done, total)`` called before each LP (progress: in 300
        dimensions these are 600 LPs)."""
        self._enter_box_mode()
        hs = self.hs
        lo, hi = np.empty(self.d), np.empty(self.d)
        for k in range(self.d):
            if tick is not None:
                tick(2 * k, 2 * self.d)
            for sign, out in ((1.0, lo), (-1.0, hi)):
                cost = np.zeros(self.d + 1)
                cost[k] = sign
                hs.changeColsCost(self.d + 1, np.arange(self.d + 1, dtype=np.int32), cost)
                v = self.oracle._solve(hs, what)
                if v is None:
                    return None
                out[k] = v[k]
        return lo, hi

    def maximize(self, w, what="a support function") -> float:
        """``max w.x`` over the polytope (``inf`` if unbounded); the polytope must be nonempty."""
        self._enter_box_mode()
        hs = self.hs
        cost = np.r_[-np.asarray(w, dtype=np.float64), 0.0]
        hs.changeColsCost(self.d + 1, np.arange(self.d + 1, dtype=np.int32), cost)
        v = self.oracle._solve(hs, what, unbounded_ok=True)
        if v is None:
            raise SolverError(f"{what}: the polytope is empty")
        if isinstance(v, str):
            return np.inf
        return float(np.dot(w, v[:-1]))

    def _enter_box_mode(self):
        """Variables ``x`` only (``t`` fixed at 0): for linear objectives over the polytope."""
        self._own()
        if not self._box_mode:
            self.hs.changeColBounds(self.d, 0.0, 0.0)
            self._box_mode = True

    def _leave_box_mode(self):
        """Back to the Chebyshev form (maximise ``t``)."""
        self._own()
        if self._box_mode:
            cost = np.zeros(self.d + 1)
            cost[-1] = -1.0
            self.hs.changeColsCost(self.d + 1, np.arange(self.d + 1, dtype=np.int32), cost)
            self.hs.changeColBounds(self.d, -INF, self.cap)
            self._box_mode = False

"""The HiGHS kernels against an independent solver (cvxpy) and the retry policy."""

import numpy as np
import pytest

cp = pytest.importorskip("cvxpy")

from exactregions import oracle as oracle_mod
from exactregions.oracle import Oracle, PolytopeLP, SolverError


def _random_polytope(rng, d, m=12):
    G = rng.normal(size=(m, d))
    x_in = rng.normal(size=d) * 0.5
    h = G @ x_in + rng.uniform(0.05, 1.0, size=m)
    return G, h


@pytest.mark.parametrize("method", ["daqp", "ldp", "highs"])
@pytest.mark.parametrize("seed", range(12))
def test_l2_distance_qp_agrees_with_cvxpy(seed, method):
    rng = np.random.default_rng(seed)
    d = 2 + seed % 3 + (30 if seed % 4 == 3 else 0)  # and a few in 33-D
    G, h = _random_polytope(rng, d, m=12 if d < 10 else 80)
    c = rng.normal(size=d) * 2
    dist, x = Oracle(qp_method=method).nearest_point(G, h, c)
    y = cp.Variable(d)
    prob = cp.Problem(cp.Minimize(cp.sum_squares(y - c)), [G @ y <= h])
    prob.solve(solver=cp.CLARABEL)
    assert dist == pytest.approx(np.sqrt(prob.value), abs=1e-6)
    # the ball decision "does the polytope meet the open ball B(c, r)" agrees on both sides
    for r in (dist - 1e-4, dist + 1e-4, 2 * dist + 0.1):
        if r > 0:
            assert (dist < r) == (np.sqrt(max(prob.value, 0.0)) < r)


@pytest.mark.parametrize("seed", range(8))
def test_facet_distance_with_equality_agrees_with_cvxpy(seed):
    rng = np.random.default_rng(100 + seed)
    d = 2 + seed % 2
    G, h = _random_polytope(rng, d)
    c = rng.normal(size=d)
    keep = np.arange(len(h)) != 0
    dist, _ = Oracle().nearest_point(G[keep], h[keep], c, eq_row=G[0], eq_rhs=h[0])
    y = cp.Variable(d)
    prob = cp.Problem(cp.Minimize(cp.sum_squares(y - c)), [G[keep] @ y <= h[keep], G[0] @ y == h[0]])
    prob.solve(solver=cp.CLARABEL)
    if prob.status == "infeasible":
        assert dist == np.inf
    else:
        assert dist == pytest.approx(np.sqrt(prob.value), abs=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_chebyshev_and_facets_agree_with_cvxpy(seed):
    rng = np.random.default_rng(200 + seed)
    d = 2 + seed % 3
    G, h = _random_polytope(rng, d, m=15)
    lp = PolytopeLP(Oracle(), G, h)
    x0, r = lp.chebyshev()
    Gn = G / np.linalg.norm(G, axis=1, keepdims=True)
    hn = h / np.linalg.norm(G, axis=1)
    y, t = cp.Variable(d), cp.Variable()
    cp.Problem(cp.Maximize(t), [Gn @ y + t <= hn]).solve(solver=cp.CLARABEL)
    assert r == pytest.approx(t.value, abs=1e-6)
    for i in range(len(h)):
        _, ti = lp.facet(i)
        y, t = cp.Variable(d), cp.Variable()
        keep = np.arange(len(h)) != i
        cp.Problem(cp.Maximize(t), [Gn[keep] @ y + t <= hn[keep], Gn[i] @ y == hn[i]]).solve(solver=cp.CLARABEL)
        assert (ti > 1e-6) == (t.value > 1e-6)


def test_unknown_status_is_retried_then_succeeds(monkeypatch):
    """A time-limit answer is never read as infeasible: the LP is solved again another way."""
    orc = Oracle()
    G, h = _random_polytope(np.random.default_rng(0), 2)
    lp = PolytopeLP(orc, G, h)
    lp.hs.setOptionValue("time_limit", 0.0)
    x, r = lp.chebyshev()
    assert orc.retries >= 1 and r > 0


def test_unknown_status_everywhere_raises(monkeypatch):
    monkeypatch.setattr(oracle_mod, "_RETRIES", ((("time_limit", 0.0),),))
    orc = Oracle()
    G, h = _random_polytope(np.random.default_rng(0), 2)
    lp = PolytopeLP(orc, G, h)
    lp.hs.setOptionValue("time_limit", 0.0)
    with pytest.raises(SolverError, match="Time limit"):
        lp.chebyshev("a test LP")


@pytest.mark.parametrize("method", ["daqp", "ldp", "highs"])
def test_empty_polytope_is_infeasible_not_an_error(method):
    G = np.array([[1.0, 0.0], [-1.0, 0.0]])
    h = np.array([-1.0, -1.0])  # x <= -1 and x >= 1
    orc = Oracle(qp_method=method)
    assert orc.nearest_point(G, h, np.zeros(2))[0] == np.inf
    # an empty answer is always HiGHS's: LDP's "empty" is confirmed by a second solve
    # (the DAQP try, uncertified here, counts as a solve too)
    assert orc.qp_solves == {"daqp": 3, "ldp": 2, "highs": 1}[method]


def test_ldp_is_exact_where_the_centre_is_inside():
    # the case that made LDP the default: HiGHS's QP answered 4e-8 for a distance of 0
    rng = np.random.default_rng(5)
    G, h = _random_polytope(rng, 40, m=120)
    c = np.linalg.lstsq(G, h - 0.5, rcond=None)[0]  # strictly inside
    assert np.all(G @ c < h)
    dist, x = Oracle(qp_method="ldp").nearest_point(G, h, c)
    assert dist <= 1e-12 and np.allclose(x, c, atol=1e-12)


def test_highs_qp_failure_falls_back_to_least_distance():
    """A polytope found by the property test on which HiGHS's QP answers 'Solve error'."""
    from conftest import DATA
    z = np.load(DATA / "qp_highs_solve_error.npz")
    orc = Oracle()
    dist, x = orc.nearest_point(z["G"], z["h"], z["c"])
    y = cp.Variable(len(z["c"]))
    prob = cp.Problem(cp.Minimize(cp.sum_squares(y - z["c"])), [z["G"] @ y <= z["h"]])
    prob.solve(solver=cp.CLARABEL)
    assert dist == pytest.approx(np.sqrt(prob.value), abs=1e-6)
    assert np.all(z["G"] @ x <= z["h"] + 1e-7)


@pytest.mark.parametrize("seed", range(10))
def test_least_distance_fallback_agrees_with_cvxpy(seed):
    from exactregions.oracle import _least_distance
    rng = np.random.default_rng(300 + seed)
    d = 2 + seed % 3
    G, h = _random_polytope(rng, d)
    c = rng.normal(size=d) * 2
    x = _least_distance(G, np.full(len(h), -np.inf), h, c)
    y = cp.Variable(d)
    prob = cp.Problem(cp.Minimize(cp.sum_squares(y - c)), [G @ y <= h])
    prob.solve(solver=cp.CLARABEL)
    assert np.linalg.norm(x - c) == pytest.approx(np.sqrt(max(prob.value, 0.0)), abs=1e-6)


def test_polytope_lps_sharing_one_solver_stay_independent():
    """Two PolytopeLPs of one oracle share a HiGHS instance; each reloads its own model."""
    orc = Oracle()
    rng = np.random.default_rng(7)
    G1, h1 = _random_polytope(rng, 2)
    G2, h2 = _random_polytope(rng, 2)
    alone1 = PolytopeLP(Oracle(), G1, h1).chebyshev()[1]
    alone2 = PolytopeLP(Oracle(), G2, h2).chebyshev()[1]
    a, b = PolytopeLP(orc, G1, h1), PolytopeLP(orc, G2, h2)
    assert a.chebyshev()[1] == pytest.approx(alone1, abs=1e-9)
    assert b.chebyshev()[1] == pytest.approx(alone2, abs=1e-9)
    assert a.maximize(np.array([1.0, 0.0])) == pytest.approx(PolytopeLP(Oracle(), G1, h1).maximize(np.array([1.0, 0.0])))
    assert a.chebyshev()[1] == pytest.approx(alone1, abs=1e-9)


@pytest.mark.parametrize("seed", range(10))
def test_certified_fast_lps_agree_with_highs(seed):
    """The DAQP fast path answers the Chebyshev and facet LPs exactly as HiGHS does (8-D to
    40-D), and only with a certificate (every answer here is certified: fast_lp counts them)."""
    rng = np.random.default_rng(300 + seed)
    d = [8, 12, 20, 40][seed % 4]
    G, h = _random_polytope(rng, d, m=2 * d + 10)
    box = (np.full(d, -1.0), np.full(d, 1.0))
    G = np.vstack([G, np.eye(d), -np.eye(d)])  # the box rows, as the engines add the domain's
    h = np.concatenate([h, np.ones(2 * d)])
    fast, slow = Oracle(), Oracle(lp_method="highs")
    a, b = PolytopeLP(fast, G, h, box=box), PolytopeLP(slow, G, h, box=box)
    (xa, ra), (xb, rb) = a.chebyshev(), b.chebyshev()
    assert ra == pytest.approx(rb, abs=1e-9)
    assert np.min(a.h - a.G @ xa) == pytest.approx(ra, abs=1e-12)  # the radius is the checked slack
    for i in range(0, len(h), 3):
        _, ta = a.facet(i)
        _, tb = b.facet(i)
        assert ta == pytest.approx(tb, abs=1e-9)
        assert (ta > 1e-8) == (tb > 1e-8)
    assert fast.fast_lp > 0 and slow.fast_lp == 0


def test_fast_lp_needs_a_box():
    """Without a box holding the polytope no dual bound is checkable: HiGHS answers."""
    rng = np.random.default_rng(5)
    G, h = _random_polytope(rng, 6, m=20)
    o = Oracle()
    PolytopeLP(o, G, h).chebyshev()
    assert o.fast_lp == 0 and o.lp_solves == 1


def test_uncertified_fast_answer_goes_to_highs(monkeypatch):
    """A DAQP answer whose certificate fails (here: a gap forced to fail) is not used."""
    monkeypatch.setattr(oracle_mod, "CERTIFY_GAP", -1.0)
    rng = np.random.default_rng(6)
    G, h = _random_polytope(rng, 6, m=20)
    G = np.vstack([G, np.eye(6), -np.eye(6)])
    h = np.concatenate([h, np.full(12, 3.0)])
    o = Oracle()
    x, r = PolytopeLP(o, G, h, box=(np.full(6, -3.0), np.full(6, 3.0))).chebyshev()
    d, _ = o.nearest_point(G, h, np.full(6, 5.0))
    assert o.fast_lp == 0 and o.fast_qp == 0 and o.lp_solves == 2  # the DAQP try, then HiGHS
    assert r == pytest.approx(PolytopeLP(Oracle(lp_method="highs"), G, h).chebyshev()[1], abs=1e-9)
    assert d == pytest.approx(Oracle(qp_method="highs").nearest_point(G, h, np.full(6, 5.0))[0], abs=1e-7)


@pytest.mark.parametrize("seed", range(6))
def test_face_distances_agree_with_cvxpy_face_by_face(seed):
    # the traversal's per-region face QPs (rows shifted to the centre once) against an independent
    # solver; a face the fast path cannot certify (an empty one) is None, never a wrong distance
    from exactregions.oracle import FaceDistances

    rng = np.random.default_rng(300 + seed)
    d = 3 + 7 * (seed % 2)
    G, h = _random_polytope(rng, d, m=16)
    G, h = G / np.linalg.norm(G, axis=1)[:, None], h / np.linalg.norm(G, axis=1)
    c = rng.normal(size=d)
    orc = Oracle()
    faces = FaceDistances(orc, G, h, c)
    certified = 0
    for k in range(len(h)):
        got = faces.face(k)
        y = cp.Variable(d)
        keep = np.arange(len(h)) != k
        prob = cp.Problem(cp.Minimize(cp.sum_squares(y - c)), [G[keep] @ y <= h[keep], G[k] @ y == h[k]])
        prob.solve(solver=cp.CLARABEL)
        if got is None:
            continue
        certified += 1
        assert prob.status != "infeasible"
        dist, x = got
        assert dist == pytest.approx(np.sqrt(prob.value), abs=1e-6)
        assert abs(G[k] @ x - h[k]) < 1e-9 and np.all(G @ x <= h + 1e-9)
    assert certified == orc.fast_qp > 0


@pytest.mark.parametrize("seed", range(4))
def test_a_warm_started_chebyshev_lp_gives_the_cold_radius(seed):
    # a neighbour's multipliers only choose DAQP's first active set: the certified radius is the same
    rng = np.random.default_rng(400 + seed)
    d = 6
    G, h = _random_polytope(rng, d, m=20)
    box = (np.full(d, -10.0), np.full(d, 10.0))
    cold = PolytopeLP(Oracle(), G, h, box=box)
    _, r_cold = cold.chebyshev()
    assert cold.multipliers is not None
    G2, h2 = G.copy(), h.copy()
    h2[:3] += 0.05  # a similar polytope: three rows moved
    warm_lp = PolytopeLP(Oracle(), G2, h2, box=box)
    _, r_warm = warm_lp.chebyshev(dual_start=cold.multipliers)
    _, r_ref = PolytopeLP(Oracle(lp_method="highs"), G2, h2).chebyshev()
    assert r_warm == pytest.approx(r_ref, abs=1e-9)
    assert r_cold == pytest.approx(PolytopeLP(Oracle(lp_method="highs"), G, h).chebyshev()[1], abs=1e-9)


@pytest.mark.parametrize("seed", range(8))
def test_compiled_certificates_decide_as_the_numpy_ones(seed):
    """The compiled certificate checks (:mod:`exactregions._oracle_numba`) accept the same DAQP
    answers as the numpy code and give the same values, for Chebyshev LPs, facet LPs and face
    distance QPs (3-D to 40-D), and both refuse when the gap cannot be met."""
    from exactregions.oracle import FaceDistances, _certified_lp

    rng = np.random.default_rng(700 + seed)
    d = [3, 8, 22, 40][seed % 4]
    G, h = _random_polytope(rng, d, m=2 * d + 10)
    n = np.linalg.norm(G, axis=1)
    G, h = np.vstack([G / n[:, None], np.eye(d), -np.eye(d)]), np.concatenate([h / n, np.ones(2 * d)])
    box = (np.full(d, -1.0), np.full(d, 1.0))
    agreed = 0
    for eq in (None, 0, 3, len(h) - 1):
        ref, got = _certified_lp(G, h, box, eq), _certified_lp(G, h, box, eq, compiled=True)
        assert (ref is None) == (got is None)
        if ref is not None:
            agreed += 1
            for r, g in zip(ref, got):
                np.testing.assert_allclose(g, r, atol=1e-12)
    c = rng.normal(size=d) * 2
    ref, got = FaceDistances(Oracle(), G, h, c), FaceDistances(Oracle(compiled=True), G, h, c)
    for k in [None, *range(0, len(h), 3)]:
        a, b = ref.face(k), got.face(k)
        assert (a is None) == (b is None)
        if a is not None:
            agreed += 1
            assert b[0] == pytest.approx(a[0], abs=1e-12)
            np.testing.assert_allclose(b[1], a[1], atol=1e-12)
    assert agreed >= 4


def test_compiled_certificates_refuse_bad_answers():
    """An infeasible point, a NaN or a dual bound too far below fails the compiled checks."""
    from exactregions._oracle_numba import certify_distance, certify_lp

    A = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    b = np.array([-1.0, 2.0, 3.0])  # {y1 <= -1, ...}: the least-norm point is (-1, 0)
    lam, tol = np.array([1.0, 0.0, 0.0]), np.full(3, 1e-10)
    assert certify_distance(A, b, np.array([-1.0, 0.0]), lam, tol, -1, 1e-10)
    assert not certify_distance(A, b, np.array([-0.9, 0.0]), lam, tol, -1, 1e-10)  # infeasible
    assert not certify_distance(A, b, np.array([-1.5, 0.0]), lam, tol, -1, 1e-10)  # not the least norm
    assert not certify_distance(A, b, np.array([np.nan, 0.0]), lam, tol, -1, 1e-10)
    G = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    h = np.ones(4)
    box = (np.full(2, -1.0), np.full(2, 1.0))
    ok, t = certify_lp(G, h, np.zeros(2), np.array([0.5, 0.5, 0.0, 0.0]), -1, *box, 1e-10)
    assert ok and t == 1.0
    ok, _ = certify_lp(G, h, np.array([0.5, 0.0]), np.array([0.5, 0.5, 0.0, 0.0]), -1, *box, 1e-10)
    assert not ok  # t = 0.5 at this point, the dual bound says 1

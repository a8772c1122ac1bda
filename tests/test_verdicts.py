"""Verdicts, margins and ranges from sound linear bounds first (exactregions.relax), held to the
search over every region (``bounds=False``) and to dense sampling."""

import json

import numpy as np
import pytest
import scipy.sparse as sp

from exactregions import Ball, Box, Network, output_bounds, random_network
from exactregions.analysis import output_range, robust
from exactregions.cli import main
from exactregions.io import save_npz
from exactregions.relax import Piece, linear_bounds, minimise


def _margin_rows(k, label):
    rivals = np.delete(np.arange(k), label)
    return np.eye(k)[label] - np.eye(k)[rivals]


def _margin(net, X, label):
    F = net.forward(np.atleast_2d(X))
    return F[:, label] - np.max(np.delete(F, label, axis=1), axis=1)


def _domains(d, rng):
    c = rng.normal(size=d) * 0.2
    doms = [Box(c - 0.4, c + 0.3), Ball(c, 0.5), Ball(c, 0.3, norm="inf"),
            Ball(c, 0.6, norm=2, clip=Box(c - 0.3, c + 0.5))]
    if d <= 4:  # sampling an L1 ball by rejection from its box is slow beyond that
        doms.append(Ball(c, 0.6, norm=1))
    return doms


def _odd_net(seed):
    """LeakyReLU, pass-through units and a sparse hidden layer."""
    base = random_network(4, [10, 9, 8], seed, outputs=3, slope=0.1)
    W = [base.weights[0], sp.csr_array(base.weights[1] * (np.abs(base.weights[1]) > 0.3)), base.weights[2],
         base.weights[3]]
    lin = [np.arange(10) % 4 == 0, np.zeros(9, bool), np.arange(8) == 2]
    return Network(W, base.biases, slopes=[0.1, 0.0, 0.2], linear=lin)


@pytest.mark.parametrize("seed", range(6))
def test_linear_bounds_hold_on_dense_samples(seed):
    rng = np.random.default_rng(seed)
    nets = [random_network(int(rng.integers(2, 6)), [12, 12], seed, outputs=3), _odd_net(seed)]
    for net in nets:
        d = net.input_dim
        for dom in _domains(d, rng):
            X = np.vstack([dom.sample(20000, rng), dom.seed_point()])
            F = net.forward(X)
            for label in range(3):
                C = _margin_rows(3, label)
                lb = linear_bounds(net, dom, C)
                assert np.all(lb <= (F @ C.T).min(axis=0)), (dom, label)
            lo, hi = output_bounds(net, dom)
            assert np.all(lo <= F.min(axis=0)) and np.all(hi >= F.max(axis=0))


@pytest.mark.parametrize("seed", range(4))
def test_linear_bounds_lie_below_the_exact_minimum_margin(seed):
    """Against the minimum over every region (which sampling can miss; its per-region programmes
    are solved to 1e-11 or so), and tight where every unit is stable: then the bound is the affine
    margin's own support function, up to rounding."""
    net = random_network(3, [8, 8], 20 + seed, outputs=3)
    c = np.array([0.1, -0.2, 0.05])
    for norm in (2, 1, "inf"):
        for r in (1e-4, 0.3, 0.8):
            dom = Ball(c, r, norm=norm)
            exact = robust(net, dom, bounds=False)
            if exact.min_margin is None:  # an early counterexample: the minimum is below it
                continue
            lb = linear_bounds(net, dom, _margin_rows(3, exact.label)).min()
            assert lb <= exact.min_margin + 1e-10  # the programmes' own tolerance (CONE_TOLS)
            if r == 1e-4:
                assert lb == pytest.approx(exact.min_margin, abs=1e-9)


def test_a_bound_with_every_unit_stable_is_below_the_exact_minimum_in_rationals():
    """Large coordinates and a weight that is no short binary fraction: the rounding margin is what
    keeps the bound below the true minimum, computed here in exact rationals."""
    from fractions import Fraction as Fr

    W0 = np.array([[1.0, 1e-8], [2.0, -1.0]])
    net = Network([W0, np.array([[1.0, 0.7]])], [np.array([1e8, 1e8]), np.array([0.1])])
    dom = Box([1e8, 1e8], [1e8 + 1.0, 1e8 + 1.0])
    lb = linear_bounds(net, dom)[0]
    # both units are active on the whole box: F = z1 + 0.7 z2 + 0.1, its minimum at a corner
    w = [Fr(1.0) + Fr(0.7) * Fr(2.0), Fr(1e-8) - Fr(0.7)]
    corner = [Fr(dom.lo[0]), Fr(dom.hi[1])]
    exact = w[0] * corner[0] + w[1] * corner[1] + Fr(1e8) + Fr(0.7) * Fr(1e8) + Fr(0.1)
    assert Fr(float(lb)) <= exact
    assert float(exact - Fr(float(lb))) < 1e-6 * float(exact)  # and close: rounding is all it subtracts


def _radius(net, c, norm, label):
    """The exact minimal adversarial radius, from a radius search on a large ball."""
    return robust(net, Ball(c, 2.0, norm=norm), label=label, radius_search=True).radius


def _net_with_a_radius(seed, norm, c):
    """The first of a few seeded 3-D nets whose class at ``c`` changes within distance 2."""
    for s in range(40 + 10 * seed, 50 + 10 * seed):
        net = random_network(3, [8, 8], s, outputs=3)
        label = int(np.argmax(net.forward(c)))
        r = _radius(net, c, norm, label)
        if r is not None:
            return net, label, r
    raise AssertionError("no net of the seeds changes class within distance 2")


@pytest.mark.parametrize("norm", [2, 1, "inf"])
@pytest.mark.parametrize("seed", range(2))
def test_verdicts_from_bounds_equal_the_region_search_on_both_sides_of_the_minimal_radius(norm, seed):
    c = np.array([0.2, -0.1, 0.3])
    net, label, r_star = _net_with_a_radius(seed, norm, c)
    for factor in (0.9, 0.99, 1.01, 1.1):
        dom = Ball(c, factor * r_star, norm=norm)
        ref = robust(net, dom, label=label, bounds=False)
        fast = robust(net, dom, label=label, exact_margin=False)
        exact = robust(net, dom, label=label, exact_margin=True)
        assert fast.verdict == exact.verdict == ref.verdict == ("robust" if factor < 1 else "not robust")
        if factor < 1:
            if fast.decided_by == "bounds":  # else the search ran out of nodes and the regions decided
                assert fast.min_margin is None and fast.margin == "lower bound"
            assert 0 < fast.margin_lower_bound <= ref.min_margin + 1e-12
            assert exact.margin == "exact"
            assert exact.min_margin == pytest.approx(ref.min_margin, abs=1e-8)
            assert _margin(net, exact.argmin, label)[0] == pytest.approx(exact.min_margin, abs=1e-8)
        else:
            for v in (fast, exact):
                x = np.array(v.counterexample)
                assert dom.contains(x)[0]  # strictly inside the open ball
                assert int(np.argmax(net.forward(x))) == v.counterexample_class != label


@pytest.mark.parametrize("seed", range(3))
def test_box_verdicts_and_margins_equal_the_region_search(seed):
    net = random_network(4, [10, 8], 60 + seed, outputs=4)
    rng = np.random.default_rng(seed)
    c = rng.normal(size=4) * 0.3
    label = int(np.argmax(net.forward(c)))
    seen = set()
    for w in (0.02, 0.1, 0.3, 0.6):
        dom = Box(c - w, c + 1.5 * w)
        ref = robust(net, dom, label=label, bounds=False)
        got = robust(net, dom, label=label, exact_margin=True)
        fast = robust(net, dom, label=label, exact_margin=False)
        assert got.verdict == ref.verdict == fast.verdict
        seen.add(got.verdict)
        if got.verdict == "robust":
            assert got.min_margin == pytest.approx(ref.min_margin, abs=1e-8)
            assert 0 < fast.margin_lower_bound <= ref.min_margin + 1e-12 and fast.margin is not None
        else:
            x = np.array(got.counterexample)
            assert dom.contains(x)[0] and int(np.argmax(net.forward(x))) != label
    assert seen == {"robust", "not robust"} or len(seen) == 1


def test_a_loose_relaxation_still_gets_the_exact_answer():
    """Zero biases and a ball around the origin: every unit is unstable, the root bound is far
    below zero, and only splitting (down to single regions) decides."""
    rng = np.random.default_rng(3)
    W0 = rng.normal(size=(10, 3))
    W1 = rng.normal(size=(10, 10)) / 3
    W2 = rng.normal(size=(2, 10)) / 3
    net = Network([W0, W1, W2], [np.zeros(10), np.zeros(10), np.array([0.05, 0.0])])  # class 0 wins at 0
    c = np.array([0.001, 0.002, -0.001])
    assert int(np.argmax(net.forward(c))) == 0
    r_star = robust(net, Ball(c, 1.0), label=0, radius_search=True).radius
    assert r_star is not None
    assert linear_bounds(net, Ball(c, 0.9 * r_star), _margin_rows(2, 0))[0] < 0  # the relaxation alone cannot decide
    for factor in (0.9, 1.1):
        dom = Ball(c, factor * r_star)
        ref = robust(net, dom, label=0, bounds=False)
        got = robust(net, dom, label=0, exact_margin=False)
        exact = robust(net, dom, label=0, exact_margin=True)
        assert got.verdict == exact.verdict == ref.verdict == ("robust" if factor < 1 else "not robust")
        assert got.decided_by in ("bounds", "counterexample search")
        if factor < 1:
            assert got.nodes > 1 and 0 < got.margin_lower_bound <= ref.min_margin + 1e-12
            assert exact.min_margin == pytest.approx(ref.min_margin, abs=1e-8)
            assert linear_bounds(net, dom, _margin_rows(2, 0))[0] < 0


@pytest.mark.parametrize("seed", range(2))
def test_output_ranges_from_bounds_equal_the_region_search(seed, monkeypatch):
    import exactregions.analysis as an

    monkeypatch.setattr(an, "RANGE_SEARCH_MIN_DIM", 0)  # the bound search in 3-D too
    monkeypatch.setattr(an, "EXACT_NODES", 5000)
    net = random_network(3, [6, 6], 80 + seed, outputs=2)
    for dom in (Box([-0.5, -0.2, 0.0], [0.3, 0.4, 0.6]), Ball([0.1, 0.0, -0.1], 0.5),
                Ball([0.1, 0.0, -0.1], 0.5, norm="inf")):
        a, b = output_range(net, dom), output_range(net, dom, bounds=False)
        assert a.stats["decided_by"] == "bounds" and a.complete
        for oa, ob in zip(a.outputs, b.outputs):
            assert oa["max"] == pytest.approx(ob["max"], abs=1e-8) and oa["min"] == pytest.approx(ob["min"], abs=1e-8)
            for key in ("min", "max"):  # the arguments are points of the closed domain where it is attained
                x = np.array(oa["arg" + key])
                assert net.forward(x)[a.outputs.index(oa)] == pytest.approx(oa[key], abs=1e-8)


def test_the_search_ends_undecided_at_its_node_budget_and_the_region_search_decides():
    net = random_network(3, [8, 8], 41, outputs=3)
    c = np.array([0.2, -0.1, 0.3])
    label = int(np.argmax(net.forward(c)))
    r_star = _radius(net, c, 2, label)
    dom = Ball(c, 0.99 * r_star)
    from exactregions.analysis import _leaf_programmes

    res = minimise(net, dom, _margin_rows(3, label), _leaf_programmes(net, dom), max_nodes=1)
    assert res.status == "undecided"
    assert robust(net, dom, label=label, exact_margin=False).verdict == "robust"


def test_counterexample_search_points_are_checked_and_inside():
    net = random_network(784, [32, 32], 0, outputs=10)
    c = np.full(784, 0.3)
    label = int(np.argmax(net.forward(c)))
    for norm in ("inf", 2):
        v = robust(net, Ball(c, 0.5, norm=norm, clip=Box(np.zeros(784), np.ones(784))), label=label)
        assert v.verdict == "not robust" and v.decided_by == "counterexample search"
        x = np.array(v.counterexample)
        assert Ball(c, 0.5, norm=norm, clip=Box(np.zeros(784), np.ones(784))).contains(x)[0]
        assert int(np.argmax(net.forward(x))) == v.counterexample_class != label


def test_piece_of_a_ball_holds_the_ball():
    c = np.array([0.1, 1e8, -3.3])
    p = Piece.of(Ball(c, 0.7, norm=2))
    assert np.all(p.lo <= c - 0.7) and np.all(p.hi >= c + 0.7)


def test_cli_robust_reports_which_margin(tmp_path, capsys):
    net = random_network(2, [8, 8], 3, outputs=3)
    save_npz(net, tmp_path / "m.npz")
    m = str(tmp_path / "m.npz")
    assert main(["robust", m, "--ball", "0.1,0.2", "0.05", "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["margin"] == "lower bound" and out["min_margin"] is None and out["margin_lower_bound"] > 0
    assert main(["robust", m, "--ball", "0.1,0.2", "0.05", "--quiet"]) == 0
    assert "margin lower bound" in capsys.readouterr().out
    assert main(["robust", m, "--ball", "0.1,0.2", "0.05", "--quiet", "--exact-margin"]) == 0
    text = capsys.readouterr().out
    assert "smallest margin" in text and "(exact)" in text


@pytest.mark.parametrize("seed", range(5))
def test_bounds_with_split_units_hold_on_the_points_with_those_signs(seed):
    """A node of the search: some units' signs fixed. Its intervals, its cuts and its LP bound
    hold on every sampled point of the box with those signs (and a proven-empty node has none)."""
    from exactregions.relax import Relaxation

    rng = np.random.default_rng(seed)
    net = random_network(3, [10, 10], 90 + seed, outputs=3)
    dom = Box(-0.6 * np.ones(3), 0.5 * np.ones(3))
    piece = Piece.of(dom)
    X = dom.sample(40000, rng)
    P = net.pattern(X)
    root = Relaxation(net, piece)
    unstable = np.flatnonzero(root.b.unstable(net.linear_mask()))
    C = _margin_rows(3, 0)
    for trial in range(6):
        pick = rng.choice(unstable, size=min(4, unstable.size), replace=False)
        fixed = np.zeros(net.n_hidden, np.int8)
        fixed[pick] = rng.choice([-1, 1], size=pick.size)
        keep = np.all(P[:, pick] == (fixed[pick] > 0), axis=1)
        rel = Relaxation(net, piece, fixed)
        if rel.b.infeasible:
            assert not keep.any()
            continue
        Z = np.concatenate(net.preactivations(X[keep]), axis=1) if keep.any() else np.zeros((0, net.n_hidden))
        assert np.all(Z >= np.concatenate(rel.b.lo)) and np.all(Z <= np.concatenate(rel.b.hi))
        A, h = rel.cuts(fixed)
        assert np.all(X[keep] @ A.T <= h)
        G, const, E, _ = rel.form(len(net.weights) - 1, C)
        tight, empty = rel.lp_bound(G, const, E, A, h)
        if empty:
            assert not keep.any()
            continue
        if keep.any():
            values = (net.forward(X[keep]) @ C.T).min(axis=0)
            assert np.all(tight <= values) and np.all(rel.backsub(len(net.weights) - 1, C)[0] <= values)

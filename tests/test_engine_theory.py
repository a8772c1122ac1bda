"""The BFS engine against theory: each test asserts an exact number."""

import numpy as np
import pytest

from exactregions import Ball, Box, Network, Whole, count_regions
from exactregions.bounds import phi, restricted_count_ball
from exactregions.bounds.constructions import montufar_product, montufar_product_count, sawtooth, zigzag

from conftest import random_net


@pytest.mark.parametrize("n,d", [(1, 1), (4, 1), (3, 2), (5, 2), (8, 2), (4, 3), (6, 3), (5, 4)])
def test_zaslavsky_whole_space(n, d):
    net = random_net(d, [n], seed=10 * n + d)
    res = count_regions(net, Whole(d))
    assert res.complete
    assert res.activation_regions == phi(n, d)


def test_growing_ball_and_box_rise_to_zaslavsky():
    net = random_net(2, [6], seed=3)
    counts = [count_regions(net, Ball([0, 0], r)).activation_regions for r in (0.05, 0.3, 1.0, 3.0, 100.0)]
    assert counts == sorted(counts)
    assert counts[-1] == phi(6, 2)
    boxes = [count_regions(net, Box(-s, s, dim=2)).activation_regions for s in (0.05, 0.5, 100.0)]
    assert boxes == sorted(boxes) and boxes[-1] == phi(6, 2)


@pytest.mark.parametrize("L", [1, 2, 3, 4, 5])
def test_sawtooth_has_2_pow_L_regions(L):
    net, dom = sawtooth(L)
    res = count_regions(net, dom, engine="bfs")
    assert res.activation_regions == 2 ** L
    assert res.linear_regions == 2 ** L
    wide = count_regions(net, Box(-1, 2, dim=1)).activation_regions
    assert wide == (3 if L == 1 else 2 ** L + 2)


@pytest.mark.parametrize("k,L", [(3, 1), (3, 2), (3, 3), (4, 2), (4, 3)])
def test_zigzag_has_k_pow_L_regions(k, L):
    net, dom = zigzag(k, L)
    assert count_regions(net, dom).activation_regions == k ** L


@pytest.mark.parametrize("n0,k,L,nL", [(1, 3, 3, 2), (2, 2, 2, 3), (2, 3, 2, 4), (2, 2, 3, 3)])
def test_montufar_product_construction(n0, k, L, nL):
    net, dom = montufar_product(n0, k, L, nL)
    assert count_regions(net, dom).activation_regions == montufar_product_count(n0, k, L, nL)


def _lines(W, b):
    W = np.asarray(W, float)
    return Network([W, np.ones((1, W.shape[0]))], [np.asarray(b, float), [0.0]])


def test_hyperplane_just_outside_or_inside_the_radius():
    # line x = 0.5 +/- 1e-6 against the unit-ish ball of radius 0.5 at the origin
    outside = _lines([[1.0, 0.0]], [-(0.5 + 1e-6)])
    inside = _lines([[1.0, 0.0]], [-(0.5 - 1e-6)])
    ball = Ball([0.0, 0.0], 0.5)
    assert count_regions(outside, ball).activation_regions == 1
    assert count_regions(inside, ball).activation_regions == 2
    tangent = _lines([[1.0, 0.0]], [-0.5])  # touches the closed ball only: the open ball has 1 region
    assert count_regions(tangent, ball).activation_regions == 1


def test_parallel_and_coincident_hyperplanes():
    ball = Ball([0.0, 0.0], 1.0)
    parallel = _lines([[1, 0], [1, 0], [1, 0]], [0.0, -0.3, 0.4])
    assert count_regions(parallel, ball).activation_regions == 4
    coincident = _lines([[1, 0], [2, 0], [-3, 0], [0, 1]], [0.1, 0.2, -0.3, 0.0])  # three copies of x = -0.1
    res = count_regions(coincident, ball)
    assert res.activation_regions == 4
    assert res.verify().ok


def test_dead_neurons_add_nothing():
    base = _lines([[1, 0], [0, 1], [1, 1]], [0.0, 0.0, -0.5])
    dead = _lines([[1, 0], [0, 0], [0, 1], [0, 0], [1, 1]], [0.0, -1.0, 0.0, 0.0, -0.5])
    dom = Ball([0.0, 0.0], 1.0)
    assert count_regions(dead, dom).activation_regions == count_regions(base, dom).activation_regions == 7


def test_restricted_arrangement_formula_in_balls():
    rng = np.random.default_rng(5)
    for trial in range(6):
        d = 2 + trial % 2
        W, b = rng.normal(size=(7, d)), rng.normal(size=7)
        c, r = rng.normal(size=d) * 0.3, rng.uniform(0.3, 1.5)
        assert count_regions(_lines(W, b), Ball(c, r)).activation_regions == restricted_count_ball(W, b, c, r)


def test_worked_example_of_the_bounds_note():
    net = Network([[[1, 0], [0, 1], [1, 1]], [[1, 1, 1]], [[1.0]]], [[0, 0, -1], [-3], [0]])
    assert count_regions(net, Ball([0, 0], 0.8)).activation_regions == 5
    assert count_regions(net, Ball([0, 0], 1.2)).activation_regions == 7
    assert count_regions(net, Ball([-0.5, -0.5], 0.45)).activation_regions == 1


def test_bias_free_net_cover_count_is_radius_independent():
    rng = np.random.default_rng(8)
    W = rng.normal(size=(5, 3))
    net = Network([W, np.ones((1, 5))], [np.zeros(5), [0.0]])
    counts = {count_regions(net, Ball(np.zeros(3), r)).activation_regions for r in (0.01, 1.0, 50.0)}
    assert counts == {22}  # Cover: 2 * (C(4,0) + C(4,1) + C(4,2))


def test_invariances():
    net = random_net(2, [6, 5], seed=21)
    dom = Ball([0.1, -0.2], 0.9)
    ref = count_regions(net, dom).activation_regions
    W1, b1 = np.array(net.weights[0]), np.array(net.biases[0])
    W2 = np.array(net.weights[1])
    rest_w, rest_b = [np.array(w) for w in net.weights[1:]], [np.array(b) for b in net.biases[1:]]
    # positive rescaling of one neuron (its outgoing weights compensate)
    s = np.array([3.0, 1, 1, 0.2, 1, 1])
    scaled = Network([W1 * s[:, None], W2 / s[None, :]] + rest_w[1:], [b1 * s] + rest_b)
    assert count_regions(scaled, dom).activation_regions == ref
    # permutation of the first layer
    p = np.array([3, 0, 5, 1, 4, 2])
    perm = Network([W1[p], W2[:, p]] + rest_w[1:], [b1[p]] + rest_b)
    assert count_regions(perm, dom).activation_regions == ref
    # a duplicated neuron (its outgoing weight split in two)
    dup = Network([np.vstack([W1, W1[:1]]), np.hstack([W2, np.zeros((W2.shape[0], 1))])] + rest_w[1:],
                  [np.r_[b1, b1[:1]]] + rest_b)
    assert count_regions(dup, dom).activation_regions == ref
    # a dead neuron
    dead = Network([np.vstack([W1, np.zeros((1, 2))]), np.hstack([W2, np.ones((W2.shape[0], 1))])] + rest_w[1:],
                   [np.r_[b1, -1.0]] + rest_b)
    assert count_regions(dead, dom).activation_regions == ref


def test_relu_and_leaky_relu_agree_for_one_hidden_layer():
    net = random_net(3, [7], seed=4)
    leaky = Network(net.weights, net.biases, slopes=0.1)
    dom = Ball([0.0, 0.2, -0.1], 1.0)
    assert count_regions(leaky, dom).activation_regions == count_regions(net, dom).activation_regions


def test_leaky_relu_deep_net_matches_sampling_and_verifies():
    net = random_net(2, [6, 6], seed=12, slope=0.2)
    res = count_regions(net, Box(-1, 1, dim=2))
    seen = {p.tobytes() for p in net.pattern(np.random.default_rng(0).uniform(-1, 1, size=(50000, 2)))}
    assert res.activation_regions >= len(seen)
    assert res.verify().ok


def test_huge_ball_equals_whole_space():
    net = random_net(2, [5, 4], seed=6)
    whole = count_regions(net, Whole(2))
    huge = count_regions(net, Ball([0.0, 0.0], 1e4))
    assert whole.complete and huge.activation_regions == whole.activation_regions


def test_box_equals_the_same_box_as_a_polytope():
    net = random_net(3, [6, 6], seed=9)
    box = Box([-1, -0.5, -1], [1, 1, 0.5])
    assert count_regions(net, box).activation_regions == count_regions(net, box.as_polytope()).activation_regions


def test_norm_balls_nest_and_linf_equals_box():
    net = random_net(2, [8, 8], seed=14)
    c, r = np.array([0.2, -0.1]), 0.6
    l1 = count_regions(net, Ball(c, r, norm=1)).activation_regions
    l2 = count_regions(net, Ball(c, r)).activation_regions
    linf = count_regions(net, Ball(c, r, norm="inf")).activation_regions
    assert l1 <= l2 <= linf
    assert linf == count_regions(net, Box(c - r, c + r)).activation_regions
    # outer box / inner cross-polytope are labelled upper / lower counts of the L2 ball
    ball = Ball(c, r)
    assert count_regions(net, ball.inner_polytope()).activation_regions == l1
    assert count_regions(net, ball.outer_polytope()).activation_regions == linf


def test_ball_clipped_to_a_box():
    net = random_net(2, [8, 8], seed=15)
    ball = Ball([0.9, 0.0], 0.5)
    clipped = Ball([0.9, 0.0], 0.5, clip=Box([-1, -1], [1, 1]))
    huge_clip = Ball([0.9, 0.0], 0.5, clip=Box([-10, -10], [10, 10]))
    n_ball = count_regions(net, ball).activation_regions
    n_clip = count_regions(net, clipped).activation_regions
    assert n_clip < n_ball
    assert count_regions(net, huge_clip).activation_regions == n_ball
    seen = {p.tobytes() for p in net.pattern(clipped.sample(40000, np.random.default_rng(1)))}
    assert n_clip >= len(seen)
    assert count_regions(net, clipped).verify().ok


def test_centre_of_ball_outside_the_clip_box():
    net = random_net(2, [6], seed=2)
    dom = Ball([1.2, 0.0], 0.5, clip=Box([-1, -1], [1, 1]))
    res = count_regions(net, dom)
    assert res.activation_regions >= 1 and res.verify().ok
    assert all(dom.contains(r.point)[0] for r in res.regions)


def test_seed_on_a_hyperplane_is_moved():
    net = _lines([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0])  # both lines through the centre
    res = count_regions(net, Ball([0.0, 0.0], 1.0), engine="bfs")
    assert res.activation_regions == 4
    assert res.numerics["seed_perturbed"] is not None


def test_linear_regions_merge_regions_with_one_affine_map():
    # the output ignores neuron 2, so regions on either side of its line share an affine map
    net = Network([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0]]], [[0.0, 0.0], [0.0]])
    res = count_regions(net, Whole(2), engine="bfs")
    assert res.activation_regions == 4
    assert res.linear_regions == 2


def test_max_regions_gives_a_labelled_lower_bound():
    net = random_net(2, [10, 10], seed=1)
    full = count_regions(net, Box(-1, 1, dim=2))
    part = count_regions(net, Box(-1, 1, dim=2), max_regions=10, engine="bfs")
    assert not part.complete and part.activation_regions == 10 < full.activation_regions
    assert "lower bound" in part.label() and part.linear_regions is None
    assert part.to_dict()["lower_bound"] is True


def test_deterministic_order():
    net = random_net(2, [8, 8], seed=2)
    a = count_regions(net, Ball([0.0, 0.0], 0.8), engine="bfs")
    b = count_regions(net, Ball([0.0, 0.0], 0.8), engine="bfs")
    assert [r.pattern.tobytes() for r in a.regions] == [r.pattern.tobytes() for r in b.regions]
    assert sorted(a.graph.edges) == sorted(b.graph.edges)


def test_regions_tile_the_domain():
    """Every sampled point's pattern is a counted region, and every region's point has its pattern."""
    net = random_net(3, [8, 6], seed=17)
    dom = Ball([0.1, 0.0, -0.1], 0.8)
    res = count_regions(net, dom, engine="bfs")
    found = {r.pattern.tobytes() for r in res.regions}
    X = dom.sample(30000, np.random.default_rng(3))
    assert {p.tobytes() for p in net.pattern(X)} <= found
    for r in res.regions:
        assert np.array_equal(net.pattern(r.point), r.pattern) and dom.contains(r.point)[0]
    rep = res.verify()
    assert rep.ok and rep.facets_checked == 2 * res.graph.number_of_edges()


def test_intervals_use_each_layer_own_slope():
    """Mixed activations (LeakyReLU then ReLU): the interval bounds must contain every sampled
    pre-activation, and the count must match sampling and verify."""
    from exactregions.intervals import preactivation_bounds
    base = random_net(2, [8, 8, 6], seed=31)
    net = Network(base.weights, base.biases, slopes=[0.5, 0.0, 0.2])
    dom = Ball([0.1, 0.1], 0.9)
    los, his = preactivation_bounds(net, dom)
    zs = net.preactivations(dom.sample(20000, np.random.default_rng(0)))
    for z, lo, hi in zip(zs, los, his):
        assert np.all(z >= lo - 1e-9) and np.all(z <= hi + 1e-9)
    res = count_regions(net, dom)
    seen = {p.tobytes() for p in net.pattern(dom.sample(40000, np.random.default_rng(1)))}
    assert res.activation_regions >= len(seen) and res.verify().ok
    assert count_regions(net, dom, engine="subdivision").activation_regions == res.activation_regions


def test_pair_distance_bound_never_exceeds_the_exact_face_distance():
    """The closed-form bound that lets the BFS skip facets far from the ball: for random
    polytopes and faces, it is at most the exact distance (HiGHS's QP) to the face; the compiled
    bound is the same number."""
    from exactregions.engines.region import pair_distance_bound
    from exactregions.oracle import Oracle

    rng = np.random.default_rng(3)
    checked = 0
    for _ in range(30):
        d = int(rng.integers(2, 9))
        G = rng.normal(size=(3 * d, d))
        G /= np.linalg.norm(G, axis=1, keepdims=True)
        h = G @ (0.3 * rng.normal(size=d)) + rng.uniform(0.05, 1.0, size=3 * d)
        c = rng.normal(size=d)
        bound = pair_distance_bound(G, h, np.arange(3 * d), c)
        np.testing.assert_allclose(pair_distance_bound(G, h, np.arange(3 * d), c, compiled=True), bound, rtol=1e-12)
        for i in range(3 * d):
            keep = np.arange(3 * d) != i
            dist, _ = Oracle(qp_method="highs").nearest_point(G[keep], h[keep], c, eq_row=G[i], eq_rhs=h[i])
            assert bound[i] <= dist + 1e-9
            checked += np.isfinite(dist)
    assert checked > 100


@pytest.mark.parametrize("seed", range(6))
def test_compiled_rays_find_the_numpy_rays_facets(seed):
    """The compiled ray shooting (:mod:`exactregions.engines._region_numba`) certifies the same
    rows at the same rays and hit points as the numpy reference, with more normals than
    :data:`MAX_NORMAL_RAYS` too (then both aim along the least slack ones)."""
    from exactregions.engines.bfs import _directions
    from exactregions.engines.region import MAX_NORMAL_RAYS, _ray_facets

    rng = np.random.default_rng(50 + seed)
    d = [2, 5, 12][seed % 3]
    m = MAX_NORMAL_RAYS + 100 if seed >= 3 else 4 * d + 6
    G = rng.normal(size=(m, d))
    G /= np.linalg.norm(G, axis=1, keepdims=True)
    x0 = rng.normal(size=d)
    h = G @ x0 + rng.uniform(0.01, 1.0, size=m)
    normals = np.flatnonzero(rng.random(m) < 0.9)
    for dirs in (_directions(d), None):
        ref = _ray_facets(G, h, x0, dirs, normals)
        got = _ray_facets(G, h, x0, dirs, normals, compiled=True)
        assert [i for i, _ in got] == [i for i, _ in ref] and len(ref) > 2
        np.testing.assert_allclose(np.array([p for _, p in got]), np.array([p for _, p in ref]), atol=1e-12)


@pytest.mark.parametrize("case", ["ball8", "box6", "clipped5", "leaky_whole3"])
def test_compiled_bfs_kernel_counts_region_for_region(case):
    """``kernel="numba"`` (compiled rays and certificate checks) and ``"numpy"`` find the same
    regions in the same order and the same adjacency graph (the solve counts may differ by a
    certificate: a hit time or a dual bound summed in another order)."""
    net, dom = {
        "ball8": (random_net(8, [12, 12], seed=3), Ball(np.full(8, 0.1), 0.4)),
        "box6": (random_net(6, [10, 8], seed=4), Box(-0.3, 0.3, dim=6)),
        "clipped5": (random_net(5, [8, 8], seed=5), Ball(np.zeros(5), 0.9, clip=Box(-0.5, 0.5, dim=5))),
        "leaky_whole3": (random_net(3, [6, 5], seed=6, slope=0.1), Whole(3)),
    }[case]
    a = count_regions(net, dom, engine="bfs", kernel="numpy", reduce=False)
    b = count_regions(net, dom, engine="bfs", kernel="numba", reduce=False)
    assert (a.stats["kernel"], b.stats["kernel"]) == ("numpy", "numba")
    assert a.activation_regions == b.activation_regions > 20
    assert [r.pattern.tobytes() for r in a.regions] == [r.pattern.tobytes() for r in b.regions]
    assert sorted(a.edges) == sorted(b.edges)
    assert b.stats["lp_solves"] == pytest.approx(a.stats["lp_solves"], rel=0.01)


def test_bfs_without_numba_runs_the_numpy_kernel(monkeypatch):
    import sys

    import exactregions.engines as engines
    from exactregions.engines import region

    monkeypatch.setitem(sys.modules, "exactregions.engines._region_numba", None)  # import fails
    monkeypatch.delattr(engines, "_region_numba", raising=False)
    region.numba_problem.cache_clear()
    try:
        res = count_regions(random_net(8, [8], seed=2), Box(-0.3, 0.3, dim=8), engine="bfs")
        assert res.stats["kernel"] == "numpy" and res.activation_regions > 5
        with pytest.raises(ValueError, match="numba is not installed"):
            count_regions(random_net(8, [8], seed=2), Box(-0.3, 0.3, dim=8), engine="bfs", kernel="numba")
    finally:
        region.numba_problem.cache_clear()  # the next tests see numba again

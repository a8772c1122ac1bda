"""The exact dimension reduction (exactregions.reduction): the reduced count is the unreduced
count, region for region, and everything handed back lives in the original input space."""

import numpy as np
import pytest

from exactregions import Ball, Box, Network, Whole, count_regions
from exactregions.network import random_network
from exactregions.reduction import reduce_dimension


def _patterns(res):
    return {r.pattern.tobytes() for r in res.regions}


def _low_rank_net(d, widths, rank, seed, slope=0.0):
    """A net whose first layer has the given rank (W0 = U V with V of rank ``rank``)."""
    rng = np.random.default_rng(seed)
    base = random_network(d, widths, seed, slope=slope)
    W0 = rng.normal(size=(widths[0], rank)) @ rng.normal(size=(rank, d)) / np.sqrt(d)
    return Network([W0, *base.weights[1:]], base.biases, base.slopes)


def _dead_units_net(d, seed):
    """A net with three first-layer units that are inactive on the unit ball around 0."""
    net = random_network(d, [10, 8], seed)
    b0 = np.array(net.biases[0])
    norms = np.linalg.norm(net.weights[0], axis=1)
    b0[:3] = -norms[:3] * 1.5  # W0_i x + b0_i <= 0 on the whole ball of radius 1
    return Network(net.weights, [b0, *net.biases[1:]], net.slopes)


CASES = [  # (name, net, ball): input 8 to 40, narrower first layers, rank-deficient W0, dead units
    ("narrow-8d", random_network(8, [5, 6], 1), Ball(np.full(8, 0.1), 0.8)),
    ("narrow-12d-3layers", random_network(12, [4, 5, 5], 2), Ball(np.linspace(-0.2, 0.2, 12), 1.0)),
    ("rank3-16d", _low_rank_net(16, [8, 6], 3, 3), Ball(np.zeros(16), 1.5)),
    ("rank4-40d", _low_rank_net(40, [10, 6], 4, 4), Ball(np.full(40, 0.05), 1.2)),
    ("dead-units-9d", _dead_units_net(9, 5), Ball(np.zeros(9), 1.0)),
    ("leaky-rank3-10d", _low_rank_net(10, [6, 6], 3, 6, slope=0.1), Ball(np.full(10, -0.1), 1.0)),
]


@pytest.mark.parametrize("name,net,ball", CASES, ids=[c[0] for c in CASES])
def test_reduced_count_equals_unreduced_count(name, net, ball):
    red = reduce_dimension(net, ball)
    assert red is not None and red.reduced_dim < net.input_dim
    full = count_regions(net, ball, engine="bfs", reduce=False)
    small = count_regions(net, ball, engine="bfs")
    assert full.complete and small.complete
    assert small.activation_regions == full.activation_regions > 1
    assert small.linear_regions == full.linear_regions
    assert _patterns(small) == _patterns(full)
    assert small.stats["reduction"]["reduced_dim"] == red.reduced_dim
    assert small.graph.number_of_edges() == full.graph.number_of_edges()


def test_dead_first_layer_units_are_removed_and_inactive():
    net, ball = CASES[4][1], CASES[4][2]
    red = reduce_dimension(net, ball)
    assert red.stats()["dead_first_layer_units"] == 3
    res = count_regions(net, ball)
    assert not any(r.pattern[:3].any() for r in res.regions)


def test_rank_follows_the_first_layer():
    assert reduce_dimension(*CASES[2][1:]).reduced_dim == 3
    assert reduce_dimension(*CASES[3][1:]).reduced_dim == 4
    red = reduce_dimension(*CASES[0][1:])  # 5 general rows, one of them dead on this ball
    assert red.stats()["dead_first_layer_units"] == 1 and red.reduced_dim == 4


def test_points_and_affine_maps_are_in_the_original_space():
    net, ball = CASES[3][1], CASES[3][2]
    res = count_regions(net, ball, engine="bfs")
    assert res.stats["reduction"]["input_dim"] == 40
    for reg in res.regions:
        assert reg.point.shape == (40,)
        assert np.linalg.norm(reg.point - ball.center) < ball.radius
        assert np.array_equal(net.pattern(reg.point), reg.pattern)
        M, m = reg.affine
        assert M.shape == (1, 40)
        # the map holds around the point, also off the reduced subspace
        rng = np.random.default_rng(0)
        for _ in range(3):
            x = reg.point + 1e-7 * rng.normal(size=40)
            if np.array_equal(net.pattern(x), reg.pattern):
                np.testing.assert_allclose(net.forward(x), M @ x + m, atol=1e-9)
        np.testing.assert_allclose(net.forward(reg.point), M @ reg.point + m, atol=1e-9)


def test_count_is_invariant_to_rotating_the_basis():
    net, ball = CASES[2][1], CASES[2][2]
    red = reduce_dimension(net, ball)
    k = red.reduced_dim
    Q, _ = np.linalg.qr(np.random.default_rng(7).normal(size=(k, k)))
    rotated = red.net.compose_affine(Q, np.zeros(k))  # the same problem in the basis Q^T V
    a = count_regions(red.net, red.domain, reduce=False)
    b = count_regions(rotated, red.domain, reduce=False)
    assert a.activation_regions == b.activation_regions
    assert {r.pattern.tobytes() for r in a.regions} == {r.pattern.tobytes() for r in b.regions}
    # rotating the original input space moves V; the count stays
    R, _ = np.linalg.qr(np.random.default_rng(8).normal(size=(16, 16)))
    turned = net.compose_affine(R, np.zeros(16))
    c = count_regions(turned, Ball(R.T @ ball.center, ball.radius))
    assert c.activation_regions == a.activation_regions


def test_whole_space_is_reduced_and_boxes_are_not():
    net = _low_rank_net(6, [4, 3], 2, 9)
    assert reduce_dimension(net, Whole(6)).reduced_dim == 2
    assert reduce_dimension(net, Box(-1, 1, dim=6)) is None
    assert reduce_dimension(net, Ball(np.zeros(6), 1.0, norm=np.inf)) is None
    whole = count_regions(net, Whole(6))
    assert whole.activation_regions == count_regions(net, Whole(6), reduce=False).activation_regions


def test_pass_through_units_in_the_first_layer_are_kept():
    base = _low_rank_net(10, [6, 5], 3, 10)
    linear = [np.array([True, False, False, False, False, False]), np.zeros(5, bool)]
    b0 = np.array(base.biases[0])
    b0[0] = -50.0  # would be dead if it were a ReLU unit
    net = Network(base.weights, [b0, *base.biases[1:]], base.slopes, linear)
    ball = Ball(np.zeros(10), 1.0)
    assert reduce_dimension(net, ball).kept[0]
    a = count_regions(net, ball)
    b = count_regions(net, ball, reduce=False)
    assert a.activation_regions == b.activation_regions and _patterns(a) == _patterns(b)


def test_constant_network_on_the_ball_is_one_region():
    net = random_network(12, [4, 3], 11)
    W0 = np.zeros((4, 12))
    net = Network([W0, *net.weights[1:]], net.biases, net.slopes)
    res = count_regions(net, Ball(np.zeros(12), 1.0))
    assert res.activation_regions == 1 and res.complete


def test_cli_reports_the_reduction_and_can_switch_it_off(tmp_path, capsys):
    import json

    from exactregions.cli import main
    from exactregions.io import save_npz

    net, ball = CASES[2][1], CASES[2][2]
    save_npz(net, tmp_path / "m.npz")
    args = ["count", str(tmp_path / "m.npz"), "--ball", ",".join(["0"] * 16), "1.5", "--json", "--quiet"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["reduction"]["reduced_dim"] == 3 and out["reduction"]["input_dim"] == 16
    assert main(args + ["--no-reduce"]) == 0
    off = json.loads(capsys.readouterr().out)
    assert off["reduction"] is None and off["activation_regions"] == out["activation_regions"]


def test_auto_engine_follows_the_measured_table():
    from exactregions.engines import AUTO_SUBDIVISION_MAX_DIM, auto_engine

    top = AUTO_SUBDIVISION_MAX_DIM
    assert auto_engine(Box(-1, 1, dim=top["polytope"])) == "subdivision"
    assert auto_engine(Box(-1, 1, dim=top["polytope"] + 1)) == "bfs"
    assert auto_engine(Ball(np.zeros(top["l2 ball"]), 1.0)) == "subdivision"
    assert auto_engine(Ball(np.zeros(top["l2 ball"] + 1), 1.0)) == "bfs"
    assert auto_engine(Whole(3)) == "bfs"  # unbounded: only the BFS
    # a 40-D ball of a rank-4 first layer is counted in 4-D, so auto runs the subdivision there
    res = count_regions(CASES[3][1], CASES[3][2], engine="auto")
    assert res.stats["engine"] == "subdivision" and res.stats["reduction"]["reduced_dim"] == 4
    assert res.activation_regions == count_regions(CASES[3][1], CASES[3][2], engine="bfs").activation_regions

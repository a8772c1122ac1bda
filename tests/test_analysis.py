"""Exact output ranges and local Lipschitz constants from the regions (exactregions.analysis),
held to brute force: breakpoints in 1-D, exact region polygons in 2-D, closed forms."""

import json

import numpy as np
import pytest

from exactregions import Ball, Box, Network, count_regions
from exactregions.analysis import lipschitz, output_range
from exactregions.cli import main
from exactregions.io import save_npz
from exactregions.network import random_network
from exactregions.plot import region_polygons


def _one_d_net(seed):
    return random_network(1, [9], seed, outputs=2)


@pytest.mark.parametrize("seed", range(4))
def test_1d_range_and_lipschitz_equal_the_breakpoint_values(seed):
    net = _one_d_net(seed)
    lo, hi = -1.3, 0.9
    W, b = net.weights[0][:, 0], net.biases[0]
    cuts = -b[W != 0] / W[W != 0]
    xs = np.sort(np.r_[lo, hi, cuts[(cuts > lo) & (cuts < hi)]])  # F is affine between these
    F = net.forward(xs[:, None])
    for dom in (Box(lo, hi, dim=1), Ball([(lo + hi) / 2], (hi - lo) / 2)):
        res = output_range(net, dom)
        assert res.complete
        for k in range(2):
            assert res.outputs[k]["max"] == pytest.approx(F[:, k].max(), abs=1e-9)
            assert res.outputs[k]["min"] == pytest.approx(F[:, k].min(), abs=1e-9)
            assert net.forward(np.array(res.outputs[k]["argmax"]))[k] == pytest.approx(F[:, k].max(), abs=1e-9)
        slopes = np.abs(np.diff(F[:, 1]) / np.diff(xs))
        L = lipschitz(net, dom, output=1)
        assert L.lipschitz == pytest.approx(slopes.max(), abs=1e-9)
        assert L.lipschitz <= L.global_upper_bound + 1e-12


@pytest.mark.parametrize("seed", range(3))
def test_2d_box_range_equals_the_maximum_over_exact_region_polygons(seed):
    net = random_network(2, [7, 6], seed, outputs=3)
    dom = Box([-1.0, -0.8], [0.9, 1.1])
    polys = region_polygons(count_regions(net, dom, engine="bfs"))
    V = np.vstack(polys)  # a piecewise-linear function peaks at a vertex of its pieces
    F = net.forward(V)
    res = output_range(net, dom)
    for k in range(3):
        assert res.outputs[k]["max"] == pytest.approx(F[:, k].max(), abs=1e-9)
        assert res.outputs[k]["min"] == pytest.approx(F[:, k].min(), abs=1e-9)
    assert res.programmes_solved < 2 * 3 * res.regions  # the bounds prune


@pytest.mark.parametrize("norm", [2, 1, "inf"])
def test_2d_lipschitz_equals_finite_differences_over_the_regions(norm):
    net = random_network(2, [8, 8], 5, outputs=2)
    dom = Ball([0.1, -0.1], 0.8, norm=norm)
    res = count_regions(net, dom, engine="bfs")
    q = {2: 2, 1: np.inf, "inf": 1}[norm]
    h = 1e-7
    best = 0.0
    for r in res.regions:  # central differences at each region's interior point
        g = [(net.forward(r.point + h * e) - net.forward(r.point - h * e))[0] / (2 * h) for e in np.eye(2)]
        best = max(best, np.linalg.norm(g, ord=q))
    L = lipschitz(net, dom, norm=norm)
    assert L.lipschitz == pytest.approx(best, rel=1e-6)
    assert L.lipschitz <= L.global_upper_bound


def test_linear_model_range_over_a_ball_is_its_support_function():
    w, b = np.array([[0.6, -0.8, 2.0]]), np.array([0.3])
    net = Network([np.eye(3), w], [np.full(3, 10.0), b])  # hidden units active on the whole ball
    c, r = np.array([0.1, 0.2, -0.3]), 0.5
    res = output_range(net, Ball(c, r))
    assert res.regions == 1
    assert res.outputs[0]["max"] == pytest.approx(w[0] @ c + 10.0 * w[0].sum() + b[0] + r * np.linalg.norm(w), abs=1e-9)
    assert res.outputs[0]["min"] == pytest.approx(w[0] @ c + 10.0 * w[0].sum() + b[0] - r * np.linalg.norm(w), abs=1e-9)
    L = lipschitz(net, Ball(c, r))
    assert L.lipschitz == pytest.approx(np.linalg.norm(w), abs=1e-12)


def test_an_incomplete_count_is_labelled():
    net = random_network(2, [16, 16], 1, outputs=2)
    res = output_range(net, Box(-1, 1, dim=2), max_regions=5)
    assert not res.complete and res.regions == 5


def test_cli_range_and_lipschitz_json(tmp_path, capsys):
    net = random_network(2, [6, 6], 2, outputs=3)
    save_npz(net, tmp_path / "m.npz")
    assert main(["range", str(tmp_path / "m.npz"), "--box", "-1", "1", "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["outputs"]) == 3 and set(out["outputs"][0]) == {"min", "max", "argmin", "argmax"}
    assert out["outputs"][1]["max"] == pytest.approx(output_range(net, Box(-1, 1, dim=2)).outputs[1]["max"])
    assert main(["lipschitz", str(tmp_path / "m.npz"), "--ball", "0,0", "0.5", "--norm", "inf", "--classes",
                 "0", "2", "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"lipschitz", "point", "global_upper_bound"} and out["norm"] == "inf"
    assert main(["lipschitz", str(tmp_path / "m.npz"), "--box", "-1", "1", "--output", "9", "--quiet"]) == 2
    assert "does not exist" in capsys.readouterr().err

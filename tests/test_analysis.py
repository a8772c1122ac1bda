"""Exact output ranges and local Lipschitz constants from the regions (exactregions.analysis),
held to brute force: breakpoints in 1-D, exact region polygons in 2-D, closed forms."""

import json

import numpy as np
import pytest

from exactregions import Ball, Box, Network, Plane, as_network, count_regions
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
    best = 0.0
    for r in res.regions:  # central differences at each region's interior point, inside the region
        h = min(1e-4, r.inradius / 4)
        g = [(net.forward(r.point + h * e) - net.forward(r.point - h * e))[0] / (2 * h) for e in np.eye(2)]
        best = max(best, np.linalg.norm(g, ord=q))
    L = lipschitz(net, dom, norm=norm)
    assert L.lipschitz == pytest.approx(best, abs=1e-9)
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


def _margin(net, X, label):
    F = net.forward(X)
    return F[:, label] - np.max(np.delete(F, label, axis=1), axis=1)


@pytest.mark.parametrize("seed", range(5))
def test_robustness_verdicts_agree_with_brute_force(seed):
    """Robust: no sampled point nor a local optimiser from the worst samples finds a smaller
    margin than the exact one (which is positive); not robust: the counterexample is real."""
    from scipy.optimize import minimize

    from exactregions.analysis import robust

    net = random_network(2, [8, 8], seed, outputs=3)
    rng = np.random.default_rng(seed)
    seen = set()
    for r in (1e-3, 0.05, 0.2, 0.6):
        dom = Ball(np.array([0.1, -0.2]), r)
        v = robust(net, dom, exact_margin=True)
        seen.add(v.verdict)
        X = dom.sample(20000, rng)
        m = _margin(net, X, v.label)
        if v.verdict == "robust":
            assert v.min_margin > 0 and m.min() >= v.min_margin - 1e-12
            def in_ball(x):  # the optimiser's point, projected onto the closed ball
                u = x - dom.center
                return dom.center + u * min(1.0, r / max(np.linalg.norm(u), 1e-300))

            for x0 in X[np.argsort(m)[:3]]:
                opt = minimize(lambda x: _margin(net, in_ball(x)[None], v.label)[0], x0, method="Nelder-Mead",
                               options={"xatol": 1e-10, "fatol": 1e-12})
                assert opt.fun >= v.min_margin - 1e-9
        else:
            assert v.verdict == "not robust"
            x = np.array(v.counterexample)
            assert np.linalg.norm(x - dom.center) < r
            assert int(np.argmax(net.forward(x))) == v.counterexample_class != v.label
    assert "robust" in seen


@pytest.mark.parametrize("seed", range(3))
def test_smallest_margin_over_a_box_equals_the_minimum_over_exact_region_polygons(seed):
    from exactregions.analysis import robust

    net = random_network(2, [6, 6], 10 + seed, outputs=3)
    dom = Box([-0.3, -0.2], [0.2, 0.4])
    polys = region_polygons(count_regions(net, dom, engine="bfs"))
    V = np.vstack(polys)
    v = robust(net, dom, label=int(np.argmax(net.forward(dom.seed_point()))), radius_search=False, exact_margin=True)
    if v.min_margin is not None:  # complete (no early counterexample): exact against the vertices
        assert v.min_margin == pytest.approx(_margin(net, V, v.label).min(), abs=1e-9)
    else:
        assert v.verdict == "not robust" and _margin(net, V, v.label).min() < 0


def test_linear_classifier_adversarial_radius_is_the_distance_to_its_hyperplane():
    from exactregions.analysis import robust

    w, b = np.array([1.0, 2.0, -0.5]), 0.4
    W = np.vstack([w, np.zeros(3)])
    net = Network([np.eye(3), W], [np.full(3, 10.0), np.array([b, 0.0]) - W @ np.full(3, 10.0)])
    c = np.array([0.3, 0.1, 0.2])
    dist = abs(w @ c + b) / np.linalg.norm(w)
    big = robust(net, Ball(c, 2 * dist), radius_search=True, exact_margin=True)
    assert big.verdict == "not robust" and big.radius == pytest.approx(dist, abs=1e-9)
    small = robust(net, Ball(c, 0.9 * dist), radius_search=True, exact_margin=True)
    assert small.verdict == "robust" and small.radius is None
    assert small.min_margin == pytest.approx(abs(w @ c + b) - 0.9 * dist * np.linalg.norm(w), abs=1e-9)


def test_a_counterexample_stops_the_traversal_early():
    from exactregions.analysis import robust

    net = random_network(2, [16, 16], 4, outputs=4)
    dom = Ball([0.0, 0.0], 1.5)
    v = robust(net, dom)
    assert v.verdict == "not robust" and v.min_margin is None
    assert v.regions < count_regions(net, dom).activation_regions


def test_cli_robust_exit_codes_and_json(tmp_path, capsys):
    from exactregions.analysis import robust

    net = random_network(2, [8, 8], 3, outputs=3)
    save_npz(net, tmp_path / "m.npz")
    m = str(tmp_path / "m.npz")
    small, large = robust(net, Ball([0.1, 0.2], 0.05)), robust(net, Ball([0.1, 0.2], 1.0))
    assert (small.verdict, large.verdict) == ("robust", "not robust")
    assert main(["robust", m, "--ball", "0.1,0.2", "0.05", "--json", "--quiet", "--exact-margin"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "robust" and out["min_margin"] > 0 and out["counterexample"] is None
    assert main(["robust", m, "--ball", "0.1,0.2", "1.0", "--json", "--quiet", "--radius-search"]) == 10
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "not robust" and len(out["counterexample"]) == 2 and 0 < out["radius"] < 1.0
    assert main(["robust", m, "--ball", "0.1,0.2", "1.0", "--quiet", "--time-limit", "1e-9"]) == 3
    assert "unknown" in capsys.readouterr().out
    assert main(["robust", m, "--ball", "0.1,0.2", "1.0", "--quiet", "--label", "7"]) == 2


def test_answers_in_the_reduced_space_equal_the_unreduced_ones():
    """A 12-D ball of a rank-3 first layer: ranges and verdicts are solved in 3-D and lifted back."""
    rng = np.random.default_rng(0)
    base = random_network(12, [6, 6], 1, outputs=3)
    W0 = rng.normal(size=(6, 3)) @ rng.normal(size=(3, 12)) / np.sqrt(12)
    net = Network([W0, *base.weights[1:]], base.biases)
    from exactregions.analysis import robust

    c = np.full(12, 0.05)
    for r in (0.3, 1.2):
        dom = Ball(c, r)
        a, b = output_range(net, dom), output_range(net, dom, reduce=False)
        for oa, ob in zip(a.outputs, b.outputs):
            assert oa["max"] == pytest.approx(ob["max"], abs=1e-8) and oa["min"] == pytest.approx(ob["min"], abs=1e-8)
            assert np.linalg.norm(np.array(oa["argmax"]) - c) <= r + 1e-9
        va, vb = robust(net, dom, radius_search=True), robust(net, dom, radius_search=True, reduce=False)
        assert va.verdict == vb.verdict
        assert (va.radius is None) == (vb.radius is None)
        if va.radius is not None:
            assert va.radius == pytest.approx(vb.radius, abs=1e-8)
        if va.counterexample is not None:
            assert len(va.counterexample) == 12
            assert int(np.argmax(net.forward(np.array(va.counterexample)))) == va.counterexample_class


@pytest.mark.parametrize("norm,dual", [("inf", 1), (1, np.inf)])
def test_linear_classifier_adversarial_radius_in_the_l1_and_linf_norms(norm, dual):
    """The distance in the p-norm to the hyperplane w x + b = 0 is |w c + b| / ||w||_q."""
    from exactregions.analysis import robust

    w, b = np.array([1.0, 2.0, -0.5]), 0.4
    W = np.vstack([w, np.zeros(3)])
    net = Network([np.eye(3), W], [np.full(3, 10.0), np.array([b, 0.0]) - W @ np.full(3, 10.0)])
    c = np.array([0.3, 0.1, 0.2])
    dist = abs(w @ c + b) / np.linalg.norm(w, ord=dual)
    v = robust(net, Ball(c, 2 * dist, norm=norm), radius_search=True)
    assert v.verdict == "not robust" and v.radius == pytest.approx(dist, abs=1e-8)
    assert robust(net, Ball(c, 0.9 * dist, norm=norm), radius_search=True).radius is None


def test_the_answers_take_a_torch_module_and_a_model_path(tmp_path):
    import torch
    import torch.nn as nn

    from exactregions.analysis import robust

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 6), nn.ReLU(), nn.Linear(6, 3))
    net = as_network(model)
    save_npz(net, tmp_path / "m.npz")
    dom = Ball(torch.tensor([0.1, -0.2]), 0.5)
    for m in (model, tmp_path / "m.npz"):
        assert lipschitz(m, dom, classes=(0, 2)).lipschitz == pytest.approx(lipschitz(net, dom, classes=(0, 2)).lipschitz)
        assert output_range(m, dom).outputs[1]["max"] == pytest.approx(output_range(net, dom).outputs[1]["max"])
        assert robust(m, dom).verdict == robust(net, dom).verdict
    with pytest.raises(ValueError, match="ball, box, polytope"):
        lipschitz(net, Plane([0.0, 0.0], [1.0, 0.0], [0.0, 1.0]))

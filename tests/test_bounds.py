"""The bounds module against the worked numbers of the literature and against exact counts."""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exactregions import Ball, Box, Network, Whole, count_regions
from exactregions.bounds import (ALL_METHODS, GLOBAL_METHODS, all_bounds, compare, cover, critical_radius,
                                 global_bound, hybrid_bound, phi, restricted_count_ball)
from exactregions.cli import main

from conftest import DATA, random_net

# ../shared/bounds.md §3: (U1, U2, U3, U4) = montufar2014, raghu2017, montufar2017, serra2018
WORKED = {
    (1, 3, 3): (64, 16, 16, 16),
    (1, 2, 2, 2): (64, 27, 27, 27),
    (2, 2, 2, 2): (64, 64, 64, 30),
    (2, 4): (16, 11, 11, 11),
    (3, 5): (32, 26, 26, 26),
    (2, 4, 4): (256, 121, 121, 121),
    (2, 6, 6): (4096, 484, 484, 484),
    (2, 8, 8, 8): (16777216, 50653, 50653, 50653),
    (10, 5, 5): (1024, 1024, 1024, 638),
    (784, 11, 11): (4194304, 4194304, 4194304, 2449868),
    (784, 10, 10, 10): (1073741824, 1073741824, 1073741824, 365139905),
}


@pytest.mark.parametrize("arch", WORKED)
def test_global_bounds_worked_numbers(arch):
    got = tuple(global_bound(list(arch), m).value for m in ("montufar2014", "raghu2017", "montufar2017", "serra2018"))
    assert got == WORKED[arch]
    assert got[3] <= got[2] <= got[1] <= got[0]


def test_serra_bottleneck_numbers():
    u4 = {(2, 20): 254, (5, 17): 35443, (11, 11): 2449868, (16, 6): 4158861}
    for (a, b), v in u4.items():
        assert global_bound([784, a, b], "serra2018").value == v
    assert global_bound([784, 5, 17], "montufar2017").value == 300864


def test_arrangement_primitives():
    assert [phi(3, 2), phi(4, 2), phi(5, 3), phi(10, 2), phi(20, 3)] == [7, 11, 26, 56, 1351]
    assert [cover(3, 2), cover(4, 3), cover(5, 3)] == [6, 14, 22]
    W, b = np.array([[1.0, 0], [0, 1], [1, 1]]), np.array([0.0, 0, -1])
    assert [restricted_count_ball(W, b, np.zeros(2), r) for r in (0.3, 0.8, 1.2)] == [4, 5, 7]


def test_rank_variant_uses_the_weights():
    rng = np.random.default_rng(0)
    W2 = np.outer(rng.normal(size=4), rng.normal(size=4))  # rank 1
    net = Network([rng.normal(size=(4, 2)), W2, np.ones((1, 4))], [rng.normal(size=4), rng.normal(size=4), [0.0]])
    rank_b = global_bound(net, "serra2018_rank").value
    assert rank_b < global_bound(net, "serra2018").value == 121
    assert count_regions(net, Whole(2)).activation_regions <= rank_b
    assert global_bound([2, 4, 4], "serra2018_rank").value is None  # needs weights


def test_leaky_relu_has_no_dimension_drop():
    net = random_net(2, [2, 2, 2], seed=0, slope=0.1)
    assert global_bound(net, "serra2018").value == global_bound(net, "montufar2017").value == 64


WORKED_NET = Network([[[1, 0], [0, 1], [1, 1]], [[1, 1, 1]], [[1.0]]], [[0, 0, -1], [-3], [0]])


def test_local_bound_worked_example():
    b08 = all_bounds(WORKED_NET, Ball([0, 0], 0.8))
    assert b08["serra2018"].value == 14
    assert b08["local"].value == 7 and b08["local_t1"].value == 5
    b12 = all_bounds(WORKED_NET, Ball([0, 0], 1.2))
    assert b12["local"].value == 14 and b12["local_t1"].value == 14
    assert b12["local_lp"].value == 7  # the LP relaxation proves unit 4 never fires: the truth
    corner = all_bounds(WORKED_NET, Ball([-0.5, -0.5], 0.45))
    assert all(corner[m].value == 1 for m in ("local", "stable", "local_interval", "local_lp", "hybrid"))
    assert critical_radius(WORKED_NET, [-0.5, -0.5]) == pytest.approx(0.5)


def test_hybrid_with_all_layers_is_the_exact_count():
    net = random_net(2, [8, 8, 6], seed=3)
    dom = Ball([0.1, -0.2], 0.6)
    exact = count_regions(net, dom).activation_regions
    assert hybrid_bound(net, dom, k=3).value == exact
    assert exact <= hybrid_bound(net, dom, k=2).value <= hybrid_bound(net, dom, k=1).value


def test_local_bounds_on_reference_nets_are_sound_and_ordered():
    from conftest import reference_cases, reference_net
    for case in reference_cases()[:4]:
        net = reference_net(case)
        dm = case["domain"]
        dom = Box(dm["lo"], dm["hi"], dim=net.input_dim) if dm["kind"] == "box" else Ball(dm["center"], dm["radius"])
        b = all_bounds(net, dom)
        n = case["activation_regions"]
        assert all(v.value >= n for v in b.values() if v.value is not None)
        assert b["local_interval"].value <= b["stable"].value <= b["serra2018"].value
        assert b["local_lp"].value <= b["local_interval"].value


def _random_small_net(draw):
    d = draw(st.integers(1, 4))
    L = draw(st.integers(1, 3))
    widths = [draw(st.integers(1, 8)) for _ in range(L)]
    seed = draw(st.integers(0, 10**6))
    rng = np.random.default_rng(seed)
    dims = [d] + widths + [1]
    Ws = [rng.normal(size=(dims[i + 1], dims[i])) for i in range(len(dims) - 1)]
    bias_free = draw(st.booleans())
    bs = [np.zeros(dims[i + 1]) if bias_free else rng.normal(size=dims[i + 1]) * 0.5 for i in range(len(dims) - 1)]
    if draw(st.booleans()):  # a dead neuron
        l = draw(st.integers(0, L - 1))
        Ws[l][0] = 0.0
        bs[l][0] = -1.0
    if draw(st.booleans()) and widths[0] >= 2:  # a duplicated (rescaled) neuron
        Ws[0][1], bs[0][1] = 2.0 * Ws[0][0], 2.0 * bs[0][0]
    return Network(Ws, bs), rng


@st.composite
def net_and_ball(draw):
    net, rng = _random_small_net(draw)
    c = rng.normal(size=net.input_dim) * 0.5
    r = draw(st.sampled_from([0.05, 0.2, 0.5, 1.0, 2.0]))
    return net, c, r


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(net_and_ball())
def test_soundness_property_exact_count_below_every_upper_bound(case):
    net, c, r = case
    dom = Ball(c, r)
    exact = count_regions(net, dom).activation_regions
    for m, b in all_bounds(net, dom).items():
        assert b.value is None or exact <= b.value, (m, exact, b.value)
    rstar = critical_radius(net, c)
    if rstar > 0 and np.isfinite(rstar):
        assert count_regions(net, Ball(c, 0.9 * rstar)).activation_regions == 1


@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(net_and_ball(), st.sampled_from(["box", "inf", "l1"]))
def test_soundness_on_boxes_and_other_norms(case, kind):
    net, c, r = case
    dom = {"box": Box(c - r, c + 0.5 * r), "inf": Ball(c, r, norm="inf"), "l1": Ball(c, r, norm=1)}[kind]
    exact = count_regions(net, dom).activation_regions
    for m, b in all_bounds(net, dom).items():
        assert b.value is None or exact <= b.value, (m, exact, b.value)


def test_compare_reports_ratios():
    net = random_net(2, [6, 6], seed=5)
    cmp_ = compare(net, Ball([0.0, 0.0], 0.7))
    d = cmp_.to_dict()
    n = d["activation_regions"]
    assert set(d["bounds"]) == set(ALL_METHODS)
    assert d["ratios"]["serra2018"] == pytest.approx(d["bounds"]["serra2018"] / n)
    assert "bound / exact" in cmp_.table()


def test_cli_bound_arch_and_compare_json(capsys):
    assert main(["bound", "--arch", "784,11,11", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["bounds"]["serra2018"] == 2449868 and out["bounds"]["serra2018_rank"] is None
    assert set(out["bounds"]) == set(GLOBAL_METHODS)
    net = str(DATA / "d2_8.npz")
    assert main(["compare", net, "--ball", "0.1,-0.2", "0.7", "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["activation_regions"] == 24 and out["complete"] is True
    assert all(v >= 24 for v in out["bounds"].values() if v is not None)
    assert main(["bound", net, "--ball", "0.1,-0.2", "0.7", "--method", "local", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["bounds"] == {"local": 37}
    assert main(["compare", net, "--box", "-1", "1"]) == 0
    assert "hybrid" in capsys.readouterr().out


def test_cli_bound_bad_input(capsys):
    assert main(["bound", "--arch", "784,x"]) == 2
    assert "not a comma-separated list" in capsys.readouterr().err
    assert main(["bound"]) == 2
    assert "--arch" in capsys.readouterr().err

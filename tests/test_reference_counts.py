"""Ground truth: counts of three independent public exact counters (../shared/reference)."""

import pytest

from exactregions import Ball, Box, count_regions

from conftest import reference_cases, reference_net

CASES = reference_cases()


@pytest.mark.parametrize("case", CASES, ids=[f"{c['net']}-{c['domain']['kind']}" for c in CASES])
def test_reference_count(case):
    net = reference_net(case)
    dom = case["domain"]
    if dom["kind"] == "box":
        domain = Box(dom["lo"], dom["hi"], dim=net.input_dim)
    else:
        domain = Ball(dom["center"], dom["radius"])
    res = count_regions(net, domain)
    assert res.complete
    assert res.activation_regions == case["activation_regions"]
    assert res.activation_regions >= case["sampling_lower_bound"]


def test_reference_small_net_verifies():
    case = CASES[1]  # d2_8 in the disc
    res = count_regions(reference_net(case), Ball(case["domain"]["center"], case["domain"]["radius"]))
    rep = res.verify()
    assert rep.ok and rep.regions_checked == 24

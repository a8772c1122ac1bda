"""Time limits hold everywhere: every engine and every answer, given a workload that would run
for minutes and ``time_limit=1``, returns within the promise (the limit plus max(1 s, 5%)), with
a labelled lower bound that counts at least the seed's region. Also inside one region's LPs (a
high-dimensional ball whose first region has hundreds of rows to decide), in worker processes
and threads, and from the command line.

These test the promise, not speed: the allowance is the promised max(1 s, 5%) plus a slack for
a loaded machine (and for starting worker processes); the workloads are sized so that not
keeping the limit would take far longer than that. The compiled kernels are loaded before any
timing (a first compile is not part of a count's limit)."""

import json
import pickle
import time

import numpy as np
import pytest

from exactregions import Ball, Box, Segment, count_regions, lipschitz, output_range, robust
from exactregions.analysis import _best_over_regions, _domain_rows, _min_margin, decision_regions
from exactregions.cli import main
from exactregions.deadline import Deadline, TimeLimitReached, reporter
from exactregions.io import save_npz
from exactregions.polygons import polygon_area

from conftest import random_net

LIMIT = 1.0
SLACK = 1.0  # a loaded machine
PROCESS_SLACK = 2.0  # starting worker processes


def allowance(limit=LIMIT, slack=SLACK):
    return limit + max(1.0, 0.05 * limit) + slack


def timed(f, *args, **kwargs):
    t = time.perf_counter()
    out = f(*args, **kwargs)
    return out, time.perf_counter() - t


@pytest.fixture(scope="module", autouse=True)
def kernels_loaded():
    """Load (or compile) every compiled kernel once, outside the timings."""
    small = random_net(2, [4], seed=0)
    for engine in ("bfs", "subdivision", "planar"):
        count_regions(small, Box(-1, 1, dim=2), engine=engine, kernel="numba") if engine != "planar" else \
            count_regions(small, Box(-1, 1, dim=2), engine=engine)
    count_regions(random_net(3, [4], seed=0), Box(-1, 1, dim=3), engine="subdivision", kernel="numba")


def assert_lower_bound(res):
    assert res.complete is False and res.stop_reason == "time_limit"
    assert res.activation_regions >= 1
    assert res.label().startswith(f">= {res.activation_regions} (lower bound")


def assert_regions_are_real(res, net, domain):
    """Each region kept is a region of the domain: its point is inside and has its pattern."""
    for r in res.regions:
        assert domain.contains(r.point[None])[0]
        assert np.array_equal(net.pattern(r.point), r.pattern)


def test_a_deadline_travels_to_another_process_as_the_same_moment():
    d = Deadline(30.0)
    back = pickle.loads(pickle.dumps(d))
    assert abs(back.at - d.at) < 0.05 and not back.expired()
    assert Deadline.of(d) is d and Deadline.of(None).remaining() == np.inf and not Deadline(None)
    gone = Deadline(0.0)
    assert gone.expired() and gone.remaining() == 0.0
    with pytest.raises(TimeLimitReached):
        gone.check()


def test_the_reporter_keeps_three_argument_callbacks_working():
    seen, full = [], []
    report = reporter(lambda found, frontier, seconds: seen.append(found), every=0.0)
    report(3, 1, 0.5, stage="region 1", detail="10 of 400 rows decided")
    report2 = reporter(lambda found, frontier, seconds, stage=None, detail=None: full.append(detail), every=0.0)
    report2(3, 1, 0.5, stage="region 1", detail="10 of 400 rows decided")
    assert seen == [3] and full == ["10 of 400 rows decided"]


def test_bfs_keeps_its_limit():
    net = random_net(5, [48, 48], seed=1)
    dom = Box(-4, 4, dim=5)
    res, took = timed(count_regions, net, dom, engine="bfs", time_limit=LIMIT, kernel="numpy")
    assert took <= allowance(), took
    assert_lower_bound(res)
    assert res.activation_regions > 1 and res.stats["frontier_left"] > 0
    assert_regions_are_real(res, net, dom)


def test_a_count_stopped_before_its_first_region_counts_the_seed_region():
    net = random_net(3, [8, 8], seed=0)
    dom = Box(-2, 2, dim=3)
    full = count_regions(net, dom, engine="bfs")
    patterns = {r.pattern.tobytes() for r in full.regions}
    for engine in ("bfs", "subdivision"):
        res = count_regions(net, dom, engine=engine, time_limit=0.0)
        assert res.label() == ">= 1 (lower bound: stopped by the time limit)"
        assert res.activation_regions == 1 and res.regions[0].pattern.tobytes() in patterns
        assert_regions_are_real(res, net, dom)
    plane, square = random_net(2, [16, 16], seed=0), Box(-3, 3, dim=2)
    walked = count_regions(plane, square, engine="planar", polygons=True)
    where = {r.pattern.tobytes(): i for i, r in enumerate(walked.regions)}
    res = count_regions(plane, square, engine="planar", time_limit=0.0, polygons=True)
    assert res.activation_regions == 1 and len(res.polygons) == 1
    k = where[res.regions[0].pattern.tobytes()]  # one of the walk's regions, with the same polygon
    assert abs(polygon_area(res.polygons[0])) == pytest.approx(abs(polygon_area(walked.polygons[k])), rel=1e-9)


def test_a_segment_stopped_after_a_layer_counts_its_intervals():
    """The 1-D pass checks the deadline after each layer: its intervals so far each hold a
    different region (a lower bound, without the regions, whose patterns are not known yet)."""
    net = random_net(3, [30, 30, 30], seed=4)
    seg = Segment(np.full(3, -5.0), np.full(3, 5.0))
    full = count_regions(net, seg)
    part = count_regions(net, seg, time_limit=0.0)
    assert full.complete and not part.complete and part.stop_reason == "time_limit" and part.regions == []
    assert 1 <= part.activation_regions < full.activation_regions
    assert part.label().startswith(f">= {part.activation_regions} (lower bound")


def test_the_limit_holds_inside_one_regions_lps():
    """150-D ball, widths 300, 300, no reduction: the first region has about 200 rows left to
    facet LPs, a minute of work on its own; the count stops inside it, with that region."""
    net = random_net(150, [300, 300], seed=0)
    dom = Ball(np.zeros(150), 30.0)
    seen = []

    def progress(found, frontier, seconds, stage=None, detail=None):
        seen.append((stage, detail))

    res, took = timed(count_regions, net, dom, engine="bfs", reduce=False, time_limit=LIMIT, progress=progress,
                      kernel="numpy")
    assert took <= allowance(), took
    assert_lower_bound(res)
    assert res.activation_regions == 1 and res.stats["frontier_left"] == 1  # (still the first region)
    assert any(stage == "region 1" and detail for stage, detail in seen)  # the line moved inside the region
    assert_regions_are_real(res, net, dom)


def test_a_regions_analysis_says_what_it_decides():
    """The progress detail inside one region: its rows decided and left, step by step (what the
    progress line shows while a high-dimensional region takes long)."""
    from exactregions.engines.bfs import _directions
    from exactregions.engines.region import Tolerances, analyse_region, generic_seed, traversal_setup
    from exactregions.oracle import Oracle

    net = random_net(20, [60, 60], seed=0)
    dom = Ball(np.zeros(20), 5.0)
    unstable, _, rows, cap = traversal_setup(net, dom)
    seed, _ = generic_seed(net, dom, unstable, Tolerances())
    said = []
    geo = analyse_region(net, net.pattern(seed), unstable, rows, dom.l2_ball, Oracle(), Tolerances(), cap,
                         directions=_directions(20), box=dom.bounding_box(), tick=said.append)
    m = geo.G.shape[0]
    assert said[0] == f"Chebyshev LP, {m} rows" and len(geo.facets) > 0
    assert any(f"of {m} rows decided" in s for s in said[1:])
    left = [s for s in said if s.endswith("left by LP")]
    assert left and left[-1].endswith(" 1 left by LP")  # one message per row an LP decides, to the last


def test_subdivision_keeps_its_limit_in_this_process_and_in_workers():
    net = random_net(4, [64, 64, 64], seed=2)
    dom = Box(-4, 4, dim=4)
    res, took = timed(count_regions, net, dom, engine="subdivision", time_limit=LIMIT, kernel="numba")
    assert took <= allowance(), took
    assert_lower_bound(res)
    res, took = timed(count_regions, net, dom, engine="subdivision", time_limit=LIMIT, kernel="numba", workers=2)
    assert took <= allowance(slack=PROCESS_SLACK), took
    assert_lower_bound(res)
    assert_regions_are_real(res, net, dom)


def test_planar_keeps_its_limit_in_one_walk_and_in_threads():
    net = random_net(2, [400, 400, 400], seed=3)
    dom = Box(-6, 6, dim=2)
    for workers in (1, 2):
        res, took = timed(count_regions, net, dom, engine="planar", time_limit=LIMIT, workers=workers,
                          keep_regions=False)
        assert took <= allowance(), (workers, took)
        assert_lower_bound(res)


def test_output_range_keeps_its_limit():
    net = random_net(5, [48, 48], seed=1, out=2)
    res, took = timed(output_range, net, Box(-4, 4, dim=5), time_limit=LIMIT)
    assert took <= allowance(), took
    assert res.complete is False and res.regions >= 1
    assert all(o["min"] <= o["max"] for o in res.outputs)


def test_the_programmes_after_the_count_keep_the_deadline():
    """A deadline already past stops the per-region programmes before the first: the max is then
    the best value at the regions' own points (a value attained in the domain: a lower bound)."""
    net = random_net(3, [6], seed=0)
    dom = Box(-1, 1, dim=3)
    res = count_regions(net, dom, engine="bfs")
    value, point, solved, done = _best_over_regions(net, res, dom, _domain_rows(dom), 0, 1.0, Deadline(0.0))
    assert not done and solved == 0
    assert value == max(float(net.forward(r.point)[0]) for r in res.regions)
    exact, _, _, finished = _best_over_regions(net, res, dom, _domain_rows(dom), 0, 1.0)
    assert finished and exact >= value
    classifier = random_net(3, [6], seed=0, out=3)
    res = count_regions(classifier, dom, engine="bfs")
    assert _min_margin(classifier, res, dom, 0, Deadline(0.0))[-1] is False  # (not finished)
    full = decision_regions(classifier, dom, result=res)
    part = decision_regions(classifier, dom, result=res, time_limit=0.0)
    assert full.complete and full.programmes_solved > 0
    assert not part.complete and part.programmes_solved == 0 and part.regions_crossed == 0


def test_robust_keeps_its_limit():
    net = random_net(5, [48, 48], seed=1, out=3)
    res, took = timed(robust, net, Ball(np.zeros(5), 4.0), radius_search=True, time_limit=LIMIT)
    assert took <= allowance(), took
    assert res.verdict == "unknown" and res.complete is False and res.regions >= 1


def test_lipschitz_keeps_its_limit():
    net = random_net(5, [48, 48], seed=1, out=2)
    res, took = timed(lipschitz, net, Box(-4, 4, dim=5), time_limit=LIMIT)
    assert took <= allowance(), took
    assert res.complete is False and res.regions >= 1 and res.lipschitz > 0


def test_cli_time_limit_prints_a_lower_bound_promptly(capsys, tmp_path):
    path, centre = tmp_path / "wide.npz", tmp_path / "c.npy"
    save_npz(random_net(300, [400, 400], seed=0), path)
    np.save(centre, np.zeros(300))
    t = time.perf_counter()
    code = main(["count", str(path), "--ball", str(centre), "50", "--no-reduce", "--engine", "bfs",
                 "--time-limit", "1", "--quiet"])
    took = time.perf_counter() - t
    out = capsys.readouterr().out
    assert code == 0 and ">= 1 (lower bound" in out
    assert took <= allowance(), took
    code = main(["count", str(path), "--ball", str(centre), "50", "--no-reduce", "--engine", "bfs",
                 "--time-limit", "1", "--quiet", "--json"])
    res = json.loads(capsys.readouterr().out)
    assert res["lower_bound"] is True and res["stop_reason"] == "time_limit" and res["activation_regions"] >= 1

"""The vectorised subdivision engine against the BFS engine; parallel, Dask and resumable runs."""

import json

import numpy as np
import pytest

from exactregions import Ball, Box, Network, Polytope, count_regions
from exactregions.cli import main
from exactregions.engines import count_regions_subdivision
from exactregions.engines.parallel import run_plan
from exactregions.engines.subdivision import Degenerate, plan

from conftest import reference_cases, reference_net, random_net


def _patterns(res):
    return {r.pattern.tobytes() for r in res.regions}


@pytest.mark.parametrize("case", reference_cases(), ids=[f"{c['net']}-{c['domain']['kind']}" for c in reference_cases()])
def test_subdivision_reproduces_reference_counts(case):
    net, dm = reference_net(case), case["domain"]
    dom = Box(dm["lo"], dm["hi"], dim=net.input_dim) if dm["kind"] == "box" else Ball(dm["center"], dm["radius"])
    assert count_regions(net, dom, engine="subdivision").activation_regions == case["activation_regions"]


@pytest.mark.parametrize("seed", range(12))
def test_engines_agree_region_for_region(seed):
    rng = np.random.default_rng(seed)
    d = 1 + seed % 5
    widths = [int(w) for w in rng.integers(2, 10, size=1 + seed % 3)]
    net = random_net(d, widths, seed=seed, slope=0.1 if seed % 4 == 3 else 0.0)
    c = rng.uniform(-0.5, 0.5, size=d)
    for dom in (Box(c - 0.8, c + 0.6), Ball(c, 0.7), Ball(c, 0.5, norm="inf", clip=Box(-0.6, 0.6, dim=d))):
        sub = count_regions(net, dom, engine="subdivision")
        bfs = count_regions(net, dom, engine="bfs")
        assert sub.activation_regions == bfs.activation_regions
        assert _patterns(sub) == _patterns(bfs)
        assert all(dom.contains(r.point)[0] and np.array_equal(net.pattern(r.point), r.pattern) for r in sub.regions)


def _cell_complex(net, domain, kernel):
    """Every final cell of the subdivision: pattern -> (sorted vertices, number of edges)."""
    from exactregions.engines import subdivision as sd

    p = plan(net, domain, kernel=kernel)
    out = {}
    for cells, maps, layer, first in p.batches:
        for l in range(layer, len(net.hidden_widths)):
            cells, _ = sd._split_layer(net, cells, l, maps, p.unstable, p.fixed, p.m_dom, p.tol, kernel,
                                       first if l == layer else 0)
            cells, maps = sd._next_layer(net, cells, l, maps, None)
        nedges = np.bincount(cells.ecell, minlength=cells.n)
        for k in range(cells.n):
            V = cells.V[cells.vcell == k]
            out[cells.bits[k].tobytes()] = (V[np.lexsort(V.T[::-1])], nedges[k])
    return out


def _kernel_case(seed, d, widths, slope):
    """A seeded net with the given hidden widths, and a box (odd seeds) or a box cut by a
    diagonal plane (even seeds)."""
    net = random_net(d, [int(w) for w in widths], seed=seed, slope=slope)
    dom = Box(-1, 1, dim=d) if seed % 2 else Polytope(np.vstack([np.eye(d), -np.eye(d), np.ones((1, d))]),
                                                      np.r_[np.full(2 * d, 0.9), 0.5])
    return net, dom


@pytest.mark.parametrize("seed", range(8))
def test_numba_kernel_builds_the_same_cells_as_the_numpy_reference(seed):
    rng = np.random.default_rng(100 + seed)
    net, dom = _kernel_case(seed, 1 + seed % 6, rng.integers(3, 9, size=1 + seed % 3),
                            0.2 if seed % 3 == 2 else 0.0)
    fast, ref = _cell_complex(net, dom, "numba"), _cell_complex(net, dom, "numpy")
    assert len(fast) > 1 and fast.keys() == ref.keys()
    for key, (V, ne) in ref.items():
        assert fast[key][1] == ne  # the same edges: a vertex's d-1-face structure is the same
        np.testing.assert_allclose(fast[key][0], V, rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_the_collapsed_last_split_gives_the_regions_of_the_built_one(seed):
    """Above 2-D in a box or polytope the compiled kernel's last split keeps only patterns and
    vertex centroids: the same regions as the numpy kernel, which builds every cell, and each
    point inside the domain with its region's pattern."""
    rng = np.random.default_rng(200 + seed)
    net, dom = _kernel_case(seed, 3 + seed % 4, rng.integers(5, 10, size=2 + seed % 2),
                            0.1 if seed % 3 == 1 else 0.0)
    fast = count_regions_subdivision(net, dom, kernel="numba")
    ref = count_regions_subdivision(net, dom, kernel="numpy")
    assert fast.activation_regions == ref.activation_regions > 20
    assert _patterns(fast) == _patterns(ref)
    pts = np.array([r.point for r in fast.regions])
    assert dom.contains(pts).all()
    assert np.array_equal(net.pattern(pts), np.array([r.pattern for r in fast.regions]))


@pytest.mark.parametrize("kernel", ["numba", "numpy"])
def test_both_kernels_refuse_a_vertex_on_a_hyperplane(kernel):
    net = Network([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [[1.0, 1.0, 1.0]]], [[0.0, 0.0, 0.0], [0.0]])
    with pytest.raises(Degenerate, match="hyperplane of neuron 2"):
        count_regions(net, Box(-1, 1, dim=2), engine="subdivision", kernel=kernel)


def test_numba_kernel_falls_back_to_numpy_when_2face_codes_would_overflow(monkeypatch):
    # 8-D, constraint ids above 1,290: (id + 1)^6 >= 2^62, so the compiled pairing cannot encode
    # a 2-face in one integer; those splits take the numpy path (lexsort), with the same count
    from exactregions.engines import subdivision as sd

    rng = np.random.default_rng(0)
    W = rng.normal(size=(1300, 8))
    b = np.full(1300, 50.0)  # stable (always active) on the box ...
    b[-4:] = rng.normal(scale=0.1, size=4)  # ... except the last four neurons
    net = Network([W, np.ones((1, 1300))], [b, [0.0]])
    calls, reference = [], sd.split_numpy
    monkeypatch.setattr(sd, "split_numpy", lambda *a: (calls.append(a[2]), reference(*a))[1])
    res = count_regions(net, Box(-1, 1, dim=8), engine="subdivision", kernel="numba")
    assert calls == [1296, 1297, 1298, 1299]
    assert res.activation_regions == count_regions(net, Box(-1, 1, dim=8), engine="bfs").activation_regions == 16


def test_without_numba_auto_uses_the_numpy_kernel(monkeypatch):
    import sys

    import exactregions.engines as engines
    from exactregions.engines import subdivision as sd

    monkeypatch.setitem(sys.modules, "exactregions.engines._split_numba", None)  # import fails
    monkeypatch.delattr(engines, "_split_numba", raising=False)
    sd._numba_works.cache_clear()
    try:
        assert sd.resolve_kernel("auto") == "numpy"
        with pytest.raises(ValueError, match="numba is not installed"):
            sd.resolve_kernel("numba")
        res = count_regions(random_net(2, [6, 6], seed=1), Box(-1, 1, dim=2), engine="subdivision")
        assert res.stats["kernel"] == "numpy"
    finally:
        sd._numba_works.cache_clear()  # the next tests see numba again


def test_a_failing_compiled_kernel_falls_back_to_numpy(monkeypatch):
    from exactregions.engines import subdivision as sd

    def broken(*args):
        raise RuntimeError("no code generator for this CPU")

    monkeypatch.setattr(sd, "split_numba", broken)
    sd._numba_works.cache_clear()
    try:
        assert sd.resolve_kernel("auto") == "numpy"
        with pytest.raises(ValueError, match="no code generator for this CPU"):
            sd.resolve_kernel("numba")
    finally:
        sd._numba_works.cache_clear()


def test_unknown_kernel_is_refused():
    with pytest.raises(ValueError, match="unknown kernel 'c'"):
        count_regions(random_net(2, [3], seed=0), Box(-1, 1, dim=2), engine="subdivision", kernel="c")


@pytest.mark.parametrize("d,widths,radius,seed", [(7, [8, 8], 0.6, 3), (9, [7, 7], 0.5, 5)])
def test_engines_agree_on_balls_in_higher_dimension(d, widths, radius, seed):
    # the BFS skips rows whose hyperplane misses the ball and solves distance QPs by LDP; the
    # subdivision shares neither, and verify() re-derives every facet by LP
    net = random_net(d, widths, seed=seed)
    dom = Ball(np.full(d, 0.05), radius)
    bfs = count_regions(net, dom, engine="bfs")
    sub = count_regions(net, dom, engine="subdivision")
    assert bfs.activation_regions == sub.activation_regions > 50
    assert _patterns(bfs) == _patterns(sub)
    assert bfs.verify().ok


def test_subdivision_on_a_general_polytope_and_a_disc_clipped_to_a_box():
    net = random_net(2, [10, 10], seed=3)
    tri = Polytope([[-1.0, 0.0], [0.0, -1.0], [1.0, 1.0]], [0.8, 0.8, 0.9])
    assert count_regions(net, tri, engine="subdivision").activation_regions == count_regions(net, tri).activation_regions
    dom = Ball([0.9, 0.0], 0.6, clip=Box(-1, 1, dim=2))
    assert count_regions(net, dom, engine="subdivision").activation_regions == count_regions(net, dom).activation_regions


def test_degenerate_input_falls_back_to_planar_in_2d_and_bfs_above():
    # three lines through the origin: the third cuts two cells through an existing vertex
    net = Network([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [[1.0, 1.0, 1.0]]], [[0.0, 0.0, 0.0], [0.0]])
    dom = Box(-1, 1, dim=2)
    with pytest.raises(Degenerate):
        count_regions(net, dom, engine="subdivision")
    res = count_regions(net, dom, engine="auto")
    assert res.activation_regions == 6 and res.stats["engine"] == "planar"
    # the same three planes in 3-D (through a common line): the BFS is the last resort
    net3 = Network([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 1.0, 0.0]], [[1.0, 1.0, 1.0]]], [[0.0, 0.0, 0.0], [0.0]])
    res3 = count_regions(net3, Box(-1, 1, dim=3), engine="auto")
    assert res3.activation_regions == 6 and "bfs" in res3.numerics["engine_note"]


def test_parallel_workers_match_serial():
    net = random_net(3, [12, 12], seed=5)
    dom = Box(-1, 1, dim=3)
    serial = count_regions_subdivision(net, dom, batch_cells=16)
    par = count_regions_subdivision(net, dom, batch_cells=16, workers=2)
    assert serial.stats["batches"] > 2
    assert par.activation_regions == serial.activation_regions and _patterns(par) == _patterns(serial)


@pytest.mark.parametrize("widths", [[30, 8], [40]])
def test_a_large_first_layer_is_finished_by_the_batches(widths):
    # batch_cells=2: the first layer's bound (Zaslavsky) exceeds 256 batches, so the plan stops
    # the layer early and every batch finishes it from the same neuron
    net = random_net(3, widths, seed=2)
    dom = Ball([0.1, 0.0, -0.1], 0.9)
    p = plan(net, dom, batch_cells=2)
    firsts = {first for _, _, layer, first in p.batches}
    assert len(firsts) == 1 and 0 < firsts.pop() < widths[0] and len(p.batches) > 10
    assert all(layer == 0 for _, _, layer, _ in p.batches)
    serial = count_regions_subdivision(net, dom, batch_cells=2)
    whole = count_regions_subdivision(net, dom)  # the whole first layer in one piece
    assert plan(net, dom).batches[0][2] == 1  # default batch_cells: the first layer is done in the plan
    par = count_regions_subdivision(net, dom, batch_cells=2, workers=2)
    bfs = count_regions(net, dom, engine="bfs")
    assert serial.activation_regions == whole.activation_regions == par.activation_regions == bfs.activation_regions
    assert _patterns(serial) == _patterns(whole) == _patterns(par) == _patterns(bfs)


@pytest.mark.parametrize("pieces", [2, 3, 8])
def test_domain_pieces_merge_to_the_serial_regions(pieces):
    for net, dom in ((random_net(3, [10, 10], seed=11), Box(-1, 1, dim=3)),
                     (random_net(2, [12, 12], seed=12), Ball([0.4, -0.2], 0.8, clip=Box(-1, 1, dim=2)))):
        serial = count_regions_subdivision(net, dom)
        cut = count_regions_subdivision(net, dom, pieces=pieces)
        assert cut.activation_regions == serial.activation_regions and _patterns(cut) == _patterns(serial)
        assert cut.stats["regions_before_merge"] > cut.activation_regions  # regions crossing pieces merged
        assert all(dom.contains(r.point)[0] for r in cut.regions)


def test_dask_local_cluster_matches_serial():
    distributed = pytest.importorskip("dask.distributed")
    nets = [(random_net(2, [16, 16], seed=1), Ball([0.1, -0.2], 0.7)), (random_net(3, [8, 8, 8], seed=2), Box(-1, 1, dim=3))]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl:
        for net, dom in nets:
            serial = count_regions_subdivision(net, dom, batch_cells=8)
            remote = count_regions_subdivision(net, dom, batch_cells=8, scheduler=cl.scheduler_address)
            assert remote.activation_regions == serial.activation_regions and _patterns(remote) == _patterns(serial)
            pieces = count_regions_subdivision(net, dom, pieces=4, scheduler=cl.scheduler_address)
            assert _patterns(pieces) == _patterns(serial)


def test_checkpoint_resumes_after_an_interruption(tmp_path):
    net = random_net(2, [12, 12], seed=4)
    dom = Box(-1, 1, dim=2)
    p = plan(net, dom, batch_cells=4)
    full = count_regions_subdivision(net, dom, batch_cells=4)
    calls = {"n": 0}
    orig = type(p).run

    def flaky(self, i):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return orig(self, i)

    type(p).run = flaky
    try:
        _, _, partial, stop, _ = run_plan(p, checkpoint=tmp_path / "ck")
    finally:
        type(p).run = orig
    assert stop == "interrupted" and 0 < partial < full.activation_regions
    done = json.loads((tmp_path / "ck" / "manifest.json").read_text())["done"]
    assert len(done) == 3
    pats, pts, count, stop, st = run_plan(plan(net, dom, batch_cells=4), checkpoint=tmp_path / "ck")
    assert stop is None and count == full.activation_regions and st["batches_resumed"] == 3
    assert {q.tobytes() for q in pats} == _patterns(full)


def test_checkpoint_of_another_network_is_refused(tmp_path):
    dom = Box(-1, 1, dim=2)
    run_plan(plan(random_net(2, [6, 6], seed=0), dom), checkpoint=tmp_path / "ck")
    with pytest.raises(ValueError, match="another network"):
        run_plan(plan(random_net(2, [6, 6], seed=1), dom), checkpoint=tmp_path / "ck")


def test_count_only_keeps_no_regions_and_max_regions_is_a_lower_bound():
    net = random_net(2, [16, 16], seed=6)
    dom = Box(-1, 1, dim=2)
    full = count_regions_subdivision(net, dom, batch_cells=8, keep_regions=False)
    assert full.regions == [] and full.complete
    part = count_regions_subdivision(net, dom, batch_cells=8, max_regions=10)
    assert not part.complete and part.stop_reason == "max_regions" and 10 <= part.activation_regions < full.activation_regions
    par = count_regions_subdivision(net, dom, batch_cells=8, max_regions=10, workers=2)  # batches, not pieces
    assert not par.complete and 10 <= par.activation_regions < full.activation_regions
    with pytest.raises(ValueError, match="cannot stop pieces"):
        count_regions_subdivision(net, dom, max_regions=10, pieces=4)


def test_cli_engine_workers_and_checkpoint(tmp_path, capsys):
    from exactregions.io import save_npz
    save_npz(random_net(3, [10, 10], seed=7), tmp_path / "m.npz")
    outs = {}
    for extra in ([], ["--engine", "bfs"], ["--workers", "2"], ["--checkpoint", str(tmp_path / "ck")],
                  ["--kernel", "numpy"]):
        assert main(["count", str(tmp_path / "m.npz"), "--box", "-1", "1", "--json", "--quiet", *extra]) == 0
        outs[" ".join(extra)] = json.loads(capsys.readouterr().out)
    assert len({o["activation_regions"] for o in outs.values()}) == 1
    assert outs[""]["engine"] == "subdivision" and outs["--engine bfs"]["engine"] == "bfs"
    assert (tmp_path / "ck" / "manifest.json").exists()
    assert outs[""]["stats"]["kernel"] == "numba" and outs["--kernel numpy"]["stats"]["kernel"] == "numpy"
    assert main(["count", str(tmp_path / "m.npz"), "--box", "-1", "1", "--quiet", "--kernel", "numpy"]) == 0
    assert "subdivision (numpy kernel)" in capsys.readouterr().out


def test_bfs_checkpoint_resumes_to_the_same_result(tmp_path):
    from exactregions.engines import count_regions_bfs
    net = random_net(2, [10, 10], seed=8)
    dom = Ball([0.0, 0.1], 0.8)
    full = count_regions_bfs(net, dom)
    ck = tmp_path / "state.pickle"
    part = count_regions_bfs(net, dom, max_regions=7, checkpoint=ck)
    assert not part.complete and part.activation_regions == 7 and ck.exists()
    resumed = count_regions_bfs(net, dom, checkpoint=ck)
    assert resumed.complete and resumed.activation_regions == full.activation_regions
    assert [r.pattern.tobytes() for r in resumed.regions] == [r.pattern.tobytes() for r in full.regions]
    assert sorted(resumed.graph.edges) == sorted(full.graph.edges)
    assert resumed.linear_regions == full.linear_regions
    with pytest.raises(ValueError, match="another network"):
        count_regions_bfs(random_net(2, [10, 10], seed=9), dom, checkpoint=ck)


def test_bfs_interrupt_keeps_a_consistent_state(tmp_path, monkeypatch):
    from exactregions.engines import bfs as bfs_mod
    net = random_net(2, [10, 10], seed=10)
    dom = Box(-1, 1, dim=2)
    full = bfs_mod.count_regions(net, dom)
    calls = {"n": 0}
    orig = bfs_mod.analyse_region

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] == 12:
            raise KeyboardInterrupt
        return orig(*a, **k)

    monkeypatch.setattr(bfs_mod, "analyse_region", flaky)
    part = bfs_mod.count_regions(net, dom, checkpoint=tmp_path / "s.pickle")
    assert part.stop_reason == "interrupted" and part.activation_regions == 11
    monkeypatch.setattr(bfs_mod, "analyse_region", orig)
    again = bfs_mod.count_regions(net, dom, checkpoint=tmp_path / "s.pickle")
    assert again.complete and again.activation_regions == full.activation_regions


@pytest.mark.parametrize("seed", range(6))
def test_hull_ball_certificates_agree_with_the_exact_distance(seed):
    """The compiled hull-ball test says MEETS only when conv(V) comes closer than the radius and
    MISSES only when it does not (exact distance by cvxpy); its MEETS point lies in the ball."""
    cp = pytest.importorskip("cvxpy")
    from exactregions.engines import _split_numba as nb

    rng = np.random.default_rng(seed)
    d = 3 + seed
    sizes = rng.integers(d + 1, 3 * d, size=12)
    V = rng.normal(size=(sizes.sum(), d))
    start = np.r_[0, np.cumsum(sizes)]
    c = rng.normal(size=d) * 0.5
    exact = []
    for k in range(12):
        w = cp.Variable(sizes[k], nonneg=True)
        prob = cp.Problem(cp.Minimize(cp.sum_squares(V[start[k]:start[k + 1]].T @ w - c)), [cp.sum(w) == 1])
        prob.solve(solver=cp.CLARABEL)
        exact.append(np.sqrt(max(prob.value, 0.0)))
    exact = np.array(exact)
    decided = 0
    for r in (0.5 * np.median(exact) + 1e-3, np.median(exact), 2 * np.median(exact)):
        state, point = np.empty(12, np.int64), np.empty((12, d))
        nb.ball_hull(V, start, c, r, 60, state, point)
        assert np.all(exact[state == nb.MEETS] < r + 1e-7)
        assert np.all(exact[state == nb.MISSES] > r - 1e-7)
        assert np.all(np.linalg.norm(point[state == nb.MEETS] - c, axis=1) < r)
        decided += int((state != nb.UNDECIDED).sum())
    assert decided >= 30  # of 36 decisions, nearly all are certified without a QP


@pytest.mark.parametrize("d,widths,radius,seed", [(3, [10, 10], 0.8, 1), (5, [8, 8], 0.9, 2), (6, [7, 7], 1.0, 3)])
def test_both_kernels_count_the_same_regions_in_balls(d, widths, radius, seed):
    # the numba path prunes and decides rim cells by the hull-ball test, numpy by boxes and QPs
    net = random_net(d, widths, seed=seed)
    dom = Ball(np.linspace(-0.1, 0.1, d), radius)
    a = count_regions(net, dom, engine="subdivision", kernel="numba")
    b = count_regions(net, dom, engine="subdivision", kernel="numpy")
    assert a.activation_regions == b.activation_regions > 30
    assert _patterns(a) == _patterns(b)
    assert a.stats["qp_solves"] < b.stats["qp_solves"]
    for r in a.regions:
        assert np.linalg.norm(r.point - dom.center) < radius
        assert np.array_equal(net.pattern(r.point), r.pattern)


def test_auto_kernel_keeps_small_box_counts_off_the_compiled_kernel():
    """In a process that has not loaded numba, a small count stays with the numpy kernel (the
    load would cost more than the count); a large one, or any L2 ball, takes the compiled one."""
    from exactregions.engines import subdivision as sd

    assert sd._looks_small(random_net(2, [16, 16], seed=1), Box(-1, 1, dim=2))
    assert not sd._looks_small(random_net(4, [32, 32], seed=0), Box(-1, 1, dim=4))
    assert not sd._looks_small(random_net(2, [8], seed=0), Ball([0.0, 0.0], 0.5))
    assert not sd._looks_small(random_net(8, [4], seed=0), Box(-1, 1, dim=8))  # few regions, many vertices

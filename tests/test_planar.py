"""The planar engine: exact on degenerate arrangements, the same regions as the other
engines, MaxPool regions named by argmax, and the decision boundary."""

import io
import json

import numpy as np
import pytest
import torch
import torch.nn as nn

from exactregions import Ball, Box, Network, Plane, Polytope, count_regions
from exactregions.cli import main
from exactregions.engines import auto_engine
from exactregions.engines.planar import count_regions_planar
from exactregions.engines.subdivision import Degenerate
from exactregions.io import load_npz, save_npz
from exactregions.io.torch import from_torch
from exactregions.polygons import clip_disc, polygon_area

from conftest import random_net


def _patterns(res):
    return {r.pattern.tobytes() for r in res.regions}


def _sampled(net, domain, n=200000, seed=0):
    """Distinct region keys of n random points of the domain: a lower bound on the count."""
    X = domain.sample(n, np.random.default_rng(seed))
    return np.unique(np.packbits(net.region_keys(net.pattern(X)), axis=1), axis=0).shape[0]


def _check_points(net, domain, res):
    for r in res.regions:
        assert domain.contains(r.point[None])[0]
        assert np.array_equal(net.region_keys(net.pattern(r.point)), r.pattern)


@pytest.mark.parametrize("widths,domain", [
    ([8, 8], Box(-1, 1, dim=2)),
    ([16, 16, 16], Box([-0.5, -1.0], [1.0, 0.5])),
    ([12, 12], Ball([0.1, -0.2], 0.7)),
    ([12, 12], Ball([0.0, 0.1], 0.8, norm=1)),
])
def test_planar_equals_the_subdivision_region_for_region(widths, domain):
    net = random_net(2, widths, seed=sum(widths))
    a = count_regions(net, domain, engine="planar")
    b = count_regions(net, domain, engine="subdivision")
    assert a.complete and a.activation_regions == b.activation_regions > 20
    assert _patterns(a) == _patterns(b)
    _check_points(net, domain, a)


def _lines(normals, offsets, out=1):
    """A one-hidden-layer net whose units' lines are n . x + c = 0."""
    N = np.asarray(normals, float)
    return Network([N, np.ones((out, N.shape[0]))], [np.asarray(offsets, float), np.zeros(out)])


@pytest.mark.parametrize("k", [2, 3, 5, 8])
def test_k_lines_through_one_point_give_2k_regions(k):
    p = np.array([0.3, -0.2])
    ang = np.pi * np.arange(k) / k + 0.1
    N = np.stack([np.cos(ang), np.sin(ang)], axis=1)
    net = _lines(N, -N @ p)
    disc = Ball(p, 0.5)
    res = count_regions(net, disc, engine="auto")
    assert res.activation_regions == 2 * k
    assert count_regions(net, disc, engine="bfs").activation_regions == 2 * k
    assert _sampled(net, disc) == 2 * k
    _check_points(net, disc, res)
    if k > 2:  # several lines through a vertex of the first split: the general subdivision refuses
        with pytest.raises(Degenerate):
            count_regions(net, Box(p - 0.5, p + 0.5), engine="subdivision")


def test_repeated_parallel_and_constant_units():
    base = np.array([[1.0, 0.5], [-0.3, 1.0], [1.0, 1.0]])
    c = np.array([0.1, -0.2, 0.05])
    # a copy, a scaled copy, a flipped copy (same line, other side), a parallel line, three constants
    N = np.vstack([base, base[:1], 2.5 * base[1:2], -base[2:3], base[:1], np.zeros((3, 2))])
    off = np.r_[c, c[0], 2.5 * c[1], -c[2], c[0] + 0.4, 1.0, -1.0, 0.0]
    net = _lines(N, off)
    box = Box(-1, 1, dim=2)
    ref = count_regions(_lines(np.vstack([base, base[:1]]), np.r_[c, c[0] + 0.4]), box, engine="bfs")
    res = count_regions(net, box, engine="planar")
    assert res.activation_regions == ref.activation_regions == count_regions(net, box, engine="bfs").activation_regions
    assert res.activation_regions == _sampled(net, box)
    _check_points(net, box, res)
    bits = np.array([r.pattern for r in res.regions])
    assert bits[:, -3].all() and not bits[:, -2].any() and not bits[:, -1].any()  # constant units: fixed bits


def test_lines_through_box_corners_and_along_edges():
    # both diagonals of the square, and a line along its top edge
    net = _lines([[1.0, -1.0], [1.0, 1.0], [0.0, 1.0]], [0.0, 0.0, -1.0])
    box = Box(-1, 1, dim=2)
    res = count_regions(net, box, engine="auto")
    assert res.activation_regions == 4 == count_regions(net, box, engine="bfs").activation_regions
    assert res.stats["engine"] == "planar" or "planar" in res.numerics.get("engine_note", "")


def test_conv_net_on_images_with_constant_background():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 16, 6), nn.ReLU(),
                          nn.Linear(6, 2)).double()
    net = from_torch(model, input_shape=(1, 6, 6))
    rng = np.random.default_rng(0)
    imgs = np.zeros((3, 6, 6))
    imgs[:, 2:4, 2:4] = rng.uniform(0, 1, size=(3, 2, 2))  # zero background: most patches agree
    plane = Plane(*imgs.reshape(3, -1))
    res = count_regions(net, plane, engine="auto")
    assert res.stats["engine"] == "planar" and res.complete
    bfs = count_regions(net, plane, engine="bfs")
    assert res.activation_regions == bfs.activation_regions and _patterns(res) == _patterns(bfs)
    n2 = net.compose_affine(plane.basis, plane.p0)
    assert _sampled(n2, plane.domain_2d()) <= res.activation_regions


def test_planar_keeps_points_only_and_stops_with_a_lower_bound():
    net = random_net(2, [32, 32], seed=4)
    box = Box(-1, 1, dim=2)
    full = count_regions_planar(net, box, keep_regions=False)
    assert full.regions == [] and full.stats["points"].shape == (full.activation_regions, 2)
    part = count_regions_planar(net, box, max_regions=16384)
    assert not part.complete and part.activation_regions == 16384 or full.activation_regions < 16384


# ----------------------------------------------------------------------------- MaxPool

def _linf_pool():
    """max(x, -x, y, -y) = the L-inf norm, as one MaxPool window over four affine units."""
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 4)
            with torch.no_grad():
                self.lin.weight.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]]))
                self.lin.bias.zero_()
            self.pool = nn.MaxPool2d(2)
            self.out = nn.Linear(1, 1)

        def forward(self, x):
            return self.out(self.pool(self.lin(x).reshape(-1, 1, 2, 2)).reshape(-1, 1))
    return M().double()


def test_maxpool_regions_are_named_by_argmax_hand_count():
    net = from_torch(_linf_pool(), input_shape=(2,))
    assert net.pool_tree.shape == (3, 3)
    box = Box(-1, 1, dim=2)
    res = count_regions(net, box, engine="auto")
    # four argmax sectors; the tournament's own cells are eight (the lines x=0 and y=0 cut every
    # sector, but only one of them is a boundary of the max there)
    assert res.activation_regions == 4 and res.stats["cells"] == 8
    assert count_regions(net, box, engine="bfs").activation_regions == 4
    assert _sampled(net, box) == 4


@pytest.mark.parametrize("domain", [Box(-1, 1, dim=2), Ball([0.2, -0.1], 0.7)])
def test_maxpool_region_polygons_tile_the_domain(domain):
    """A max-pool region is the union of the walk's cells with its key, and convex: its polygon is
    their hull, the polygons' areas add up to the domain's, and each holds its region's point."""
    from exactregions.polygons import clip_disc, polygon_area
    from matplotlib.path import Path as MplPath

    net = from_torch(_linf_pool(), input_shape=(2,))
    res = count_regions(net, domain, engine="planar", polygons=True)
    assert len(res.polygons) == res.activation_regions == 4
    polys = [clip_disc(p, *domain.l2_ball) if domain.l2_ball is not None else p for p in res.polygons]
    area = np.pi * 0.7 ** 2 if domain.l2_ball is not None else 4.0
    assert sum(polygon_area(p) for p in polys) == pytest.approx(area, rel=1e-4)  # chords of the arcs
    for p, reg in zip(polys, res.regions):
        assert MplPath(p).contains_point(reg.point)


def test_lenet_style_maxpool_net_against_torch_argmax(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 5), nn.ReLU(),
                          nn.Linear(5, 3)).double()
    net = from_torch(model, input_shape=(1, 6, 6))
    assert net.pool_tree.size
    rng = np.random.default_rng(2)
    plane = Plane(*rng.uniform(0, 1, size=(3, 36)))
    res = count_regions(net, plane, engine="auto")
    bfs = count_regions(net, plane, engine="bfs")
    assert res.activation_regions == bfs.activation_regions and res.stats["cells"] >= res.activation_regions
    # the keys of torch's own forward pass (ReLU signs, argmax indices) at sampled points: a lower bound,
    # reached up to the thinnest regions
    U = plane.domain_2d().sample(100000, rng)
    x = torch.as_tensor(plane.lift(U)).reshape(-1, 1, 6, 6)
    with torch.no_grad():
        z = model[0](x)
        _, arg = nn.functional.max_pool2d(model[1](z), 2, return_indices=True)
        z2 = model[4](model[3](model[2](model[1](z))))
    keys = np.hstack([z.reshape(len(U), -1).numpy() > 0, arg.reshape(len(U), -1).numpy(), z2.numpy() > 0])
    seen = np.unique(keys, axis=0).shape[0]
    assert seen <= res.activation_regions <= seen + 3
    _check_points(net.compose_affine(plane.basis, plane.p0), plane.domain_2d(), res)
    path = tmp_path / "pool.npz"
    save_npz(net, path)
    assert np.array_equal(load_npz(path).pool_tree, net.pool_tree)


def test_relu_only_counts_are_unchanged_by_the_merge():
    net = random_net(2, [10, 10], seed=7)
    assert net.pool_tree.shape == (0, 3)
    res = count_regions(net, Box(-1, 1, dim=2), engine="planar")
    assert "cells" not in res.stats and np.array_equal(net.region_keys(res.regions[0].pattern), res.regions[0].pattern)


# ----------------------------------------------------------------------------- decision boundary

def test_linear_classifier_boundary_is_one_line_of_known_length():
    # a hidden unit active on the whole box makes the output f = x1 - 0.3 (sign classifier)
    net = Network([[[1.0, 0.0]], [[1.0]]], [[5.0], [-5.3]])
    res = count_regions(net, Box(-1, 1, dim=2), decision=True)
    d = res.decision
    assert res.activation_regions == 1 and d.regions_crossed == 1
    assert d.length == pytest.approx(2.0, abs=1e-12) and set(d.pairs) == {(0, 1)}
    disc = count_regions(net, Ball([0.3, 0.0], 0.5), decision=True).decision
    assert disc.length == pytest.approx(1.0, abs=1e-12)  # a diameter


def _classifier(seed, out=3):
    """A random 2-D net whose output layer splits the box between several classes."""
    net = random_net(2, [16, 16], seed=seed)
    W = np.random.default_rng(seed).normal(size=(out, 16))
    return Network(list(net.weights[:-1]) + [W], list(net.biases[:-1]) + [np.zeros(out)])


def test_boundary_points_tie_the_top_two_logits():
    net = _classifier(5)
    assert np.unique(net.forward(Box(-1, 1, dim=2).sample(5000, np.random.default_rng(0))).argmax(1)).size > 1
    res = count_regions(net, Box(-1, 1, dim=2), decision=True)
    d = res.decision
    assert d.regions_crossed > 0 and d.length > 0
    X = d.sample(300, rng=0)
    F = np.sort(net.forward(X), axis=1)
    assert np.all(np.abs(F[:, -1] - F[:, -2]) <= 1e-9 * np.maximum(1, np.abs(F[:, -1])))
    # every crossed region holds two classes: points just off a segment on either side
    classes = {tuple(sorted(c)) for c in d.classes}
    assert classes == set(d.pairs)


def test_cli_decision_json_plot_and_refusal(tmp_path, capsys):
    net = _classifier(5)
    path = tmp_path / "n.npz"
    save_npz(net, path)
    assert main(["count", str(path), "--box", "-1", "1", "--decision", "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    db = out["decision_boundary"]
    assert set(db) >= {"regions_crossed", "length", "classes"} and db["length"] > 0 and db["classes"]
    png = tmp_path / "n.png"
    assert main(["plot", str(path), "--box", "-1", "1", "--decision", "-o", str(png), "--quiet"]) == 0
    assert png.stat().st_size > 1000
    assert main(["count", str(path), "--box", "-1", "1", "--decision", "--engine", "bfs"]) == 2
    assert "planar engine" in capsys.readouterr().err


def test_auto_engine_in_two_dimensions():
    assert auto_engine(Box(-1, 1, dim=2)) == "planar"
    assert auto_engine(Box(-1, 1, dim=3)) == "subdivision"
    assert auto_engine(Polytope([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]], [1, 1, 1, 1])) == "planar"


def test_repeated_counts_in_one_process_agree_with_the_subdivision():
    # a deep walk needs many map slots: a slot's holder count must start at zero when the pool
    # grows (it once did not, and a second count in the same process came out different)
    net = random_net(2, [128, 128], seed=0)
    box = Box(-1, 1, dim=2)
    ref = count_regions(net, box, engine="subdivision").activation_regions
    assert [count_regions(net, box, engine="planar", keep_regions=False).activation_regions
            for _ in range(3)] == [ref] * 3


# ----------------------------------------------------------------------------- decision boundary above 2-D

def test_decision_regions_agree_with_the_planar_segments_in_2d():
    from exactregions.analysis import decision_regions

    net = _classifier(5)
    for dom in (Box(-1, 1, dim=2), Ball([0.1, 0.2], 0.6)):
        planar = count_regions(net, dom, decision=True)
        bfs = count_regions(net, dom, engine="bfs")
        general = decision_regions(net, dom, result=bfs)
        crossed_p = {r.pattern.tobytes() for r, c in zip(planar.regions, planar.decision.crossed) if c}
        crossed_g = {r.pattern.tobytes() for r, c in zip(bfs.regions, general.crossed) if c}
        assert crossed_p == crossed_g and len(crossed_p) > 3
        assert set(general.pairs) == set(planar.decision.pairs)


def test_decision_regions_in_4d_contain_what_sampling_sees(tmp_path, capsys):
    from exactregions.analysis import decision_regions

    base = random_net(4, [10, 10], seed=2)
    W = np.random.default_rng(2).normal(size=(4, 10))
    net = Network(list(base.weights[:-1]) + [W], list(base.biases[:-1]) + [np.zeros(4)])
    box = Box(-1, 1, dim=4)
    res = count_regions(net, box, engine="bfs")
    dec = decision_regions(net, box, result=res)
    index = {r.pattern.tobytes(): i for i, r in enumerate(res.regions)}
    X = box.sample(40000, np.random.default_rng(1))
    seen = {}
    for p, c in zip(net.pattern(X), net.forward(X).argmax(1)):
        seen.setdefault(index[p.tobytes()], set()).add(int(c))
    sampled = {i for i, cls in seen.items() if len(cls) > 1}
    assert sampled and sampled <= set(np.flatnonzero(dec.crossed))
    assert dec.regions_crossed <= res.activation_regions
    path = tmp_path / "n4.npz"
    save_npz(net, path)
    assert main(["count", str(path), "--box", "-1", "1", "--decision", "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)["decision_boundary"]
    assert out["regions_crossed"] == dec.regions_crossed and out["length"] is None
    assert {tuple(p) for p in out["classes"]} == set(dec.pairs)


def test_maxpool_conv_net_with_zero_background_equals_the_bfs():
    # two max-pooling stages over images with a zero border: comparisons of two inactive units are
    # zero only through cancellation in the planar walk's maps ((z_a - z_b) - z_a + z_b); without
    # its rounding floor they became lines of random sign and the merged count exceeded the BFS's
    # (1,833 against 1,827 here)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 4, 2), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3)).double()
    net = from_torch(model, input_shape=(1, 8, 8))
    imgs = np.zeros((3, 8, 8))
    imgs[:, 2:6, 2:6] = np.random.default_rng(0).uniform(0, 1, size=(3, 4, 4))
    plane = Plane(*imgs.reshape(3, -1))
    planar = count_regions(net, plane, engine="planar")
    bfs = count_regions(net, plane, engine="bfs")
    assert planar.activation_regions == bfs.activation_regions == 1827
    assert _patterns(planar) == _patterns(bfs)
    # cut into pieces with their own set-ups, in two threads: the same max-pool regions (a region
    # of the max may span cells of several pieces: they merge by key after the walk)
    cut = count_regions(net, plane, engine="planar", pieces=12, workers=2)
    assert cut.stats["pieces"] > 1 and cut.stats["cells"] == planar.stats["cells"]
    assert _patterns(cut) == _patterns(bfs)


@pytest.mark.parametrize("eps, thin", [(2e-8, True), (1e-6, False)])
@pytest.mark.parametrize("domain", [Box(-1, 1, dim=2), Ball([0.1, 0.1], 0.5)])
def test_a_region_thinner_than_the_inradius_tolerance_is_skipped_by_every_engine(eps, thin, domain):
    # x = 0, y = 0 and x + y = eps: seven regions, one a triangle with legs eps, whose inradius
    # eps (2 - sqrt 2) / 2 is 5.9e-9 (thin at the default 1e-8) or 2.9e-7
    from exactregions.engines.region import Tolerances

    net = Network([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [[1.0, -1.0, 0.5]]], [[0.0, 0.0, -eps], [0.0]])
    bfs = count_regions(net, domain, engine="bfs")
    assert bfs.activation_regions == (6 if thin else 7)
    for engine, kw in (("planar", {}), ("subdivision", {"kernel": "numpy"}), ("subdivision", {"kernel": "numba"})):
        res = count_regions(net, domain, engine=engine, **kw)
        assert {r.pattern.tobytes() for r in res.regions} == {r.pattern.tobytes() for r in bfs.regions}, engine
        # (the BFS never reaches the thin one: its neighbours' facets towards it are too thin)
        assert res.numerics["thin_regions_skipped"] == int(thin), engine
    every = count_regions_planar(net, domain, tol=Tolerances(inradius=0.0))
    assert every.activation_regions == 7 and every.numerics["thin_regions_skipped"] == 0
    # the triangle is below Tolerances.near (1e-6), counted or not: one sliver, said in numerics
    planar = count_regions_planar(net, domain)
    assert planar.numerics["near_thin_leaves"] == 1 and "near-thin leaves" in planar.numerics["near_degenerate"][0]
    assert count_regions_planar(net, domain, tol=Tolerances(near=1e-9)).numerics["near_thin_leaves"] == 0


def test_planar_regions_hold_their_patterns_packed_and_read_them_as_bools():
    """The walk's regions keep their patterns packed (eight bits a byte) and give them back as
    booleans, the pattern of the region's point; assigning a pattern packs it."""
    from exactregions.result import PackedRegion

    net = random_net(2, [13, 10], seed=21)  # 23 bits: the last byte half used
    res = count_regions(net, Box(-1, 1, dim=2), engine="planar")
    assert res.activation_regions > 20 and all(isinstance(r, PackedRegion) for r in res.regions)
    pts = np.array([r.point for r in res.regions])
    pats = np.array([r.pattern for r in res.regions])
    assert pats.dtype == bool and np.array_equal(pats, net.pattern(pts))
    r = res.regions[0]
    r.pattern = ~pats[0]
    assert np.array_equal(r.pattern, ~pats[0]) and r.pattern.size == net.n_hidden == 23


# ----------------------------------------------------------------------------- workers

@pytest.mark.parametrize("widths, domain, slope", [
    ([32, 32], Box(-1, 1, dim=2), 0.0),
    ([48, 48], Ball([0.1, 0.2], 0.8), 0.0),
    ([16, 16, 16], Polytope([[1.0, 1.0], [-1.0, 0.0], [0.0, -1.0]], [1.5, 1.0, 1.0]), 0.1),
])
def test_threads_over_pieces_find_the_regions_of_one_walk(widths, domain, slope):
    """``workers=2`` cuts the domain along first-layer lines and walks the pieces in threads:
    the same regions (patterns), the same polygons' total area and vertices, the same decision
    boundary."""
    net = random_net(2, widths, seed=sum(widths), out=3, slope=slope)
    one = count_regions_planar(net, domain, decision=True, polygons=True)
    two = count_regions_planar(net, domain, workers=2, decision=True, polygons=True)
    assert two.stats["pieces"] > 8 and two.stats["workers"] == 2
    assert two.activation_regions == one.activation_regions > 100
    assert _patterns(two) == _patterns(one)
    # region by region the same polygon area inside the domain (the vertex lists may differ by a
    # vertex within rounding of an edge: a piece's lines are summed from its own reference gates;
    # in a disc a polygon is exact inside the disc only, where both are clipped alike)
    def inside(q):
        return clip_disc(q, domain.center, domain.radius) if isinstance(domain, Ball) else q

    areas = [{r.pattern.tobytes(): abs(polygon_area(inside(q))) for r, q in zip(res.regions, res.polygons)}
             for res in (one, two)]
    assert all(areas[1][k] == pytest.approx(a, rel=1e-6, abs=1e-12) for k, a in areas[0].items())
    assert two.decision.length == pytest.approx(one.decision.length, rel=1e-9)
    assert two.decision.regions_crossed == one.decision.regions_crossed
    assert two.decision.pairs.keys() == one.decision.pairs.keys()


def test_cut_polygon_tiles_the_polygon_along_the_lines():
    from exactregions.engines.planar import cut_polygon

    rng = np.random.default_rng(1)
    lines = rng.normal(size=(40, 3))
    square = np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    pieces = cut_polygon(square, lines, 12)
    assert len(pieces) == 12
    assert sum(polygon_area(p) for p in pieces) == pytest.approx(4.0, rel=1e-12)
    a = lines[:, :2] / np.hypot(lines[:, 0], lines[:, 1])[:, None]
    c = lines[:, 2] / np.hypot(lines[:, 0], lines[:, 1])
    X = rng.uniform(-1, 1, size=(4000, 2))
    for p in pieces:
        assert polygon_area(p) > 0  # counter-clockwise, not degenerate
        for k in range(len(p)):  # every edge on the square's boundary or on one of the lines
            u, v = p[k], p[(k + 1) % len(p)]
            on_line = np.any((np.abs(a @ u + c) < 1e-12) & (np.abs(a @ v + c) < 1e-12))
            assert on_line or np.any((np.abs(u) > 1 - 1e-12) & (np.abs(v) > 1 - 1e-12) & (np.sign(u) == np.sign(v)))
    def left(u, v):  # X strictly left of the edge u -> v
        return (v[0] - u[0]) * (X[:, 1] - u[1]) - (v[1] - u[1]) * (X[:, 0] - u[0]) > 0

    pieces_of = sum(np.all([left(p[k], p[(k + 1) % len(p)]) for k in range(len(p))], axis=0) for p in pieces)
    assert np.all(pieces_of == 1)  # the pieces tile the square (a point is left of every edge of its piece)
    assert cut_polygon(square, np.array([[1.0, 0.0, 5.0]]), 4) == [square]  # no line crosses: one piece


def test_threads_on_a_conv_slice_with_constant_background_and_a_time_limit():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 16, 6), nn.ReLU(),
                          nn.Linear(6, 2)).double()
    net = from_torch(model, input_shape=(1, 6, 6))
    imgs = np.zeros((3, 6, 6))
    imgs[:, 2:4, 2:4] = np.random.default_rng(0).uniform(0, 1, size=(3, 2, 2))
    plane = Plane(*imgs.reshape(3, -1))
    one = count_regions(net, plane, engine="planar")
    two = count_regions(net, plane, engine="planar", workers=2)
    assert two.activation_regions == one.activation_regions and _patterns(two) == _patterns(one)
    assert count_regions(net, plane, engine="planar", workers=2, max_regions=5).stats["workers"] == 1
    big = random_net(2, [128, 128], seed=2)
    part = count_regions(big, Box(-3, 3, dim=2), engine="planar", workers=2, time_limit=0.0, keep_regions=False)
    assert not part.complete and part.stop_reason == "time_limit"


def test_pieces_with_their_own_set_up_find_the_regions_of_one_walk(monkeypatch):
    """``pieces=None`` cuts until no piece is crossed by more than ``PIECE_LINES`` first-layer
    lines and walks each with its own reference gates and units (lowered here so that a small
    net is cut): the same regions as one walk (``pieces=1``), in a box and in a disc, where the
    pieces that miss the disc are left out."""
    from exactregions.engines import planar

    monkeypatch.setattr(planar, "PIECE_LINES", 12)
    net = random_net(2, [40, 30, 20], seed=8, out=4)
    for domain in (Box(-1.5, 1.5, dim=2), Ball([0.3, -0.2], 0.7)):
        one = count_regions_planar(net, domain, pieces=1, decision=True)
        cut = count_regions_planar(net, domain, decision=True)
        assert one.stats["pieces"] == 1 and cut.stats["pieces"] > 8
        assert cut.activation_regions == one.activation_regions > 300
        assert _patterns(cut) == _patterns(one)
        assert cut.decision.length == pytest.approx(one.decision.length, rel=1e-9)


def test_a_piece_samples_inside_itself_and_pieces_off_the_disc_are_found():
    from exactregions.engines.planar import _Piece
    from exactregions.polygons import meets_disc

    tri = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    X = _Piece(tri).sample(500, np.random.default_rng(0))
    assert np.all(X >= 0) and np.all(X[:, 0] / 2 + X[:, 1] <= 1 + 1e-12)
    assert X[:, 0].mean() == pytest.approx(2 / 3, abs=0.06)  # uniform: the centroid's x
    assert meets_disc(tri, [0.5, 0.2], 0.01)  # centre inside
    assert meets_disc(tri, [1.0, -0.5], 0.6)  # an edge within the radius
    assert not meets_disc(tri, [3.0, 3.0], 1.0)

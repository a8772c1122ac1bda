"""Pictures: the adjacency read off the exact polygons, colours of neighbours, palettes, file
formats, the count under a title, the shaded style of large slices, pictures of sweep tables."""

import math
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from exactregions import Ball, Box, Plane, count_regions
from exactregions import plot as P
from exactregions.cli import main
from exactregions.io import save_npz
from exactregions.plot import plot_regions, plot_sweep, region_polygons
from exactregions.polygons import polygon_adjacency

from conftest import random_net

SVG = "{http://www.w3.org/2000/svg}"


def _bfs_pairs_of_planar(net, dom):
    """The BFS's own graph, and the planar count with its pairs renumbered to the BFS's regions."""
    bfs = count_regions(net, dom, engine="bfs")
    planar = count_regions(net, dom, engine="planar", polygons=True)
    assert planar.activation_regions == bfs.activation_regions
    index = {r.pattern.tobytes(): i for i, r in enumerate(bfs.regions)}
    to_bfs = np.array([index[r.pattern.tobytes()] for r in planar.regions])
    return bfs, planar, to_bfs


CASES = [
    (2, [8, 8], 7, Box([-1.0, -0.5], [1.0, 1.5])),
    (2, [10, 10, 10], 3, Box([-2.0, -2.0], [2.0, 2.0])),
    (2, [8, 8], 8, Ball([0.1, -0.2], 0.7)),
    (2, [16, 16], 5, Ball([0.0, 0.0], 1.5)),
    (3, [12, 12], 2, Plane([0.0, 0.0, 0.0], [1.5, 0.2, -0.3], [0.1, 1.2, 0.8], parallelogram=True)),
]


@pytest.mark.parametrize("d, widths, seed, dom", CASES)
def test_adjacency_read_off_the_polygons_is_the_bfs_graph(d, widths, seed, dom):
    net = random_net(d, widths, seed=seed)
    bfs, planar, to_bfs = _bfs_pairs_of_planar(net, dom)
    graph = {tuple(e) for e in bfs.edges}
    assert len(graph) > bfs.activation_regions  # a real graph, not a path
    # the planar walk's polygons (it gives no edges)
    assert planar.edges == []
    pairs = P.region_adjacency(planar)
    mapped = {tuple(sorted((int(to_bfs[i]), int(to_bfs[j])))) for i, j in pairs}
    assert mapped == graph
    # the BFS's regions' own polygons (half-planes clipped to the domain), ignoring its edges
    straight = P._straight_polygons(bfs)
    from exactregions.engines.planar import _domain_polygon

    own = polygon_adjacency(straight, outline=_domain_polygon(bfs.domain), disc=bfs.domain.l2_ball)
    assert {tuple(map(int, e)) for e in own} == graph


@pytest.mark.parametrize("d, widths, seed, dom", CASES[:4])
def test_neighbouring_regions_never_share_a_colour(d, widths, seed, dom):
    net = random_net(d, widths, seed=seed)
    bfs, planar, to_bfs = _bfs_pairs_of_planar(net, dom)
    pic = plot_regions(planar)  # colours from the geometric adjacency
    assert pic.style == "regions" and len(pic) == planar.activation_regions
    from_bfs = np.empty(len(to_bfs), np.int64)
    from_bfs[to_bfs] = np.arange(len(to_bfs))
    for a, b in bfs.edges:  # checked on the BFS's graph, renumbered to the planar regions
        assert pic.colours[from_bfs[a]] != pic.colours[from_bfs[b]]
    pic2 = plot_regions(bfs)  # colours from the BFS's own graph
    assert all(pic2.colours[a] != pic2.colours[b] for a, b in bfs.graph.edges)
    # the figure's fills are those colours, from the palette
    fills = {}
    for coll in pic.axes.collections:
        if (coll.get_gid() or "").startswith("regions-"):
            k = int(coll.get_gid().split("-")[1])
            idx = [i for i, p in enumerate(pic) if len(p) == k]
            for i, fc in zip(idx, coll.get_facecolors()):
                fills[i] = tuple(np.round(fc[:3], 4))
    assert len(fills) == len(pic)
    palette = [tuple(np.round(P._rgb(c), 4)) for c in P.PALETTES["tol-light"]]
    for i, c in enumerate(pic.colours):
        assert fills[i] == palette[c]
    assert len(set(pic.colours.tolist())) > 2  # the palette is used, not a two-colouring


def _square(x, y, w=1.0, h=1.0):
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], float)


def test_polygon_adjacency_t_junctions_partial_overlaps_corners_and_the_disc():
    polys = [_square(0, 0, 1, 2), _square(1, 0), _square(1, 1),  # a long edge against two short ones
             _square(2, 0.5, 1, 1),  # offset: overlaps both squares on its left by half an edge
             _square(3, 1.5)]  # touches square 3 at a corner only
    got = polygon_adjacency(polys).tolist()
    assert got == [[0, 1], [0, 2], [1, 2], [1, 3], [2, 3]]
    # a disc that covers only the lower part: the shared segments above y = 1.2 drop out
    # (the disc is centred at (1.5, 0.5), radius 0.6: it meets x = 1 and x = 2 below y = 0.83)
    near = polygon_adjacency(polys, disc=((1.5, 0.5), 0.6)).tolist()
    assert near == [[0, 1], [1, 2], [1, 3]]


def test_polygon_adjacency_of_a_brick_wall_counts_every_neighbour():
    # rows of bricks, each row shifted by half a brick: every edge between rows is shared in part
    n = 60
    polys, where = [], {}
    for r in range(n):
        shift = 0.5 * (r % 2)
        for c in range(n):
            where[len(polys)] = (r, c)
            polys.append(_square(c + shift, float(r)))
    got = polygon_adjacency(polys)
    expected = set()
    for i, (r, c) in where.items():
        for j, (r2, c2) in where.items():
            if j <= i:
                continue
            if r == r2 and abs(c - c2) == 1:
                expected.add((i, j))
            if abs(r - r2) == 1:  # x-ranges [c + s, c + s + 1] overlap by more than a point
                a, b = c + 0.5 * (r % 2), c2 + 0.5 * (r2 % 2)
                if abs(a - b) < 1:
                    expected.add((i, j))
    assert {tuple(map(int, e)) for e in got} == expected


def test_palettes_keep_clear_of_the_boundary_and_the_points():
    for name, colours in P.PALETTES.items():
        assert len(colours) >= 6
        for c in colours:
            for other in (P.BOUNDARY_COLOUR, P.POINT_COLOUR, P.OUTLINE_COLOUR):
                assert c.lower() != other.lower()
                assert P.colour_contrast(c, other) >= P.MIN_CONTRAST, (name, c, other)
    # the contrast is measured under colour-vision deficiencies too: red and green are far apart
    # in normal vision, close for a deuteranope
    normal = np.linalg.norm(P._lab(np.array([1.0, 0, 0])) - P._lab(np.array([0, 1.0, 0])))
    assert P.colour_contrast("#FF0000", "#00FF00") < normal / 2
    with pytest.raises(ValueError, match="too close to the decision boundary"):
        P._palette(["#101010", "#77AADD", "#EE8866", "#EEDD88", "#FFAABB", "#99DDFF"])
    with pytest.raises(ValueError, match="at least 6 colours"):
        P._palette(["#77AADD", "#EE8866"])


def test_boundary_points_and_ball_are_drawn_in_their_colours_with_a_legend():
    net = random_net(2, [16, 16], seed=2, out=3)
    res = count_regions(net, Ball([0.0, 0.0], 1.5), polygons=True, decision=True)
    assert res.decision.length > 0
    pic = plot_regions(res, points=[[0.5, 0.5]], point_labels=["x"])
    ax = pic.axes
    lc = [c for c in ax.collections if c.get_gid() == "decision boundary"][0]
    assert np.allclose(lc.get_colors()[0][:3], P._rgb(P.BOUNDARY_COLOUR))
    assert len(lc.get_segments()) == len(res.decision.segments)
    pts = [ln for ln in ax.get_lines() if ln.get_gid() == "points"][0]
    assert np.allclose(P._rgb(pts.get_markerfacecolor()), P._rgb(P.POINT_COLOUR))
    labels = [t.get_text() for t in pic.figure.legends[0].get_texts()]
    for want in ("decision boundary (exact)", "marked points", "ball boundary", "ball centre"):
        assert want in labels
    # a point outside the picture is left out, and the legend says so
    pic = plot_regions(res, points=[[0.5, 0.5], [10.0, 10.0]], point_labels=["in", "out"])
    pts = [ln for ln in pic.axes.get_lines() if ln.get_gid() == "points"][0]
    assert len(pts.get_xdata()) == 1
    assert "marked points (1 outside the picture)" in [t.get_text() for t in pic.figure.legends[0].get_texts()]
    assert [t.get_text() for t in pic.axes.texts] == ["in"]
    # the shading's colour bar carries a label
    pic = plot_regions(res, shade="distance")
    assert pic.colorbar.ax.get_ylabel() == "distance to the decision boundary"


def test_pdf_svg_and_png_files_are_real_and_carry_the_regions(tmp_path):
    net = random_net(2, [8, 8], seed=7)
    res = count_regions(net, Box([-1.0, -1.0], [1.0, 1.0]), polygons=True)
    n = res.activation_regions
    plot_regions(res, tmp_path / "r.pdf")
    assert (tmp_path / "r.pdf").read_bytes()[:5] == b"%PDF-"
    plot_regions(res, tmp_path / "r.svg")
    root = ET.parse(tmp_path / "r.svg").getroot()
    assert root.tag == SVG + "svg"
    groups = [g for g in root.iter(SVG + "g") if (g.get("id") or "").startswith("regions-")]
    paths = [p for g in groups for p in g.iter(SVG + "path")]
    assert len(paths) == n
    fills = {p.get("style").split("fill: ")[1].split(";")[0] for p in paths}
    assert fills <= {c.lower() for c in P.PALETTES["tol-light"]}
    for dpi in (50, 100):
        plot_regions(res, tmp_path / f"r{dpi}.png", dpi=dpi)
    import struct

    widths = [struct.unpack(">I", (tmp_path / f"r{d}.png").read_bytes()[16:20])[0] for d in (50, 100)]
    assert widths[1] == pytest.approx(2 * widths[0], rel=0.05)
    import os
    import stat

    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((tmp_path / "r.pdf").stat().st_mode) == 0o666 & ~mask  # not the temporary file's 0600
    with pytest.raises(ValueError, match=r"must end in \.png, \.pdf, \.svg"):
        plot_regions(res, tmp_path / "r.jpg")
    assert not (tmp_path / "r.jpg").exists()


def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    net = random_net(2, [6], seed=1)
    res = count_regions(net, Box([-1.0, -1.0], [1.0, 1.0]), polygons=True)
    from matplotlib.figure import Figure

    def boom(self, *a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", boom)
    with pytest.raises(OSError):
        plot_regions(res, tmp_path / "r.png")
    assert list(tmp_path.iterdir()) == []


def test_a_user_title_keeps_the_count_and_a_partial_count_says_lower_bound():
    net = random_net(2, [8, 8], seed=7)
    res = count_regions(net, Box([-1.0, -1.0], [1.0, 1.0]), polygons=True)
    pic = plot_regions(res, title="My network")
    assert pic.figure.get_suptitle() == "My network"
    assert pic.axes.get_title() == pic.subtitle == f"{res.activation_regions:,} activation regions (exact)"
    part = count_regions(net, Box([-1.0, -1.0], [1.0, 1.0]), engine="bfs", max_regions=5)
    assert not part.complete
    pic = plot_regions(part, title="My network")
    assert "LOWER BOUND" in pic.axes.get_title() and ">= 5" in pic.axes.get_title()
    assert "LOWER BOUND" in plot_regions(part).axes.get_title()  # no user title: the count is the title


def test_output_shading_is_the_network_output_at_the_vertices():
    net = random_net(2, [8, 8], seed=3, out=3)
    res = count_regions(net, Box([-1.0, -1.0], [1.0, 1.0]), polygons=True)
    pic = plot_regions(res, function=True, output=2)
    assert pic.style == "shaded" and pic.shade == "output"
    assert np.allclose(pic.values, net.forward(pic.vertices)[:, 2])
    assert pic.colorbar.ax.get_ylabel().startswith("network output 2")
    with pytest.raises(ValueError, match="output 3 is out of range: the network has 3 outputs"):
        plot_regions(res, function=True, output=3)


def test_distance_shading_is_within_its_step_of_the_exact_distance():
    net = random_net(2, [16, 16], seed=2, out=3)
    res = count_regions(net, Box([-2.0, -2.0], [2.0, 2.0]), polygons=True, decision=True)
    pic = plot_regions(res, shade="distance")
    S = res.decision.segments
    X = pic.vertices[np.isfinite(pic.values)][::97]
    a, d = S[:, :2], S[:, 2:] - S[:, :2]
    t = np.clip(np.einsum("pkj,kj->pk", X[:, None, :] - a, d) / np.einsum("kj,kj->k", d, d), 0, 1)
    exact = np.min(np.linalg.norm(X[:, None, :] - a - t[..., None] * d, axis=2), axis=1)
    got = pic.values[np.isfinite(pic.values)][::97]
    step = P.DISTANCE_STEP * math.hypot(4, 4)
    assert np.all(got >= exact - 1e-12) and np.all(got <= exact + step / 2 + 1e-12)


def test_large_slices_are_shaded_above_the_threshold(monkeypatch):
    net = random_net(2, [8, 8], seed=7)
    res = count_regions(net, Box([-1.0, -1.0], [1.0, 1.0]), polygons=True)
    assert plot_regions(res).style == "regions"
    monkeypatch.setattr(P, "LARGE_SLICE", res.activation_regions)
    pic = plot_regions(res)
    assert pic.style == "shaded" and pic.shade == "area" and pic.colours is None
    areas = np.array([P.polygon_area(p) for p in pic])
    assert np.allclose(pic.values, np.log10(areas))
    assert plot_regions(res, style="regions").style == "regions"  # forced
    monkeypatch.setattr(P, "LARGE_SLICE", res.activation_regions + 1)
    assert plot_regions(res).style == "regions"
    assert plot_regions(res, style="shaded").shade == "area"


def test_region_polygons_of_a_disc_are_clipped_to_it():
    net = random_net(2, [8, 8], seed=8)
    res = count_regions(net, Ball([0.1, -0.2], 0.7), polygons=True)
    polys = region_polygons(res)
    assert sum(P.polygon_area(p) for p in polys) == pytest.approx(math.pi * 0.49, rel=2e-5)
    assert np.allclose(P._areas(polys), [P.polygon_area(p) for p in polys])


def test_cli_plot_options(tmp_path, capsys):
    save_npz(random_net(2, [8], seed=1, out=3), tmp_path / "m.npz")
    m = str(tmp_path / "m.npz")
    out = tmp_path / "o.png"
    assert main(["plot", m, "--box", "-1", "1", "--function", "--output", "3", "-o", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--output 3 is out of range: the model has 3 outputs (0..2)" in err
    assert not out.exists()
    assert main(["plot", m, "--box", "-1", "1", "--output", "x", "-o", str(out), "--quiet"]) == 2
    assert "not an output index" in capsys.readouterr().err and not out.exists()
    assert main(["plot", m, "--box", "-1", "1", "--cmap", "nope", "-o", str(out), "--quiet"]) == 2
    assert "unknown colour map" in capsys.readouterr().err and not out.exists()
    assert main(["plot", m, "--box", "-1", "1", "--shade", "area", "--output", "1", "-o", str(out), "--quiet"]) == 2
    capsys.readouterr()
    pdf = tmp_path / "o.pdf"
    assert main(["plot", m, "--box", "-1", "1", "--function", "--output", "2", "--cmap", "cividis", "--dpi", "80",
                 "--title", "T", "-o", str(pdf), "--quiet"]) == 0
    assert pdf.read_bytes()[:5] == b"%PDF-" and "shaded by output" in capsys.readouterr().out
    svg = tmp_path / "o.svg"
    assert main(["plot", m, "--ball", "0,0", "1", "--shade", "distance", "-o", str(svg), "--quiet"]) == 0
    assert ET.parse(svg).getroot().tag == SVG + "svg" and "shaded by distance" in capsys.readouterr().out


# ------------------------------------------------------------------------------ sweeps
def _sweep_table(seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for step in (0, 10, 20, 30):
        for group, base in (("train", 30), ("random", 0.5)):
            for r in (0.1, 0.5):
                for p in range(9):
                    lb = bool(rng.random() < 0.1)
                    err = "solver failed" if rng.random() < 0.05 else None
                    rows.append(dict(model=f"ckpt{step}", step=step, point=p, group=group, radius=r, norm="2",
                                     domain="ball", activation_regions=int(rng.poisson(base * (1 + step / 10)) + 1),
                                     complete=not lb, lower_bound=lb, seconds=0.01, engine="planar", error=err))
    return pd.DataFrame(rows)


def _lines(pic, prefix):
    return {ln.get_gid(): ln for ax in pic.axes for ln in ax.get_lines() if (ln.get_gid() or "").startswith(prefix)}


def _check_training(pic, t):
    good = t[t["error"].isna()]
    assert pic.excluded == int(t["error"].notna().sum()) > 0
    medians = _lines(pic, "median|")
    assert len(medians) == good.groupby(["group", "radius"]).ngroups
    for (g, r), cell in good.groupby(["group", "radius"]):
        want = cell.groupby("step")["activation_regions"].median()
        line = medians[f"median|{g}|{r:g}"]
        assert np.array_equal(line.get_xdata(), want.index.to_numpy(float))
        assert np.allclose(line.get_ydata(), want.to_numpy())
        lb = _lines(pic, f"lower bounds|{g}|{r:g}")[f"lower bounds|{g}|{r:g}"]
        rows = cell[cell["lower_bound"]]
        got = sorted(zip(lb.get_xdata(), lb.get_ydata()))
        assert got == sorted(zip(rows["step"].astype(float), rows["activation_regions"].astype(float)))
        hollow = _lines(pic, f"median lower bound|{g}|{r:g}")[f"median lower bound|{g}|{r:g}"]
        has_lb = cell.groupby("step")["lower_bound"].any()
        assert sorted(hollow.get_xdata()) == sorted(has_lb[has_lb].index.astype(float))


def test_plot_sweep_training_carries_the_medians_and_the_lower_bounds(tmp_path):
    t = _sweep_table()
    assert t["lower_bound"].any() and t["error"].notna().any()
    pic = plot_sweep(t, tmp_path / "train.svg")
    _check_training(pic, t)
    good = t.loc[t["error"].isna(), "activation_regions"]
    assert good.max() > P.LOG_SPAN * good.min() and pic.logy  # 1 to about 130: more than two decades
    assert ET.parse(tmp_path / "train.svg").getroot().tag == SVG + "svg"
    labels = [x.get_text() for x in pic.figure.legends[0].get_texts()]
    assert "a count that is a lower bound (limit hit)" in labels and "median is a lower bound" in labels
    assert any(f"{pic.excluded} rows left out" in x for x in labels)
    # the same from a parquet file and a CSV file
    t.to_parquet(tmp_path / "t.parquet")
    _check_training(plot_sweep(tmp_path / "t.parquet", tmp_path / "train.pdf"), t)
    assert (tmp_path / "train.pdf").read_bytes()[:5] == b"%PDF-"
    t.to_csv(tmp_path / "t.csv", index=False)
    _check_training(plot_sweep(str(tmp_path / "t.csv")), t)
    assert not plot_sweep(t, logy=False).logy
    narrow = t[(t["group"] == "train") & (t["step"] == 30)]
    vals = narrow.loc[narrow["error"].isna(), "activation_regions"]
    assert vals.max() < P.LOG_SPAN * vals.min() and not plot_sweep(narrow).logy


def test_plot_sweep_groups_draws_boxes_at_one_step(tmp_path):
    t = _sweep_table(1)
    pic = plot_sweep(t, tmp_path / "groups.png", kind="groups")
    assert pic.step == 30
    at = t[(t["step"] == 30) & t["error"].isna()]
    assert pic.excluded == int(((t["step"] == 30) & t["error"].notna()).sum())
    for (g, r), cell in at.groupby(["group", "radius"]):
        row = pic.summary[(pic.summary["group"] == g) & (pic.summary["radius"] == r)].iloc[0]
        assert row["median"] == cell["activation_regions"].median() and row["n"] == len(cell)
        lb = _lines(pic, f"lower bounds|{g}|{r:g}")[f"lower bounds|{g}|{r:g}"]
        assert sorted(lb.get_ydata()) == sorted(cell.loc[cell["lower_bound"], "activation_regions"].astype(float))
    boxes = [p for ax in pic.axes for p in ax.patches if (p.get_gid() or "").startswith("box|")]
    assert len(boxes) == at.groupby(["group", "radius"]).ngroups
    assert plot_sweep(t, kind="groups", step=10, radius=0.1).summary["radius"].unique().tolist() == [0.1]
    with pytest.raises(ValueError, match="no rows at step 7"):
        plot_sweep(t, kind="groups", step=7)


def test_plot_sweep_without_steps_orders_by_model():
    t = _sweep_table().assign(step=np.nan)
    pic = plot_sweep(t)
    line = _lines(pic, "median|train|0.1")["median|train|0.1"]
    assert list(line.get_xdata()) == [0.0, 1.0, 2.0, 3.0]
    assert [x.get_text() for x in pic.axes[0].get_xticklabels()] == ["ckpt0", "ckpt10", "ckpt20", "ckpt30"]


def test_cli_plot_sweep_writes_a_figure_and_refuses_a_bad_table(tmp_path, capsys):
    t = _sweep_table()
    t.to_parquet(tmp_path / "t.parquet")
    out = tmp_path / "fig.pdf"
    assert main(["plot-sweep", str(tmp_path / "t.parquet"), "-o", str(out)]) == 0
    assert out.read_bytes()[:5] == b"%PDF-" and "training figure" in capsys.readouterr().out
    out2 = tmp_path / "box.svg"
    assert main(["plot-sweep", str(tmp_path / "t.parquet"), "-o", str(out2), "--kind", "groups", "--step", "10",
                 "--radius", "0.5"]) == 0
    assert "groups figure at 10" in capsys.readouterr().out
    t.drop(columns=["group"]).to_csv(tmp_path / "bad.csv", index=False)
    (tmp_path / "junk.parquet").write_text("not a parquet file")
    for bad, msg in ((tmp_path / "bad.csv", "no column 'group'"), (tmp_path / "junk.parquet", "cannot read the table"),
                     (tmp_path / "missing.csv", "no such file"), (tmp_path / "t.txt", ".parquet or .csv")):
        fig = tmp_path / "never.pdf"
        assert main(["plot-sweep", str(bad), "-o", str(fig)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and msg in err and not fig.exists()


def test_smallest_last_order_colours_with_degeneracy_plus_one_colours():
    import networkx as nx

    rng = np.random.default_rng(0)
    for _ in range(30):
        n = int(rng.integers(1, 60))
        E = rng.integers(0, n, (int(rng.integers(0, 200)), 2))
        E = np.unique(np.sort(E[E[:, 0] != E[:, 1]], axis=1), axis=0).reshape(-1, 2)
        g = nx.Graph()
        g.add_nodes_from(range(n))
        g.add_edges_from(E.tolist())
        k = max(nx.core_number(g).values())  # the degeneracy
        order, _, _ = P._smallest_last(n, E)
        pos = {v: i for i, v in enumerate(order)}
        assert sorted(order) == list(range(n))
        assert max(sum(pos[u] < pos[v] for u in g[v]) for v in g) <= k
        c = P.region_colours(n, E, k + 1)
        assert c.max() <= k and all(c[a] != c[b] for a, b in E)


def test_distance_without_decision_segments_shades_the_margin_and_says_so():
    net = random_net(2, [8, 8], seed=3, out=3)
    res = count_regions(net, Box([-1.0, -1.0], [1.0, 1.0]), engine="bfs")  # no segments from the BFS
    pic = plot_regions(res, shade="distance")
    assert pic.shade == "margin" and "no decision segments" in pic.colorbar.ax.get_ylabel()
    ok = np.isfinite(pic.values)
    assert ok.all()  # every pixel centre lies inside the box
    top = np.sort(net.forward(pic.vertices), axis=1)
    assert np.allclose(pic.values, top[:, -1] - top[:, -2])


def test_drawing_into_given_axes(tmp_path):
    from matplotlib.figure import Figure

    net = random_net(2, [8, 8], seed=7)
    res = count_regions(net, Box([-1.0, -1.0], [1.0, 1.0]), polygons=True)
    fig = Figure()
    left, right = fig.subplots(1, 2)
    pic = plot_regions(res, tmp_path / "two.png", ax=right, title="Right")
    assert pic.figure is fig and pic.axes is right and not left.collections
    assert right.get_title() == f"Right\n{res.activation_regions:,} activation regions (exact)"
    assert sum(len(c.get_paths()) for c in right.collections if c.get_gid().startswith("regions-")) == len(pic)
    assert (tmp_path / "two.png").read_bytes()[:4] == b"\x89PNG"

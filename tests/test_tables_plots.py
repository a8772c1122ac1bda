"""Ground-truth table writer, boundary distances, and pictures of the regions."""

import csv
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from exactregions import Ball, Box, count_regions
from exactregions.bounds import all_bounds
from exactregions.cli import main
from exactregions.io import load_npz, save_npz
from exactregions.plot import plot_regions, polygon_area

from conftest import random_net

ROOT = Path(__file__).resolve().parent.parent


def _script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_ground_truth_tiny_grid_reproduces_direct_counts_and_resumes(tmp_path):
    gt = _script("ground_truth")
    out = tmp_path / "gt.csv"
    assert gt.run("tiny", out, time_limit=30, progress=False) == 2
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 2
    for row in rows:
        net = load_npz(tmp_path / row["model_file"])
        c = np.array([float(v) for v in row["centre"].split(";")])
        dom = Ball(c, float(row["radius"]))
        res = count_regions(net, dom, engine="bfs")
        assert int(row["activation_regions"]) == res.activation_regions
        assert int(row["linear_regions"]) == res.linear_regions and row["complete"] == "True"
        b = all_bounds(net, dom)
        assert int(row["bound_local_lp"]) == b["local_lp"].value
        assert float(row["ratio_serra2018"]) == pytest.approx(b["serra2018"].value / res.activation_regions, rel=1e-5)
    assert gt.run("tiny", out, time_limit=30, progress=False) == 0  # resume: nothing left to do
    assert len(list(csv.DictReader(out.open()))) == 2
    assert (tmp_path / "gt.json").exists()


def _numeric_boundary_distance(net, x, n_dirs=720, hi=2.0):
    """Smallest distance along many directions at which the pattern changes (bisection)."""
    p0 = net.pattern(x)
    best = np.inf
    for a in np.linspace(0, 2 * np.pi, n_dirs, endpoint=False):
        u = np.array([np.cos(a), np.sin(a)])
        if np.array_equal(net.pattern(x + hi * u), p0):
            continue
        lo_t, hi_t = 0.0, hi
        for _ in range(50):
            mid = (lo_t + hi_t) / 2
            if np.array_equal(net.pattern(x + mid * u), p0):
                lo_t = mid
            else:
                hi_t = mid
        best = min(best, hi_t)
    return best


def test_boundary_distance_formula_agrees_with_numeric_search():
    net = random_net(2, [8, 8], seed=4)
    X = np.random.default_rng(0).uniform(-1, 1, size=(8, 2))
    formula = net.boundary_distance(X)
    for x, f in zip(X, formula):
        num = _numeric_boundary_distance(net, x)
        assert f <= num + 1e-9  # the formula is the exact distance: no direction gets closer
        assert num == pytest.approx(f, rel=2e-3, abs=1e-6)  # and 720 directions nearly reach it


def test_plot_box_polygons_tile_the_domain(tmp_path):
    net = random_net(2, [8, 8], seed=7)
    box = Box([-1.0, -0.5], [1.0, 1.5])
    res = count_regions(net, box)
    polys = plot_regions(res, tmp_path / "r.png")
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(polys) == res.activation_regions
    assert sum(polygon_area(p) for p in polys) == pytest.approx(4.0, abs=1e-6)
    assert all(polygon_area(p) > 0 for p in polys)


def test_plot_disc_areas_sum_to_the_disc():
    net = random_net(2, [8, 8], seed=8)
    ball = Ball([0.1, -0.2], 0.7)
    res = count_regions(net, ball)
    polys = plot_regions(res, None, function=True)
    assert len(polys) == res.activation_regions
    # arcs are drawn as chords of pi/720: the area deficit is below 2e-5 relative
    assert sum(polygon_area(p) for p in polys) == pytest.approx(math.pi * 0.49, rel=2e-5)


def test_plot_cli(tmp_path, capsys):
    save_npz(random_net(2, [6], seed=1), tmp_path / "m.npz")
    png = tmp_path / "out.png"
    assert main(["plot", str(tmp_path / "m.npz"), "--ball", "0,0", "1", "-o", str(png), "--quiet"]) == 0
    assert png.exists() and "activation regions" in capsys.readouterr().out
    save_npz(random_net(3, [6], seed=1), tmp_path / "m3.npz")
    bad = tmp_path / "bad.png"
    assert main(["plot", str(tmp_path / "m3.npz"), "--box", "-1", "1", "-o", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "2-D input" in err and err.count("\n") == 1 and not bad.exists()
    assert main(["plot", str(tmp_path / "m.npz"), "--box", "-1", "1", "-o", str(tmp_path / "x.jpg")]) == 2

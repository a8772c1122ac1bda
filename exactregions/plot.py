"""Pictures of the regions of a 2-D input (or a 2-D plane slice): matplotlib.

Each region is drawn as its exact polygon: the domain's polygon (its bounding box for a
disc) clipped by the region's half-planes; for a disc, the polygon is then intersected with
the circle, whose arcs are drawn as chords of at most ``ARC_STEP`` radians (the only
approximation, in the drawing alone).
"""

from __future__ import annotations

import os
import tempfile

import networkx as nx
import numpy as np

from .engines.region import Tolerances, neuron_rows

__all__ = ["region_polygons", "plot_regions", "polygon_area", "clip_halfplane", "clip_disc"]

ARC_STEP = np.pi / 720


def clip_halfplane(poly: np.ndarray, g: np.ndarray, h: float) -> np.ndarray:
    """Sutherland–Hodgman: the part of a convex polygon (vertices in order) with ``g.x <= h``."""
    if len(poly) == 0:
        return poly
    s = poly @ g - h
    out = []
    n = len(poly)
    for i in range(n):
        a, b = poly[i], poly[(i + 1) % n]
        sa, sb = s[i], s[(i + 1) % n]
        if sa <= 0:
            out.append(a)
        if (sa < 0 < sb) or (sb < 0 < sa):
            out.append(a + (b - a) * (sa / (sa - sb)))
    return np.array(out) if out else np.zeros((0, 2))


def polygon_area(poly: np.ndarray) -> float:
    """Shoelace area (positive for counter-clockwise vertices)."""
    if len(poly) < 3:
        return 0.0
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def clip_disc(poly: np.ndarray, center, radius: float) -> np.ndarray:
    """Convex polygon (counter-clockwise) ∩ disc, as a polygon whose arcs are fine chords."""
    c = np.asarray(center, float)
    if len(poly) < 3:
        return np.zeros((0, 2))
    inside = np.linalg.norm(poly - c, axis=1) <= radius
    if inside.all():
        return poly
    pts, kinds = [], []  # kinds: 'v' vertex inside, 'in' entering the disc, 'out' leaving it
    n = len(poly)
    for i in range(n):
        a, b = poly[i], poly[(i + 1) % n]
        if inside[i]:
            pts.append(a), kinds.append("v")
        d, f = b - a, a - c
        A, B, C = d @ d, 2 * f @ d, f @ f - radius ** 2
        disc = B * B - 4 * A * C
        if A == 0 or disc <= 0:
            continue
        sq = np.sqrt(disc)
        for t, kind in (((-B - sq) / (2 * A), "in"), ((-B + sq) / (2 * A), "out")):
            if 0 < t < 1:
                pts.append(a + t * d), kinds.append(kind)
    if not pts:  # no crossing: the disc is inside the polygon, or they are disjoint
        if _contains_convex(poly, c):
            ang = np.arange(0, 2 * np.pi, ARC_STEP)
            return c + radius * np.stack([np.cos(ang), np.sin(ang)], axis=1)
        return np.zeros((0, 2))
    out = []
    m = len(pts)
    for k in range(m):
        out.append(pts[k])
        if kinds[k] == "out":  # follow the circle counter-clockwise to the next entry point
            nxt = pts[(k + 1) % m]
            a0 = np.arctan2(*(pts[k] - c)[::-1])
            a1 = np.arctan2(*(nxt - c)[::-1])
            span = (a1 - a0) % (2 * np.pi)
            steps = int(span / ARC_STEP)
            for j in range(1, steps):
                ang = a0 + span * j / steps
                out.append(c + radius * np.array([np.cos(ang), np.sin(ang)]))
    return np.array(out)


def _contains_convex(poly, p):
    edges = np.roll(poly, -1, axis=0) - poly
    rel = p - poly
    return bool(np.all(edges[:, 0] * rel[:, 1] - edges[:, 1] * rel[:, 0] >= 0))


def region_polygons(result) -> list[np.ndarray]:
    """The exact polygon of every region of a 2-D count, clipped to its domain (CCW vertices)."""
    net, domain = result.network, result.domain
    if net.input_dim != 2:
        raise ValueError("pictures need a 2-D input (use a plane slice for larger inputs)")
    lo, hi = domain.bounding_box()
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise ValueError("pictures need a bounded domain")
    base = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
    DA, Db = domain.rows()
    tol = result.tol or Tolerances()
    everything = ~net.linear_mask()
    polys = []
    for reg in result.regions:
        poly = base
        G, h = neuron_rows(net, reg.pattern, everything, tol)
        for g, b in zip(np.vstack([G, DA]), np.concatenate([h, Db])):
            poly = clip_halfplane(poly, g, b)
        if domain.l2_ball is not None:
            poly = clip_disc(poly, *domain.l2_ball)
        polys.append(poly)
    return polys


def plot_regions(result, path=None, function: bool = False, points=None, point_labels=None,
                 axes_labels=("x1", "x2"), title=None):
    """Draw every region (neighbours in different colours), the domain outline and centre,
    the count in the title ("lower bound" when incomplete); optionally shade by the network's
    output (``function=True``) and mark ``points``. Writes ``path`` atomically if given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    polys = region_polygons(result)
    colours = nx.greedy_color(result.graph, strategy="largest_first")
    palette = plt.get_cmap("tab20").colors
    fig, ax = plt.subplots(figsize=(7, 7))
    lo, hi = result.domain.bounding_box()
    if function:
        xs, ys = np.linspace(lo[0], hi[0], 300), np.linspace(lo[1], hi[1], 300)
        XX, YY = np.meshgrid(xs, ys)
        F = result.network.forward(np.stack([XX.ravel(), YY.ravel()], axis=1))[:, 0].reshape(XX.shape)
        F = np.where(result.domain.contains(np.stack([XX.ravel(), YY.ravel()], axis=1)).reshape(XX.shape), F, np.nan)
        im = ax.imshow(F, extent=(lo[0], hi[0], lo[1], hi[1]), origin="lower", cmap="viridis", alpha=0.9)
        fig.colorbar(im, ax=ax, fraction=0.046, label="network output")
        faces = "none"
    else:
        faces = [palette[(2 * colours.get(i, 0)) % len(palette)] for i in range(len(polys))]
    ax.add_collection(PolyCollection([p for p in polys], facecolors=faces, edgecolors="k", linewidths=0.4))
    if result.domain.l2_ball is not None:
        c, r = result.domain.l2_ball
        ang = np.linspace(0, 2 * np.pi, 721)
        ax.plot(c[0] + r * np.cos(ang), c[1] + r * np.sin(ang), "k-", lw=1.2)
        ax.plot([c[0]], [c[1]], "k+", ms=12, mew=2)
    if points is not None:
        P = np.atleast_2d(points)
        ax.plot(P[:, 0], P[:, 1], "r*", ms=14, mec="k")
        for p, lab in zip(P, point_labels or []):
            ax.annotate(lab, p, xytext=(5, 5), textcoords="offset points")
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    ax.set_xlabel(axes_labels[0])
    ax.set_ylabel(axes_labels[1])
    count = result.label() if result.complete else f"{result.label()}"
    ax.set_title(title or f"{count} activation regions, {result.linear_regions if result.complete else 'n/a'} linear "
                          f"({'exact' if result.complete else 'LOWER BOUND'})")
    if path is not None:
        _save_atomic(fig, path)
    plt.close(fig)
    return polys


def _save_atomic(fig, path):
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=directory)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=130, bbox_inches="tight", format="png")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise

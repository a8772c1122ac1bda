"""Pictures of the regions of a 2-D input (or a 2-D plane slice): matplotlib.

Each region is drawn as its exact polygon: the domain's polygon (its bounding box for a
disc) clipped by the region's half-planes; for a disc, the polygon is then intersected with
the circle, whose arcs are drawn as chords of at most ``ARC_STEP`` radians (the only
approximation, in the drawing alone).
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from .engines.region import Tolerances, neuron_rows
from .polygons import ARC_STEP, clip_disc, clip_halfplane, polygon_area  # noqa: F401 (re-exported)

__all__ = ["region_polygons", "plot_regions", "polygon_area", "clip_halfplane", "clip_disc"]

def region_polygons(result) -> list[np.ndarray]:
    """The exact polygon of every region of a 2-D count, clipped to its domain (CCW vertices):
    the planar engine's own polygons when it kept them, else each region's half-planes."""
    net, domain = result.network, result.domain
    if result.polygons is not None:
        if domain.l2_ball is None:
            return result.polygons
        return [clip_disc(p, *domain.l2_ball) for p in result.polygons]
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

    import networkx as nx

    polys = region_polygons(result)
    if result.edges or not result.polygons:
        colours = nx.greedy_color(result.graph, strategy="largest_first")
    else:  # no adjacency from the planar engine: colours by a seeded shuffle
        colours = dict(enumerate(np.random.default_rng(0).integers(0, 10, len(polys)).tolist()))
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
    thin = 0.4 if len(polys) < 5000 else 0.05
    ax.add_collection(PolyCollection([p for p in polys], facecolors=faces, edgecolors="k", linewidths=thin))
    if result.decision is not None and len(result.decision.segments):
        from matplotlib.collections import LineCollection

        S = result.decision.segments
        ax.add_collection(LineCollection(S.reshape(-1, 2, 2), colors="red", linewidths=2.5, zorder=3))
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
    lin = f", {result.linear_regions if result.complete else 'n/a'} linear" if result.linear_regions is not None \
        or not result.complete else ""
    db = f"; decision boundary (red) {result.decision.length:.4g} long" if result.decision is not None else ""
    ax.set_title(title or f"{count} activation regions{lin} ({'exact' if result.complete else 'LOWER BOUND'}){db}")
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

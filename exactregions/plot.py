"""Pictures: the regions of a 2-D input or a plane slice (:func:`plot_regions`), and the counts
of a sweep over points and checkpoints (:func:`plot_sweep`). matplotlib, imported when drawing.

Each region is drawn as its exact polygon: the domain's polygon (its bounding box for a
disc) clipped by the region's half-planes; for a disc, the polygon is then intersected with
the circle, whose arcs are drawn as chords of at most ``ARC_STEP`` radians (an approximation
of the drawing alone).

Two styles. ``"regions"``: each region filled from a colour-blind-safe palette
(:data:`PALETTES`), neighbours always in different colours (a greedy colouring of the region
adjacency graph). ``"shaded"``: thin edges over a shading by a chosen quantity (the network's
output, the region's area, the distance to the decision boundary), the style of slices of
:data:`LARGE_SLICE` regions and more, where one colour per region is confetti.

The decision boundary, the marked points and the ball's outline take colours from outside
every palette (:data:`BOUNDARY_COLOUR`, :data:`POINT_COLOUR`, :data:`OUTLINE_COLOUR`): black
and white, which differ from every palette colour by at least :data:`MIN_CONTRAST` (CIE76
colour difference) in normal vision and under simulated protanopia, deuteranopia and
tritanopia (Machado, Oliveira & Fernandes, "A physiologically-based model for simulation of
color vision deficiency", IEEE TVCG 2009). The boundary is drawn thick in black with a white
halo, so it reads over any fill or colour map.
"""

from __future__ import annotations

import os
import tempfile
import warnings

import numpy as np

from .domains import Ball
from .engines.region import Tolerances, neuron_rows
from .polygons import (ADJACENCY_TOL, ARC_STEP, clip_disc, clip_halfplane, polygon_adjacency,  # noqa: F401
                       polygon_area)

__all__ = ["region_polygons", "region_adjacency", "region_colours", "plot_regions", "RegionPicture",
           "check_plot_options", "colour_contrast", "plot_sweep", "read_sweep", "SweepPicture", "PALETTES",
           "LARGE_SLICE", "BOUNDARY_COLOUR", "POINT_COLOUR", "OUTLINE_COLOUR", "polygon_area", "clip_halfplane",
           "clip_disc"]

#: from this many regions on, ``style="auto"`` draws thin edges over a shading (``"shaded"``)
LARGE_SLICE = 100_000

#: vector files (PDF, SVG) hold the region layer as an image from this many regions on
#: (``rasterize=`` to choose); the axes, text, legend and decision boundary stay vectors
RASTER_ABOVE = 20_000

#: colour-blind-safe qualitative palettes for region fills. ``tol-light``: Paul Tol's "light"
#: scheme (its olive left out, it is near its pear; its pale grey, near the points' white);
#: ``okabe-ito``: Okabe & Ito's scheme (2008) without its black, the decision boundary's colour
PALETTES = {
    "tol-light": ("#77AADD", "#EE8866", "#EEDD88", "#FFAABB", "#99DDFF", "#44BB99", "#BBCC33"),
    "okabe-ito": ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"),
}

#: lines and markers of a sweep's groups (Okabe & Ito, yellow last: it is faint on white)
GROUP_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")

BOUNDARY_COLOUR = "#000000"  #: the decision boundary (drawn over a halo of BOUNDARY_HALO)
BOUNDARY_HALO = "#FFFFFF"
POINT_COLOUR = "#FFFFFF"  #: the marked points' face (their edge is black)
POINT_EDGE = "#000000"
OUTLINE_COLOUR = "#000000"  #: the ball's outline (dashed) and centre
EDGE_COLOUR = "#1A1A1A"  #: the regions' edges

#: the least CIE76 colour difference between a palette colour and the boundary's or the points'
#: colour, in normal vision and under each simulated colour-vision deficiency
MIN_CONTRAST = 20.0

#: the distance shading samples the decision boundary's segments every ``DISTANCE_STEP`` times
#: the picture's diameter and measures exact point-to-segment distances to the segments of the
#: nearest samples: each value is within half a step above the true distance
DISTANCE_STEP = 1e-3

#: the distance and margin shadings are evaluated on a grid of this many pixels along the
#: picture's longer side (they are not affine on a region; the output is, and is exact)
GRID = 600

#: the quantities a ``"shaded"`` picture can show
SHADES = ("output", "area", "distance")
STYLES = ("auto", "regions", "shaded")
FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg"}

# Machado et al. (2009), severity 1, on linear RGB
_CVD = {
    "protanopia": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216), (-0.003882, -0.048116, 1.051998)),
    "deuteranopia": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413), (-0.011820, 0.042940, 0.968881)),
    "tritanopia": ((1.255528, -0.076749, -0.178779), (-0.078411, 0.930809, 0.147602), (0.004733, 0.691367, 0.303900)),
}


# ------------------------------------------------------------------------------------ colours
def _rgb(colour) -> np.ndarray:
    """sRGB in [0, 1] of a hex string ``#RRGGBB`` or an RGB(A) tuple (no matplotlib needed)."""
    if isinstance(colour, str):
        s = colour.lstrip("#")
        if len(s) not in (6, 8) or any(ch not in "0123456789abcdefABCDEF" for ch in s):
            raise ValueError(f"colour {colour!r} is not a hex colour '#RRGGBB'")
        return np.array([int(s[i:i + 2], 16) / 255 for i in (0, 2, 4)])
    c = np.asarray(colour, float).ravel()
    if c.size not in (3, 4) or not np.all((c >= 0) & (c <= 1)):
        raise ValueError(f"colour {colour!r} is not an RGB tuple in [0, 1]")
    return c[:3]


def _lab(linear: np.ndarray) -> np.ndarray:
    """CIE L*a*b* (D65) of a linear-RGB colour."""
    M = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                  [0.0193339, 0.1191920, 0.9503041]])
    xyz = M @ linear / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def colour_contrast(a, b) -> float:
    """The least CIE76 difference (Delta E*ab) between two colours, in normal vision and under
    simulated protanopia, deuteranopia and tritanopia (Machado, Oliveira & Fernandes, 2009).

    Parameters
    ----------
    a, b : str or tuple
        Hex colours ``'#RRGGBB'`` or RGB tuples in [0, 1].

    Returns
    -------
    float
        ``min`` over the four visions of the Euclidean distance in L*a*b*.

    Examples
    --------
    >>> round(colour_contrast("#000000", "#FFFFFF"))
    100
    """
    def linear(c):
        c = _rgb(c)
        return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)

    la, lb = linear(a), linear(b)
    views = [np.eye(3)] + [np.array(m) for m in _CVD.values()]
    return float(min(np.linalg.norm(_lab(np.clip(M @ la, 0, 1)) - _lab(np.clip(M @ lb, 0, 1))) for M in views))


def _palette(palette) -> tuple:
    """The fill colours of ``palette`` (a name of :data:`PALETTES` or a sequence of colours),
    checked against the boundary's and the points' colours."""
    if isinstance(palette, str):
        if palette not in PALETTES:
            raise ValueError(f"unknown palette {palette!r}: choose from {', '.join(PALETTES)} or give a list of colours")
        return PALETTES[palette]
    colours = tuple(palette)
    if len(colours) < 6:
        raise ValueError(f"a palette needs at least 6 colours (the greedy colouring of a planar adjacency graph uses "
                         f"up to 6), got {len(colours)}")
    for c in colours:
        for name, other in (("decision boundary", BOUNDARY_COLOUR), ("marked points", POINT_COLOUR)):
            if colour_contrast(c, other) < MIN_CONTRAST:
                raise ValueError(f"palette colour {c!r} is too close to the {name}' colour {other} "
                                 f"(colour difference below {MIN_CONTRAST:g}): leave it out")
    return colours


# ----------------------------------------------------------------------------- geometry
def _straight_polygons(result) -> list:
    """Each region's polygon before a disc clips it: the planar engine's own, else the domain's
    polygon clipped by the region's half-planes."""
    from .engines.planar import _domain_polygon

    if result.polygons is not None:
        return result.polygons
    net, domain = result.network, result.domain
    if net.input_dim != 2:
        raise ValueError("pictures need a 2-D input (use a plane slice for larger inputs)")
    lo, hi = domain.bounding_box()
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise ValueError("pictures need a bounded domain")
    base = _domain_polygon(domain)
    tol = result.tol or Tolerances()
    everything = ~net.linear_mask()
    polys = []
    for reg in result.regions:
        poly = base
        G, h = neuron_rows(net, reg.pattern, everything, tol)
        for g, b in zip(G, h):
            poly = clip_halfplane(poly, g, b)
        polys.append(poly)
    return polys


def region_polygons(result) -> list[np.ndarray]:
    """The exact polygon of every region of a 2-D count, clipped to its domain.

    Parameters
    ----------
    result : RegionCount
        A count of a 2-D input or a plane slice (in the slice's coordinates): the planar
        engine's polygons when it kept them (``polygons=True``), else each region's
        half-planes clipped to the domain.

    Returns
    -------
    list of (k, 2) arrays
        Counter-clockwise vertices, one polygon per region, in the result's region order; a
        disc's arcs are chords of at most :data:`ARC_STEP` radians.

    Examples
    --------
    >>> from exactregions import Box, Network, count_regions
    >>> net = Network([[[1.0, 0.0]], [[1.0]]], [[0.0], [0.0]])
    >>> [round(polygon_area(p), 6) for p in region_polygons(count_regions(net, Box([-1, -1], [1, 1]),
    ...                                                                    engine="bfs"))]
    [2.0, 2.0]
    """
    polys = _straight_polygons(result)
    if result.domain.l2_ball is None:
        return list(polys)
    return [clip_disc(p, *result.domain.l2_ball) for p in polys]


def region_adjacency(result, polygons=None, tol: float = ADJACENCY_TOL) -> np.ndarray:
    """The neighbour pairs of a 2-D count: the engine's own adjacency when it gave one (the
    BFS's shared facets), else read off the exact polygons (:func:`polygon_adjacency`: a
    shared boundary segment longer than ``tol`` times the picture's diameter).

    Parameters
    ----------
    result : RegionCount
        A 2-D count (or a plane slice).
    polygons : list of arrays, optional
        The regions' polygons before any disc clipping (computed when not given).
    tol : float
        :data:`ADJACENCY_TOL` by default.

    Returns
    -------
    (p, 2) int array
        Pairs ``(i, j)``, ``i < j``, of region indices.

    Examples
    --------
    >>> from exactregions import Box, Network, count_regions
    >>> net = Network([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0]]], [[0.0, 0.0], [0.0]])
    >>> len(region_adjacency(count_regions(net, Box([-1, -1], [1, 1]), engine="planar", polygons=True)))
    4
    """
    from .engines.planar import _domain_polygon

    if result.edges:
        return np.asarray(result.edges, np.int64).reshape(-1, 2)
    polys = _straight_polygons(result) if polygons is None else polygons
    return polygon_adjacency(polys, outline=_domain_polygon(result.domain), disc=result.domain.l2_ball, tol=tol)


def _smallest_last(n: int, P: np.ndarray):
    """Matula & Beck's smallest-last order of a graph on ``range(n)`` with edges ``P``: the
    vertices in the reverse of repeatedly removing one of least remaining degree (a bucket queue
    by degree, stale entries skipped: O(vertices + edges); networkx's ``strategy_smallest_last``
    copies the graph into dicts and took most of 20 s on 223,124 regions). Returns the order
    and the CSR adjacency (targets, offsets) as lists."""
    src = np.concatenate([P[:, 0], P[:, 1]])
    dst = np.concatenate([P[:, 1], P[:, 0]])
    order = np.argsort(src, kind="stable")
    targets = dst[order]
    offsets = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=n))])
    deg = np.diff(offsets)
    degree = deg.tolist()
    tl, ol = targets.tolist(), offsets.tolist()
    buckets = [[] for _ in range(int(deg.max()) + 1 if n else 1)]  # vertices by degree (stale ones skipped)
    for v in np.argsort(deg, kind="stable").tolist()[::-1]:
        buckets[degree[v]].append(v)
    gone = [False] * n
    removed = []
    d = 0
    while len(removed) < n:
        while not buckets[d]:
            d += 1
        v = buckets[d].pop()
        if gone[v] or degree[v] != d:
            continue
        gone[v] = True
        removed.append(v)
        for u in tl[ol[v]:ol[v + 1]]:
            if not gone[u]:
                degree[u] -= 1
                buckets[degree[u]].append(u)
        d = max(d - 1, 0)
    return removed[::-1], tl, ol


def region_colours(n: int, pairs, n_colours: int, seed: int = 0) -> np.ndarray:
    """A colour index per region such that neighbours differ.

    The regions are taken in the smallest-last order (Matula & Beck, "Smallest-last ordering
    and clustering and graph coloring algorithms", J. ACM 1983; networkx's greedy colouring
    has it as ``strategy="smallest_last"``), in which each region has at most as many
    neighbours coloured before it as the graph's degeneracy: at most five for a planar graph,
    as every region adjacency graph is. Each takes a colour drawn (seeded) from those none of
    them uses, so six colours always suffice and the whole palette is used (the smallest free
    colour, networkx's choice, two-colours a line arrangement).

    Parameters
    ----------
    n : int
        The number of regions.
    pairs : (p, 2) array
        Neighbour pairs.
    n_colours : int
        The palette's size.
    seed : int
        The draws' seed (the same picture every time).

    Returns
    -------
    (n,) int array
        Indices in ``range(n_colours)``. A graph that needs more colours than the palette has
        (not planar) gets networkx's DSATUR colouring (Brélaz 1979), its extra colours wrapped
        around with a warning.

    Examples
    --------
    >>> c = region_colours(3, [(0, 1), (1, 2), (0, 2)], 6)
    >>> len(set(c.tolist()))
    3
    """
    P = np.asarray(pairs, np.int64).reshape(-1, 2)
    order, tl, ol = _smallest_last(n, P)
    draws = np.random.default_rng(seed).random(n).tolist()
    out = [-1] * n
    palette = range(n_colours)
    for v in order:
        used = {out[u] for u in tl[ol[v]:ol[v + 1]]}
        free = [c for c in palette if c not in used]
        if not free:
            break
        out[v] = free[int(draws[v] * len(free))]
    else:
        return np.array(out, np.int64)
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(P.tolist())
    col = nx.greedy_color(g, strategy="saturation_largest_first")
    res = np.array([col[i] for i in range(n)], np.int64)
    if res.max() >= n_colours:
        warnings.warn(f"the region graph needs {res.max() + 1} colours and the palette has {n_colours}: some "
                      "neighbours share a colour", stacklevel=3)
        res %= n_colours
    return res


# --------------------------------------------------------------------------- validation
def _check_path(path):
    """The matplotlib format of ``path`` (from its suffix), or a ValueError."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise ValueError(f"the picture's file must end in {', '.join(FORMATS)} (the suffix chooses the format), "
                         f"got '{path}'")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"cannot write '{path}': no folder {folder}")
    return FORMATS[ext]


def _check_cmap(cmap):
    import matplotlib

    if not isinstance(cmap, str):
        return cmap
    try:
        return matplotlib.colormaps[cmap]
    except KeyError:
        raise ValueError(f"unknown colour map {cmap!r}: e.g. viridis, cividis, magma, plasma, inferno "
                         "(matplotlib's names)") from None


def check_plot_options(path=None, *, cmap="viridis", dpi=150, style="auto", shade=None, palette="tol-light",
                       output=0, n_outputs=None):
    """Refuse bad picture options with one clear line, before anything is counted or drawn.

    Parameters
    ----------
    path : str or path, optional
        The file to write: its suffix (``.png``, ``.pdf``, ``.svg``) chooses the format.
    cmap, dpi, style, shade, palette, output
        As :func:`plot_regions` takes them.
    n_outputs : int, optional
        The network's number of outputs, to check ``output``.

    Raises
    ------
    ValueError
        What was wrong and what to do.

    Examples
    --------
    >>> check_plot_options("fig.jpg")
    Traceback (most recent call last):
    ...
    ValueError: the picture's file must end in .png, .pdf, .svg (the suffix chooses the format), got 'fig.jpg'
    """
    if path is not None:
        _check_path(path)
    _check_cmap(cmap)
    _palette(palette)
    if not (isinstance(dpi, (int, float)) and np.isfinite(dpi) and dpi > 0):
        raise ValueError(f"dpi must be a positive number, got {dpi!r}")
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}: choose from {', '.join(STYLES)}")
    if shade is not None and shade not in SHADES:
        raise ValueError(f"unknown shading {shade!r}: choose from {', '.join(SHADES)}")
    if style == "regions" and shade is not None:
        raise ValueError(f"a shading ({shade}) is drawn in the 'shaded' style, not 'regions'")
    if isinstance(output, bool) or not isinstance(output, (int, np.integer)):
        raise ValueError(f"output must be the index of a network output (an integer), got {output!r}")
    if n_outputs is not None and not 0 <= output < n_outputs:
        raise ValueError(f"output {output} is out of range: the network has {n_outputs} output"
                         f"{'s' if n_outputs != 1 else ''} (0..{n_outputs - 1})")


# ---------------------------------------------------------------------------- shadings
def _add_polygons(ax, polys, gid, values=None, facecolors=None, **kw) -> list:
    """Add the polygons to ``ax``: one ``PolyCollection`` per vertex count (``gid``-k), built
    from one array each (matplotlib's fast path: a path per polygon from a list of arrays took
    8 s for 223,124 regions); ``values`` (shaded through ``kw``'s cmap and norm) or
    ``facecolors`` one per polygon. The polygons do not overlap, so the order drawn does not
    matter. Returns the collections."""
    from matplotlib.collections import PolyCollection

    sizes = np.array([len(p) for p in polys])
    out = []
    for k in np.unique(sizes[sizes >= 3]):
        idx = np.flatnonzero(sizes == k)
        extra = {}
        if values is not None:
            extra["array"] = np.asarray(values)[idx]
        if facecolors is not None:
            extra["facecolors"] = facecolors if isinstance(facecolors, str) else np.asarray(facecolors)[idx]
        coll = PolyCollection(np.stack([polys[i] for i in idx]), **kw, **extra)
        coll.set_gid(f"{gid}-{k}")
        ax.add_collection(coll, autolim=False)
        out.append(coll)
    return out


def _areas(polys) -> np.ndarray:
    """Shoelace areas of many polygons at once (positive for counter-clockwise vertices)."""
    sizes = np.array([len(p) for p in polys])
    if not sizes.sum():
        return np.zeros(len(polys))
    V = np.concatenate([p for p in polys if len(p)])
    start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    nxt = np.arange(1, len(V) + 1)
    nxt[start[sizes > 0] + sizes[sizes > 0] - 1] = start[sizes > 0]
    cross = V[:, 0] * V[nxt, 1] - V[nxt, 0] * V[:, 1]
    out = np.zeros(len(polys))
    out[sizes > 0] = 0.5 * np.add.reduceat(cross, start[sizes > 0])
    out[sizes < 3] = 0.0
    return out


def _triangulation(polys):
    """All polygons' vertices stacked, and a fan of triangles per polygon (indices into them)."""
    sizes = np.array([len(p) for p in polys])
    V = np.concatenate([p for p in polys if len(p)]) if sizes.sum() else np.zeros((0, 2))
    start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    k = np.maximum(sizes - 2, 0)
    base = np.repeat(start, k)
    step = np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k) + 1
    return V, np.stack([base, base + step, base + step + 1], axis=1)


def _outputs(net, X):
    """The network's outputs at the points of ``X``, each distinct point evaluated once, in
    batches that hold about 2e7 hidden values."""
    U, inv = np.unique(X, axis=0, return_inverse=True)
    width = max([net.input_dim] + list(net.hidden_widths))
    batch = max(256, int(2e7 // width))
    F = np.concatenate([net.forward(U[s:s + batch]) for s in range(0, len(U), batch)]) if len(U) else \
        np.zeros((0, net.output_dim))
    return F[np.ravel(inv)]


def _grid(domain, lo, hi, pixels):
    """Pixel centres of a grid over the box ``lo``-``hi`` (``pixels`` along its longer side),
    the grid's shape, which pixels lie in the domain, and the image extent."""
    w, h = float(hi[0] - lo[0]), float(hi[1] - lo[1])
    step = max(w, h) / pixels
    nx_, ny_ = max(1, int(round(w / step))), max(1, int(round(h / step)))
    xs = lo[0] + (np.arange(nx_) + 0.5) * w / nx_
    ys = lo[1] + (np.arange(ny_) + 0.5) * h / ny_
    XX, YY = np.meshgrid(xs, ys)
    X = np.stack([XX.ravel(), YY.ravel()], axis=1)
    return X, (ny_, nx_), domain.contains(X), (lo[0], hi[0], lo[1], hi[1])


def _margin(F):
    """The gap between the two largest outputs (the absolute output for a single one)."""
    if F.shape[1] == 1:
        return np.abs(F[:, 0])
    top = np.sort(F, axis=1)
    return top[:, -1] - top[:, -2]


def _segment_distance(X, S, diameter):
    """Distance from each point of ``X`` to the nearest segment of ``S`` ((k, 4) rows
    ``x0, y0, x1, y1``): exact to the segments of the nearest samples (:data:`DISTANCE_STEP`)."""
    from scipy.spatial import cKDTree

    step = DISTANCE_STEP * diameter
    L = np.hypot(S[:, 2] - S[:, 0], S[:, 3] - S[:, 1])
    n = np.maximum(1, np.ceil(L / step).astype(np.int64))
    seg = np.repeat(np.arange(len(S)), n + 1)
    t = np.arange(seg.size) - np.repeat(np.cumsum(n + 1) - (n + 1), n + 1)
    t = t / np.repeat(n, n + 1)
    P = S[seg, :2] + t[:, None] * (S[seg, 2:] - S[seg, :2])
    k = min(2, len(P))
    _, near = cKDTree(P).query(X, k=k)
    near = near.reshape(len(X), k)
    best = np.full(len(X), np.inf)
    for j in range(k):
        s = S[seg[near[:, j]]]
        a, d = s[:, :2], s[:, 2:] - s[:, :2]
        dd = np.maximum(np.einsum("ij,ij->i", d, d), np.finfo(float).tiny)
        u = np.clip(np.einsum("ij,ij->i", X - a, d) / dd, 0.0, 1.0)
        best = np.minimum(best, np.hypot(*(X - a - u[:, None] * d).T))
    return best


# ------------------------------------------------------------------------------ drawing
class RegionPicture(list):
    """The polygons drawn, one per region (a list, as :func:`region_polygons` gives them), and
    what was drawn with them.

    Attributes
    ----------
    figure : matplotlib.figure.Figure
        The figure (already written to ``path`` when one was given).
    axes : matplotlib.axes.Axes
        Its axes.
    style : str
        ``"regions"`` or ``"shaded"``.
    shade : str or None
        The quantity shaded (``"output"``, ``"area"``, ``"distance"``, or ``"margin"`` when
        the distance was asked for and the count carries no decision segments).
    values : array or None
        The shaded values: per region (area), else per point of :attr:`vertices` (the
        regions' vertices for the output, the pixel centres of a grid for the distance and
        the margin; NaN outside the domain).
    colours : (n,) int array or None
        Each region's palette index (the ``"regions"`` style).
    adjacency : (p, 2) int array or None
        The neighbour pairs the colouring used.
    title, subtitle : str
        The title, and the line under it with the count (never left out).
    path : str or None
        The file written.
    vertices : (m, 2) array or None
        The points the values belong to (for every shading but the area).
    palette : tuple
        The fill colours.
    colorbar : matplotlib.colorbar.Colorbar or None
        The shading's colour bar.
    """

    def __init__(self, polygons=()):
        super().__init__(polygons)
        self.figure = self.axes = self.values = self.vertices = self.colours = self.adjacency = None
        self.style, self.shade, self.path = "regions", None, None
        self.title, self.subtitle, self.palette, self.colorbar = "", "", (), None

    def __repr__(self):
        return (f"RegionPicture({len(self)} regions, style={self.style!r}, shade={self.shade!r}, "
                f"path={self.path!r})")


def _count_line(result) -> str:
    """The count as a picture shows it: exact, or a LOWER BOUND, with the decision boundary."""
    n = result.activation_regions
    if result.complete:
        line = f"{n:,} activation regions (exact)"
        if result.linear_regions is not None:
            line += f", {result.linear_regions:,} linear regions"
    else:
        line = f">= {n:,} activation regions (LOWER BOUND: stopped at {result.stop_reason})"
    d = result.decision
    if d is not None and getattr(d, "length", None) is not None:
        line += f"; decision boundary {d.length:.4g} long" + ("" if result.complete else " (lower bound)")
    return line


def plot_regions(result, path=None, function: bool = False, points=None, point_labels=None,
                 axes_labels=("x1", "x2"), title=None, *, output: int = 0, shade: str | None = None,
                 style: str = "auto", cmap="viridis", palette="tol-light", dpi: float = 150,
                 figsize=None, legend: bool = True, rasterize: bool | None = None, ax=None) -> RegionPicture:
    """Draw the exact regions of a 2-D count (or a plane slice).

    Parameters
    ----------
    result : RegionCount
        A count of a 2-D input or a plane slice. The planar engine's polygons are used when it
        kept them (``count_regions(..., polygons=True)``), its decision boundary when it was
        asked for (``decision=True``).
    path : str or path, optional
        File to write, atomically (a temporary file, then ``os.replace``); the suffix chooses
        the format: ``.png``, ``.pdf`` or ``.svg`` (vector).
    function : bool
        Shade by the network's output ``output`` (the same as ``shade="output"``).
    points : (k, 2) array, optional
        Points to mark (white stars edged in black), labelled by ``point_labels``; those
        outside the picture are left out and counted in the legend.
    axes_labels : (str, str)
        The axes' labels.
    title : str, optional
        The title; the count stays in the subtitle under it (never dropped; "LOWER BOUND" when
        the count is incomplete). Without one, the count is the title.
    output : int
        The output shaded by ``shade="output"`` (0 to the number of outputs minus one).
    shade : {"output", "area", "distance"}, optional
        The ``"shaded"`` style's quantity: the network's output ``output`` (exact: it is
        affine on each region, drawn by linear interpolation on triangles of the region
        from its values at the vertices: one network evaluation per distinct vertex),
        ``log10`` of each region's area, or the distance to the decision boundary (from the
        planar engine's segments, to within :data:`DISTANCE_STEP`, on a grid of :data:`GRID`
        pixels; a count without them is shaded by the margin between the two largest outputs
        on a coarser grid instead, and says so in the colour bar's label).
    style : {"auto", "regions", "shaded"}
        ``"regions"``: palette fills, neighbours differ. ``"shaded"``: thin edges over the
        shading (``shade``, by default ``"area"``). ``"auto"``: shaded when a shading is asked
        for or there are at least :data:`LARGE_SLICE` regions, else regions.
    cmap : str or Colormap
        The shading's colour map (default viridis: perceptually uniform, colour-blind safe).
    palette : str or sequence of colours
        The fills of the ``"regions"`` style: a name of :data:`PALETTES` or at least six
        colours, each at least :data:`MIN_CONTRAST` from the boundary's and the points'.
    dpi : float
        Resolution of PNG files (and of rasterized layers in vector files).
    figsize : (float, float), optional
        Inches; by default 7 wide, the height from the domain's aspect.
    legend : bool
        A legend for the decision boundary, the points, the ball's outline and centre, the
        regions (the shading has its colour bar).
    rasterize : bool, optional
        Hold the region layer of a vector file as an image (default: from
        :data:`RASTER_ABOVE` regions on).
    ax : matplotlib Axes, optional
        Draw into these axes (the figure is then neither created nor closed here).

    Returns
    -------
    RegionPicture
        The polygons drawn (a list, one per region) with the figure, the style, the shading's
        values, the colours and the adjacency used.

    Raises
    ------
    ValueError
        A bad option (one line, before drawing), an input that is not 2-D.

    Examples
    --------
    >>> from exactregions import Box, count_regions, random_network
    >>> res = count_regions(random_network(2, [8, 8], seed=1), Box([-1, -1], [1, 1]), polygons=True)
    >>> pic = plot_regions(res, title="A small net")
    >>> len(pic) == res.activation_regions, pic.style, pic.subtitle.endswith("(exact)")
    (True, 'regions', True)
    """
    net = result.network
    if function:
        if shade not in (None, "output"):
            raise ValueError(f"function=True shades by the output; it cannot be combined with shade={shade!r}")
        shade = "output"
    check_plot_options(path, cmap=cmap, dpi=dpi, style=style, shade=shade, palette=palette, output=output,
                       n_outputs=net.output_dim if net is not None else None)
    fmt = _check_path(path) if path is not None else None
    colours_hex = _palette(palette)
    cm = _check_cmap(cmap)
    straight = _straight_polygons(result)
    domain = result.domain
    polys = list(straight) if domain.l2_ball is None else [clip_disc(p, *domain.l2_ball) for p in straight]
    n = len(polys)
    if style == "auto":
        style = "shaded" if shade is not None or n >= LARGE_SLICE else "regions"
    if style == "shaded" and shade is None:
        shade = "area"
    pic = RegionPicture(polys)
    pic.style, pic.shade, pic.palette = style, shade, colours_hex

    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    import matplotlib.patheffects as pe

    lo, hi = domain.bounding_box()
    own = ax is None
    if own:
        from matplotlib.figure import Figure

        if figsize is None:
            aspect = float((hi[1] - lo[1]) / max(hi[0] - lo[0], 1e-300))
            figsize = (7.5, float(np.clip(6.2 * aspect, 2.2, 8.5)) + 1.6)
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    pic.figure, pic.axes = fig, ax
    thin = 0.4 if n < 5_000 else 0.15 if n < LARGE_SLICE else 0.05
    raster = (n >= RASTER_ABOVE) if rasterize is None else bool(rasterize)
    handles = []
    mappable, label, extend = None, None, "neither"
    if style == "regions":
        pairs = region_adjacency(result, straight) if n > 1 else np.zeros((0, 2), np.int64)
        col = region_colours(n, pairs, len(colours_hex))
        pic.colours, pic.adjacency = col, pairs
        _add_polygons(ax, polys, "regions", facecolors=np.array(colours_hex)[col], edgecolors=EDGE_COLOUR,
                      linewidths=thin, rasterized=raster)
        handles.append(Patch(facecolor=colours_hex[0], edgecolor=EDGE_COLOUR, linewidth=0.6,
                             label="activation region (neighbours differ in colour)"))
    else:
        edge = dict(edgecolors=EDGE_COLOUR, linewidths=thin, rasterized=raster)
        if n >= LARGE_SLICE:
            edge["edgecolors"] = (*_rgb(EDGE_COLOUR), 0.35)
        if shade == "area":  # one collection: the fills by area, the edges over them
            vals = np.log10(np.where((A := _areas(polys)) > 0, A, np.nan))
            fin = vals[np.isfinite(vals)]
            # (the slivers' tail would take most of the colour map: it starts at the 1st percentile)
            vmin, vmax = (np.percentile(fin, 1), fin.max()) if len(fin) else (0.0, 1.0)
            extend = "min" if len(fin) and fin.min() < vmin else "neither"
            from matplotlib.colors import Normalize

            mappable = _add_polygons(ax, polys, "regions", values=vals, cmap=cm, norm=Normalize(vmin, vmax), zorder=2,
                                     **edge)[0]
            label = "log10 of the region's area" + (" (from the 1st percentile)" if extend == "min" else "")
            pic.values = vals
        else:
            if shade == "output":
                V, T = _triangulation(polys)
                vals = _outputs(net, V)[:, output]
                label = f"network output {output} (exact: affine on each region)"
                if len(T):
                    mappable = ax.tripcolor(V[:, 0], V[:, 1], T, vals, shading="gouraud", cmap=cm, rasterized=raster,
                                            zorder=1)
                pic.values, pic.vertices = vals, V
            else:
                S = getattr(result.decision, "segments", None)
                X, shape, inside, extent = _grid(domain, lo, hi, GRID if S is not None and len(S) else GRID // 3)
                vals = np.full(len(X), np.nan)
                if S is not None and len(S):
                    vals[inside] = _segment_distance(X[inside], np.asarray(S, float), float(np.hypot(*(hi - lo))))
                    label = "distance to the decision boundary"
                else:
                    pic.shade = "margin"
                    vals[inside] = _margin(_outputs(net, X[inside]))
                    why = "no decision segments in this count" if S is None else "the boundary misses the slice"
                    label = (f"margin between the two largest outputs ({why})" if net.output_dim > 1 else
                             f"absolute output ({why})")
                mappable = ax.imshow(vals.reshape(shape), extent=extent, origin="lower", cmap=cm,
                                     interpolation="nearest", zorder=1, aspect="auto")
                pic.values, pic.vertices = vals, X
            if mappable is not None:
                mappable.set_gid("shading")
            _add_polygons(ax, polys, "regions", facecolors="none", zorder=2, **edge)
        handles.append(Line2D([], [], color=EDGE_COLOUR, lw=0.8, label="region boundaries"))
    if mappable is not None:
        wide = (hi[1] - lo[1]) < 0.6 * (hi[0] - lo[0])  # a wide picture: the colour bar under it
        cb = fig.colorbar(mappable, ax=ax, shrink=0.9 if not wide else 0.7, extend=extend,
                          location="bottom" if wide else "right", aspect=30 if wide else 20)
        cb.set_label(label)
        pic.colorbar = cb
    S = getattr(result.decision, "segments", None)
    if S is not None and len(S):
        halo = [pe.Stroke(linewidth=4.6, foreground=BOUNDARY_HALO), pe.Normal()]
        lc = LineCollection(np.asarray(S, float).reshape(-1, 2, 2), colors=BOUNDARY_COLOUR, linewidths=2.2,
                            zorder=4, path_effects=halo, capstyle="round")
        lc.set_gid("decision boundary")
        ax.add_collection(lc, autolim=False)
        handles.append(Line2D([], [], color=BOUNDARY_COLOUR, lw=2.2, path_effects=halo,
                              label="decision boundary (exact)" + ("" if result.complete else ", incomplete")))
    if isinstance(domain, Ball):
        c = np.asarray(domain.center, float)
        if domain.l2_ball is not None:
            r = domain.l2_ball[1]
            ang = np.linspace(0, 2 * np.pi, 721)
            O = np.stack([c[0] + r * np.cos(ang), c[1] + r * np.sin(ang)], axis=1)
        else:
            from .engines.planar import _domain_polygon

            O = _domain_polygon(domain)
            O = np.vstack([O, O[:1]])
        ax.plot(O[:, 0], O[:, 1], ls="--", color=OUTLINE_COLOUR, lw=1.2, zorder=5, gid="ball outline")
        ax.plot([c[0]], [c[1]], "+", color=OUTLINE_COLOUR, ms=12, mew=2, zorder=6, gid="ball centre")
        handles.append(Line2D([], [], ls="--", color=OUTLINE_COLOUR, lw=1.2, label="ball boundary"))
        handles.append(Line2D([], [], ls="none", marker="+", color=OUTLINE_COLOUR, ms=10, mew=2, label="ball centre"))
    if points is not None:
        P = np.asarray(points, float).reshape(-1, 2)
        pad = 1e-9 * float(np.hypot(*(hi - lo)))
        seen = np.all((P >= lo - pad) & (P <= hi + pad), axis=1)  # (points on the edge drawn whole)
        labs = [lab for lab, s in zip(point_labels or [], seen) if s]
        P = P[seen]
        ax.plot(P[:, 0], P[:, 1], ls="none", marker="*", ms=15, mfc=POINT_COLOUR, mec=POINT_EDGE, mew=1.2, zorder=7,
                gid="points", clip_on=False)
        mid = (lo + hi) / 2
        for p, lab in zip(P, labs):  # the label on the side of the picture's centre
            sx, sy = (1 if p[0] <= mid[0] else -1), (1 if p[1] <= mid[1] else -1)
            ax.annotate(lab, p, xytext=(8 * sx, 8 * sy), textcoords="offset points", fontsize="small", zorder=8,
                        ha="left" if sx > 0 else "right", va="bottom" if sy > 0 else "top",
                        bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.85))
        out = int((~seen).sum())
        handles.append(Line2D([], [], ls="none", marker="*", ms=12, mfc=POINT_COLOUR, mec=POINT_EDGE, mew=1.2,
                              label="marked points" + (f" ({out} outside the picture)" if out else "")))
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    ax.set_xlabel(axes_labels[0])
    ax.set_ylabel(axes_labels[1])
    count = _count_line(result)
    pic.title, pic.subtitle = (title, count) if title else (count, "")
    if own and pic.subtitle:
        fig.suptitle(pic.title)
        ax.set_title(pic.subtitle, fontsize="small")
    else:
        ax.set_title(pic.title + ("\n" + pic.subtitle if pic.subtitle else ""))
    if legend and handles:
        kw = dict(handles=handles, fontsize="small", frameon=False)
        if own:
            fig.legend(loc="outside lower center", ncol=min(3, len(handles)), **kw)
        else:
            ax.legend(loc="best", **kw)
    if path is not None:
        _save_atomic(fig, path, fmt, dpi)
        pic.path = os.fspath(path)
    return pic


def _save_atomic(fig, path, fmt, dpi):
    """Write ``fig`` to ``path`` through a temporary file of the same folder and ``os.replace``:
    a reader never sees half a file, and a failure leaves nothing behind. The file gets the
    mode a plain ``open`` would give it (a temporary file is private to its owner)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(suffix=os.path.splitext(path)[1], dir=directory)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=fmt)
        if os.path.exists(path):
            mode = os.stat(path).st_mode & 0o777
        else:
            mask = os.umask(0)
            os.umask(mask)
            mode = 0o666 & ~mask
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# ------------------------------------------------------------------------------ sweeps
#: the columns of a sweep table (:func:`exactregions.sweep`) that the pictures read
SWEEP_COLUMNS = ("model", "step", "point", "group", "radius", "activation_regions", "lower_bound", "error")

#: ``logy=None`` draws counts on a log scale when the largest is more than this many times
#: the smallest (about two decades)
LOG_SPAN = 100.0


class SweepPicture:
    """A figure of a sweep table and the numbers it shows.

    Attributes
    ----------
    figure : matplotlib.figure.Figure
    axes : list of Axes
        One panel per radius.
    kind : str
        ``"training"`` or ``"groups"``.
    summary : pandas.DataFrame
        What is drawn: per radius, group (and x for training) the number of rows, the median,
        the quartiles and how many rows are lower bounds.
    excluded : int
        Rows left out because they carry an error (or no count); the figure says how many.
    step : object
        The step (or model) a ``"groups"`` figure shows.
    logy : bool
        Whether the counts are on a log scale.
    path : str or None
        The file written.
    """

    def __init__(self, figure, axes, kind, summary, excluded, step, logy, path=None):
        self.figure, self.axes, self.kind, self.summary = figure, axes, kind, summary
        self.excluded, self.step, self.logy, self.path = excluded, step, logy, path

    def __repr__(self):
        return f"SweepPicture({self.kind}, {len(self.summary)} cells, {self.excluded} rows left out, path={self.path!r})"


def _bool_column(col, name):
    """A column of booleans, from bools, 0/1 or the strings True/False (a CSV's)."""
    import pandas as pd

    if col.dtype == bool:
        return col
    words = {"true": True, "false": False, "1": True, "0": False, "1.0": True, "0.0": False}
    out = col.map(lambda v: words.get(str(v).strip().lower()) if not (isinstance(v, float) and np.isnan(v)) else None)
    if out.isna().any():
        bad = col[out.isna()].iloc[0]
        raise ValueError(f"column '{name}' holds {bad!r}: expected True or False")
    return out.astype(bool) if len(out) else pd.Series([], dtype=bool)


def read_sweep(table):
    """A sweep table as a pandas DataFrame, checked.

    Parameters
    ----------
    table : pandas.DataFrame or str or path
        The table, or a ``.parquet`` or ``.csv`` file of it (as :func:`exactregions.sweep`
        writes it): one row per count, with at least ``group``, ``radius``, the count column
        and ``lower_bound`` (or ``complete``); ``step`` or ``model`` for figures over training;
        ``error`` when some counts failed.

    Returns
    -------
    pandas.DataFrame
        A copy, with ``lower_bound`` a boolean column (from ``complete`` when missing).

    Raises
    ------
    ValueError
        An unreadable file, a suffix other than .parquet or .csv, a column missing.

    Examples
    --------
    >>> import pandas as pd
    >>> read_sweep(pd.DataFrame({"group": ["a"], "radius": [0.1], "activation_regions": [3],
    ...                          "complete": [True]}))["lower_bound"].tolist()
    [False]
    """
    import pandas as pd

    if isinstance(table, pd.DataFrame):
        df = table.copy()
    else:
        path = os.fspath(table)
        ext = os.path.splitext(path)[1].lower()
        if ext not in (".parquet", ".csv"):
            raise ValueError(f"a sweep table is a .parquet or .csv file, got '{path}'")
        if not os.path.isfile(path):
            raise ValueError(f"cannot read the table '{path}': no such file")
        try:
            df = pd.read_parquet(path) if ext == ".parquet" else pd.read_csv(path)
        except Exception as e:  # (pyarrow's and pandas' many parse errors, as one line)
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ValueError(f"cannot read the table '{path}': {msg}") from None
    for name in ("group", "radius"):
        if name not in df.columns:
            raise ValueError(f"the table has no column '{name}' (a sweep table has {', '.join(SWEEP_COLUMNS)}, ...)")
    if "lower_bound" in df.columns:
        df["lower_bound"] = _bool_column(df["lower_bound"], "lower_bound")
    elif "complete" in df.columns:
        df["lower_bound"] = ~_bool_column(df["complete"], "complete")
    else:
        raise ValueError("the table has neither 'lower_bound' nor 'complete': a count not known to be complete "
                         "cannot be drawn as exact")
    df["group"] = df["group"].astype(str)
    try:
        df["radius"] = df["radius"].astype(float)
    except (TypeError, ValueError):
        raise ValueError("column 'radius' holds values that are not numbers") from None
    return df


def _usable(df, y):
    """``df`` with ``y`` as floats and a column ``_ok``: the row has a count and no error."""
    import pandas as pd

    if y not in df.columns:
        raise ValueError(f"the table has no column '{y}' to draw")
    vals = pd.to_numeric(df[y], errors="coerce")
    ok = vals.notna()
    if "error" in df.columns:
        err = df["error"]
        ok &= err.isna() | (err.astype(str).str.strip() == "") | (err.astype(str) == "None")
    return df.assign(**{y: vals.astype(float), "_ok": ok})


def _log_scale(values, logy):
    v = np.asarray(values, float)
    v = v[np.isfinite(v) & (v > 0)]
    if logy is not None:
        return bool(logy) and len(v) > 0
    return bool(len(v)) and v.max() > LOG_SPAN * v.min()


def plot_sweep(table, path=None, *, kind: str = "training", x: str = "step", y: str = "activation_regions",
               step=None, radius=None, logy: bool | None = None, title: str | None = None, dpi: float = 150,
               figsize=None) -> SweepPicture:
    """Draw a sweep table: counts over training, or counts by group at one step.

    Parameters
    ----------
    table : pandas.DataFrame or str or path
        A sweep table (:func:`read_sweep`), or its ``.parquet`` / ``.csv`` file.
    path : str or path, optional
        File to write atomically: ``.png``, ``.pdf`` or ``.svg`` (the suffix chooses).
    kind : {"training", "groups"}
        ``"training"``: per group, the median over the points against ``x`` with the
        interquartile band, one panel per radius. ``"groups"``: box plots per group and radius
        at one step.
    x : str
        The training axis: ``"step"`` (the models' order when the table has no steps).
    y : str
        The column drawn (``activation_regions``; any numeric column, e.g. a bound).
    step : optional
        The step (or model name) of a ``"groups"`` figure; by default the last.
    radius : float, optional
        Draw this radius only.
    logy : bool, optional
        A log scale for the counts; by default when they span more than :data:`LOG_SPAN`.
    title : str, optional
        The figure's title.
    dpi : float
        Resolution of a PNG.
    figsize : (float, float), optional
        Inches.

    Returns
    -------
    SweepPicture
        The figure and the numbers drawn (``summary``).

    Notes
    -----
    A row whose count is a lower bound (its time or region limit hit) is drawn as a hollow
    triangle where its count is; a median over a cell with such a row is a lower bound too
    (raising any value cannot lower a median) and its marker is hollow. Rows with an error are
    left out, and the figure says how many.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"step": [0, 0, 1, 1], "point": [0, 1, 0, 1], "group": "train", "radius": 0.5,
    ...                   "activation_regions": [3, 5, 8, 12], "lower_bound": [False, False, False, True]})
    >>> plot_sweep(t).summary["median"].tolist()
    [4.0, 10.0]
    """
    import pandas as pd

    if kind not in ("training", "groups"):
        raise ValueError(f"unknown kind {kind!r}: choose training or groups")
    if path is not None:
        fmt = _check_path(path)
    if not (isinstance(dpi, (int, float)) and np.isfinite(dpi) and dpi > 0):
        raise ValueError(f"dpi must be a positive number, got {dpi!r}")
    df = _usable(read_sweep(table), y)
    if radius is not None:
        near = np.isclose(df["radius"].to_numpy(), float(radius))
        if not near.any():
            raise ValueError(f"no rows of radius {radius:g}: the table's radii are "
                             f"{', '.join(f'{r:g}' for r in sorted(df['radius'].unique()))}")
        df = df[near]
    if not df["_ok"].any():
        bad = int((~df["_ok"]).sum())
        raise ValueError("the table has no row with a count to draw" + (f" ({bad} with errors)" if bad else ""))
    # the training axis: steps, or the models in their order in the table
    if x in df.columns and pd.to_numeric(df[x], errors="coerce").notna().any():
        xs = pd.to_numeric(df[x], errors="coerce")
        dropped = int(xs.isna().sum())
        df = df[xs.notna()].assign(_x=xs[xs.notna()].astype(float))
        excluded_x, labels = dropped, None
    elif "model" in df.columns:
        order = list(dict.fromkeys(df["model"].astype(str)))
        df = df.assign(_x=df["model"].astype(str).map({m: i for i, m in enumerate(order)}).astype(float))
        excluded_x, labels, x = 0, order, "model"
    else:
        raise ValueError(f"the table has no column '{x}' (nor 'model') to order the counts by")
    groups = list(dict.fromkeys(df.loc[df["_ok"], "group"]))
    radii = sorted(df.loc[df["_ok"], "radius"].unique())
    colour = {g: GROUP_COLOURS[i % len(GROUP_COLOURS)] for i, g in enumerate(groups)}

    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    if figsize is None:
        figsize = (min(4.2 * len(radii), 13.0) + 0.6, 4.4)
    fig = Figure(figsize=figsize, layout="constrained")
    axes = list(np.atleast_1d(fig.subplots(1, len(radii), squeeze=False)[0]))
    shown = step
    ylabel = "activation regions in the ball" if y == "activation_regions" else y
    lb_style = dict(marker="^", ls="none", mfc="none", ms=6, mew=1.1)
    rows = []
    if kind == "training":
        excluded = int((~df["_ok"]).sum())
        df = df[df["_ok"]]
        use_log = _log_scale(df[y], logy)
        for ax, r in zip(axes, radii):
            part = df[df["radius"] == r]
            for g in groups:
                cell = part[part["group"] == g]
                if not len(cell):
                    continue
                stats = cell.groupby("_x").agg(n=(y, "size"), median=(y, "median"),
                                               q25=(y, lambda v: v.quantile(0.25)),
                                               q75=(y, lambda v: v.quantile(0.75)),
                                               lower_bounds=("lower_bound", "sum")).reset_index()
                X = stats["_x"].to_numpy()
                c = colour[g]
                ax.fill_between(X, stats["q25"], stats["q75"], color=c, alpha=0.22, lw=0, gid=f"band|{g}|{r:g}")
                ax.plot(X, stats["median"], color=c, lw=1.6, gid=f"median|{g}|{r:g}")
                exact = stats["lower_bounds"].to_numpy() == 0
                ax.plot(X[exact], stats["median"].to_numpy()[exact], ls="none", marker="o", ms=4.5, color=c,
                        gid=f"median exact|{g}|{r:g}")
                ax.plot(X[~exact], stats["median"].to_numpy()[~exact], ls="none", marker="o", ms=5, mfc="white",
                        mec=c, mew=1.2, gid=f"median lower bound|{g}|{r:g}")
                lb = cell[cell["lower_bound"]]
                ax.plot(lb["_x"].to_numpy(), lb[y].to_numpy(), color=c, gid=f"lower bounds|{g}|{r:g}", **lb_style)
                rows.append(stats.assign(radius=r, group=g).rename(columns={"_x": x}))
            ax.set_xlabel(x)
            if labels is not None:
                ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
            ax.set_title(f"radius {r:g}", fontsize="medium")
            if use_log:
                ax.set_yscale("log")
        summary = pd.concat(rows, ignore_index=True)[["radius", "group", x, "n", "median", "q25", "q75",
                                                        "lower_bounds"]]
        handles = [Patch(facecolor=colour[g], edgecolor=colour[g], alpha=0.5, label=f"{g}: median, interquartile")
                   for g in groups]
        handles.append(Line2D([], [], marker="o", ls="none", mfc="white", mec="0.2", label="median is a lower bound"))
    else:
        if shown is None:
            shown = df["_x"].max()
        elif labels is not None:
            if str(shown) not in labels:
                raise ValueError(f"no model '{shown}' in the table: it has {', '.join(labels)}")
            shown = float(labels.index(str(shown)))
        else:
            shown = float(shown)
        at = df[np.isclose(df["_x"], shown)]
        excluded = int((~at["_ok"]).sum())
        at = at[at["_ok"]]
        if not len(at):
            steps = ", ".join(f"{s:g}" for s in sorted(df["_x"].unique()))
            raise ValueError(f"no rows at {x} {shown:g}: the table's {x}s are {steps}")
        use_log = _log_scale(at[y], logy)
        for ax, r in zip(axes, radii):
            part = at[at["radius"] == r]
            present = [g for g in groups if (part["group"] == g).any()]
            data = [part.loc[part["group"] == g, y].to_numpy() for g in present]
            pos = np.arange(len(present), dtype=float)
            if data:
                bp = ax.boxplot(data, positions=pos, widths=0.6, patch_artist=True, showfliers=True,
                                medianprops=dict(color="black", lw=1.6),
                                flierprops=dict(marker=".", ms=4, mfc="0.3", mec="none"))
                for box, g in zip(bp["boxes"], present):
                    box.set(facecolor=colour[g], alpha=0.55, edgecolor="0.15")
                    box.set_gid(f"box|{g}|{r:g}")
            for p, g in zip(pos, present):
                cell = part[part["group"] == g]
                lb = cell[cell["lower_bound"]]
                ax.plot(np.full(len(lb), p), lb[y].to_numpy(), color=colour[g], gid=f"lower bounds|{g}|{r:g}",
                        **lb_style)
                q = cell[y].quantile([0.25, 0.5, 0.75]).to_numpy()
                rows.append(dict(radius=r, group=g, n=len(cell), median=q[1], q25=q[0], q75=q[2],
                                 lower_bounds=int(cell["lower_bound"].sum())))
            ax.set_xticks(pos, present)
            ax.set_title(f"radius {r:g}", fontsize="medium")
            if use_log:
                ax.set_yscale("log")
        summary = pd.DataFrame(rows, columns=["radius", "group", "n", "median", "q25", "q75", "lower_bounds"])
        handles = [Patch(facecolor=colour[g], edgecolor="0.15", alpha=0.55, label=g) for g in groups]
        shown = labels[int(shown)] if labels is not None else shown
    handles.append(Line2D([], [], color="0.2", label="a count that is a lower bound (limit hit)", **lb_style))
    axes[0].set_ylabel(ylabel)
    if title is None:
        what = "activation regions" if y == "activation_regions" else y
        title = f"{what} over training" if kind == "training" else \
            f"{what} by group at {x} {shown if isinstance(shown, str) else format(shown, 'g')}"
    left = excluded + excluded_x
    if left:  # (a legend entry: it is read with the legend and never overlaps it)
        handles.append(Line2D([], [], ls="none", label=f"{left} row{'s' if left != 1 else ''} left out "
                                                       f"(an error, no count or no {x})"))
    fig.suptitle(title)
    fig.legend(handles=handles, loc="outside lower center", ncol=min(4, len(handles)), fontsize="small",
               frameon=False)
    pic = SweepPicture(fig, axes, kind, summary, left, shown if kind == "groups" else None, use_log)
    if path is not None:
        _save_atomic(fig, path, fmt, dpi)
        pic.path = os.fspath(path)
    return pic

"""Convex polygons in the plane: clipping by a half-plane or a disc, area, adjacency. The small
geometric kernel shared by the planar engine (its domain polygon) and the pictures."""

from __future__ import annotations

import numpy as np

__all__ = ["clip_halfplane", "clip_disc", "polygon_area", "meets_disc", "convex_hull", "polygon_adjacency", "ARC_STEP",
           "ADJACENCY_TOL"]

#: a disc's arcs are drawn as chords of at most this angle (the pictures' only approximation)
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


def convex_hull(points: np.ndarray) -> np.ndarray:
    """The convex hull of points in the plane, counter-clockwise, without collinear vertices
    (Andrew's monotone chain, 1979). A max-pool region is convex and the union of the walk's
    cells that share its key, so its polygon is the hull of theirs."""
    P = np.unique(np.asarray(points, dtype=np.float64).reshape(-1, 2), axis=0)
    if len(P) < 3:
        return P

    def half(seq):
        out = []
        for p in seq:
            while len(out) >= 2 and ((out[-1][0] - out[-2][0]) * (p[1] - out[-2][1])
                                     - (out[-1][1] - out[-2][1]) * (p[0] - out[-2][0])) <= 0:
                out.pop()
            out.append(p)
        return out

    lower, upper = half(P), half(P[::-1])
    return np.array(lower[:-1] + upper[:-1])


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


def meets_disc(poly: np.ndarray, center, radius: float) -> bool:
    """Whether the convex polygon (counter-clockwise) comes nearer than ``radius`` to ``center``:
    the centre is inside it, or an edge passes within the radius."""
    c = np.asarray(center, float)
    if _contains_convex(poly, c):
        return True
    E = np.roll(poly, -1, axis=0) - poly
    D = c - poly
    t = np.clip(np.einsum("ij,ij->i", D, E) / np.maximum(np.einsum("ij,ij->i", E, E), 1e-300), 0.0, 1.0)
    return bool(np.min(np.hypot(*(D - t[:, None] * E).T)) < radius)


def _contains_convex(poly, p):
    edges = np.roll(poly, -1, axis=0) - poly
    rel = p - poly
    return bool(np.all(edges[:, 0] * rel[:, 1] - edges[:, 1] * rel[:, 0] >= 0))


#: two polygon vertices closer than this (relative to the diameter of all the polygons) are one
#: vertex, and two regions are neighbours when they share a boundary segment longer than it
ADJACENCY_TOL = 1e-9


def polygon_adjacency(polygons, outline=None, disc=None, tol: float = ADJACENCY_TOL) -> np.ndarray:
    """Which polygons of a subdivision share a boundary segment of positive length.

    Vertices closer than ``tol`` times the diameter of all the polygons are merged (a k-d tree
    finds them); an edge shared whole by two polygons is then the same pair of merged vertices
    in both (matched by sorting); the edges left unmatched and not on ``outline`` (the domain's
    boundary) are cut at the merged vertices lying on them (within the same distance), and the
    pieces matched again, which finds neighbours whose shared segment is only part of an edge
    (a vertex of one lying inside the other's edge: a T-junction, or a vertex where an edge was
    cut). O(n log n) in the number of vertices.

    Parameters
    ----------
    polygons : sequence of (k, 2) arrays
        Convex polygons with disjoint interiors, vertices in order; polygons with fewer than
        three vertices are ignored.
    outline : (m, 2) array, optional
        The domain's polygon: edges lying on its boundary have no neighbour and are not cut.
    disc : (centre, radius), optional
        Keep only the pairs whose shared segment meets the open disc in a piece longer than the
        tolerance (the polygons of a disc domain before they are clipped to the circle).
    tol : float
        :data:`ADJACENCY_TOL` by default: relative to the diameter of the polygons.

    Returns
    -------
    (p, 2) int array
        The neighbour pairs ``(i, j)``, ``i < j``, in increasing order.

    Examples
    --------
    >>> import numpy as np
    >>> sq = lambda x, y: np.array([[x, y], [x + 1, y], [x + 1, y + 1], [x, y + 1]], float)
    >>> polygon_adjacency([sq(0, 0), sq(1, 0), sq(1, 1)]).tolist()   # corners do not count
    [[0, 1], [1, 2]]
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    keep = [i for i, p in enumerate(polygons) if len(p) >= 3]
    if len(keep) < 2:
        return np.zeros((0, 2), np.int64)
    sizes = np.array([len(polygons[i]) for i in keep])
    V = np.concatenate([np.asarray(polygons[i], float).reshape(-1, 2) for i in keep])
    owner = np.repeat(np.asarray(keep, np.int64), sizes)
    eps = tol * max(float(np.hypot(*(V.max(axis=0) - V.min(axis=0)))), np.finfo(float).tiny)
    close = cKDTree(V).query_pairs(eps, output_type="ndarray")
    nv = len(V)
    _, vid = connected_components(coo_matrix((np.ones(len(close)), (close[:, 0], close[:, 1])), shape=(nv, nv)),
                                  directed=False)
    _, first = np.unique(vid, return_index=True)
    U = V[first]  # one position per merged vertex
    start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    nxt = np.arange(1, nv + 1)
    nxt[start + sizes - 1] = start
    a, b = vid, vid[nxt]
    live = a != b  # (an edge shorter than the tolerance joins one merged vertex to itself)
    a, b, own = a[live], b[live], owner[live]
    if outline is not None:
        live = ~_on_outline(U, a, b, np.asarray(outline, float), eps)
        a, b, own = a[live], b[live], own[live]
    found, alone = _match(a, b, own, len(U))
    pairs, segs = [found[0]], [found[1]]
    if len(alone):
        sa, sb, sown = _cut_at_vertices(U, a[alone], b[alone], own[alone], eps)
        more, _ = _match(sa, sb, sown, len(U))
        pairs.append(more[0]), segs.append(more[1])
    P, S = np.concatenate(pairs), np.concatenate(segs)
    if disc is not None and len(P):
        P = P[_length_in_disc(U[S[:, 0]], U[S[:, 1]], *disc) > eps]
    return np.unique(P, axis=0) if len(P) else np.zeros((0, 2), np.int64)


def _on_outline(U, a, b, outline, eps):
    """Edges (vertex ids ``a``-``b``) whose two ends lie on one edge line of ``outline``."""
    E = np.roll(outline, -1, axis=0) - outline
    L = np.hypot(E[:, 0], E[:, 1])
    ok = L > 0
    n = np.stack([E[ok, 1], -E[ok, 0]], axis=1) / L[ok, None]
    near = np.abs(U @ n.T - np.einsum("ij,ij->i", n, outline[ok])) <= eps  # (vertices, outline edges)
    return (near[a] & near[b]).any(axis=1)


def _match(a, b, own, nv):
    """Edges given twice (the same two vertex ids, by two polygons): the polygon pairs and the
    edge's vertex ids; and the indices of the edges given once."""
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    key = lo.astype(np.int64) * nv + hi
    order = np.argsort(key, kind="stable")
    k = key[order]
    cuts = np.flatnonzero(np.diff(k)) + 1
    bounds = np.concatenate([[0], cuts, [len(k)]])
    size = np.diff(bounds)
    alone = order[bounds[:-1][size == 1]]
    two = bounds[:-1][size == 2]
    i, j = own[order[two]], own[order[two + 1]]
    P = [np.stack([np.minimum(i, j), np.maximum(i, j)], axis=1)[i != j]]
    S = [np.stack([lo[order[two]], hi[order[two]]], axis=1)[i != j]]
    for g in np.flatnonzero(size > 2):  # several polygons on one edge: only degenerate (empty) ones
        e = order[bounds[g]:bounds[g + 1]]
        ps = sorted({(min(own[x], own[y]), max(own[x], own[y])) for x in e for y in e if own[x] != own[y]})
        P.append(np.array(ps, np.int64).reshape(-1, 2))
        S.append(np.tile([lo[e[0]], hi[e[0]]], (len(ps), 1)))
    return (np.concatenate(P), np.concatenate(S).astype(np.int64)), alone


def _cut_at_vertices(U, a, b, own, eps):
    """The edges ``a``-``b`` cut at every vertex of ``U`` lying inside them (within ``eps``)."""
    from scipy.spatial import cKDTree

    p, q = U[a], U[b]
    d = q - p
    L = np.hypot(d[:, 0], d[:, 1])
    near = cKDTree(U).query_ball_point((p + q) / 2, L / 2 + eps)
    sa, sb, so = [], [], []
    for e, cand in enumerate(near):
        cand = np.asarray(cand, np.int64)
        cand = cand[(cand != a[e]) & (cand != b[e])]
        rel = U[cand] - p[e]
        t = rel @ d[e] / L[e] ** 2
        off = np.abs(rel[:, 0] * d[e, 1] - rel[:, 1] * d[e, 0]) / L[e]
        inside = cand[(off <= eps) & (t > 0) & (t < 1)]
        chain = np.concatenate([[a[e]], inside[np.argsort(t[(off <= eps) & (t > 0) & (t < 1)])], [b[e]]])
        sa.append(chain[:-1]), sb.append(chain[1:]), so.append(np.full(len(chain) - 1, own[e]))
    return np.concatenate(sa), np.concatenate(sb), np.concatenate(so)


def _length_in_disc(p, q, center, radius):
    """Length of each segment ``p``-``q`` inside the disc."""
    c = np.asarray(center, float)
    d, f = q - p, p - c
    A = np.einsum("ij,ij->i", d, d)
    B = 2 * np.einsum("ij,ij->i", f, d)
    C = np.einsum("ij,ij->i", f, f) - radius ** 2
    disc = B * B - 4 * A * C
    sq = np.sqrt(np.maximum(disc, 0.0))
    A = np.maximum(A, np.finfo(float).tiny)
    t0 = np.clip((-B - sq) / (2 * A), 0.0, 1.0)
    t1 = np.clip((-B + sq) / (2 * A), 0.0, 1.0)
    return np.where(disc > 0, (t1 - t0) * np.sqrt(A), 0.0)

"""Convex polygons in the plane: clipping by a half-plane or a disc, area. The small
geometric kernel shared by the planar engine (its domain polygon) and the pictures."""

from __future__ import annotations

import numpy as np

__all__ = ["clip_halfplane", "clip_disc", "polygon_area", "ARC_STEP"]

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

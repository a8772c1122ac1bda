"""The planar engine's walk compiled with numba (see :mod:`exactregions.engines.planar`).

One depth-first walk over a binary space partition of the domain polygon: a node is a convex
polygon, the hidden layer it is in, the units of that layer that may still cut it, and a slot
of maps (each later layer's pre-activations and the output as affine functions ``(a_x, a_y, c)``
of the plane, exact on the node). A unit whose line does not cross the polygon is decided for
the whole subtree (its bit is set, and if its gate differs from the reference gate the slot gets
a rank-one update through the precomputed chain ``CT``); the first unit whose line crosses it
splits the polygon in two. Vertices within ``tol`` (relative) of a line belong to both sides,
so coincident lines, lines through vertices and constant units need no special case. A unit
that is zero on a region only through cancellation (a max-pool comparison of two inactive
units: ``(z_a - z_b) - z_a + z_b``) keeps rounding noise in its coefficients; the noise floor
``unoise`` (a bound on the terms summed into it) makes such a unit constant, not a line.

A slot is stored coefficient by coefficient (shape (3, rows): every ``a_x``, then every ``a_y``,
then every ``c``), so a rank-one update is three contiguous loops that vectorise, with fused
multiply-adds (on the LeNet plane slice of the benchmarks, about a fifth faster than storing
rows of three).
"""

from __future__ import annotations

import warnings

import numpy as np
from numba import njit, objmode
from numba.core.errors import NumbaWarning

# the walk's progress callback holds the GIL for a moment every TICK nodes; the rest runs without
warnings.filterwarnings("ignore", message="Code running in object mode won't allow parallel", category=NumbaWarning)

#: the Python callback the walk calls every TICK nodes of the partition it visits (progress, time
#: limit); returns 1 to stop. Counted in nodes, not leaves: a walk whose nodes are mostly thin
#: leaves or pruned by a disc still calls it (a call costs a few microseconds, a node at least one)
TICK = 1 << 12
_callback = [None]


def _tick(count: int) -> int:
    cb = _callback[0]
    return 0 if cb is None else int(bool(cb(count)))


@njit(cache=True, nogil=True)
def _grow2(a, need):
    if need <= a.shape[0]:
        return a
    out = np.empty((max(need, 2 * a.shape[0]),) + a.shape[1:], a.dtype)
    out[: a.shape[0]] = a
    return out


@njit(cache=True, nogil=True)
def _grow1(a, need):
    if need <= a.shape[0]:
        return a
    out = np.empty(max(need, 2 * a.shape[0]), a.dtype)
    out[: a.shape[0]] = a
    return out


@njit(cache=True, nogil=True)
def _grow_stack(a, b, c, d, e, f, g, h):
    """The node stack's eight columns, twice as long."""
    n = a.shape[0] + 1
    return _grow1(a, n), _grow1(b, n), _grow1(c, n), _grow1(d, n), _grow1(e, n), _grow1(f, n), _grow1(g, n), _grow1(h, n)


@njit(cache=True, nogil=True)
def _classify(P, k, a0, a1, c, tol, noise, sgn, vals):
    """Signs of the line ``a0 x + a1 y + c`` at the polygon's vertices (0 within ``tol`` of the
    line, relative to the terms' size, or within ``noise (1 + |x| + |y|)``: the rounding bound of
    coefficients summed from larger terms); returns (any positive, any negative)."""
    pos = False
    neg = False
    for v in range(k):
        x, y = P[v, 0], P[v, 1]
        s = a0 * x + a1 * y + c
        vals[v] = s
        if abs(s) <= tol * (abs(a0 * x) + abs(a1 * y) + abs(c)) + noise * (1.0 + abs(x) + abs(y)) or s == 0.0:
            sgn[v] = 0
        elif s > 0:
            sgn[v] = 1
            pos = True
        else:
            sgn[v] = -1
            neg = True
    return pos, neg


@njit(cache=True, nogil=True)
def _split(P, k, sgn, vals, side, out):
    """The part of polygon ``P`` (k vertices, in order) on ``side`` (+1 or -1) of the classified
    line, in ``out``; returns its vertex count (vertices on the line belong to both sides)."""
    m = 0
    for v in range(k):
        w = v + 1 if v + 1 < k else 0
        if sgn[v] * side >= 0:
            out[m, 0], out[m, 1] = P[v, 0], P[v, 1]
            m += 1
        if sgn[v] * sgn[w] < 0:  # strictly crossing edge
            t = vals[v] / (vals[v] - vals[w])
            out[m, 0] = P[v, 0] + t * (P[w, 0] - P[v, 0])
            out[m, 1] = P[v, 1] + t * (P[w, 1] - P[v, 1])
            m += 1
    return m


@njit(cache=True, nogil=True)
def _disc_distance(P, k, cx, cy):
    """Euclidean distance from (cx, cy) to the convex polygon (0 inside), and the nearest point."""
    inside = True
    best, bx, by = np.inf, cx, cy
    for v in range(k):
        w = v + 1 if v + 1 < k else 0
        ex, ey = P[w, 0] - P[v, 0], P[w, 1] - P[v, 1]
        rx, ry = cx - P[v, 0], cy - P[v, 1]
        if ex * ry - ey * rx < 0:
            inside = False
        L = ex * ex + ey * ey
        t = 0.0 if L == 0 else min(1.0, max(0.0, (rx * ex + ry * ey) / L))
        qx, qy = P[v, 0] + t * ex, P[v, 1] + t * ey
        d = np.hypot(cx - qx, cy - qy)
        if d < best:
            best, bx, by = d, qx, qy
    if inside:
        return 0.0, cx, cy
    return best, bx, by


@njit(cache=True, nogil=True, fastmath={"contract"})  # fused multiply-adds: one rounding, not two
def _apply(slot, CT, row0, j_local, m0, m1, m2, dg):
    """slot[row0 + r] += dg * CT[j, r] * (m0, m1, m2) for every later row r."""
    x0, x1, x2 = dg * m0, dg * m1, dg * m2
    n = CT.shape[1]
    c = CT[j_local]
    s0, s1, s2 = slot[0, row0:row0 + n], slot[1, row0:row0 + n], slot[2, row0:row0 + n]
    for r in range(n):  # three contiguous rows: vectorised
        s0[r] += c[r] * x0
    for r in range(n):
        s1[r] += c[r] * x1
    for r in range(n):
        s2[r] += c[r] * x2


@njit(cache=True, nogil=True, fastmath={"contract"})
def _apply4(slot, CT, row0, pj, px):
    """Four rank-one updates at once, ``slot[row0 + r] += sum_i CT[pj[i], r] * px[i]``: the slot's
    rows are loaded and stored once for four units (a LeNet slice makes 28 million updates of
    74 rows on entering its second layer; one at a time they took a fifth of the walk)."""
    n = CT.shape[1]
    c0, c1, c2, c3 = CT[pj[0]], CT[pj[1]], CT[pj[2]], CT[pj[3]]
    for k in range(3):
        s = slot[k, row0:row0 + n]
        x0, x1, x2, x3 = px[0, k], px[1, k], px[2, k], px[3, k]
        for r in range(n):
            s[r] += (c0[r] * x0 + c1[r] * x1) + (c2[r] * x2 + c3[r] * x3)


@njit(cache=True, nogil=True, fastmath={"contract"})
def _apply_sparse(slot, val, idx, p0, p1, row0, x0, x1, x2):
    """``slot[row0 + idx[p]] += val[p] * (x0, x1, x2)`` for the entries ``p0 <= p < p1`` of one
    unit's sparse chain (the later rows its change reaches: a convolution's few neighbours)."""
    for p in range(p0, p1):
        r = row0 + idx[p]
        v = val[p]
        slot[0, r] += v * x0
        slot[1, r] += v * x1
        slot[2, r] += v * x2


@njit(cache=True, nogil=True)
def _area(P, k):
    a = 0.0
    for v in range(k):
        w = v + 1 if v + 1 < k else 0
        a += P[v, 0] * P[w, 1] - P[w, 0] * P[v, 1]
    return 0.5 * a


@njit(cache=True, nogil=True)
def _release(refs, free, nfree, sx):
    """Put slot ``sx`` on the free list when no stack node holds it (slot 0, the root's, is
    never freed); returns the free list's new length."""
    if refs[sx] == 0 and sx != 0:
        free[nfree] = sx
        nfree += 1
    return nfree


@njit(cache=True, nogil=True)
def _thin(P, k, rmin):
    """Whether the convex polygon's inradius (its Chebyshev radius, as the BFS measures a
    region's) is at most ``rmin``. A convex polygon of area A and perimeter L has
    ``A / L <= inradius <= 2 A / L``; between the two the largest inscribed disc is found
    exactly: it touches three edges, so every triple of edges is tried (a leaf that thin has
    few vertices)."""
    signed = _area(P, k)
    A = abs(signed)
    L = 0.0
    for v in range(k):
        w = v + 1 if v + 1 < k else 0
        L += np.hypot(P[w, 0] - P[v, 0], P[w, 1] - P[v, 1])
    if L == 0 or 2 * A <= rmin * L:
        return True
    if A > rmin * L:
        return False
    # the edges' half-planes n . x + t <= b, n the unit outward normal (orientation from the
    # signed area), t the distance kept from every edge
    sg = 1.0 if signed > 0 else -1.0
    N = np.empty((k, 2))
    b = np.empty(k)
    m = 0
    for v in range(k):
        w = v + 1 if v + 1 < k else 0
        ex, ey = P[w, 0] - P[v, 0], P[w, 1] - P[v, 1]
        n = np.hypot(ex, ey)
        if n == 0:
            continue
        N[m, 0], N[m, 1] = sg * ey / n, -sg * ex / n  # outward normal
        b[m] = N[m, 0] * P[v, 0] + N[m, 1] * P[v, 1]
        m += 1
    best = 0.0
    for i in range(m):
        for j in range(i + 1, m):
            for q in range(j + 1, m):
                # solve n_i . x + t = b_i for i, j, q (Cramer's rule)
                a11, a12, a21, a22, a31, a32 = N[i, 0], N[i, 1], N[j, 0], N[j, 1], N[q, 0], N[q, 1]
                det = a11 * (a22 - a32) - a12 * (a21 - a31) + (a21 * a32 - a22 * a31)
                if abs(det) < 1e-300:
                    continue
                x = (b[i] * (a22 - a32) - a12 * (b[j] - b[q]) + (b[j] * a32 - a22 * b[q])) / det
                y = (a11 * (b[j] - b[q]) - b[i] * (a21 - a31) + (a21 * b[q] - b[j] * a31)) / det
                t = b[i] - a11 * x - a12 * y
                if t <= best:
                    continue
                ok = True
                for e in range(m):
                    if N[e, 0] * x + N[e, 1] * y + t > b[e] + 1e-15 * (abs(b[e]) + 1.0):
                        ok = False
                        break
                if ok:
                    best = t
    return best <= rmin


@njit(cache=True, nogil=True)
def _clip(P, k, a0, a1, c, label, lab_in, out, lab_out):
    """Polygon ∩ {a0 x + a1 y + c >= 0} with edge labels (the label of an edge is the halfplane
    that made it, -1 for the region's own edges); returns the vertex count."""
    m = 0
    for v in range(k):
        w = v + 1 if v + 1 < k else 0
        sv = a0 * P[v, 0] + a1 * P[v, 1] + c
        sw = a0 * P[w, 0] + a1 * P[w, 1] + c
        if sv >= 0:
            out[m, 0], out[m, 1] = P[v, 0], P[v, 1]
            lab_out[m] = lab_in[v]  # the kept part of edge v -> w
            m += 1
        if (sv >= 0) != (sw >= 0):
            t = sv / (sv - sw)
            out[m, 0] = P[v, 0] + t * (P[w, 0] - P[v, 0])
            out[m, 1] = P[v, 1] + t * (P[w, 1] - P[v, 1])
            lab_out[m] = lab_in[v] if sv < 0 else label  # entering: the old edge; leaving: the line
            m += 1
    return m


@njit(cache=True, nogil=True)
def _segment_in_disc(x0, y0, x1, y1, cx, cy, r):
    """The part of segment (x0,y0)-(x1,y1) inside the disc, as parameters (t0, t1), t0 >= t1 if
    none."""
    dx, dy = x1 - x0, y1 - y0
    fx, fy = x0 - cx, y0 - cy
    a = dx * dx + dy * dy
    b = 2 * (fx * dx + fy * dy)
    c = fx * fx + fy * fy - r * r
    disc = b * b - 4 * a * c
    if a == 0 or disc <= 0:
        return 1.0, 0.0
    s = np.sqrt(disc)
    return max(0.0, (-b - s) / (2 * a)), min(1.0, (-b + s) / (2 * a))


@njit(cache=True, nogil=True)
def _decision(P, k, slot, orow, n_out, has_disc, cx, cy, r, segs, nseg, pairs, area_tol):
    """The decision boundary inside one region: the class cells of the argmax (or of the sign of
    a single output), their shared edges as segments (clipped to the disc), their total length
    added to ``pairs[k, j]``. Returns (length, segments, segment count)."""
    total = 0.0
    if n_out == 1:
        ncls = 2
    else:
        ncls = n_out
    buf = np.empty((k + ncls + 4, 2))
    buf2 = np.empty((k + ncls + 4, 2))
    lab = np.empty(k + ncls + 4, np.int64)
    lab2 = np.empty(k + ncls + 4, np.int64)
    for q in range(ncls):
        m = k
        for v in range(k):
            buf[v, 0], buf[v, 1] = P[v, 0], P[v, 1]
            lab[v] = -1
        for o in range(ncls):
            if o == q or m == 0:
                continue
            if n_out == 1:  # class 1: f > 0, class 0: f < 0
                sg = 1.0 if q == 1 else -1.0
                a0, a1, c = sg * slot[0, orow], sg * slot[1, orow], sg * slot[2, orow]
            else:
                a0 = slot[0, orow + q] - slot[0, orow + o]
                a1 = slot[1, orow + q] - slot[1, orow + o]
                c = slot[2, orow + q] - slot[2, orow + o]
                if a0 == 0 and a1 == 0 and c == 0 and o < q:  # identical outputs: the first one wins
                    m = 0
                    continue
            m = _clip(buf, m, a0, a1, c, o, lab, buf2, lab2)
            for v in range(m):
                buf[v, 0], buf[v, 1], lab[v] = buf2[v, 0], buf2[v, 1], lab2[v]
        if m < 3 or abs(_area(buf, m)) <= area_tol:
            continue
        for v in range(m):
            o = lab[v]
            if o <= q:  # each shared edge once (from its lower class), region edges never
                continue
            w = v + 1 if v + 1 < m else 0
            x0, y0, x1, y1 = buf[v, 0], buf[v, 1], buf[w, 0], buf[w, 1]
            if has_disc:
                t0, t1 = _segment_in_disc(x0, y0, x1, y1, cx, cy, r)
                if t0 >= t1:
                    continue
                x0, y0, x1, y1 = x0 + t0 * (x1 - x0), y0 + t0 * (y1 - y0), x0 + t1 * (x1 - x0), y0 + t1 * (y1 - y0)
            L = np.hypot(x1 - x0, y1 - y0)
            if L <= 0:
                continue
            total += L
            pairs[q, o] += L
            segs = _grow2(segs, nseg + 1)
            segs[nseg, 0], segs[nseg, 1], segs[nseg, 2], segs[nseg, 3] = x0, y0, x1, y1
            segs[nseg, 4], segs[nseg, 5] = q, o
            nseg += 1
    return total, segs, nseg


@njit(cache=True, nogil=True)  # threads walk pieces of a domain in parallel (planar.cut_polygon)
def walk(poly0, disc, M0, slot0, rowoff, ct, ctoff, sp_val, sp_idx, sp_ptr, fixed, gref, gneg, ug, uoff, unoise,
         tol, min_inradius, near_inradius, want_bits, want_poly, want_decision, n_out, max_leaves):
    """The whole walk; see the module docstring. Returns the leaves' points, packed patterns,
    polygons (vertex rows and offsets), decision data and a stop flag. The chains of layer l
    are ``ct[ctoff[l]:ctoff[l + 1]]``, row-major with one row per walked unit of the layer (one
    flat array, not a numba typed list, whose methods numba compiled again in every process:
    about 1 s), or, for a layer whose section there is empty, sparse: walked unit ``u``'s
    entries are ``sp_val[p]`` at later row ``sp_idx[p]`` for ``sp_ptr[u] <= p < sp_ptr[u + 1]``."""
    H = uoff.shape[0] - 1  # hidden layers; unit j of layer l is pattern bit ug[uoff[l] + j]
    N = fixed.shape[0]
    T = slot0.shape[1]
    has_disc = disc[2] > 0
    cx, cy, r = disc[0], disc[1], disc[2]
    nbytes = (N + 7) // 8
    # node stack: polygon (offset, count) in pbuf, candidates (offset, count) in cbuf, layer, slot,
    # and the bit the node's split set (unit, value; -1 for the root or a layer change)
    cap = 64
    s_poff = np.empty(cap, np.int64)
    s_pk = np.empty(cap, np.int64)
    s_coff = np.empty(cap, np.int64)
    s_ck = np.empty(cap, np.int64)
    s_layer = np.empty(cap, np.int64)
    s_slot = np.empty(cap, np.int64)
    s_unit = np.empty(cap, np.int64)
    s_bit = np.empty(cap, np.int64)
    pbuf = np.empty((4096, 2))
    cbuf = np.empty(1 << 16, np.int64)
    slots = np.empty((8, 3, T))
    free = np.empty(8, np.int64)
    nfree = 0
    refs = np.zeros(8, np.int64)  # stack nodes holding each slot
    refs[0] = 1
    nslots = 1
    slots[0] = slot0
    bits = fixed.copy()
    bits8 = bits.view(np.uint8)  # the same bits, as bytes 0/1 (for packing)
    # outputs
    pts = np.empty((1024, 2))
    pat = np.empty((1024 if want_bits else 0, nbytes), np.uint8)
    vtx = np.empty((4096 if want_poly else 0, 2))
    voff = np.zeros(1025 if want_poly else 1, np.int64)
    crossed = np.zeros(1024 if want_decision else 0, np.bool_)
    segs = np.empty((256 if want_decision else 0, 6))
    nseg = 0
    pairs = np.zeros((max(n_out, 2), max(n_out, 2)))
    nv_out = 0
    count = 0
    thin = 0  # leaves skipped as thinner than min_inradius
    near = 0  # leaves with inradius at most near_inradius
    stopped = 0
    nodes = 0  # nodes taken off the stack (the callback's clock)
    # the root
    k0 = poly0.shape[0]
    pbuf[:k0] = poly0
    nc = uoff[1] - uoff[0]
    if nc > cbuf.shape[0]:
        cbuf = np.empty(nc, np.int64)
    for j in range(nc):
        cbuf[j] = j
    top = 0
    s_poff[0], s_pk[0], s_coff[0], s_ck[0], s_layer[0], s_slot[0], s_unit[0], s_bit[0] = 0, k0, 0, nc, 0, 0, -1, 0
    pj = np.empty(4, np.int64)
    px = np.empty((4, 3))
    sgn = np.empty(4096, np.int64)
    vals = np.empty(4096)
    tmpP = np.empty((4096, 2))
    tmpN = np.empty((4096, 2))
    while top >= 0:
        nodes += 1
        if nodes % TICK == 0:
            with objmode(stop="int64"):
                stop = _tick(count)
            if stop:
                stopped = 1
                break
        poff, k, coff, ck = s_poff[top], s_pk[top], s_coff[top], s_ck[top]
        l, sl = s_layer[top], s_slot[top]
        if s_unit[top] >= 0:
            bits[s_unit[top]] = s_bit[top] == 1
        top -= 1
        refs[sl] -= 1
        if k + 2 > sgn.shape[0]:
            sgn = np.empty(2 * k + 4, np.int64)
            vals = np.empty(2 * k + 4)
            tmpP = np.empty((2 * k + 4, 2))
            tmpN = np.empty((2 * k + 4, 2))
        S = slots[sl]
        P = pbuf[poff:poff + k]
        # decide or keep each candidate of layer l
        nl_units = uoff[l + 1] - uoff[l]
        ncol = (ctoff[l + 1] - ctoff[l]) // nl_units if nl_units > 0 else 0
        CT = ct[ctoff[l]:ctoff[l + 1]].reshape(nl_units, ncol)
        row1 = rowoff[l + 1] if l + 1 < rowoff.shape[0] else 0
        xlo, xhi, ylo, yhi = P[0, 0], P[0, 0], P[0, 1], P[0, 1]
        for v in range(1, k):
            xlo, xhi = min(xlo, P[v, 0]), max(xhi, P[v, 0])
            ylo, yhi = min(ylo, P[v, 1]), max(yhi, P[v, 1])
        bx, by, ex, ey = 0.5 * (xlo + xhi), 0.5 * (ylo + yhi), 0.5 * (xhi - xlo) * (1 + 1e-12), 0.5 * (yhi - ylo) * (1 + 1e-12)
        split_j = -1
        keep = 0
        npend = 0  # decided units whose updates wait to be applied four at a time
        for q in range(ck):
            j = cbuf[coff + q]
            g = ug[uoff[l] + j]
            if l == 0:
                a0, a1, c = M0[j, 0], M0[j, 1], M0[j, 2]
            else:
                row = rowoff[l] + j
                a0, a1, c = S[0, row], S[1, row], S[2, row]
            # the polygon's bounding box first: most units are far from a small polygon
            nz = unoise[uoff[l] + j]
            mid = a0 * bx + a1 * by + c
            spread = abs(a0) * ex + abs(a1) * ey + nz * (1.0 + abs(bx) + ex + abs(by) + ey)
            if mid > spread:
                pos, neg = True, False
            elif mid < -spread:
                pos, neg = False, True
            else:
                pos, neg = _classify(P, k, a0, a1, c, tol, nz, sgn, vals)
            if pos and neg:
                if split_j < 0:
                    split_j = j
                    sa0, sa1, sc, snz = a0, a1, c, nz
                else:
                    cbuf[coff + keep] = j  # in place: keep <= q
                    keep += 1
                continue
            bits[g] = pos
            dg = (1.0 if pos else gneg[g]) - gref[g]
            u = uoff[l] + j
            if dg != 0.0 and sp_ptr[u + 1] > sp_ptr[u]:  # a sparse chain: its few rows now
                _apply_sparse(S, sp_val, sp_idx, sp_ptr[u], sp_ptr[u + 1], row1, dg * a0, dg * a1, dg * c)
            elif dg != 0.0 and ncol > 0:  # later layers' rows only: this loop does not read them
                pj[npend] = j
                px[npend, 0], px[npend, 1], px[npend, 2] = dg * a0, dg * a1, dg * c
                npend += 1
                if npend == 4:
                    _apply4(S, CT, row1, pj, px)
                    npend = 0
        for q in range(npend):
            _apply(S, CT, row1, pj[q], px[q, 0], px[q, 1], px[q, 2], 1.0)
        if split_j >= 0:
            _classify(P, k, sa0, sa1, sc, tol, snz, sgn, vals)
            kp = _split(P, k, sgn, vals, 1, tmpP)
            kn = _split(P, k, sgn, vals, -1, tmpN)
            g = ug[uoff[l] + split_j]
            # the negative child gets a copy of the slot
            if nfree > 0:
                nfree -= 1
                sn = free[nfree]
            else:
                if nslots == slots.shape[0]:
                    grown = np.empty((2 * nslots, 3, T))
                    grown[:nslots] = slots[:nslots]
                    slots = grown
                    S = slots[sl]
                    refs = _grow1(refs, 2 * nslots)
                    free = _grow1(free, 2 * nslots)
                sn = nslots
                nslots += 1
                refs[sn] = 0  # grown buffers are not zeroed
            # the child reads only later layers' rows and, of layer l, its candidates' rows
            # (a layer-0 node: every row; LeNet slice: 193,000 layer-1 splits copied 1,090
            # rows each where about 80 are read)
            if l == 0:
                slots[sn] = S
            else:
                slots[sn, :, row1:] = S[:, row1:]
                r0 = rowoff[l]
                for q in range(keep):
                    rr = r0 + cbuf[coff + q]
                    slots[sn, 0, rr], slots[sn, 1, rr], slots[sn, 2, rr] = S[0, rr], S[1, rr], S[2, rr]
            dpos = 1.0 - gref[g]
            dneg = gneg[g] - gref[g]
            u = uoff[l] + split_j
            if sp_ptr[u + 1] > sp_ptr[u]:
                if dpos != 0.0:
                    _apply_sparse(slots[sl], sp_val, sp_idx, sp_ptr[u], sp_ptr[u + 1], row1, dpos * sa0, dpos * sa1,
                                  dpos * sc)
                if dneg != 0.0:
                    _apply_sparse(slots[sn], sp_val, sp_idx, sp_ptr[u], sp_ptr[u + 1], row1, dneg * sa0, dneg * sa1,
                                  dneg * sc)
            elif ncol > 0:
                if dpos != 0.0:
                    _apply(slots[sl], CT, row1, split_j, sa0, sa1, sc, dpos)
                if dneg != 0.0:
                    _apply(slots[sn], CT, row1, split_j, sa0, sa1, sc, dneg)
            # children replace the node in the buffers: polygons then candidates (copied down)
            need = poff + kp + kn
            if need > pbuf.shape[0]:
                pbuf = _grow2(pbuf, need)
            base_c = coff + keep
            if base_c + keep > cbuf.shape[0]:
                cbuf = _grow1(cbuf, base_c + keep)
            for v in range(kp):
                pbuf[poff + v, 0], pbuf[poff + v, 1] = tmpP[v, 0], tmpP[v, 1]
            for v in range(kn):
                pbuf[poff + kp + v, 0], pbuf[poff + kp + v, 1] = tmpN[v, 0], tmpN[v, 1]
            for q in range(keep):
                cbuf[base_c + q] = cbuf[coff + q]
            for child in range(2):
                if has_disc:
                    o = poff if child == 0 else poff + kp
                    kk = kp if child == 0 else kn
                    dd, _, _ = _disc_distance(pbuf[o:o + kk], kk, cx, cy)
                    if dd >= r:
                        continue
                top += 1
                if top == s_poff.shape[0]:
                    s_poff, s_pk, s_coff, s_ck, s_layer, s_slot, s_unit, s_bit = _grow_stack(
                        s_poff, s_pk, s_coff, s_ck, s_layer, s_slot, s_unit, s_bit)
                if child == 0:
                    s_poff[top], s_pk[top], s_coff[top], s_ck[top] = poff, kp, coff, keep
                    s_slot[top], s_bit[top] = sl, 1
                else:
                    s_poff[top], s_pk[top], s_coff[top], s_ck[top] = poff + kp, kn, base_c, keep
                    s_slot[top], s_bit[top] = sn, 0
                s_layer[top], s_unit[top] = l, g
                refs[s_slot[top]] += 1
            nfree = _release(refs, free, nfree, sl)
            nfree = _release(refs, free, nfree, sn)
            continue
        # no unit of layer l cuts the polygon: on to the next layer, or a leaf
        if l + 1 < H:
            nl = uoff[l + 2] - uoff[l + 1]
            need = coff + nl
            if need > cbuf.shape[0]:
                cbuf = _grow1(cbuf, need)
            for j in range(nl):
                cbuf[coff + j] = j
            nc = nl
            top += 1
            if top == s_poff.shape[0]:
                s_poff, s_pk, s_coff, s_ck, s_layer, s_slot, s_unit, s_bit = _grow_stack(
                    s_poff, s_pk, s_coff, s_ck, s_layer, s_slot, s_unit, s_bit)
            s_poff[top], s_pk[top], s_coff[top], s_ck[top] = poff, k, coff, nc
            s_layer[top], s_slot[top], s_unit[top], s_bit[top] = l + 1, sl, -1, 0
            refs[sl] += 1
            continue
        # a leaf: one region of the domain (a disc's rim was checked when the node was made),
        # unless thinner than the engines' inradius tolerance
        if near_inradius > 0 and _thin(P, k, near_inradius):
            near += 1  # (thin or not: a leaf this thin could fall either side of min_inradius)
        if min_inradius > 0 and _thin(P, k, min_inradius):
            thin += 1
            nfree = _release(refs, free, nfree, sl)
            continue
        mx, my = 0.0, 0.0
        for v in range(k):
            mx += P[v, 0]
            my += P[v, 1]
        mx /= k
        my /= k
        if has_disc and np.hypot(mx - cx, my - cy) >= r:
            dd, qx, qy = _disc_distance(P, k, cx, cy)
            t = 0.5
            while np.hypot(qx + t * (mx - qx) - cx, qy + t * (my - qy) - cy) >= r and t > 1e-300:
                t *= 0.5
            mx, my = qx + t * (mx - qx), qy + t * (my - qy)
        pts = _grow2(pts, count + 1)
        pts[count, 0], pts[count, 1] = mx, my
        if want_bits:  # eight bits per byte by shifts (no branch per bit: 4x faster packing)
            pat = _grow2(pat, count + 1)
            for b in range(N // 8):
                o = 8 * b
                pat[count, b] = ((bits8[o] << 7) | (bits8[o + 1] << 6) | (bits8[o + 2] << 5) | (bits8[o + 3] << 4)
                                 | (bits8[o + 4] << 3) | (bits8[o + 5] << 2) | (bits8[o + 6] << 1) | bits8[o + 7])
            if N % 8:
                byte = 0
                for u in range(8 * (N // 8), N):
                    if bits[u]:
                        byte |= 1 << (7 - (u & 7))
                pat[count, nbytes - 1] = byte
        if want_poly:
            vtx = _grow2(vtx, nv_out + k)
            voff = _grow1(voff, count + 2)
            vtx[nv_out:nv_out + k] = P
            nv_out += k
            voff[count + 1] = nv_out
        if want_decision:
            crossed = _grow1(crossed, count + 1)
            area_tol = 1e-12 * abs(_area(P, k))
            L, segs, nseg = _decision(P, k, S, rowoff[H], n_out, has_disc, cx, cy, r, segs, nseg, pairs,
                                             area_tol)
            crossed[count] = L > 0
        count += 1
        nfree = _release(refs, free, nfree, sl)
        if max_leaves > 0 and count >= max_leaves and top >= 0:  # (more of the partition left)
            stopped = 1
            break
    return (count, pts[:count], pat[:count], vtx[:nv_out], voff[:count + 1] if want_poly else voff[:1],
            crossed[:count], segs[:nseg], pairs, stopped, thin, near)

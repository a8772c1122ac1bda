"""The subdivision's split step compiled with numba: the same cells, vertices and edges as
:func:`exactregions.engines.subdivision.split_numpy` (the readable reference, which the tests
hold it to), in two passes over the arrays instead of some forty numpy temporaries.

Pass 1 (:func:`_scan`) sets the neuron's bit of every cell, finds the cut cells, checks
general position and counts the crossing edges, so the caller can size the buffers; pass 2
(:func:`_apply`) moves the negative halves to new cells, puts one new vertex on each crossing
edge (a copy in each half) and joins the two new vertices of every cut 2-face.

Status codes (negative returns) stand for :class:`Degenerate` reasons; numba code raises
nothing itself so that the compiled functions stay exception-free and cacheable.
"""

from __future__ import annotations

import numpy as np
from numba import njit

ON_HYPERPLANE, NOT_SIMPLE, FACE_NOT_CUT_TWICE = -1, -2, -3

MESSAGES = {
    ON_HYPERPLANE: "a vertex lies on the hyperplane of neuron {j}",
    NOT_SIMPLE: "an edge's ends do not share d-1 constraints (not a simple cell)",
    FACE_NOT_CUT_TWICE: "a 2-face is not cut in exactly two edges",
}


@njit(cache=True, nogil=True)
def _scan(i, j, nv, ne, nc, V, vcell, vpar, s, E, ecell, epar, bits, parent, R, B, A, c, tol, cut):
    """Bit ``j`` of every cell; ``cut[c]`` for the cells the hyperplane strictly crosses; the
    neuron's value ``s[v]`` at every vertex of a cell it may cut.
    Returns (number of cut cells, number of crossing edges) or (status, 0)."""
    d = V.shape[1]
    has_pos = np.zeros(nc, np.bool_)
    has_neg = np.zeros(nc, np.bool_)
    for v in range(nv):
        p = vpar[v]
        if R[p, i]:
            val = c[p, i]
            for t in range(d):
                val += A[p, i, t] * V[v, t]
            s[v] = val
            if val > 0:
                has_pos[vcell[v]] = True
            elif val < 0:
                has_neg[vcell[v]] = True
    k = 0
    for q in range(nc):
        if R[parent[q], i]:
            bits[q, j] = has_pos[q]
            cut[q] = has_pos[q] and has_neg[q]
            k += cut[q]
        else:
            bits[q, j] = B[parent[q], i]
            cut[q] = False
    if k == 0:
        return 0, 0
    for v in range(nv):  # general position: no vertex of a cut cell on the hyperplane
        if R[vpar[v], i] and cut[vcell[v]]:
            val = abs(s[v])
            if val <= 1e-6:
                p = vpar[v]
                asum, vmax = 0.0, 1.0
                for t in range(d):
                    asum += abs(A[p, i, t])
                    vmax = max(vmax, abs(V[v, t]))
                if val <= tol * (asum * vmax + abs(c[p, i])):
                    return ON_HYPERPLANE, 0
    nx = 0
    for e in range(ne):
        if R[epar[e], i] and cut[ecell[e]]:
            if (s[E[e, 0]] > 0) != (s[E[e, 1]] > 0):
                nx += 1
    return k, nx


@njit(cache=True, nogil=True)
def _negative_halves(j, nc, cut, bits, parent):
    """New ids ``nc, nc+1, ...`` for the negative halves of the cut cells, each with its
    cell's pattern (bit ``j`` False: the old ids keep the positive halves) and parent.
    Returns (the new id of each cut cell, -1 elsewhere; their number)."""
    newid = np.full(nc, -1, np.int32)
    k = 0
    for q in range(nc):
        if cut[q]:
            newid[q] = nc + k
            parent[nc + k] = parent[q]
            bits[nc + k] = bits[q]
            bits[nc + k, j] = False
            k += 1
    return newid, k


@njit(cache=True, nogil=True)
def _apply(i, j, cid, nv, ne, nc, nx, V, vcell, T, s, vpar, E, ecell, epar, bits, parent, R, cut):
    """Split the cut cells (``nx`` crossing edges, buffers already large enough).
    Returns the new (nv, ne, nc) or (status, 0, 0)."""
    d = V.shape[1]
    newid, k = _negative_halves(j, nc, cut, bits, parent)
    for v in range(nv):
        if R[vpar[v], i] and cut[vcell[v]] and s[v] < 0:
            vcell[v] = newid[vcell[v]]
    S = np.empty((nx, max(d - 1, 1)), np.int32)
    xcell = np.empty(nx, np.int32)
    x = 0
    for e in range(ne):
        if not (R[epar[e], i] and cut[ecell[e]]):
            continue
        u, w = E[e, 0], E[e, 1]
        su, sw = s[u], s[w]
        if (su > 0) == (sw > 0):
            if su < 0:
                ecell[e] = newid[ecell[e]]
            continue
        old = ecell[e]
        # the ids tight at both ends (each T row is sorted): the edge's d-1 constraints
        a = b = m = 0
        while a < d and b < d:
            if T[u, a] == T[w, b]:
                if m == d - 1:
                    return NOT_SIMPLE, 0, 0
                S[x, m] = T[u, a]
                m += 1
                a += 1
                b += 1
            elif T[u, a] < T[w, b]:
                a += 1
            else:
                b += 1
        if m != d - 1:
            return NOT_SIMPLE, 0, 0
        t = su / (su - sw)
        wp, wn = nv + x, nv + nx + x
        for h in (wp, wn):
            for r in range(d):
                V[h, r] = V[u, r] + t * (V[w, r] - V[u, r])
            for r in range(d - 1):
                T[h, r] = S[x, r]
            T[h, d - 1] = cid  # cid exceeds every id already tight: the row stays sorted
            vpar[h] = parent[old]
        vcell[wp], vcell[wn] = old, newid[old]
        pos_end, neg_end = (u, w) if su > 0 else (w, u)
        E[e, 0], E[e, 1] = pos_end, wp  # the positive part keeps the edge's row
        E[ne + x, 0], E[ne + x, 1] = wn, neg_end
        ecell[ne + x], epar[ne + x] = newid[old], parent[old]
        xcell[x] = old
        x += 1
    n_new_e = nx
    if d > 1:
        # a cut 2-face (same cell, same d-2 constraints) is cut in exactly two edges: pair the
        # crossing edges of each cut cell by one integer per 2-face (its d-2 ids in base cid+1;
        # the caller checks that it fits in 63 bits), matched in an open-addressing hash table
        start = np.zeros(k + 1, np.int64)  # crossing edges bucketed by cut cell
        for x in range(nx):
            start[newid[xcell[x]] - nc + 1] += d - 1
        for q in range(k):
            start[q + 1] += start[q]
        fill = start[:k].copy()
        codes = np.empty(nx * (d - 1), np.int64)
        owner = np.empty(nx * (d - 1), np.int32)
        pw = np.empty(d - 1, np.int64)  # powers of the base
        pw[0] = 1
        for q in range(1, d - 1):
            pw[q] = pw[q - 1] * (cid + 1)
        for x in range(nx):
            g = newid[xcell[x]] - nc
            f = fill[g]
            # the code without S[x, q] in O(d): the ids after q, plus those before q shifted
            # past them
            rest = np.int64(0)
            for q in range(d - 2, -1, -1):
                codes[f + q] = rest
                rest += S[x, q] * pw[d - 2 - q]
            lead = np.int64(0)
            for q in range(d - 1):
                codes[f + q] += lead * pw[d - 2 - q]
                lead = lead * (cid + 1) + S[x, q]
                owner[f + q] = x
            fill[g] = f + d - 1
        size = 4
        for g in range(k):
            while size < 2 * (start[g + 1] - start[g]):
                size *= 2
        tkey = np.empty(size, np.int64)  # one open-addressing table, reused by every cell
        tval = np.empty(size, np.int32)
        tstamp = np.zeros(size, np.int32)
        for g in range(k):
            lo, hi = start[g], start[g + 1]
            tbits = 2
            while (1 << tbits) < 2 * (hi - lo):
                tbits += 1
            tsize = 1 << tbits
            shift = np.uint64(64 - tbits)
            unpaired = 0
            for h in range(lo, hi):
                code = codes[h]
                slot = np.int64((np.uint64(code) * np.uint64(0x9E3779B97F4A7C15)) >> shift)
                while tstamp[slot] == g + 1 and tkey[slot] != code:
                    slot = (slot + 1) & (tsize - 1)
                if tstamp[slot] != g + 1:  # first edge of this 2-face
                    tstamp[slot], tkey[slot], tval[slot] = g + 1, code, owner[h]
                    unpaired += 1
                    continue
                if tval[slot] < 0:  # a third edge on one 2-face
                    return FACE_NOT_CUT_TWICE, 0, 0
                x1, x2 = tval[slot], owner[h]
                tval[slot] = -1
                unpaired -= 1
                old = xcell[x1]
                r = ne + n_new_e
                E[r, 0], E[r, 1], ecell[r], epar[r] = nv + x1, nv + x2, old, parent[old]
                E[r + 1, 0], E[r + 1, 1] = nv + nx + x1, nv + nx + x2
                ecell[r + 1], epar[r + 1] = newid[old], parent[old]
                n_new_e += 2
            if unpaired:
                return FACE_NOT_CUT_TWICE, 0, 0
    return nv + 2 * nx, ne + n_new_e, nc + k


@njit(cache=True, nogil=True)
def _halves(j, nv, ne, nc, V, vcell, s, E, ecell, bits, parent, cut, sums, counts):
    """The halves of the cut cells (after :func:`_scan`) as their vertex sums and counts only,
    not as cells: the negative halves get the new ids ``nc, nc+1, ...`` (their patterns are
    written to ``bits``), each crossing edge's new vertex is added to both halves. The sums
    are those :func:`_apply` followed by a sum over each cell's vertices would give.
    Returns the new number of cells."""
    d = V.shape[1]
    newid, k = _negative_halves(j, nc, cut, bits, parent)
    for v in range(nv):
        q = vcell[v]
        if cut[q] and s[v] < 0:
            q = newid[q]
        for t in range(d):
            sums[q, t] += V[v, t]
        counts[q] += 1
    for e in range(ne):
        q = ecell[e]
        if not cut[q]:  # a cut cell's parent is cut: s is set at all its vertices
            continue
        u, w = E[e, 0], E[e, 1]
        su, sw = s[u], s[w]
        if (su > 0) == (sw > 0):
            continue
        t = su / (su - sw)
        for r in range(d):
            x = V[u, r] + t * (V[w, r] - V[u, r])
            sums[q, r] += x
            sums[newid[q], r] += x
        counts[q] += 1
        counts[newid[q]] += 1
    return nc + k


MEETS, MISSES, UNDECIDED = 1, 0, -1


@njit(cache=True, nogil=True)
def ball_hull(V, start, center, radius, iters, state, point):
    """Does the convex hull of each cell's vertices ``V[start[k]:start[k+1]]`` meet the open
    ball ``B(center, radius)``? Frank-Wolfe iterations on ``min |x - center|`` over the hull,
    stopped as soon as a certificate decides: ``MEETS`` when the current point (a convex
    combination of the vertices) lies inside the ball (it is left in ``point[k]``), ``MISSES``
    when the plane normal to ``center - x`` through the farthest vertex keeps the whole hull at
    distance >= radius; ``UNDECIDED`` after ``iters`` steps (the caller then solves the QP).
    Both certificates keep a relative margin of 1e-12."""
    d = V.shape[1]
    x = np.empty(d)
    g = np.empty(d)
    for k in range(start.size - 1):
        a, b = start[k], start[k + 1]
        best, bd = a, np.inf
        for v in range(a, b):
            s = 0.0
            for t in range(d):
                s += (V[v, t] - center[t]) ** 2
            if s < bd:
                bd, best = s, v
        for t in range(d):
            x[t] = V[best, t]
        state[k] = UNDECIDED
        for _ in range(iters):
            gn = 0.0
            for t in range(d):
                g[t] = center[t] - x[t]
                gn += g[t] * g[t]
            gn = np.sqrt(gn)
            if gn < radius * (1.0 - 1e-12):
                state[k] = MEETS
                break
            smax, sv = -np.inf, a
            for v in range(a, b):
                s = 0.0
                for t in range(d):
                    s += g[t] * V[v, t]
                if s > smax:
                    smax, sv = s, v
            gc = 0.0
            for t in range(d):
                gc += g[t] * center[t]
            if (gc - smax) / gn >= radius * (1.0 + 1e-12):
                state[k] = MISSES
                break
            num, den = 0.0, 0.0
            for t in range(d):
                dv = V[sv, t] - x[t]
                num += g[t] * dv
                den += dv * dv
            if den == 0.0 or num <= 0.0:
                break
            gamma = min(1.0, num / den)
            for t in range(d):
                x[t] += gamma * (V[sv, t] - x[t])
        for t in range(d):
            point[k, t] = x[t]

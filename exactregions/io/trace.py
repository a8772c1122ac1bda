"""Turn a computation graph of affine operations and (Leaky)ReLUs into a :class:`Network`.

Every tensor is kept as an affine function ``A s + a`` of the current *state* ``s`` (the
input, then the units of the latest hidden layer), ``A`` a sparse matrix. An affine operation
(convolution, pooling, padding, batch norm, reshape, matrix products, sums with constants, the
sum of two branches) updates ``(A, a)`` exactly: convolutions, pools and pads by their own
sparse matrices (:func:`conv_matrix`, :func:`pool_matrix`, :func:`pad_matrix`), reshapes and
per-element maps without any matrix, and any other operation by running it on the columns of
``A``, a block at a time. At the end, a large hidden layer that is mostly zeros stays sparse in
the network (:data:`SPARSE_ENTRIES`, :data:`SPARSE_DENSITY`) and the others are made dense:
pushing a dense identity of the state through the operations instead took 92 s and 12.7 GB for
a 3x32x32 net of 26,688 units (a 16,384 x 16,384 identity through a convolution).

A ReLU closes a hidden layer whose units are the ReLU's input plus *pass-through* units
(identity activation) for every other tensor still needed later: that is how a residual branch
crosses the layer without adding any region boundary.

A max over windows (MaxPool) becomes a tournament: each round closes a hidden layer with one
ReLU comparison unit ``relu(a - b)`` per pair of entries and a pass-through unit for ``b``
(the winner is ``b + relu(a - b) = max(a, b)``). The comparison units are recorded in the
network's ``pool_tree`` so that regions are named by the argmax of each window, not by every
comparison: a comparison off the winner's path is not a boundary of the max (the count of the
rewritten network without that merge would be larger).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..network import Network, NetworkError
from .errors import ModelError

#: entries of a dense block when a generic operation runs on the columns of a sparse ``A``
BLOCK_ENTRIES = 1 << 22
#: a hidden layer after the first stays sparse in the network when it has at least this many
#: entries and at most :data:`SPARSE_DENSITY` of them are non-zero (a convolution's layer)
SPARSE_ENTRIES = 1 << 20
SPARSE_DENSITY = 0.1


class Tracer:
    def __init__(self, input_name: str, input_shape: tuple):
        d = int(np.prod(input_shape))
        self.input_dim = d
        self.state = d
        self.tensors = {input_name: (sp.identity(d, format="csr"), np.zeros(d), tuple(input_shape))}
        self.Ws, self.bs, self.slopes, self.linear = [], [], [], []
        self.tree = []  # (hidden unit, parent row, side) of max-pool comparisons, any order

    def shape(self, name):
        return self.tensors[name][2]

    def has(self, name) -> bool:
        return name in self.tensors

    def affine(self, out: str, src: str, fn, out_shape=None):
        """``out = fn(src)`` for an affine ``fn`` acting on arrays of shape (k, *shape): run on
        the columns of ``A`` (one per state unit), a block of them at a time."""
        A, a, shape = self.tensors[src]
        zero = fn(np.zeros((1,) + shape))
        val = fn(a.reshape((1,) + shape))
        size = max(int(np.prod(shape)), zero.size, 1)
        step = max(1, BLOCK_ENTRIES // size)
        At = A.T.tocsr()
        blocks = []
        for lo in range(0, self.state, step):
            cols = At[lo:lo + step].toarray().reshape((-1,) + shape)
            blocks.append(sp.csr_matrix((fn(cols) - zero).reshape(cols.shape[0], -1)))
        lin = sp.vstack(blocks, format="csr") if blocks else sp.csr_matrix((0, zero.size))
        new_shape = tuple(val.shape[1:]) if out_shape is None else tuple(out_shape)
        self.tensors[out] = (lin.T.tocsr(), val.reshape(-1), new_shape)

    def linear_map(self, out: str, src: str, K, bias, out_shape):
        """``out = K src + bias`` for a sparse matrix ``K`` on the flattened tensor."""
        A, a, _ = self.tensors[src]
        self.tensors[out] = ((K @ A).tocsr(), K @ a + bias, tuple(out_shape))

    def reshape(self, out: str, src: str, out_shape):
        """``out`` is ``src`` with another shape (the same C-order entries)."""
        A, a, _ = self.tensors[src]
        self.tensors[out] = (A, a, tuple(out_shape))

    def elementwise(self, out: str, src: str, scale, shift):
        """``out = scale * src + shift`` entry by entry (constants broadcast to the tensor's
        shape and not beyond it: the caller checks)."""
        A, a, shape = self.tensors[src]
        k = np.broadcast_to(np.asarray(scale, float), shape).reshape(-1)
        c = np.broadcast_to(np.asarray(shift, float), shape).reshape(-1)
        self.tensors[out] = ((sp.diags(k) @ A).tocsr(), k * a + c, shape)

    def combine(self, out: str, x: str, y: str, sign: float = 1.0):
        """``out = x + sign * y`` for two traced tensors of the same size (a residual sum)."""
        Ax, ax, sx = self.tensors[x]
        Ay, ay, sy = self.tensors[y]
        if Ax.shape[0] != Ay.shape[0]:
            raise ModelError(f"cannot add tensors of shapes {sx} and {sy} (broadcasting two branches is not supported)")
        self.tensors[out] = ((Ax + sign * Ay).tocsr(), ax + sign * ay, sx if len(sx) >= len(sy) else sy)

    def alias(self, out: str, src: str):
        self.tensors[out] = self.tensors[src]

    def relu(self, out: str, src: str, slope: float, live: set):
        """Close a hidden layer: units of ``src`` activated, every other live tensor carried."""
        carried = [t for t in sorted(live) if t in self.tensors and t != out]
        A, a, shape = self.tensors[src]
        rows, offs, lin = [A], [a], [np.zeros(A.shape[0], bool)]
        for t in carried:
            rows.append(self.tensors[t][0])
            offs.append(self.tensors[t][1])
            lin.append(np.ones(self.tensors[t][0].shape[0], bool))
        self.Ws.append(sp.vstack(rows, format="csr"))
        self.bs.append(np.concatenate(offs))
        self.slopes.append(float(slope))
        self.linear.append(np.concatenate(lin))
        n = self.Ws[-1].shape[0]
        I = sp.identity(n, format="csr")
        new, start = {}, A.shape[0]
        new[out] = (I[: A.shape[0]], np.zeros(A.shape[0]), shape)
        for t in carried:
            k = self.tensors[t][0].shape[0]
            new[t] = (I[start:start + k], np.zeros(k), self.tensors[t][2])
            start += k
        self.tensors, self.state = new, n

    def maxpool(self, out: str, src: str, windows: np.ndarray, out_shape, live: set):
        """``out[w] = max(src[windows[w]])`` for an index array ``windows`` (n_out, k): a
        tournament of ReLU comparisons, one hidden layer per round (class docstring)."""
        A, a, _ = self.tensors[src]
        A = A.toarray()
        # entries: per window, the affine rows (into the current state) still in the tournament,
        # each with the tree row of the comparison that produced it (-1 for an input entry)
        entries = [[(A[i], a[i], -1) for i in win] for win in windows]
        carried = [t for t in sorted(live) if t in self.tensors and t not in (out, src)]
        while any(len(e) > 1 for e in entries):
            rows, offs, lin, plan = [], [], [], []
            for e in entries:
                nxt = []
                for q in range(0, len(e) - 1, 2):
                    (Aa, aa, ta), (Ab, ab, tb) = e[q], e[q + 1]
                    rows += [Aa - Ab, Ab]
                    offs += [aa - ab, ab]
                    lin += [False, True]
                    nxt.append(("cmp", len(rows) - 2, ta, tb))
                if len(e) % 2:
                    rows.append(e[-1][0])
                    offs.append(e[-1][1])
                    lin.append(True)
                    nxt.append(("pass", len(rows) - 1, e[-1][2]))
                plan.append(nxt)
            n_units = len(rows)
            A_car = [self.tensors[t][0] for t in carried]
            W = sp.vstack([sp.csr_matrix(np.array(rows).reshape(n_units, self.state))] + A_car, format="csr")
            b = np.concatenate([np.array(offs)] + [self.tensors[t][1] for t in carried])
            first = sum(w.shape[0] for w in self.Ws)  # global index of this layer's first unit
            self.Ws.append(W)
            self.bs.append(b)
            self.slopes.append(0.0)
            self.linear.append(np.r_[np.array(lin, bool), np.ones(W.shape[0] - n_units, bool)])
            n = W.shape[0]
            I = np.eye(n)
            new_entries = []
            for nxt in plan:
                e = []
                for item in nxt:
                    if item[0] == "cmp":
                        _, u, ta, tb = item
                        row = len(self.tree)
                        self.tree.append([first + u, -1, 0])
                        for t, side in ((ta, 1), (tb, 0)):  # the winner of ta is the 'a' side (bit True)
                            if t >= 0:
                                self.tree[t][1], self.tree[t][2] = row, side
                        e.append((I[u] + I[u + 1], 0.0, row))  # max(a, b) = relu(a - b) + b
                    else:
                        _, u, t = item
                        e.append((I[u], 0.0, t))
                new_entries.append(e)
            entries = new_entries
            new, start = {}, n_units
            for t in carried:
                k = self.tensors[t][0].shape[0]
                new[t] = (sp.csr_matrix(I[start:start + k]), np.zeros(k), self.tensors[t][2])
                start += k
            self.tensors, self.state = new, n
        M = sp.csr_matrix(np.array([e[0][0] for e in entries]).reshape(len(entries), self.state))
        self.tensors[out] = (M, np.array([e[0][1] for e in entries], float), tuple(out_shape))

    def pool_tree(self) -> np.ndarray:
        """The comparison rows, parents first (rows renumbered)."""
        if not self.tree:
            return np.zeros((0, 3), np.int64)
        depth = []
        for r in range(len(self.tree)):
            d, p = 0, self.tree[r][1]
            while p >= 0:
                d, p = d + 1, self.tree[p][1]
            depth.append(d)
        order = np.argsort(depth, kind="stable")
        where = np.empty(len(order), np.int64)
        where[order] = np.arange(len(order))
        return np.array([[self.tree[r][0], where[self.tree[r][1]] if self.tree[r][1] >= 0 else -1, self.tree[r][2]]
                         for r in order], np.int64)

    def network(self, output: str) -> Network:
        A, a, _ = self.tensors[output]
        try:
            # large sparse hidden layers stay sparse; the others are made dense one at a time as
            # the network takes them (a CIFAR-sized net's second layer alone is 1 GB dense)
            Ws = self.Ws + [A]
            return Network((W if 0 < i < len(Ws) - 1 and _stays_sparse(W) else _dense(W) for i, W in enumerate(Ws)),
                           self.bs + [a], slopes=self.slopes, linear=self.linear, pool_tree=self.pool_tree())
        except NetworkError as e:
            raise ModelError(str(e)) from None


def _stays_sparse(W) -> bool:
    size = W.shape[0] * W.shape[1]
    return sp.issparse(W) and size >= SPARSE_ENTRIES and W.nnz <= SPARSE_DENSITY * size


def _dense(M) -> np.ndarray:
    """A fresh dense float64 copy, read-only: the network adopts it without a copy of its own."""
    M = M.toarray() if sp.issparse(M) else np.array(M, dtype=np.float64)
    M.setflags(write=False)
    return M


def _csr(rows, cols, vals, shape):
    """A CSR matrix from coordinates (duplicates summed)."""
    return sp.csr_matrix((vals, (rows, cols)), shape=shape)


def conv_matrix(shape, W, strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1), groups=1):
    """The convolution of a (C, H, W) tensor by ``W`` (C_out, C/groups, kh, kw) as a sparse
    matrix on the flattened tensors, with its output shape; ``pads`` in ONNX order (top, left,
    bottom, right). Each output entry sums its window's entries inside the (unpadded) input."""
    C, H, Wd = shape
    Co, Cg, kh, kw = W.shape
    (sy, sx), (dy, dx) = strides, dilations
    Ho = (H + pads[0] + pads[2] - dy * (kh - 1) - 1) // sy + 1
    Wo = (Wd + pads[1] + pads[3] - dx * (kw - 1) - 1) // sx + 1
    if Ho <= 0 or Wo <= 0 or C != Cg * groups or Co % groups:
        raise ModelError(f"a convolution of kernel {W.shape} (groups {groups}) does not fit an input of shape {shape}")
    co, oy, ox, cg, ky, kx = np.meshgrid(np.arange(Co), np.arange(Ho), np.arange(Wo), np.arange(Cg), np.arange(kh),
                                         np.arange(kw), indexing="ij", sparse=True)
    ci = (co // (Co // groups)) * Cg + cg
    iy, ix = oy * sy - pads[0] + ky * dy, ox * sx - pads[1] + kx * dx
    ok = (iy >= 0) & (iy < H) & (ix >= 0) & (ix < Wd)
    full = (Co, Ho, Wo, Cg, kh, kw)
    ok = np.broadcast_to(ok, full)
    row = np.broadcast_to((co * Ho + oy) * Wo + ox, full)[ok]
    col = np.broadcast_to((ci * H + iy) * Wd + ix, full)[ok]
    val = np.broadcast_to(W[:, None, None], full)[ok]
    return _csr(row, col, val, (Co * Ho * Wo, C * H * Wd)), (Co, Ho, Wo)


def pool_matrix(shape, kernel, strides, pads=(0, 0), count_include_pad=False):
    """The average pool of a (C, H, W) tensor (symmetric ``pads`` (top, left), no ceil mode)
    as a sparse matrix, with its output shape; a window's padded entries count in its divisor
    only with ``count_include_pad``."""
    C, H, Wd = shape
    (kh, kw), (sy, sx) = kernel, strides
    Ho = (H + 2 * pads[0] - kh) // sy + 1
    Wo = (Wd + 2 * pads[1] - kw) // sx + 1
    c, oy, ox, ky, kx = np.meshgrid(np.arange(C), np.arange(Ho), np.arange(Wo), np.arange(kh), np.arange(kw),
                                    indexing="ij", sparse=True)
    iy, ix = oy * sy - pads[0] + ky, ox * sx - pads[1] + kx
    full = (C, Ho, Wo, kh, kw)
    ok = np.broadcast_to((iy >= 0) & (iy < H) & (ix >= 0) & (ix < Wd), full)
    row = np.broadcast_to((c * Ho + oy) * Wo + ox, full)
    n = np.full(C * Ho * Wo, kh * kw, float) if count_include_pad else np.bincount(row[ok], minlength=C * Ho * Wo)
    col = np.broadcast_to((c * H + iy) * Wd + ix, full)[ok]
    return _csr(row[ok], col, 1.0 / n[row[ok]], (C * Ho * Wo, C * H * Wd)), (C, Ho, Wo)


def pad_matrix(shape, before, after):
    """Constant padding of a tensor (``before``/``after`` per axis; negative widths crop) as a
    selection matrix, the output shape and the mask of the padded entries (which take the
    constant)."""
    out_shape = tuple(n + b + e for n, b, e in zip(shape, before, after))
    if any(m <= 0 for m in out_shape):
        raise ModelError(f"padding {list(before)}, {list(after)} leaves nothing of a tensor of shape {tuple(shape)}")
    where = np.full(out_shape, -1)
    kept = [max(0, n + min(b, 0) + min(e, 0)) for n, b, e in zip(shape, before, after)]  # entries kept per axis
    src = np.arange(int(np.prod(shape))).reshape(shape)
    where[tuple(slice(max(b, 0), max(b, 0) + k) for b, k in zip(before, kept))] = \
        src[tuple(slice(max(-b, 0), max(-b, 0) + k) for b, k in zip(before, kept))]
    where = where.reshape(-1)
    inside = np.flatnonzero(where >= 0)
    K = _csr(inside, where[inside], np.ones(inside.size), (where.size, int(np.prod(shape))))
    return K, out_shape, where < 0

"""Turn a computation graph of affine operations and (Leaky)ReLUs into a :class:`Network`.

Every tensor is kept as an affine function ``A s + a`` of the current *state* ``s`` (the
input, then the units of the latest hidden layer). An affine operation (convolution, pooling,
padding, batch norm, reshape, matrix products, sums with constants, the sum of two branches)
updates ``(A, a)`` exactly. A ReLU closes a hidden layer whose units are the ReLU's input plus
*pass-through* units (identity activation) for every other tensor still needed later: that is
how a residual branch crosses the layer without adding any region boundary.

A max over windows (MaxPool) becomes a tournament: each round closes a hidden layer with one
ReLU comparison unit ``relu(a - b)`` per pair of entries and a pass-through unit for ``b``
(the winner is ``b + relu(a - b) = max(a, b)``). The comparison units are recorded in the
network's ``pool_tree`` so that regions are named by the argmax of each window, not by every
comparison: a comparison off the winner's path is not a boundary of the max (the count of the
rewritten network without that merge would be larger).
"""

from __future__ import annotations

import numpy as np

from ..network import Network, NetworkError
from .errors import ModelError


class Tracer:
    def __init__(self, input_name: str, input_shape: tuple):
        d = int(np.prod(input_shape))
        self.input_dim = d
        self.state = d
        self.tensors = {input_name: (np.eye(d), np.zeros(d), tuple(input_shape))}
        self.Ws, self.bs, self.slopes, self.linear = [], [], [], []
        self.tree = []  # (hidden unit, parent row, side) of max-pool comparisons, any order

    def shape(self, name):
        return self.tensors[name][2]

    def has(self, name) -> bool:
        return name in self.tensors

    def affine(self, out: str, src: str, fn, out_shape=None):
        """``out = fn(src)`` for an affine ``fn`` acting on arrays of shape (k, *shape)."""
        A, a, shape = self.tensors[src]
        zero = fn(np.zeros((1,) + shape))
        lin = fn(A.T.reshape((self.state,) + shape)) - zero
        val = fn(a.reshape((1,) + shape))
        new_shape = tuple(val.shape[1:]) if out_shape is None else tuple(out_shape)
        self.tensors[out] = (lin.reshape(self.state, -1).T.copy(), val.reshape(-1), new_shape)

    def combine(self, out: str, x: str, y: str, sign: float = 1.0):
        """``out = x + sign * y`` for two traced tensors of the same size (a residual sum)."""
        Ax, ax, sx = self.tensors[x]
        Ay, ay, sy = self.tensors[y]
        if Ax.shape[0] != Ay.shape[0]:
            raise ModelError(f"cannot add tensors of shapes {sx} and {sy} (broadcasting two branches is not supported)")
        self.tensors[out] = (Ax + sign * Ay, ax + sign * ay, sx if len(sx) >= len(sy) else sy)

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
        self.Ws.append(np.vstack(rows))
        self.bs.append(np.concatenate(offs))
        self.slopes.append(float(slope))
        self.linear.append(np.concatenate(lin))
        n = self.Ws[-1].shape[0]
        new, start = {}, A.shape[0]
        new[out] = (np.eye(n)[: A.shape[0]], np.zeros(A.shape[0]), shape)
        for t in carried:
            k = self.tensors[t][0].shape[0]
            new[t] = (np.eye(n)[start:start + k], np.zeros(k), self.tensors[t][2])
            start += k
        self.tensors, self.state = new, n

    def maxpool(self, out: str, src: str, windows: np.ndarray, out_shape, live: set):
        """``out[w] = max(src[windows[w]])`` for an index array ``windows`` (n_out, k): a
        tournament of ReLU comparisons, one hidden layer per round (class docstring)."""
        A, a, _ = self.tensors[src]
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
            W = np.vstack([np.array(rows).reshape(n_units, self.state)] + A_car)
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
                new[t] = (I[start:start + k], np.zeros(k), self.tensors[t][2])
                start += k
            self.tensors, self.state = new, n
        M = np.array([e[0][0] for e in entries]).reshape(len(entries), self.state)
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
            return Network(self.Ws + [A], self.bs + [a], slopes=self.slopes, linear=self.linear,
                           pool_tree=self.pool_tree())
        except NetworkError as e:
            raise ModelError(str(e)) from None

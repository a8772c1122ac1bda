"""Turn a computation graph of affine operations and (Leaky)ReLUs into a :class:`Network`.

Every tensor is kept as an affine function ``A s + a`` of the current *state* ``s`` (the
input, then the units of the latest hidden layer). An affine operation (convolution, pooling,
padding, batch norm, reshape, matrix products, sums with constants, the sum of two branches)
updates ``(A, a)`` exactly. A ReLU closes a hidden layer whose units are the ReLU's input plus
*pass-through* units (identity activation) for every other tensor still needed later: that is
how a residual branch crosses the layer without adding any region boundary.
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

    def network(self, output: str) -> Network:
        A, a, _ = self.tensors[output]
        try:
            return Network(self.Ws + [A], self.bs + [a], slopes=self.slopes, linear=self.linear)
        except NetworkError as e:
            raise ModelError(str(e)) from None

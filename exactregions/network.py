"""The canonical piecewise-linear network.

A :class:`Network` is a stack of affine layers ``z_l = W_l h_{l-1} + b_l``; every layer but
the last is followed by ReLU or LeakyReLU(alpha), ``h_l = z_l`` where ``z_l > 0`` and
``alpha * z_l`` elsewhere. The last layer is the output and creates no region boundary.

An *activation pattern* is one boolean per hidden neuron (``True`` = active, ``z > 0``),
concatenated over the hidden layers. With the pattern fixed the network is affine in x, so
every pre-activation is an affine function ``z_i(x) = A_i x + c_i`` and the set of inputs
with that pattern is the polyhedron ``{x : z_i(x) >= 0 if active, <= 0 if not}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Network", "NetworkError", "random_network", "activate", "as_network", "as_array", "dense", "times_t",
           "absolute"]

#: ``(accepts, convert)`` pairs that :func:`as_network` tries in turn; :mod:`exactregions.io`
#: registers model files and torch modules here when the package is imported (so this module
#: needs no import of io, which sits above it).
CONVERTERS: list = []


def as_network(model, input_shape=None) -> "Network":
    """The :class:`Network` behind ``model``: a Network as it is, a torch ``nn.Module`` (with
    ``input_shape``, without the batch axis, where one is needed) or a model file path
    (``.npz``, ``.onnx``, ``.pt``). Anything else is a :class:`TypeError` that says what is
    accepted. The one conversion every public entry point applies at its boundary."""
    if isinstance(model, Network):
        return model
    for accepts, convert in CONVERTERS:
        if accepts(model):
            return convert(model, input_shape)
    raise TypeError(f"expected a Network, a torch nn.Module or a model file path (.npz, .onnx, .pt), "
                    f"got {type(model).__name__}")


def as_array(v) -> np.ndarray:
    """A float64 numpy array from a numpy array, a sequence or a torch tensor (detached, moved
    to the CPU): centres and points may be given either way."""
    if hasattr(v, "detach") and hasattr(v, "cpu"):
        v = v.detach().cpu().numpy()
    return np.asarray(v, dtype=np.float64)


def activate(z, slope, linear=False):
    """The hidden activation: ``z`` where ``z > 0`` or on pass-through units, ``slope * z``
    elsewhere (ReLU for slope 0). The one definition every module uses."""
    with np.errstate(invalid="ignore"):  # inf * 0 in interval arithmetic
        return np.where((z > 0) | linear, z, slope * z)


def is_sparse(w) -> bool:
    """A scipy sparse matrix (hidden layers of convolutional nets: :class:`Network`)."""
    return hasattr(w, "tocsr") and hasattr(w, "nnz")


def dense(w) -> np.ndarray:
    """A layer as a dense array (a sparse one converted: for the rare whole-matrix uses)."""
    return w.toarray() if is_sparse(w) else w


def times_t(h, w) -> np.ndarray:
    """``h @ w.T`` for points ``h`` (n, in) and a dense or sparse layer ``w`` (out, in)."""
    return h @ w.T if isinstance(w, np.ndarray) else (w @ h.T).T


def absolute(w):
    """``|w|`` entry by entry, dense or sparse."""
    return np.abs(w) if isinstance(w, np.ndarray) else abs(w)


def batched(w, P) -> np.ndarray:
    """``w @ P[k]`` for every ``k`` of a stack ``P`` (k, in, d): one product, dense or sparse."""
    if isinstance(w, np.ndarray):
        return np.matmul(w, P)
    k, n, d = P.shape
    return (w @ P.transpose(1, 0, 2).reshape(n, k * d)).reshape(w.shape[0], k, d).transpose(1, 0, 2)


def _sparse_layer(w):
    """A hidden layer given as a scipy sparse matrix, kept sparse: CSR, float64, its own copy, in
    canonical form (sorted, no duplicates, no stored zeros), which scipy then never rewrites in
    place (the network makes its values read-only)."""
    import scipy.sparse as sp

    w = sp.csr_array(w, dtype=np.float64, copy=True)
    w.sum_duplicates()
    w.eliminate_zeros()
    w.sort_indices()
    return w


def _frozen(a) -> np.ndarray:
    """``a`` as a float64 array of the network's own: a copy, except for an array that nothing
    can write to any more (read-only down to its base, e.g. another network's layer), which is
    shared: a network restricted to a plane keeps the later layers of the original (a CIFAR-sized
    net's second layer is 1 GB)."""
    if isinstance(a, np.ndarray) and a.dtype == np.float64:
        b = a
        while isinstance(b, np.ndarray) and not b.flags.writeable:
            b = b.base
        if b is None:
            return a
    return np.array(a, dtype=np.float64)


class NetworkError(ValueError):
    """A network's arrays are malformed (shapes, non-finite values, slopes)."""


@dataclass(frozen=True)
class Network:
    """Affine layers with ReLU/LeakyReLU between them.

    Parameters
    ----------
    weights : list of arrays, ``weights[i]`` of shape (out_i, in_i). A hidden layer after the
        first may be a scipy sparse matrix and is then kept sparse (a convolution's layer: the
        second layer of a CIFAR-sized net is 1 GB dense, 10 MB sparse); the first layer and the
        output layer are always dense. Every engine takes both; :func:`dense` converts one.
    biases : list of arrays, ``biases[i]`` of shape (out_i,).
    slopes : negative-side slope of each hidden layer's activation (0 = ReLU,
        ``alpha`` = LeakyReLU(alpha)); one per hidden layer, default all 0.
    linear : optional boolean mask per hidden layer marking *pass-through* units, whose
        activation is the identity (they carry a skip connection through a layer). They make
        no boundary and are not part of any pattern decision (their bit is always True).

    The last layer is the output layer. A network with only one layer has no hidden
    neuron and exactly one region.
    """

    weights: tuple
    biases: tuple
    slopes: tuple = field(default=())
    linear: tuple = field(default=())
    pool_tree: np.ndarray = field(default=None)

    def __init__(self, weights, biases, slopes=None, linear=None, pool_tree=None):
        ws = list(weights)
        ws = [_sparse_layer(w) if is_sparse(w) and 0 < i < len(ws) - 1 else _frozen(dense(w) if is_sparse(w) else w)
              for i, w in enumerate(ws)]
        bs = [_frozen(b).reshape(-1) for b in biases]
        if len(ws) == 0 or len(ws) != len(bs):
            raise NetworkError(
                f"a network needs one bias per weight matrix and at least one layer "
                f"(got {len(ws)} weights, {len(bs)} biases)")
        for i, (w, b) in enumerate(zip(ws, bs)):
            if w.ndim != 2:
                raise NetworkError(f"layer {i}: weight must be a matrix (out, in), got shape {w.shape}")
            if b.shape[0] != w.shape[0]:
                raise NetworkError(f"layer {i}: bias has {b.shape[0]} entries, weight has {w.shape[0]} rows")
            if i > 0 and w.shape[1] != ws[i - 1].shape[0]:
                raise NetworkError(
                    f"layer {i}: weight takes {w.shape[1]} inputs but layer {i - 1} has {ws[i - 1].shape[0]} outputs")
            if not (np.all(np.isfinite(w.data if is_sparse(w) else w)) and np.all(np.isfinite(b))):
                raise NetworkError(f"layer {i}: weights or biases contain NaN or infinite values")
        n_hidden = len(ws) - 1
        if slopes is None:
            slopes = [0.0] * n_hidden
        elif np.ndim(slopes) == 0:
            slopes = [float(slopes)] * n_hidden
        slopes = tuple(float(s) for s in slopes)
        if len(slopes) != n_hidden:
            raise NetworkError(f"need one activation slope per hidden layer ({n_hidden}), got {len(slopes)}")
        for s in slopes:
            if not (np.isfinite(s) and 0.0 <= s < 1.0):
                raise NetworkError(f"LeakyReLU slope must be in [0, 1), got {s}")
        if linear is None:
            linear = [np.zeros(w.shape[0], bool) for w in ws[:-1]]
        linear = [np.array(m, dtype=bool).reshape(-1) for m in linear]
        if len(linear) != n_hidden or any(m.size != w.shape[0] for m, w in zip(linear, ws[:-1])):
            raise NetworkError("need one pass-through mask per hidden layer, each as long as the layer")
        for m in linear:
            m.setflags(write=False)
        object.__setattr__(self, "linear", tuple(linear))
        for w in ws:
            (w.data if is_sparse(w) else w).setflags(write=False)
        for b in bs:
            b.setflags(write=False)
        object.__setattr__(self, "weights", tuple(ws))
        object.__setattr__(self, "biases", tuple(bs))
        object.__setattr__(self, "slopes", slopes)
        tree = np.zeros((0, 3), np.int64) if pool_tree is None else np.array(pool_tree, np.int64).reshape(-1, 3)
        n = int(sum(w.shape[0] for w in ws[:-1]))
        if tree.size and not (np.all((tree[:, 0] >= 0) & (tree[:, 0] < n)) and np.all(tree[:, 1] < np.arange(len(tree)))
                              and np.all(np.isin(tree[:, 2], (0, 1)))):
            raise NetworkError("pool_tree rows must be (hidden unit, earlier row or -1, side 0/1)")
        tree.setflags(write=False)
        object.__setattr__(self, "pool_tree", tree)

    # ----------------------------------------------------------------- shape facts
    @property
    def input_dim(self) -> int:
        return self.weights[0].shape[1]

    @property
    def output_dim(self) -> int:
        return self.weights[-1].shape[0]

    @property
    def hidden_widths(self) -> list[int]:
        return [w.shape[0] for w in self.weights[:-1]]

    @property
    def n_hidden(self) -> int:
        """Total number of hidden neurons N (the length of a pattern)."""
        return int(sum(self.hidden_widths))

    @property
    def architecture(self) -> list[int]:
        """``[n0, n1, ..., nL]``: input width, then hidden widths (output excluded)."""
        return [self.input_dim] + self.hidden_widths

    def linear_mask(self) -> np.ndarray:
        """Concatenated pass-through mask over all hidden units."""
        return np.concatenate(self.linear) if self.linear else np.zeros(0, bool)

    @property
    def n_neurons(self) -> int:
        """Hidden units that can switch (pass-through units excluded)."""
        return int(self.n_hidden - self.linear_mask().sum())

    def layer_slices(self) -> list[slice]:
        """Slice of the pattern vector belonging to each hidden layer."""
        out, start = [], 0
        for n in self.hidden_widths:
            out.append(slice(start, start + n))
            start += n
        return out

    def __repr__(self) -> str:
        act = "ReLU" if all(s == 0 for s in self.slopes) else f"LeakyReLU{self.slopes}"
        skip = f", {self.n_hidden - self.n_neurons} pass-through units" if self.n_neurons < self.n_hidden else ""
        return f"Network({'-'.join(map(str, self.architecture + [self.output_dim]))}, {act}{skip})"

    def region_keys(self, patterns, copy: bool = True) -> np.ndarray:
        """The patterns that name the regions: the activation patterns themselves, except in a
        network with max-pooling, where a window's max is a tournament of comparison units
        (:attr:`pool_tree`, rows ``(unit, parent row, side)``: the unit compares the two halves
        of the winner of its parent's ``side``) and only the comparisons on the winner's path
        are part of the region's name (the argmax of the window); the others are cleared.
        Two points lie in one region iff their keys are equal. ``copy=False`` clears them in
        place when ``patterns`` is a bool array (the merge of a count's cells: their patterns
        can be gigabytes)."""
        P = np.array(patterns, dtype=bool, copy=True) if copy else np.asarray(patterns, dtype=bool)
        tree = self.pool_tree
        if not tree.size:
            return P
        one = P.ndim == 1
        P = np.atleast_2d(P)
        rounds = self._pool_rounds()
        for s in range(0, P.shape[0], 4096):  # a block of patterns at a time
            self._clear_losers(P[s:s + 4096], *rounds)
        return P[0] if one else P

    @staticmethod
    def _clear_losers(P, units, parent, side, rounds):
        """:meth:`region_keys` in place on the patterns ``P`` (n, N): the comparison units, in
        tournament rounds (:meth:`_pool_rounds`), are gathered with ``np.take`` and set bits off
        the winners' paths cleared (indexing the 4,000 columns one at a time took 19 s over the
        77,000 cells of a LeNet-with-MaxPool slice)."""
        bits = np.take(P, units, axis=1)
        live = np.ones_like(bits)
        for a, b in rounds:
            live[:, a:b] = np.take(live, parent[a:b], axis=1) & (np.take(bits, parent[a:b], axis=1) == side[a:b])
        i, r = np.nonzero(bits & ~live)
        P[i, units[r]] = False

    def _pool_rounds(self):
        """:attr:`pool_tree` ordered by depth: (units, parent position, side, [(start, stop) of
        each depth with a parent])."""
        tree = self.pool_tree
        depth = np.zeros(len(tree), np.int64)
        for r, p in enumerate(tree[:, 1]):  # parents come first
            if p >= 0:
                depth[r] = depth[p] + 1
        order = np.argsort(depth, kind="stable")
        pos = np.empty_like(order)
        pos[order] = np.arange(order.size)
        parent = np.where(tree[order, 1] >= 0, pos[np.maximum(tree[order, 1], 0)], -1)
        d = depth[order]
        rounds = [(int(np.searchsorted(d, k)), int(np.searchsorted(d, k, side="right")))
                  for k in range(1, int(d.max(initial=0)) + 1)]
        return tree[order, 0], parent, tree[order, 2].astype(bool), rounds

    # ----------------------------------------------------------------- evaluation
    def preactivations(self, x) -> list[np.ndarray]:
        """Hidden pre-activations for points ``x`` of shape (n, d) or (d,); one array per layer."""
        h = np.atleast_2d(as_array(x))
        zs = []
        for w, b, s, lin in zip(self.weights[:-1], self.biases[:-1], self.slopes, self.linear):
            z = times_t(h, w) + b
            zs.append(z)
            h = activate(z, s, lin)
        return zs

    def forward(self, x) -> np.ndarray:
        """Network output for points ``x`` of shape (n, d) or (d,)."""
        x = as_array(x)
        h = np.atleast_2d(x)
        for w, b, s, lin in zip(self.weights[:-1], self.biases[:-1], self.slopes, self.linear):
            z = times_t(h, w) + b
            h = activate(z, s, lin)
        out = h @ self.weights[-1].T + self.biases[-1]
        return out[0] if x.ndim == 1 else out

    def pattern(self, x) -> np.ndarray:
        """Activation pattern (bool, length N) of a point, or (n, N) for n points."""
        x = as_array(x)
        zs = self.preactivations(x)
        p = (np.concatenate(zs, axis=1) > 0) | self.linear_mask() if zs else \
            np.zeros((np.atleast_2d(x).shape[0], 0), bool)
        return p[0] if x.ndim == 1 else p

    # ----------------------------------------------------------------- region algebra
    def region_constraints(self, pattern) -> tuple[np.ndarray, np.ndarray]:
        """Affine forms of every hidden pre-activation under a fixed pattern.

        Returns ``(A, c)`` with ``A`` of shape (N, d): inside the region of ``pattern``,
        ``z_i(x) = A[i] @ x + c[i]``. The region is ``{x : (2*pattern-1) * (A x + c) >= 0}``.
        """
        return self.region_maps(pattern)[:2]

    def affine_map(self, pattern) -> tuple[np.ndarray, np.ndarray]:
        """The network's output map ``F(x) = M x + m`` on the region of ``pattern``."""
        return self.region_maps(pattern)[2:]

    def region_maps(self, pattern):
        """``(A, c, M, m)``: the pre-activation forms of :meth:`region_constraints` and the output
        map of :meth:`affine_map`, in one pass over the layers."""
        pattern = np.asarray(pattern, dtype=bool)
        d = self.input_dim
        P, q = np.eye(d), np.zeros(d)  # h_{l-1}(x) = P x + q
        As, cs = [], []
        for sl, w, b, s, lin in zip(self.layer_slices(), self.weights[:-1], self.biases[:-1], self.slopes,
                                    self.linear):
            A = w @ P
            c = w @ q + b
            As.append(A)
            cs.append(c)
            g = np.where(pattern[sl] | lin, 1.0, s)
            P, q = g[:, None] * A, g * c
        A, c = (np.vstack(As), np.concatenate(cs)) if As else (np.zeros((0, d)), np.zeros(0))
        return A, c, self.weights[-1] @ P, self.weights[-1] @ q + self.biases[-1]

    def pattern_across(self, pattern, points, directions, tol: float = 1e-9) -> np.ndarray:
        """Patterns of the regions entered by stepping from ``points`` along ``directions``.

        Each point lies on a facet of the region of ``pattern``; its direction points out of
        it (one point and direction, or k of each: then k patterns come back). Layer by layer,
        using the new pattern of the earlier layers, each neuron takes the sign of its
        pre-activation at the point; where that is zero (distance to its hyperplane at most
        ``tol``) it takes the sign of the directional derivative, i.e. its sign at
        ``point + eps * direction`` for small ``eps > 0``. This flips every neuron whose
        hyperplane contains the facet (coincident, rescaled or duplicated neurons, and deeper
        neurons that are identically zero on one side) together.
        """
        pattern = np.asarray(pattern, dtype=bool)
        p = np.atleast_2d(np.asarray(points, dtype=np.float64))
        u = np.atleast_2d(np.asarray(directions, dtype=np.float64))
        k, d = p.shape
        new = np.repeat(pattern[None, :], k, axis=0)
        P = None  # Jacobian of h_{l-1}, per point (the identity before the first layer)
        q = p  # h_{l-1} at the points
        dq = u  # its derivative along the directions
        H = len(self.hidden_widths)
        for l, (sl, w, b, s, lin) in enumerate(zip(self.layer_slices(), self.weights[:-1], self.biases[:-1],
                                                   self.slopes, self.linear)):
            z = times_t(q, w) + b
            dz = times_t(dq, w)
            # the layer's rows, per point (one batched BLAS product; einsum was 6x slower here)
            if P is None:  # the first layer's rows are the same at every point
                A, norms = w, np.sqrt(np.einsum("id,id->i", w, w))
            else:
                A = batched(w, P)
                norms = np.sqrt(np.einsum("kid,kid->ki", A, A))
            on = np.abs(z) <= tol * np.maximum(norms, 1e-300)
            bits = np.where(on, dz > 0, z > 0) | lin
            new[:, sl] = bits
            if l + 1 < H:  # the next layer's Jacobians and values
                g = np.where(bits, 1.0, s)
                P = g[:, :, None] * A
                q, dq = g * z, g * dz
        return new[0] if np.ndim(points) == 1 else new

    def boundary_distance(self, X, zero_row: float = 1e-12) -> np.ndarray:
        """Euclidean distance from each point to the boundary of its activation region.

        Inside the convex region of ``x``, the distance to the boundary is the smallest
        ``|z_i(x)| / ||A_i||`` over its constraints (the largest ball around x inside the
        region touches the nearest constraint hyperplane; redundant ones are farther).
        Points on a boundary give 0; a network with no hidden neuron gives ``inf``.
        """
        X = np.atleast_2d(as_array(X))
        k, d = X.shape
        P = None  # Jacobian of h_{l-1} w.r.t. x, per point (the identity before the first layer)
        h = X
        best = np.full(k, np.inf)
        for w, b, s, lin in zip(self.weights[:-1], self.biases[:-1], self.slopes, self.linear):
            z = times_t(h, w) + b
            A = np.broadcast_to(w, (k,) + w.shape) if P is None else batched(w, P)
            norm = np.linalg.norm(A, axis=2)
            with np.errstate(divide="ignore", invalid="ignore"):
                dist = np.where((norm > zero_row) & ~lin, np.abs(z) / norm, np.inf)
            best = np.minimum(best, dist.min(axis=1))
            g = np.where((z > 0) | lin, 1.0, s)
            P = g[:, :, None] * A
            h = activate(z, s, lin)
        return best

    def compose_affine(self, M, v) -> "Network":
        """The network ``u -> F(M u + v)``: e.g. restricted to a line or a plane of inputs."""
        M = np.atleast_2d(np.asarray(M, dtype=np.float64))
        v = np.asarray(v, dtype=np.float64)
        W0 = self.weights[0] @ M
        b0 = self.biases[0] + self.weights[0] @ v
        return Network([W0] + list(self.weights[1:]), [b0] + list(self.biases[1:]), self.slopes, self.linear,
                       self.pool_tree)


def random_network(input_dim: int, widths, seed=None, *, bias_scale: float = 0.5, slope: float = 0.0,
                   outputs: int = 1, rng: np.random.Generator | None = None) -> Network:
    """He-normal weights ``N(0, 2 / fan_in)`` and biases ``N(0, bias_scale^2)``: the seeded
    random nets of the benchmarks, tables and tests (weights of every layer drawn first, then
    the biases; general position with probability 1)."""
    rng = np.random.default_rng(seed) if rng is None else rng
    dims = [int(input_dim)] + [int(w) for w in widths] + [int(outputs)]
    Ws = [rng.normal(size=(dims[i + 1], dims[i])) * np.sqrt(2.0 / dims[i]) for i in range(len(dims) - 1)]
    bs = [rng.normal(size=dims[i + 1]) * bias_scale for i in range(len(dims) - 1)]
    return Network(Ws, bs, slopes=slope)

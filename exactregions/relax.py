"""Sound linear bounds of a network's outputs over a box or a ball, a counterexample search, and
the branch and bound that decides robustness (and finds exact minima) from them.

Linear relaxations (Zhang et al., "Efficient neural network robustness certification with
general activation functions", NeurIPS 2018, CROWN; Singh et al., "An abstract domain for
certifying neural networks", POPL 2019, DeepPoly): on a piece of the input space where a hidden
pre-activation ``z`` lies in ``[l, u]``, the activation ``h = max(z, s z)`` (ReLU: ``s = 0``;
LeakyReLU(s); a pass-through unit is the identity) lies between two lines, the lower one
``h >= alpha z`` (``alpha`` = 1 or ``s``, whichever hugs the curve better) and the upper chord
``h <= a (z - l) + s l``. Substituted backwards from a row ``c`` of the output, layer by layer,
they give ``c . F(x) >= Lambda x + lambda`` on the piece, whose minimum over the piece is the
support function: a box's (``Lambda+ . lo + Lambda- . hi``), an L2, L1 or L-infinity ball's
(``Lambda c - r ||Lambda||_q``, ``q`` the dual norm: 2, inf, 1), or the larger of the two for a
ball cut by a box. Every pre-activation interval is the tighter of interval arithmetic (the
engines' rule, :mod:`exactregions.intervals`) and the same back-substitution. Sparse layers stay
sparse. Max-pooling's comparison units are ordinary ReLU units of the :class:`Network` (only
the naming of regions differs), so they need nothing of their own.

Floating point never makes a bound unsound. Every quantity is a sum of products; for any order of
summation (BLAS included, with or without fused multiply-adds) a computed inner product of
length ``n`` is within ``gamma_n = n u / (1 - n u)`` (``u = 2^-53``) of the exact one times the
sum of the absolute values of its terms (Higham, "Accuracy and stability of numerical
algorithms", 2002, eq. 3.5). Each back-substitution step is an exact real inequality between the
COMPUTED coefficient vectors, up to three such errors: the product ``y W`` (bounded by
``|y| |W| H``, ``H`` the magnitude of the layer's inputs), the bias term ``|y| |b|`` and the
relaxation's products (``|g| (Z + beta)``, ``Z`` the pre-activations' magnitude, ``beta`` the
chords' intercepts, both at most 1 in slope); the support function and the final sum add theirs.
The sum ``S`` of all those magnitudes is accumulated beside the bound, and the bound reported is
``B - 2 gamma_N S - 1e-290``, rounded down once more, with ``N`` the longest inner product plus
the number of sums (:func:`rounding_gamma`): the factor 2 covers the rounding of ``S`` itself (a
sum of non-negative terms is computed within ``gamma_N`` of its value), ``1e-290`` every
gradual underflow (each below ``2^-1074``). The chords' slopes are rounded up and their
intercepts up (:func:`_relaxation`), which keeps each chord above the activation on its interval,
and intervals, ball boxes and clamps are widened outwards the same way. A bound that meets a
non-finite value is ``-inf``.
"""

from __future__ import annotations

import heapq
import itertools
import time
from dataclasses import dataclass, field

import numpy as np

from .domains import Ball, Box
from .network import absolute, activate, is_sparse

__all__ = ["output_bounds", "linear_bounds", "rounding_gamma", "counterexample_search", "Piece", "minimise"]

#: unit roundoff of float64
UNIT = 2.0 ** -53
#: absolute slack for every gradual underflow of a bound's computation
UNDERFLOW = 1e-290


def rounding_gamma(net, dim: int) -> float:
    """``2 gamma_N`` with ``N`` the longest inner product of a bound's computation (the widest
    layer or the input dimension, plus two for the bias and support terms) plus the number of
    partial sums of its constants (two per layer): the factor of the magnitude sum ``S`` that
    every bound subtracts (module docstring)."""
    n = max([dim] + [w.shape[0] for w in net.weights] + [w.shape[1] for w in net.weights]) + 2 * len(net.weights) + 8
    return 2.0 * n * UNIT / (1.0 - n * UNIT)


def _down(v):
    return np.nextafter(v, -np.inf)


def _up(v):
    return np.nextafter(v, np.inf)


def _times(Y, W):
    """``Y @ W`` for rows ``Y`` (k, out) and a dense or sparse layer ``W`` (out, in)."""
    return Y @ W if isinstance(W, np.ndarray) else np.asarray((W.T @ Y.T).T)


@dataclass
class Piece:
    """A piece of the input space: the box ``[lo, hi]`` (always; a ball's outward-rounded
    bounding box) cut by the ball ``||x - center||_p <= radius`` when ``norm`` is not None."""

    lo: np.ndarray
    hi: np.ndarray
    center: np.ndarray | None = None
    radius: float = 0.0
    norm: float | None = None
    depth: int = 0  # how many times the box was split

    @classmethod
    def of(cls, domain) -> "Piece":
        """The piece of a :class:`~exactregions.domains.Box` or a
        :class:`~exactregions.domains.Ball` (an L-infinity ball is its box; a clip box cuts
        the bounding box). Anything else is a ValueError."""
        if isinstance(domain, Box):
            return cls(domain.lo.copy(), domain.hi.copy())
        if not isinstance(domain, Ball):
            raise ValueError("linear bounds take a box or a ball (L2, L1 or L-inf, optionally clipped)")
        c, r = domain.center, domain.radius
        lo, hi = _down(c - r), _up(c + r)  # rounded outwards: the box holds the ball
        if domain.clip is not None:
            lo, hi = np.maximum(lo, domain.clip.lo), np.minimum(hi, domain.clip.hi)
        if domain.norm == np.inf:
            return cls(lo, hi)
        return cls(lo, hi, c, r, domain.norm)

    @property
    def dim(self) -> int:
        return self.lo.size

    def split(self, k: int):
        """The two halves of the box along coordinate ``k`` (the ball, if any, kept)."""
        mid = 0.5 * (self.lo[k] + self.hi[k])
        a, b = (Piece(self.lo.copy(), self.hi.copy(), self.center, self.radius, self.norm, self.depth + 1)
                for _ in range(2))
        a.hi[k], b.lo[k] = mid, mid
        return a, b

    def lower(self, Y):
        """Sound lower bounds of ``min Y[i] . x`` over the piece (rounding included) and a
        minimiser of each row's bound (on the box, or on the ball when that bound is larger)."""
        Y = np.atleast_2d(Y)
        g = rounding_gamma_dim(self.dim)
        mag_box = np.maximum(np.abs(self.lo), np.abs(self.hi))
        v = np.minimum(Y, 0) @ self.hi + np.maximum(Y, 0) @ self.lo
        best = _down(v - g * (np.abs(Y) @ mag_box) - UNDERFLOW)
        X = np.where(Y > 0, self.lo, self.hi)
        if self.norm is not None:
            q = {2: 2, 1: np.inf, np.inf: 1}[self.norm]
            nrm = np.linalg.norm(Y, ord=q, axis=1)
            vb = Y @ self.center - self.radius * nrm
            vb = _down(vb - g * (np.abs(Y) @ np.abs(self.center) + self.radius * nrm) - UNDERFLOW)
            use = vb > best
            if use.any():
                best = np.where(use, vb, best)
                X[use] = self._ball_argmin(Y[use], nrm[use])
        return best, X

    def _ball_argmin(self, Y, nrm):
        c, r = self.center, self.radius
        safe = np.where(nrm > 0, nrm, 1.0)[:, None]
        if self.norm == 2:
            return c - r * Y / safe
        if self.norm == np.inf:
            return c - r * np.sign(Y)
        X = np.repeat(c[None, :], Y.shape[0], axis=0)
        k = np.argmax(np.abs(Y), axis=1)
        X[np.arange(len(k)), k] -= r * np.sign(Y[np.arange(len(k)), k])
        return X

    def contains(self, X, strict=False) -> np.ndarray:
        """Membership of points in the piece (closed, or open with ``strict``)."""
        X = np.atleast_2d(X)
        ok = np.all((X > self.lo) & (X < self.hi), axis=1) if strict else np.all((X >= self.lo) & (X <= self.hi), axis=1)
        if self.norm is not None:
            dist = np.linalg.norm(X - self.center, ord=self.norm, axis=1)
            ok &= dist < self.radius if strict else dist <= self.radius
        return ok

    def project(self, X) -> np.ndarray:
        """Points moved into the (closed) piece: onto the ball, then into the box, alternated a few
        times (an approximation for a ball cut by a box; callers check membership)."""
        X = np.clip(X, self.lo, self.hi)
        if self.norm is None:
            return X
        for _ in range(3):
            X = np.clip(_project_ball(X, self.center, self.radius, self.norm), self.lo, self.hi)
        return X


def rounding_gamma_dim(d: int) -> float:
    """``2 gamma_{d+4}``: the rounding factor of a support function in dimension ``d``."""
    n = d + 4
    return 2.0 * n * UNIT / (1.0 - n * UNIT)


def _project_ball(X, c, r, p):
    """Euclidean projection onto the closed ``p``-ball (L1: Duchi et al., ICML 2008)."""
    U = X - c
    if p == 2:
        n = np.linalg.norm(U, axis=1, keepdims=True)
        return c + U * np.minimum(1.0, r / np.maximum(n, 1e-300))
    if p == np.inf:
        return c + np.clip(U, -r, r)
    A = np.abs(U)
    out = U.copy()
    for i in np.flatnonzero(A.sum(axis=1) > r):
        s = np.sort(A[i])[::-1]
        cs = np.cumsum(s) - r
        k = np.flatnonzero(s - cs / (np.arange(s.size) + 1) > 0)[-1]
        out[i] = np.sign(U[i]) * np.maximum(A[i] - cs[k] / (k + 1), 0)
    return c + out


@dataclass
class Bounds:
    """Per hidden layer: the sound pre-activation interval ``[lo, hi]`` on a piece and the
    relaxation ``(alpha, a, beta)`` (``h >= alpha z``, ``h <= a z + beta``); ``infeasible``
    when a split contradicts the intervals (the piece has no point with those signs)."""

    lo: list = field(default_factory=list)
    hi: list = field(default_factory=list)
    alpha: list = field(default_factory=list)
    a: list = field(default_factory=list)
    beta: list = field(default_factory=list)
    infeasible: bool = False

    def unstable(self, linear) -> np.ndarray:
        """The units that can switch on the piece (``linear``: the pass-through mask)."""
        lo, hi = np.concatenate(self.lo), np.concatenate(self.hi)
        return (lo < 0) & (hi > 0) & ~linear

    def pattern(self, net) -> np.ndarray:
        """The activation pattern of a piece on which every unit is stable."""
        lo, hi = np.concatenate(self.lo), np.concatenate(self.hi)
        return ((lo >= 0) & (hi > 0)) | net.linear_mask()


def _relaxation(lo, hi, slope, linear):
    """``(alpha, a, beta)`` of each unit on ``[lo, hi]``: stable units exact, unstable ones the
    adaptive lower line and the chord, its slope rounded up (at most 1) and its intercept
    ``(a - s)(-l)`` rounded up: a line above the chord of the convex activation stays above it."""
    act = (lo >= 0) | linear
    dead = (hi <= 0) & ~act
    unst = ~(act | dead)
    alpha = np.where(act, 1.0, slope)
    a = alpha.copy()
    beta = np.zeros_like(lo)
    if unst.any():
        l, u = lo[unst], hi[unst]
        chord = (u - slope * l) / (u - l)
        chord = np.minimum(_up(chord * (1.0 + 16.0 * UNIT)), 1.0)
        a[unst] = chord
        beta[unst] = _up((chord - slope) * (-l) * (1.0 + 8.0 * UNIT))
        alpha[unst] = np.where(u >= -l, 1.0, slope)
    return alpha, a, beta


class Layers:
    """What every relaxation of one network shares: each layer's absolute value and signed parts,
    the first layer with its negation, the pass-through mask, the rounding factor."""

    def __init__(self, net):
        self.abs = [absolute(W) for W in net.weights]
        self.parts = [(W.maximum(0), W.minimum(0)) if is_sparse(W) else (np.maximum(W, 0), np.minimum(W, 0))
                      for W in net.weights]
        W0 = np.asarray(net.weights[0])
        self.first = np.vstack([W0, -W0])
        self.abs_bias = [np.abs(b) for b in net.biases]
        self.slices = net.layer_slices()
        self.linear = net.linear_mask()
        self.g = rounding_gamma(net, net.input_dim)


class Relaxation:
    """The linear relaxation of ``net`` on one piece, with the units fixed by ``fixed``
    (concatenated over the hidden units: +1 active, -1 inactive, 0 free); ``layers`` the
    network's :class:`Layers` (made here if not given)."""

    def __init__(self, net, piece: Piece, fixed=None, crown: bool = True, layers: Layers | None = None):
        self.net, self.piece = net, piece
        L = self.layers = Layers(net) if layers is None else layers
        self.g = L.g
        self.b = Bounds()
        self.mag_in = []  # per layer l: |W_l| Z_{l-1} + |b_l| (the rounding magnitudes)
        sl = L.slices
        Z = np.maximum(np.abs(piece.lo), np.abs(piece.hi))
        for l, (W, bias) in enumerate(zip(net.weights[:-1], net.biases[:-1])):
            mag = np.asarray(L.abs[l] @ Z).ravel() + L.abs_bias[l]
            self.mag_in.append(mag)
            if l == 0:
                n = W.shape[0]
                both, _ = piece.lower(L.first)
                low, up = both[:n], both[n:]
                lo = _down(low + bias - self.g * (np.abs(low) + L.abs_bias[l]) - UNDERFLOW)
                hi = _up(-up + bias + self.g * (np.abs(up) + L.abs_bias[l]) + UNDERFLOW)
            else:
                s, lin = net.slopes[l - 1], net.linear[l - 1]
                hl, hu = activate(self.b.lo[-1], s, lin), activate(self.b.hi[-1], s, lin)
                Wp, Wn = L.parts[l]
                lo = np.asarray(Wp @ hl + Wn @ hu).ravel() + bias
                hi = np.asarray(Wp @ hu + Wn @ hl).ravel() + bias
                lo, hi = _down(lo - self.g * mag - UNDERFLOW), _up(hi + self.g * mag + UNDERFLOW)
                unst = (lo < 0) & (hi > 0) & ~net.linear[l]
                if fixed is not None:
                    unst &= fixed[sl[l]] == 0
                if crown and unst.any():
                    idx = np.flatnonzero(unst)
                    E = np.zeros((2 * idx.size, W.shape[0]))
                    E[np.arange(idx.size), idx] = 1.0
                    E[idx.size + np.arange(idx.size), idx] = -1.0
                    lb, _, _ = self.backsub(l, E)
                    lo[idx] = np.maximum(lo[idx], lb[:idx.size])
                    hi[idx] = np.minimum(hi[idx], -lb[idx.size:])
            if fixed is not None:
                f = fixed[sl[l]]
                lo = np.where(f > 0, np.maximum(lo, 0.0), lo)
                hi = np.where(f < 0, np.minimum(hi, 0.0), hi)
            if np.any(lo > hi) or not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
                self.b.infeasible = bool(np.any(lo > hi))
                if not self.b.infeasible:  # pragma: no cover - overflow: nothing can be said
                    raise FloatingPointError("a pre-activation bound overflowed")
                return
            self.b.lo.append(lo)
            self.b.hi.append(hi)
            al, a, be = _relaxation(lo, hi, net.slopes[l], net.linear[l])
            self.b.alpha.append(al)
            self.b.a.append(a)
            self.b.beta.append(be)
            Z = np.maximum(np.abs(lo), np.abs(hi))
        self.mag_in.append(np.asarray(L.abs[-1] @ Z).ravel() + L.abs_bias[-1])

    def form(self, top: int, Y, keep=None):
        """The linear lower bound of ``Y . z_top`` on the piece (``top`` the layer index; the
        output layer is ``len(net.weights) - 1``): ``(G, const, E, kept)`` with
        ``Y . z_top(x) >= G x + const - E`` for every ``x`` of the piece, exactly in the reals
        for the computed ``G`` and ``const`` (``E`` bounds every rounding of the steps), and per
        hidden layer the coefficient rows of row ``keep`` (for branching) or None."""
        net, b = self.net, self.b
        Y = np.asarray(Y, dtype=np.float64)
        k = Y.shape[0]
        const, S = np.zeros(k), np.zeros(k)
        kept = [None] * top
        for l in range(top, -1, -1):
            W, bias = net.weights[l], net.biases[l]
            G = _times(Y, W)
            t = Y @ bias
            const += t
            S += np.abs(Y) @ self.mag_in[l] + np.abs(t)
            if l == 0:
                break
            if keep is not None:
                kept[l - 1] = G[keep]
            al, a, be = b.alpha[l - 1], b.a[l - 1], b.beta[l - 1]
            neg = G < 0
            t = np.minimum(G, 0) @ be
            const += t
            Zp = np.maximum(np.abs(b.lo[l - 1]), np.abs(b.hi[l - 1]))
            S += np.abs(G) @ (Zp + be) + np.abs(t)
            Y = G * np.where(neg, a, al)
        return G, const, self.g * (S + np.abs(const)) + UNDERFLOW, kept

    def backsub(self, top: int, Y, keep=None):
        """Sound lower bounds of ``Y . z_top`` over the piece: :meth:`form` concretised by the
        piece's support function; ``(bounds, minimisers of the linear bound, kept rows)``."""
        G, const, E, kept = self.form(top, Y, keep)
        conc, X = self.piece.lower(G)
        val = const + conc
        out = _down(val - E - self.g * (np.abs(conc) + np.abs(const)))
        out = np.where(np.isfinite(out), out, -np.inf)
        return out, X, kept

    def cuts(self, fixed):
        """Half-spaces ``A x <= h`` holding on the part of the piece where the split units have
        their signs: for a unit split active, ``0 <= z <= `` its linear upper bound; inactive,
        its linear lower bound ``<= z <= 0`` (exact for the first layer)."""
        rows, rhs = [], []
        for l, sl in enumerate(self.layers.slices):
            f = fixed[sl]
            idx = np.flatnonzero(f)
            if not idx.size:
                continue
            Y = np.zeros((idx.size, sl.stop - sl.start))
            Y[np.arange(idx.size), idx] = -f[idx].astype(np.float64)  # -z for active, z for inactive
            G, const, E, _ = self.form(l, Y)
            rows.append(G)
            rhs.append(_up(-const + E + self.g * np.abs(const)))
        if not rows:
            return np.zeros((0, self.piece.dim)), np.zeros(0)
        return np.vstack(rows), np.concatenate(rhs)

    def lp_bound(self, G, const, E, A, h):
        """Sound lower bounds of ``G[j] x + const[j] - E[j]`` over the piece cut by ``A x <= h``
        (Lagrangian duality with the LP's multipliers ``mu >= 0``: for every ``x`` there,
        ``G x >= (G + mu A) x - mu h``, whose minimum over the piece is its support function;
        any ``mu >= 0`` gives a sound bound, so the solver's accuracy only affects how tight it
        is). Returns the bounds (-inf where the LP failed) and whether the cuts are proven
        empty on the piece (a Farkas ray, checked the same way)."""
        from .oracle import INF, _lp, _new_highs

        d = self.piece.dim
        hs = _new_highs()
        hs.passModel(_lp(np.zeros(d), self.piece.lo, self.piece.hi, A, np.full(len(h), -INF), h))
        idx = np.arange(d, dtype=np.int32)
        out = np.full(G.shape[0], -np.inf)
        absA, absh = np.abs(A), np.abs(h)
        Xmag = np.maximum(np.abs(self.piece.lo), np.abs(self.piece.hi))
        import highspy

        for j in range(G.shape[0]):
            hs.changeColsCost(d, idx, G[j])
            hs.run()
            status = hs.getModelStatus()
            if status == highspy.HighsModelStatus.kInfeasible:
                got = hs.getDualRay()  # (status, has ray, ray)
                if got[1] and self._proves_empty(np.asarray(got[2]), A, h, absA, absh, Xmag):
                    return out, True
                return out, False
            if status != highspy.HighsModelStatus.kOptimal:
                continue
            mu = np.maximum(-np.asarray(hs.getSolution().row_dual), 0.0)
            out[j] = self._dual_bound(G[j], mu, A, h, absA, absh, Xmag)
        with np.errstate(invalid="ignore"):
            tot = _down(out + const - E - self.g * (np.abs(out) + np.abs(const) + E))
        return np.where(np.isfinite(out), tot, -np.inf), False

    def _dual_bound(self, g, mu, A, h, absA, absh, Xmag):
        """A sound lower bound of ``min g x`` over the piece cut by ``A x <= h`` from ``mu >= 0``:
        the products ``mu A`` and ``mu h`` have ``len(h) + 1`` terms, ``y x`` has ``d``, so their
        roundings are within ``2 gamma_{len(h) + d + 8}`` of the absolute sums."""
        n = len(h) + A.shape[1] + 8
        gam = max(self.g, 2.0 * n * UNIT / (1.0 - n * UNIT))
        y = g + mu @ A
        conc, _ = self.piece.lower(y[None, :])
        mh = mu @ h
        err = gam * ((np.abs(g) + mu @ absA) @ Xmag + mu @ absh + abs(conc[0]) + abs(mh)) + UNDERFLOW
        return float(_down(conc[0] - mh - err))

    def _proves_empty(self, ray, A, h, absA, absh, Xmag):
        """Whether ``mu = |ray|`` shows ``A x <= h`` empty on the piece: ``min (mu A) x > mu h``."""
        for mu in (np.maximum(ray, 0.0), np.maximum(-ray, 0.0)):
            if mu.any() and self._dual_bound(np.zeros(A.shape[1]), mu, A, h, absA, absh, Xmag) > 0:
                return True
        return False


def linear_bounds(net, domain, C=None):
    """Sound lower bounds of ``C @ F(x)`` over the closed ``domain`` (a box or an L2, L1 or
    L-infinity ball, optionally clipped): linear relaxations back-substituted (module docstring).

    Parameters
    ----------
    net : Network
    domain : Box or Ball
    C : array (k, outputs), optional
        The rows to bound (default: the identity, each output).

    Returns
    -------
    lower : array (k,)
        ``lower[i] <= C[i] . F(x)`` for every ``x`` of the closed domain, rounding included.

    Examples
    --------
    >>> import numpy as np
    >>> from exactregions import Box, random_network
    >>> net = random_network(2, [8], 0, outputs=2)
    >>> lo = linear_bounds(net, Box(-1, 1, dim=2))
    >>> bool(np.all(lo <= net.forward(np.zeros(2))))
    True
    """
    C = np.eye(net.output_dim) if C is None else np.atleast_2d(np.asarray(C, dtype=np.float64))
    rel = Relaxation(net, Piece.of(domain))
    if rel.b.infeasible:  # pragma: no cover - a domain's own piece is never empty
        return np.full(C.shape[0], np.inf)
    return rel.backsub(len(net.weights) - 1, C)[0]


def output_bounds(net, domain, *, input_shape=None):
    """Sound lower and upper bounds of every output over the closed ``domain`` (a box or an L2,
    L1 or L-infinity ball), from linear relaxations (CROWN, Zhang et al. 2018; DeepPoly, Singh et
    al. 2019); floating-point rounding is bounded and included (module docstring). These are
    BOUNDS, not the range: :func:`~exactregions.analysis.output_range` gives the exact range.

    Returns
    -------
    lower, upper : arrays (outputs,)

    Examples
    --------
    >>> import numpy as np
    >>> from exactregions import Ball, random_network
    >>> net = random_network(3, [6, 6], 1, outputs=2)
    >>> lo, hi = output_bounds(net, Ball([0, 0, 0], 0.5))
    >>> bool(np.all(lo <= hi))
    True
    """
    from .network import as_network
    from .domains import check_dimension

    net = as_network(net, input_shape)
    check_dimension(domain, net.input_dim)
    I = np.eye(net.output_dim)
    lb = linear_bounds(net, domain, np.vstack([I, -I]))
    return lb[:net.output_dim], -lb[net.output_dim:]


# ------------------------------------------------------------------ counterexample search
def _values_and_grads(net, X, C, target=None):
    """``min_j C_j . F(x)`` at each point of ``X`` and the gradient on the point's region of that
    row (or of row ``target[i]`` for point ``i``): a forward pass storing the activation slopes,
    one backward pass."""
    h, gates = X, []
    for w, b, s, lin in zip(net.weights[:-1], net.biases[:-1], net.slopes, net.linear):
        z = (h @ w.T if isinstance(w, np.ndarray) else (w @ h.T).T) + b
        g = np.where((z > 0) | lin, 1.0, s)
        gates.append(g)
        h = g * z
    F = h @ net.weights[-1].T + net.biases[-1]
    V = F @ C.T
    j = np.argmin(V, axis=1)
    val = V[np.arange(len(j)), j]
    G = C[j if target is None else target] @ net.weights[-1]
    for w, g in zip(reversed(net.weights[:-1]), reversed(gates)):
        G = _times(G * g, w)
    return val, G


def counterexample_search(net, piece: Piece, C, *, starts: int = 8, steps: int = 30, seed: int = 0,
                          open_domain=None, start=None, aim: bool = True):
    """Projected gradient descent (Madry et al., ICLR 2018) on ``min_j C_j . F(x)`` from the
    piece's centre (or ``start``) and ``starts`` seeded random points, aimed at the smallest row
    (and with ``aim`` the centre and two starts also at every row in turn): L-infinity and box pieces take signed steps, balls
    normalised gradient steps, each projected onto the closed piece. Returns the point of the
    smallest value seen (by a plain forward pass), that value, and the first point strictly
    inside ``open_domain`` (a :class:`~exactregions.domains.Domain`) where the value is negative,
    or None."""
    rng = np.random.default_rng(seed)
    lo, hi = piece.lo, piece.hi
    centre = piece.center if piece.center is not None else 0.5 * (lo + hi)
    X = np.vstack([centre if start is None else start, rng.uniform(lo, hi, size=(starts, piece.dim))])
    X = piece.project(X)
    k = C.shape[0]
    target = None
    if k > 1 and aim:  # the centre and two starts aimed at every row in turn, the others at the smallest
        n = min(3, len(X))
        target = np.concatenate([np.full(len(X), -1)] + [np.full(n, j) for j in range(k)])
        X = np.vstack([X] + [X[:n]] * k)
    width = hi - lo
    signed = piece.norm is None
    step0 = 0.25 * (width if signed else np.full(piece.dim, piece.radius))
    found = None
    best_x, best_v = None, np.inf
    for it in range(steps):
        if target is not None:
            V = net.forward(X) @ C.T
            aim = np.where(target < 0, np.argmin(V, axis=1), target)
            val, G = _values_and_grads(net, X, C, aim)
        else:
            val, G = _values_and_grads(net, X, C)
        i = int(np.argmin(val))
        if val[i] < best_v:
            best_v, best_x = float(val[i]), X[i].copy()
        neg = np.flatnonzero(val < 0)
        if neg.size:
            found = _first_inside(net, C, X[neg], open_domain)
            if found is not None:
                break
        rate = step0 * (1.0 - it / steps) + 1e-3 * step0
        if signed:
            X = X - rate * np.sign(G)
        else:
            n = np.linalg.norm(G, axis=1, keepdims=True)
            X = X - rate[0] * G / np.maximum(n, 1e-300)
        X = piece.project(X)
    return best_x, best_v, found


def open_contains(domain, X) -> np.ndarray:
    """``domain.contains(X)`` for a box or a ball without forming its rows (3,000 dense rows for a
    clipped 784-D ball): the same comparisons, ``A x < b`` row by row, the same rounding."""
    X = np.atleast_2d(X)
    if isinstance(domain, Box):
        return np.all((X < domain.hi) & (-X < -domain.lo), axis=1)
    if not isinstance(domain, Ball) or domain.norm == 1:
        return domain.contains(X)
    c, r = domain.center, domain.radius
    ok = np.all((X < c + r) & (-X < r - c), axis=1)  # the L-inf ball's rows, the L2 ball's box
    if domain.clip is not None:
        ok &= open_contains(domain.clip, X)
    if domain.norm == 2:
        ok &= np.linalg.norm(X - c, axis=1) < r
    return ok


def _first_inside(net, C, X, domain):
    """The first point of ``X`` (values negative) moved, if need be, a little towards the domain's
    seed point so that it lies strictly inside the open domain and still has a negative value by a
    plain forward pass; None if there is none. Every point moves at least ``1e-12`` of the way: a
    projected point lies on the boundary up to rounding, and the caller's own check (in the input
    space, after lifting it out of a reduced space) must see it inside too."""
    if domain is None:
        return None
    seed = domain.seed_point()
    for x in X:
        for t in (1e-12, 1e-9, 1e-6, 1e-3):
            y = x + t * (seed - x)
            if open_contains(domain, y)[0] and float(np.min(C @ net.forward(y))) < 0:
                return y
    return None


# ------------------------------------------------------------------ branch and bound
#: input splits are tried up to this input dimension (beyond it only units are split)
INPUT_SPLIT_MAX_DIM = 16
#: a node with at most this many unstable units splits a unit rather than its box (measured on
#: 3-D and 8-D nets near their flip radius: 8 took 661 and 1,527 nodes where 3 did not finish)
UNIT_SPLIT_BELOW = 8
#: every this many nodes a short counterexample search starts from the worst node's minimiser
LOCAL_SEARCH_EVERY = 16
#: a box is split at most this many times per input dimension (then only units: a box around a
#: point where many units' hyperplanes meet never sees them stable)
INPUT_SPLITS_PER_DIM = 6


@dataclass
class Search:
    """The outcome of :func:`minimise`: ``status`` "below" (a point of the open domain with a
    negative value: ``point``, ``value``), "above" (every node's bound exceeds the threshold:
    ``lower_bound`` is the smallest proven bound, ``value``/``point`` the smallest value found,
    exact when ``exact`` was asked) or "undecided" (its budget ran out)."""

    status: str
    lower_bound: float
    value: float
    point: np.ndarray | None
    nodes: int
    leaves: int
    programmes: int
    seconds: float
    regions: set = field(default_factory=set)


def minimise(net, domain, C, leaf, *, exact: bool = False, stop_below: bool = True, deadline: float | None = None,
             max_nodes: int = 200_000, incumbent=None, progress=None, use_lp: bool = True):
    """Branch and bound on ``phi(x) = min_j C_j . F(x)`` over the closed ``domain``.

    Nodes are pieces of the domain (boxes cut by the ball) with some units' signs fixed; each is
    bounded by :class:`Relaxation` and, once units are split (``use_lp``), by a linear programme
    over the piece cut by the splits' half-spaces (:meth:`Relaxation.lp_bound`: sound whatever
    the solver's accuracy; a node whose cuts are proven empty is dropped), and visited lowest
    bound first. A node whose units are all
    stable is one activation region: ``leaf(pattern, piece, W, B, order, stop)`` gives the exact
    minimum of each row ``W x + B`` (in ``order``; with ``stop``, up to the first negative one)
    over region ∩ piece as ``(values, points)``. Without
    ``exact`` (a verdict) the search stops at the first point of the open domain with
    ``phi < 0`` (checked by a forward pass) and drops every node whose bound is positive; with
    ``exact`` it drops the nodes whose bound reaches the smallest value found (``incumbent``:
    a starting ``(value, point)``), which is then the exact minimum (``stop_below`` False: no
    stop at a negative value, for output ranges). ``deadline`` (a ``time.perf_counter()``
    value) and ``max_nodes`` end it "undecided"; ``progress(regions, waiting, seconds)`` is
    called about twice a second. Splits: the box's widest
    coordinate weighted by the bound's gradient up to :data:`INPUT_SPLIT_MAX_DIM` input
    dimensions while more than :data:`UNIT_SPLIT_BELOW` units are unstable (at most
    :data:`INPUT_SPLITS_PER_DIM` times per dimension), else the unstable
    unit with the largest chord intercept times its coefficient in the worst row (Bunel et al.,
    "Branch and bound for piecewise linear neural network verification", JMLR 2020).
    """
    t0 = time.perf_counter()
    C = np.atleast_2d(np.asarray(C, dtype=np.float64))
    out_layer = len(net.weights) - 1
    root = Piece.of(domain)
    best_v, best_x = (np.inf, None) if incumbent is None else incumbent
    nodes = leaves = programmes = pops = 0
    regions = set()
    proven = np.inf  # the smallest bound of a dropped node
    heap, tie = [], itertools.count()
    n_units = net.n_hidden

    layers = Layers(net)

    def bound(piece, fixed):
        rel = Relaxation(net, piece, fixed, layers=layers)
        if rel.b.infeasible:
            return None
        lb, X, _ = rel.backsub(out_layer, C)
        open_rows = np.flatnonzero(lb <= (best_v if exact else 0.0))
        if open_rows.size and fixed.any() and use_lp:  # the splits' half-spaces cut the piece
            A, h = rel.cuts(fixed)
            G, const, E, _ = rel.form(out_layer, C[open_rows])
            tight, empty = rel.lp_bound(G, const, E, A, h)
            if empty:
                return None
            lb[open_rows] = np.maximum(lb[open_rows], tight)
        return rel, lb, X

    def push(piece, fixed):
        nonlocal nodes, proven, best_v, best_x
        nodes += 1
        got = bound(piece, fixed)
        if got is None:
            return None
        rel, lb, X = got
        m = float(lb.min())
        # the bound's minimisers are points of the closed piece: candidates
        cand = X[piece.contains(X)]
        if cand.size:
            vals = np.min(net.forward(cand) @ C.T, axis=1)
            i = int(np.argmin(vals))
            if vals[i] < best_v and domain_closed(cand[i]):
                best_v, best_x = float(vals[i]), cand[i]
                if stop_below and best_v < 0:
                    x = _first_inside(net, C, cand[vals < 0], domain)
                    if x is not None:
                        return x
        if (m > 0 and not exact) or (exact and m >= best_v):
            proven = min(proven, m)
            return None
        heapq.heappush(heap, (m, next(tie), piece, fixed, rel, lb, X[int(np.argmin(lb))]))
        return None

    def domain_closed(x):
        return bool(root.contains(x)) and (not isinstance(domain, Ball) or domain.clip is None
                                             or bool(np.all((x >= domain.clip.lo) & (x <= domain.clip.hi))))

    def result(status, point=None, value=None):
        lbv = proven if status == "above" else -np.inf
        if heap and status == "above":
            lbv = min(lbv, heap[0][0])
        return Search(status, lbv, best_v if value is None else value, best_x if point is None else point,
                      nodes, leaves, programmes, time.perf_counter() - t0, regions)

    x = push(root, np.zeros(n_units, np.int8))
    if x is not None:
        return result("below", x, float(np.min(C @ net.forward(x))))
    last = time.perf_counter()
    while heap:
        now = time.perf_counter()
        if deadline is not None and now > deadline:
            return result("undecided")
        if progress is not None and now - last > 0.5:  # regions solved, nodes waiting
            progress(leaves, len(heap), now - t0)
            last = now
        if nodes >= max_nodes:
            return result("undecided")
        m, _, piece, fixed, rel, lb, xstar = heapq.heappop(heap)
        if (not exact and m > 0) or (exact and m >= best_v):
            proven = min(proven, m)
            continue
        pops += 1
        if stop_below and pops % LOCAL_SEARCH_EVERY == 0:  # a short descent from the worst node's minimiser
            bx, bv, x = counterexample_search(net, piece, C, starts=1, steps=15, seed=pops, start=xstar,
                                              open_domain=domain, aim=False)
            if x is not None:
                return result("below", x, float(np.min(C @ net.forward(x))))
            if exact and bv < best_v and domain_closed(bx):
                best_v, best_x = bv, bx
        unst = rel.b.unstable(layers.linear) & (fixed == 0)
        if not unst.any():  # one region: decided exactly by its programmes
            leaves += 1
            pattern = rel.b.pattern(net)
            M, mm = net.affine_map(pattern)
            W, B = C @ M, C @ mm
            order = np.argsort(lb)
            order = order[lb[order] < (0.0 if not exact else best_v)]
            vals, pts = leaf(pattern, piece, W, B, order, stop_below)
            if vals is None:  # a programme the solver could not settle
                return result("undecided")
            programmes += len(vals)
            regions.add(pattern.tobytes())
            for v, p, j in zip(vals, pts, order):
                if p is None:
                    continue
                if v < best_v:
                    best_v, best_x = v, p
                if stop_below and v < 0:
                    x = _first_inside(net, C, [p], domain)
                    if x is None:  # a tie on the boundary, or a programme at its tolerance
                        return result("undecided")
                    return result("below", x, float(np.min(C @ net.forward(x))))
            rest = np.delete(lb, order)  # rows the bound decided without a programme
            proven = min([proven, *vals, *rest.tolist()])
            continue
        row = int(np.argmin(lb))
        if (piece.dim <= INPUT_SPLIT_MAX_DIM and int(unst.sum()) > UNIT_SPLIT_BELOW
                and piece.depth < INPUT_SPLITS_PER_DIM * piece.dim):
            Y0 = _input_gradient(rel, C[row:row + 1])
            k = int(np.argmax((piece.hi - piece.lo) * (np.abs(Y0) + 1e-12)))
            for child in piece.split(k):
                x = push(child, fixed)
                if x is not None:
                    return result("below", x, float(np.min(C @ net.forward(x))))
        else:
            _, _, kept = rel.backsub(out_layer, C[row:row + 1], keep=0)
            score = np.zeros(n_units)
            for l, s in enumerate(layers.slices):
                if kept[l] is not None:
                    score[s] = np.abs(kept[l]) * rel.b.beta[l] + 1e-300
            score[~unst] = -1.0
            i = int(np.argmax(score))
            for sign in (1, -1):
                f = fixed.copy()
                f[i] = sign
                x = push(piece, f)
                if x is not None:
                    return result("below", x, float(np.min(C @ net.forward(x))))
    if exact:
        proven = min(proven, best_v)
    return result("above")


def _input_gradient(rel, c):
    """The coefficient row of the linear bound of ``c . F`` on the input (its gradient)."""
    net, b = rel.net, rel.b
    Y = c
    for l in range(len(net.weights) - 1, -1, -1):
        G = _times(Y, net.weights[l])
        if l == 0:
            return G[0]
        Y = G * np.where(G < 0, b.a[l - 1], b.alpha[l - 1])

"""Open input domains in which regions are counted.

Every domain is an open convex set given by a polyhedral part ``{x : A x < b}`` (possibly
empty: the whole space) and, for the Euclidean ball, the exact constraint
``||x - c||_2 < r``, which the engine decides with convex QPs. A region *counts* when it is
full-dimensional and meets the open domain.

Validation happens here, once, at construction (scikit-learn style); the engine trusts it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from .network import as_array
from .oracle import Oracle, PolytopeLP

__all__ = ["Domain", "Ball", "Box", "Polytope", "Whole", "Segment", "Plane", "DomainError", "check_dimension"]

# L1 balls are written as 2^d half-spaces; refuse beyond this dimension.
MAX_L1_DIM = 12


class DomainError(ValueError):
    """A domain's parameters are invalid (shape, finiteness, emptiness)."""


def check_dimension(domain, input_dim: int, what: str = "domain") -> None:
    """Raise :class:`DomainError` unless ``domain`` (anything with a ``dim``) lives in the
    network's input space of dimension ``input_dim``: the one check of every entry point."""
    if domain.dim != input_dim:
        raise DomainError(f"{what} has dimension {domain.dim} but the network takes {input_dim} inputs: give "
                          f"{input_dim} coordinates (a flattened input)")


def _vector(name, v, dim=None) -> np.ndarray:
    try:
        a = as_array(v).reshape(-1).copy()
    except (TypeError, ValueError):
        raise DomainError(f"{name} must be numbers (a list, a numpy array or a torch tensor), got "
                          f"{type(v).__name__}") from None
    if a.size == 0:
        raise DomainError(f"{name} is empty")
    if not np.all(np.isfinite(a)):
        raise DomainError(f"{name} contains NaN or infinite values")
    if dim is not None:
        if a.size == 1:
            a = np.full(dim, a[0])
        elif a.size != dim:
            raise DomainError(f"{name} has {a.size} coordinates, expected {dim}")
    return a


def _short(v, head: int = 4) -> str:
    """A vector for a repr: whole up to 8 coordinates, else its first ``head`` and its size."""
    v = np.asarray(v)
    if v.size <= 8:
        return str(v.tolist())
    return "[" + ", ".join(f"{x:g}" for x in v[:head]) + f", ... ({v.size} coordinates)]"


class Domain:
    """Base class: subclasses define ``dim``, ``rows()``, ``support()`` and ``contains()``."""

    dim: int
    #: centre and radius of an exact Euclidean ball constraint, or None
    l2_ball: tuple | None = None

    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        """The polyhedral part ``(A, b)``: the domain is ``{A x < b}`` (intersected with the
        exact L2 ball, if any). For an L2 ball the rows are its bounding box (and clip box)."""
        raise NotImplementedError

    def support(self, W: np.ndarray) -> np.ndarray:
        """``max_{x in closure} W[i] @ x`` for each row of ``W`` (may be ``inf``)."""
        raise NotImplementedError

    def contains(self, X) -> np.ndarray:
        """Membership of points in the OPEN domain."""
        X = np.atleast_2d(as_array(X))
        A, b = self.rows()
        ok = np.all(X @ A.T < b, axis=1) if A.shape[0] else np.ones(X.shape[0], bool)
        if self.l2_ball is not None:
            c, r = self.l2_ball
            ok &= np.linalg.norm(X - c, axis=1) < r
        return ok

    @property
    def bounded(self) -> bool:
        return bool(np.all(np.isfinite(self.support(np.vstack([np.eye(self.dim), -np.eye(self.dim)])))))

    def bounding_box(self) -> tuple[np.ndarray, np.ndarray]:
        I = np.eye(self.dim)
        return -self.support(-I), self.support(I)

    def seed_point(self) -> np.ndarray:
        """A deterministic point of the open domain."""
        raise NotImplementedError

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` points of the open domain (rejection from the bounding box)."""
        lo, hi = self.bounding_box()
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            raise DomainError("cannot sample an unbounded domain")
        out = []
        while sum(len(o) for o in out) < n:
            X = rng.uniform(lo, hi, size=(max(n, 1024), self.dim))
            out.append(X[self.contains(X)])
        return np.vstack(out)[:n]

    def to_dict(self) -> dict:
        raise NotImplementedError


@dataclass(frozen=True, eq=False)
class Box(Domain):
    """Open box ``lo < x < hi``."""

    lo: np.ndarray
    hi: np.ndarray

    def __init__(self, lo, hi, dim: int | None = None):
        lo = as_array(lo).reshape(-1)
        hi = as_array(hi).reshape(-1)
        if dim is None:
            dim = max(lo.size, hi.size)
        lo, hi = _vector("box lo", lo, dim), _vector("box hi", hi, dim)
        if np.any(lo >= hi):
            k = int(np.argmax(lo >= hi))
            raise DomainError(f"box lo must be below hi in every coordinate (coordinate {k}: "
                              f"lo={lo[k]:g} >= hi={hi[k]:g})")
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", hi)

    @property
    def dim(self) -> int:
        return self.lo.size

    def rows(self):
        I = np.eye(self.dim)
        return np.vstack([I, -I]), np.concatenate([self.hi, -self.lo])

    def support(self, W):
        W = np.atleast_2d(W)
        return np.maximum(W, 0) @ self.hi + np.minimum(W, 0) @ self.lo

    def seed_point(self):
        return (self.lo + self.hi) / 2

    def as_polytope(self) -> "Polytope":
        A, b = self.rows()
        return Polytope(A, b)

    def __repr__(self):
        return f"Box(lo={_short(self.lo)}, hi={_short(self.hi)})"

    def to_dict(self):
        return {"kind": "box", "lo": self.lo.tolist(), "hi": self.hi.tolist()}


@dataclass(frozen=True, eq=False)
class Polytope(Domain):
    """Open polyhedron ``A x < b`` with nonempty interior (may be unbounded)."""

    A: np.ndarray
    b: np.ndarray

    def __init__(self, A, b):
        A = np.atleast_2d(as_array(A)).copy()
        b = _vector("polytope b", b)
        if A.shape[0] != b.size:
            raise DomainError(f"polytope has {A.shape[0]} rows in A but {b.size} in b")
        if not np.all(np.isfinite(A)):
            raise DomainError("polytope A contains NaN or infinite values")
        if np.any(np.linalg.norm(A, axis=1) == 0):
            raise DomainError("polytope A has a zero row")
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "b", b)
        x, r = Oracle().chebyshev(A, b, cap=1.0, what="the polytope domain's interior")
        if not r > 0:
            raise DomainError("polytope has an empty interior: check A x < b")
        object.__setattr__(self, "_seed", x)

    @property
    def dim(self) -> int:
        return self.A.shape[1]

    def rows(self):
        return self.A, self.b

    def support(self, W):
        W = np.atleast_2d(W)
        lp = PolytopeLP(Oracle(), self.A, self.b)
        return np.array([lp.maximize(w) if np.any(w) else 0.0 for w in W])

    def seed_point(self):
        return self._seed.copy()

    def __repr__(self):
        return f"Polytope({self.A.shape[0]} rows in R^{self.dim})"

    def to_dict(self):
        return {"kind": "polytope", "A": self.A.tolist(), "b": self.b.tolist()}


@dataclass(frozen=True, eq=False)
class Ball(Domain):
    """Open ball ``||x - center||_p < radius`` for p in {2, 1, inf}, optionally clipped to a
    :class:`Box` (the "valid pixel range" threat model).

    The L2 ball is exact (QP-decided). ``outer_polytope()`` / ``inner_polytope()`` give the
    circumscribed box and the inscribed cross-polytope ∩ box for explicit, labelled
    upper/lower comparison counts.
    """

    center: np.ndarray
    radius: float
    norm: float = 2
    clip: Box | None = None

    def __init__(self, center, radius, norm=2, clip: Box | None = None):
        c = _vector("ball centre", center)
        try:
            r = float(radius)
        except (TypeError, ValueError):
            raise DomainError(f"ball radius must be a number, got {radius!r}") from None
        if not np.isfinite(r) or r <= 0:
            raise DomainError(f"ball radius must be a positive finite number, got {radius}")
        norm = {"2": 2, "1": 1, "inf": np.inf, "Linf": np.inf}.get(str(norm), norm)
        if norm not in (1, 2, np.inf):
            raise DomainError(f"ball norm must be 2, 1 or inf, got {norm}")
        if norm == 1 and c.size > MAX_L1_DIM:
            raise DomainError(f"L1 balls are limited to dimension {MAX_L1_DIM} (2^d half-spaces); got {c.size}")
        if clip is not None:
            if not isinstance(clip, Box):
                raise DomainError("clip must be a Box")
            if clip.dim != c.size:
                raise DomainError(f"clip box has dimension {clip.dim}, ball centre has {c.size}")
        object.__setattr__(self, "center", c)
        object.__setattr__(self, "radius", r)
        object.__setattr__(self, "norm", norm)
        object.__setattr__(self, "clip", clip)
        if clip is not None:
            seed = self._clipped_seed()
            if seed is None:
                raise DomainError("the ball does not meet the clip box: move the centre or enlarge the radius")
            object.__setattr__(self, "_seed", seed)
        else:
            object.__setattr__(self, "_seed", c.copy())

    @property
    def dim(self) -> int:
        return self.center.size

    @property
    def l2_ball(self):
        return (self.center, self.radius) if self.norm == 2 else None

    def _own_rows(self):
        d, c, r = self.dim, self.center, self.radius
        if self.norm == 1:
            S = np.array(list(itertools.product([-1.0, 1.0], repeat=d)))
            return S, S @ c + r
        I = np.eye(d)  # L-inf ball, or the L2 ball's bounding box
        return np.vstack([I, -I]), np.concatenate([c + r, r - c])

    def rows(self):
        A, b = self._own_rows()
        if self.clip is not None:
            A2, b2 = self.clip.rows()
            A, b = np.vstack([A, A2]), np.concatenate([b, b2])
        return A, b

    def support(self, W):
        W = np.atleast_2d(W)
        dual = {2: 2, 1: np.inf, np.inf: 1}[self.norm]
        s = W @ self.center + self.radius * np.linalg.norm(W, ord=dual, axis=1)
        if self.clip is not None:
            s = np.minimum(s, self.clip.support(W))
        return s

    def _clipped_seed(self):
        lo, hi = self.clip.lo, self.clip.hi
        inner_lo = lo + 1e-3 * (hi - lo)
        inner_hi = hi - 1e-3 * (hi - lo)
        p = np.clip(self.center, inner_lo, inner_hi)
        if self.contains(p)[0]:
            return p
        # nearest point of the box to the centre, then pull it slightly into the box
        q = np.clip(self.center, lo, hi)
        mid = (lo + hi) / 2
        for s in (1e-3, 1e-6, 1e-9):
            p = q + s * (mid - q)
            if self.contains(p)[0]:
                return p
        return None

    def seed_point(self):
        return self._seed.copy()

    def outer_polytope(self) -> Polytope:
        """Circumscribed box (∩ clip): counts on it are guaranteed UPPER counts."""
        A, b = Ball(self.center, self.radius, norm=np.inf, clip=self.clip).rows()
        return Polytope(A, b)

    def inner_polytope(self) -> Polytope:
        """Inscribed cross-polytope (L1 ball of the same radius) ∩ clip: counts on it are
        guaranteed LOWER counts (for the L2 and L-inf balls; the L1 ball is itself)."""
        A, b = Ball(self.center, self.radius, norm=1, clip=self.clip).rows()
        return Polytope(A, b)

    def __repr__(self):
        n = {2: "2", 1: "1", np.inf: "inf"}[self.norm]
        clip = f", clip={self.clip!r}" if self.clip is not None else ""
        return f"Ball(center={_short(self.center)}, radius={self.radius:g}, norm={n}{clip})"

    def to_dict(self):
        out = {"kind": "ball", "center": self.center.tolist(), "radius": self.radius,
               "norm": {2: "2", 1: "1", np.inf: "inf"}[self.norm]}
        if self.clip is not None:
            out["clip"] = self.clip.to_dict()
        return out


@dataclass(frozen=True, eq=False)
class Whole(Domain):
    """The whole input space ``R^dim``."""

    dim: int = field(default=1)

    def __init__(self, dim: int):
        if int(dim) != dim or dim < 1:
            raise DomainError(f"whole-space dimension must be a positive integer, got {dim}")
        object.__setattr__(self, "dim", int(dim))

    def rows(self):
        return np.zeros((0, self.dim)), np.zeros(0)

    def support(self, W):
        W = np.atleast_2d(W)
        return np.where(np.any(W != 0, axis=1), np.inf, 0.0)

    def seed_point(self):
        return np.zeros(self.dim)

    def __repr__(self):
        return f"Whole({self.dim})"

    def to_dict(self):
        return {"kind": "whole", "dim": self.dim}


@dataclass(frozen=True, eq=False)
class Segment:
    """The open segment ``{p + t (q - p) : 0 < t < 1}``: a 1-D slice of the input space.

    Counted exactly, without LPs, by one pass of interval splitting
    (:func:`exactregions.engines.segment.count_segment`).
    """

    p: np.ndarray
    q: np.ndarray

    def __init__(self, p, q):
        p, q = _vector("segment start", p), _vector("segment end", q)
        if p.size != q.size:
            raise DomainError(f"segment ends have {p.size} and {q.size} coordinates")
        if not np.any(p != q):
            raise DomainError("segment ends coincide: give two different points")
        object.__setattr__(self, "p", p)
        object.__setattr__(self, "q", q)

    @property
    def dim(self) -> int:
        return self.p.size

    def point(self, t) -> np.ndarray:
        return self.p + np.multiply.outer(np.asarray(t, float), self.q - self.p)

    def __repr__(self):
        return f"Segment(length {np.linalg.norm(self.q - self.p):.4g} in R^{self.dim})"

    def to_dict(self):
        return {"kind": "segment", "p": self.p.tolist(), "q": self.q.tolist()}


@dataclass(frozen=True, eq=False)
class Plane:
    """The 2-D affine slice through three input points ``p0, p1, p2``.

    Plane coordinates are Euclidean: ``x = p0 + E u`` with ``E`` an orthonormal basis of
    ``span(p1 - p0, p2 - p0)`` (Gram-Schmidt), so a disc in the plane is the input-space ball
    around a point of the plane, cut by the plane. The domain in plane coordinates is the disc
    of radius ``radius`` around the three points' centroid, or with ``parallelogram=True`` the
    open parallelogram ``p0 + s (p1 - p0) + t (p2 - p0)``, ``0 < s, t < 1``, or by default the
    bounding box of the three points enlarged by ``margin`` of its size on every side.
    """

    p0: np.ndarray
    p1: np.ndarray
    p2: np.ndarray
    radius: float | None = None
    margin: float = 0.25
    parallelogram: bool = False

    def __init__(self, p0, p1, p2, radius=None, margin=0.25, parallelogram=False):
        pts = [_vector(f"plane point p{i}", v) for i, v in enumerate((p0, p1, p2))]
        if len({v.size for v in pts}) != 1:
            raise DomainError("the three plane points have different dimensions")
        e1 = pts[1] - pts[0]
        n1 = np.linalg.norm(e1)
        if n1 == 0:
            raise DomainError("plane points p0 and p1 coincide")
        e1 = e1 / n1
        e2 = pts[2] - pts[0] - np.dot(pts[2] - pts[0], e1) * e1
        n2 = np.linalg.norm(e2)
        if n2 <= 1e-12 * max(1.0, np.linalg.norm(pts[2] - pts[0])):
            raise DomainError("the three plane points are collinear: they span no plane")
        if radius is not None and not (np.isfinite(radius) and radius > 0):
            raise DomainError(f"plane radius must be a positive number, got {radius}")
        if radius is not None and parallelogram:
            raise DomainError("choose a disc (radius) or the parallelogram, not both")
        object.__setattr__(self, "parallelogram", bool(parallelogram))
        for name, v in zip(("p0", "p1", "p2"), pts):
            object.__setattr__(self, name, v)
        object.__setattr__(self, "radius", None if radius is None else float(radius))
        object.__setattr__(self, "margin", float(margin))
        object.__setattr__(self, "basis", np.stack([e1, e2 / n2], axis=1))

    @property
    def dim(self) -> int:
        return self.p0.size

    def coordinates(self, X) -> np.ndarray:
        """Plane coordinates of input points (projected onto the plane)."""
        return (np.atleast_2d(X) - self.p0) @ self.basis

    def lift(self, U) -> np.ndarray:
        """Input points of plane coordinates ``U``."""
        return self.p0 + np.atleast_2d(U) @ self.basis.T

    def points_2d(self) -> np.ndarray:
        return self.coordinates(np.stack([self.p0, self.p1, self.p2]))

    def domain_2d(self) -> Domain:
        P = self.points_2d()
        if self.radius is not None:
            return Ball(P.mean(axis=0), self.radius)
        if self.parallelogram:  # corners P0, P1, P1 + P2 - P0, P2; outward normals of its edges
            corners = np.array([P[0], P[1], P[1] + P[2] - P[0], P[2]])
            edges = np.roll(corners, -1, axis=0) - corners
            normals = np.stack([edges[:, 1], -edges[:, 0]], axis=1)
            offsets = np.einsum("ij,ij->i", normals, corners)
            flip = normals @ corners.mean(axis=0) > offsets
            normals[flip], offsets[flip] = -normals[flip], -offsets[flip]
            return Polytope(normals, offsets)
        lo, hi = P.min(axis=0), P.max(axis=0)
        pad = self.margin * float((hi - lo).max())
        return Box(lo - pad, hi + pad)

    def __repr__(self):
        where = (f"disc of radius {self.radius:g}" if self.radius is not None else
                 "parallelogram of the points" if self.parallelogram else "box around the points")
        return f"Plane(through 3 points of R^{self.dim}, {where})"

    def to_dict(self):
        return {"kind": "plane", "p0": self.p0.tolist(), "p1": self.p1.tolist(), "p2": self.p2.tolist(),
                "radius": self.radius, "parallelogram": self.parallelogram}

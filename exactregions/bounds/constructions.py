"""Networks with known exact region counts (lower-bound constructions).

Each builder returns a :class:`~exactregions.network.Network` and the domain on which the
stated count is exact; the tests run the engine on it and assert the formula.
"""

from __future__ import annotations

import numpy as np

from ..domains import Ball, Box
from ..network import Network
from .arrangements import phi

__all__ = ["sawtooth", "zigzag", "montufar_product", "zigzag_count", "montufar_product_count"]


def sawtooth(L: int) -> tuple[Network, Ball]:
    """Telgarsky's tent-map composition, two units a layer (Telgarsky, arXiv:1509.08101).

    ``W1 = [[2],[4]], b1 = [0,-2]``, then ``W = [[2,-2],[4,-4]], b = [0,-2]`` (the tent
    ``h1 - h2`` folded into the next layer). On the open interval (0, 1) = B(0.5, 0.5):
    exactly ``2^L`` activation regions, and the output has ``2^L`` affine pieces.
    """
    if L < 1:
        raise ValueError("sawtooth needs L >= 1")
    Ws = [np.array([[2.0], [4.0]])] + [np.array([[2.0, -2.0], [4.0, -4.0]])] * (L - 1) + [np.array([[1.0, -1.0]])]
    bs = [np.array([0.0, -2.0])] * L + [np.zeros(1)]
    return Network(Ws, bs), Ball([0.5], 0.5)


def zigzag(k: int, L: int) -> tuple[Network, Ball]:
    """k-tooth zigzag (Montúfar et al., NeurIPS 2014, 1-D folding), ``k`` units a layer.

    ``h_i = ReLU(k u - (i-1))``, ``u`` = x or the previous zigzag ``z = h1 - 2h2 + 2h3 - ...``.
    On (0, 1): exactly ``k^L`` regions (U4 bound: ``(k+1)^L``).
    """
    if k < 1 or L < 1:
        raise ValueError("zigzag needs k >= 1 and L >= 1")
    a = np.array([1.0] + [-2.0 if i % 2 == 1 else 2.0 for i in range(1, k)])
    b = -np.arange(k, dtype=float)
    Ws = [np.full((k, 1), float(k))] + [k * np.outer(np.ones(k), a)] * (L - 1) + [a[None, :]]
    return Network(Ws, [b] * L + [np.zeros(1)]), Ball([0.5], 0.5)


def zigzag_count(k: int, L: int) -> int:
    return k ** L


def montufar_product(n0: int, k: int, L: int, nL: int) -> tuple[Network, Box]:
    """Montúfar et al. (2014) product construction on the open cube (0, 1)^n0, n0 in {1, 2}.

    Layers 1..L-1: ``k`` zigzag units per input coordinate (each coordinate folded onto
    (0,1) ``k^(L-1)`` times); layer L: ``nL`` hyperplanes in general position with all
    vertices inside the cube (tangent lines of a small circle for n0 = 2; interior points
    for n0 = 1). Exactly ``k^(n0 (L-1)) * Phi(nL, n0)`` regions on the cube.
    """
    if n0 not in (1, 2):
        raise ValueError("montufar_product is written down for n0 = 1 or 2")
    if L < 2 or k < 1 or nL < 1:
        raise ValueError("montufar_product needs L >= 2, k >= 1, nL >= 1")
    a = np.array([1.0] + [-2.0 if i % 2 == 1 else 2.0 for i in range(1, k)])
    b = -np.arange(k, dtype=float)
    I = np.eye(n0)
    Ws, bs = [np.kron(I, np.full((k, 1), float(k)))], [np.tile(b, n0)]
    for _ in range(L - 2):
        Ws.append(np.kron(I, k * np.outer(np.ones(k), a)))
        bs.append(np.tile(b, n0))
    # last hidden layer: nL hyperplanes w.z = beta in the folded coordinates z in (0,1)^n0
    if n0 == 1:
        normals = np.ones((nL, 1))
        offsets = (np.arange(nL) + 1.0) / (nL + 1)
    else:
        ang = np.pi * (np.arange(nL) + 0.5) / nL
        normals = np.stack([np.cos(ang), np.sin(ang)], axis=1)
        rho = 0.45 * np.sin(np.pi / (2 * nL))  # every pairwise vertex within 0.45 of the centre
        offsets = normals @ np.full(2, 0.5) + rho
    Ws.append(np.kron(normals, a[None, :]).reshape(nL, n0 * k) if n0 == 1 else
              np.hstack([normals[:, [j]] * a[None, :] for j in range(n0)]))
    bs.append(-offsets)
    Ws.append(np.ones((1, nL)))
    bs.append(np.zeros(1))
    return Network(Ws, bs), Box(np.zeros(n0), np.ones(n0))


def montufar_product_count(n0: int, k: int, L: int, nL: int) -> int:
    return k ** (n0 * (L - 1)) * phi(nL, n0)

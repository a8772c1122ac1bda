"""Sound per-neuron pre-activation intervals on a domain.

Layer 1 is exact (the domain's support function); deeper layers use interval arithmetic
(IBP): ``[W+ l + W- u + b, W+ u + W- l + b]`` after the monotone activation. A neuron is
*stably active* on the open domain if its lower bound is > 0, *stably inactive* if its
upper bound is < 0 (or it is identically 0); otherwise it is *unstable*.
"""

from __future__ import annotations

import numpy as np

from .network import activate, is_sparse

__all__ = ["preactivation_bounds", "stability"]


def _dot_inf(W, v):
    """``W @ v`` where ``v`` may hold infinities and ``0 * inf`` counts as 0 (``W`` dense or
    sparse: a sparse layer holds no zeros)."""
    if np.all(np.isfinite(v)):  # the usual case: one matrix product (a 1024x4608 conv layer: 1.2 s -> 0.01 s)
        return W @ v
    if is_sparse(W):
        C = W.tocoo()
        return np.bincount(C.row, weights=C.data * v[C.col], minlength=W.shape[0])
    with np.errstate(invalid="ignore"):
        terms = W * v[None, :]
    return np.where(W == 0, 0.0, terms).sum(axis=1)


def preactivation_bounds(net, domain, first_layer=None, splits=None):
    """Lists ``lo[l], hi[l]`` bounding layer ``l``'s pre-activations on the domain's closure.

    ``first_layer`` optionally replaces layer 1's exact support-function interval (used by
    tighter LP-based variants that pass their own bounds for every layer). ``splits``: a dict
    that keeps each layer's positive and negative parts across calls on one network (the plane
    walk bounds hundreds of pieces of one domain).
    """
    los, his = [], []
    for k, (W, b) in enumerate(zip(net.weights[:-1], net.biases[:-1])):
        if k == 0:
            if first_layer is not None:
                lo, hi = first_layer
            else:
                hi = domain.support(W) + b
                lo = -domain.support(-W) + b
        else:  # the previous layer's activation (its own slope and pass-through units)
            s, lin = net.slopes[k - 1], net.linear[k - 1]
            hl, hu = activate(los[-1], s, lin), activate(his[-1], s, lin)
            if splits is not None and k in splits:
                Wp, Wn = splits[k]
            else:
                Wp, Wn = (W.maximum(0), W.minimum(0)) if is_sparse(W) else (np.maximum(W, 0), np.minimum(W, 0))
                if splits is not None:
                    splits[k] = Wp, Wn
            lo = _dot_inf(Wp, hl) + _dot_inf(Wn, hu) + b
            hi = _dot_inf(Wp, hu) + _dot_inf(Wn, hl) + b
        los.append(np.asarray(lo, dtype=np.float64))
        his.append(np.asarray(hi, dtype=np.float64))
    return los, his


def stability(los, his, linear=None):
    """Concatenated masks ``(unstable, fixed_bit)`` from per-layer intervals; pass-through
    units (``linear``) are stable with bit True."""
    lo = np.concatenate(los) if los else np.zeros(0)
    hi = np.concatenate(his) if his else np.zeros(0)
    lin = np.zeros(lo.shape, bool) if linear is None else linear
    active = (lo > 0) | lin
    inactive = ((hi < 0) | ((lo == 0) & (hi == 0))) & ~lin
    return ~(active | inactive), active

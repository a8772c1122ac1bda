"""Global upper bounds on the number of activation regions (architecture, optionally weights).

All values are exact Python integers; each comes with a per-layer derivation.

References
----------
* Montúfar, Pascanu, Cho, Bengio, *On the number of linear regions of deep neural networks*,
  NeurIPS 2014 (arXiv:1402.1869): ``2^N`` activation patterns.
* Raghu, Poole, Kleinberg, Ganguli, Sohl-Dickstein, *On the expressive power of deep neural
  networks*, ICML 2017 (arXiv:1606.05336): per-layer Zaslavsky product ``prod_l Phi(n_l, n0)``.
* Montúfar, *Notes on the number of linear regions of deep neural networks*, SampTA 2017:
  ``prod_l Phi(n_l, d_l)``, ``d_l = min(n0, n1, ..., n_l)``.
* Serra, Tjandraatmadja, Ramalingam, *Bounding and counting linear regions of deep neural
  networks*, ICML 2018 (arXiv:1711.02114), Theorem 1, computed as a dynamic programme over image
  dimensions (Hinz & van de Geer's histogram view, arXiv:1806.01918); never the index set J.
* Serra & Ramalingam, *Empirical bounds on linear regions of deep rectifier networks*, AAAI 2020
  (arXiv:1810.03370): neurons stable on the domain create no hyperplane (reconstructed, sound
  form of ``../shared/bounds.md`` §4, not the paper's theorem).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from math import comb

import numpy as np

from ..network import as_network, dense
from .arrangements import phi

__all__ = ["Bound", "LayerCounts", "dimension_dp", "montufar2014", "raghu2017", "montufar2017",
           "serra2018", "serra2018_rank", "GLOBAL_METHODS", "global_bound", "architecture_of"]


@dataclass
class Bound:
    """An upper bound (exact integer) with the derivation a reader can follow."""

    method: str
    value: int | None
    derivation: list = field(default_factory=list)
    note: str = ""
    seconds: float = 0.0

    def __repr__(self):
        return f"Bound({self.method}={self.value})"


@dataclass(frozen=True)
class LayerCounts:
    """One hidden layer as the dimension DP sees it.

    width: n_l; inactive: stably inactive neurons s_l; unstable: m_l (the rest are stably
    active); jcap: cap on the number of inactive unstable neurons that can matter (rank
    refinement), None = no cap; leaky: inactive neurons keep their row (no dimension drop).
    """

    width: int
    inactive: int = 0
    unstable: int | None = None
    jcap: int | None = None
    leaky: bool = False

    @property
    def m(self) -> int:
        return self.width - self.inactive if self.unstable is None else self.unstable


def dimension_dp(layers, start=None, first_layer: int = 1):
    """Serra et al. 2018 Thm 1 as a DP over image dimensions, with stable-neuron refinement.

    ``start``: histogram ``{dimension: regions}`` entering the first layer (default
    ``{n0: 1}`` is passed by callers). For each region of image dimension ``d`` the layer's
    ``m`` unstable neurons are hyperplanes in a d-space: at most ``C(m, j)`` sub-regions have
    exactly ``j`` of them inactive (``j <= min(d, m, jcap)``), and such a sub-region's image has
    dimension ``<= min(d, n - s - j)`` (inactive rows are zeroed; Serra Lemmas 3-4). The worst
    case fills low ``j`` (high dimension) first, which the DP does by construction.
    ``first_layer``: the number of the first of ``layers`` in the derivation (a caller that
    counted layer 1 by other means passes 2). Returns ``(total, derivation lines)``.
    """
    hist = Counter(start)
    where = "input" if first_layer == 1 else f"entering layer {first_layer}"
    lines = [f"{where}: {dict(sorted(hist.items()))} (image dimension: regions)"]
    for l, L in enumerate(layers, start=first_layer):
        new = Counter()
        m, s, n = L.m, L.inactive, L.width
        for d, cnt in hist.items():
            jmax = min(d, m) if L.jcap is None else min(d, m, L.jcap)
            for j in range(jmax + 1):
                dim = min(d, n) if L.leaky else min(d, n - s - j)
                new[dim] += cnt * comb(m, j)
        hist = new
        cap = f", j <= {L.jcap}" if L.jcap is not None else ""
        lines.append(f"layer {l}: n={n}, stably inactive={s}, unstable={m}{cap} -> "
                     f"{sum(hist.values())} regions, by dimension {dict(sorted(hist.items()))}")
    return sum(hist.values()), lines


def network_or_architecture(arch_or_net):
    """An architecture (a list, tuple or array of widths) as it is; anything else through
    :func:`~exactregions.network.as_network` (a Network, torch module or model path)."""
    if isinstance(arch_or_net, (list, tuple, np.ndarray)):
        return arch_or_net
    return as_network(arch_or_net)


def architecture_of(arch_or_net):
    """``(n0, layers, leaky)`` from an architecture list ``[n0, n1, ..., nL]`` or a Network.

    ``layers`` are :class:`LayerCounts`; a network's pass-through units (identity activation,
    e.g. a carried skip connection) are stably active: they keep dimension but cut nothing.
    """
    arch_or_net = network_or_architecture(arch_or_net)
    if hasattr(arch_or_net, "architecture"):
        net = arch_or_net
        leaky = any(s != 0 for s in net.slopes)
        layers = [LayerCounts(n, 0, n - int(lin.sum()), leaky=leaky) for n, lin in zip(net.hidden_widths, net.linear)]
        return net.input_dim, layers, leaky
    arch = [int(a) for a in arch_or_net]
    if len(arch) < 1 or any(a < 1 for a in arch):
        raise ValueError(f"architecture must be positive widths, input first: got {arch_or_net}")
    return arch[0], [LayerCounts(n) for n in arch[1:]], False


def montufar2014(arch_or_net) -> Bound:
    """``2^N``: the number of activation patterns (Montúfar et al. 2014)."""
    _, layers, _ = architecture_of(arch_or_net)
    ms = [L.m for L in layers]
    N = sum(ms)
    return Bound("montufar2014", 2 ** N, [f"N = {' + '.join(map(str, ms)) or 0} = {N} hidden neurons",
                                          f"2^{N} = {2 ** N}"])


def raghu2017(arch_or_net) -> Bound:
    """``prod_l Phi(n_l, n0)``: each layer adds n_l hyperplanes inside every region in R^n0."""
    n0, layers, _ = architecture_of(arch_or_net)
    value, lines = 1, []
    for l, L in enumerate(layers, start=1):
        value *= phi(L.m, n0)
        lines.append(f"layer {l}: Phi({L.m}, {n0}) = {phi(L.m, n0)} -> {value}")
    return Bound("raghu2017", value, lines)


def montufar2017(arch_or_net) -> Bound:
    """``prod_l Phi(n_l, d_l)``, ``d_l = min(n0, ..., n_l)`` (Montúfar 2017)."""
    n0, layers, _ = architecture_of(arch_or_net)
    value, d, lines = 1, n0, []
    for l, L in enumerate(layers, start=1):
        f = phi(L.m, d)
        value *= f
        lines.append(f"layer {l}: Phi({L.m}, d_{l - 1}={d}) = {f} -> {value}")
        d = min(d, L.width)
    return Bound("montufar2017", value, lines)


def serra2018(arch_or_net) -> Bound:
    """Serra et al. 2018, Theorem 1, as the dimension DP (tight for one hidden layer)."""
    n0, layers, leaky = architecture_of(arch_or_net)
    value, lines = dimension_dp(layers, {n0: 1})
    note = "LeakyReLU: inactive neurons keep their rows, so no dimension drop" if leaky else ""
    return Bound("serra2018", value, lines, note)


def serra2018_rank(net) -> Bound:
    """Rank variant (Serra et al. 2018, Sec. 3.1): cap ``j_l`` by ``rank(W_l)``; needs weights."""
    if not hasattr(net, "weights"):
        return Bound("serra2018_rank", None, [], "needs weights: not available for an architecture")
    n0, layers, leaky = architecture_of(net)
    ranks = [int(np.linalg.matrix_rank(dense(W)[~lin])) if (~lin).any() else 0
             for W, lin in zip(net.weights[:-1], net.linear)]
    layers = [LayerCounts(L.width, L.inactive, L.m, r, leaky) for L, r in zip(layers, ranks)]
    value, lines = dimension_dp(layers, {n0: 1})
    return Bound("serra2018_rank", value, [f"ranks of W_l: {ranks}"] + lines)


GLOBAL_METHODS = {
    "montufar2014": montufar2014,
    "raghu2017": raghu2017,
    "montufar2017": montufar2017,
    "serra2018": serra2018,
    "serra2018_rank": serra2018_rank,
}


def global_bound(arch_or_net, method: str = "serra2018") -> Bound:
    """A global (domain-free) upper bound by method id (see ``GLOBAL_METHODS``)."""
    if method not in GLOBAL_METHODS:
        raise ValueError(f"unknown global bound '{method}': choose from {', '.join(GLOBAL_METHODS)}")
    return GLOBAL_METHODS[method](arch_or_net)

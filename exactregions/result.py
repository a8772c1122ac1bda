"""Result objects: :class:`Region`, :class:`RegionCount`, linear-region merging, verification."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Region", "PackedRegion", "RegionCount", "VerifyReport", "STOP_REASONS"]

#: how :meth:`RegionCount.label` words each ``stop_reason`` of an incomplete count
STOP_REASONS = {"time_limit": "stopped by the time limit", "max_regions": "stopped at the region limit",
                "interrupted": "interrupted", "stopped by the caller": "stopped by the caller"}


@dataclass
class Region:
    """One full-dimensional activation region meeting the domain.

    pattern: activation bits of all hidden neurons (True = active).
    point: a point of the region's interior inside the open domain.
    inradius: Chebyshev radius of region ∩ the domain's polyhedral part.
    affine: the network's output map ``(M, m)``, ``F(x) = M x + m`` on the region.
    """

    pattern: np.ndarray
    point: np.ndarray
    inradius: float
    affine: tuple

    def __repr__(self):
        bits = "".join("1" if b else "0" for b in self.pattern[:32]) + ("…" if self.pattern.size > 32 else "")
        return f"Region(pattern={bits}, point={np.round(self.point, 6).tolist()}, inradius={self.inradius:.3g})"


class PackedRegion(Region):
    """A region whose pattern is held packed, eight bits a byte (a row of the engine's packed
    array), and unpacked when read: the planar walk's regions (the LeNet box slice: 738,843
    patterns of 5,696 bits, 4.2 GB as bools, 0.5 GB packed). Assigning a pattern packs it."""

    def __init__(self, packed, n_bits, point, inradius, affine):
        self._packed, self._bits = packed, n_bits
        self.point, self.inradius, self.affine = point, inradius, affine

    @property
    def pattern(self) -> np.ndarray:
        return np.unpackbits(self._packed, count=self._bits).view(bool)

    @pattern.setter
    def pattern(self, value):
        value = np.asarray(value, dtype=bool)
        self._packed, self._bits = np.packbits(value), value.size


@dataclass
class VerifyReport:
    ok: bool
    regions_checked: int
    facets_checked: int
    problems: list = field(default_factory=list)

    def __bool__(self):
        return self.ok


@dataclass
class RegionCount:
    """Outcome of a count. When ``complete`` is False the counts are LOWER BOUNDS.

    Attributes
    ----------
    activation_regions
        Full-dimensional activation regions meeting the open domain.
    linear_regions
        Connected groups of adjacent regions sharing one affine map (None when
        incomplete: a partial graph gives no bound on it).
    regions
        List of :class:`Region` in BFS order (index = graph node).
    edges
        Pairs ``(i, j)``, ``i < j``, of region indices sharing a facet inside the domain
        (each once; empty for the engines that give no adjacency).
    graph
        The same as a ``networkx.Graph`` on region indices, built when first asked for
        (networkx is imported only then: a count from the command line never pays for it).
    stats, numerics
        Seconds, lp_solves, qp_solves, ...; tolerances and near-degenerate notes.
    stop_reason
        Why an incomplete count stopped (None when complete): ``"time_limit"``,
        ``"max_regions"``, ``"interrupted"`` (Ctrl-C) or ``"stopped by the caller"``
        (:data:`STOP_REASONS` words them for :meth:`label`). A count stopped before its first
        region was analysed still counts the seed point's region, which the point itself proves
        (``numerics["seed_region"]``), so a stopped count reads ">= 1" at least.
    """

    activation_regions: int
    linear_regions: int | None
    complete: bool
    regions: list
    edges: list
    stats: dict
    numerics: dict
    stop_reason: str | None = None
    network: object = None
    domain: object = None
    tol: object = None
    slice: object = None  # the Plane when counted on a plane slice (network/domain in plane coords)
    verifier: object = field(default=None, repr=False)  # the engines' completeness check (see verify)
    decision: object = field(default=None, repr=False)  # the decision boundary, when asked (planar engine)
    polygons: list | None = field(default=None, repr=False)  # each region's exact polygon (planar engine)

    @classmethod
    def build(cls, net, domain, keys, regions, edges, *, complete, stop_reason, stats, numerics, tol,
              verifier=None):
        """From pattern keys and edges between keys (either direction, repeats allowed)."""
        index = {k: i for i, k in enumerate(keys)}
        pairs = sorted({(min(index[a], index[b]), max(index[a], index[b]))
                        for a, b in edges if a in index and b in index and a != b})
        linear = _linear_regions(len(keys), pairs, regions) if complete and all(r is not None for r in regions) \
            else None
        return cls(len(keys), linear, complete, regions, pairs, stats, numerics, stop_reason, net, domain, tol,
                   verifier=verifier)

    @property
    def graph(self):
        """``networkx.Graph`` on region indices, one edge per shared facet (built once)."""
        g = self.__dict__.get("_graph")
        if g is None:
            import networkx as nx

            g = nx.Graph()
            g.add_nodes_from(range(len(self.regions) if self.regions else self.activation_regions))
            g.add_edges_from(self.edges)
            self.__dict__["_graph"] = g
        return g

    @property
    def is_lower_bound(self) -> bool:
        return not self.complete

    def label(self) -> str:
        """The count as it should be shown: with 'lower bound' and why it stopped when incomplete.

        Examples
        --------
        >>> RegionCount(1, None, False, [], [], {}, {}, "time_limit").label()
        '>= 1 (lower bound: stopped by the time limit)'
        >>> RegionCount(7, 7, True, [], [], {}, {}).label()
        '7'
        """
        n = self.activation_regions
        if self.complete:
            return f"{n}"
        why = STOP_REASONS.get(self.stop_reason, f"stopped: {self.stop_reason}")
        return f">= {n} (lower bound: {why})"

    def __repr__(self):
        return (f"RegionCount(activation_regions={self.label()}, linear_regions={self.linear_regions}, "
                f"lp_solves={self.stats.get('lp_solves')}, seconds={self.stats.get('seconds', 0):.3f})")

    def to_dict(self) -> dict:
        return {"activation_regions": self.activation_regions, "linear_regions": self.linear_regions,
                "complete": self.complete, "lower_bound": not self.complete, "stop_reason": self.stop_reason,
                "seconds": self.stats.get("seconds"), "lp_solves": self.stats.get("lp_solves"),
                "qp_solves": self.stats.get("qp_solves"), "edges": len(self.edges),
                "reduction": self.stats.get("reduction"),
                # (a count that keeps no regions holds their points in its stats: data, not a summary)
                "stats": {k: v for k, v in self.stats.items() if k != "points"},
                "numerics": {**self.numerics, "near_degenerate": self.numerics["near_degenerate"][:50],
                             "near_degenerate_count": len(self.numerics["near_degenerate"])},
                "domain": (self.slice or self.domain).to_dict() if self.domain is not None else None,
                "network": repr(self.network),
                **({"decision_boundary": self.decision.to_dict(self.complete)} if self.decision is not None else {})}

    def verify(self) -> VerifyReport:
        """Completeness check, independent of the traversal's shortcuts.

        For every region: its point has the claimed pattern and lies in the open domain, and
        every facet meeting the domain, decided by an LP per row (no ray shooting, no known
        neighbours, no bounding box), leads to a region in the result.
        """
        if self.verifier is None:
            raise ValueError("this result carries no completeness check (it was not made by an engine)")
        return self.verifier(self)


def _linear_regions(n: int, pairs, regions, rtol=1e-9, atol=1e-9, chunk=512) -> int:
    """Connected components of the adjacency graph restricted to edges that join regions with
    equal affine maps (``np.allclose`` of both parts, compared a chunk of edges at a time; then
    union-find over the equal edges). One ``allclose`` per edge took a tenth of a 784-D count."""
    root = list(range(n))

    def find(i):
        while root[i] != i:
            root[i] = root[root[i]]
            i = root[i]
        return i

    flats = {}

    def flat(i):  # each region's map as one vector, made once (a region has several edges)
        f = flats.get(i)
        if f is None:
            M, m = regions[i].affine
            f = flats[i] = np.concatenate([np.ravel(M), np.ravel(m)])
        return f

    comps = n
    for s in range(0, len(pairs), chunk):
        part = pairs[s:s + chunk]
        Fa = np.stack([flat(a) for a, _ in part])
        Fb = np.stack([flat(b) for _, b in part])
        same = np.all(np.abs(Fa - Fb) <= atol + rtol * np.abs(Fb), axis=1)
        for k in np.flatnonzero(same):
            ra, rb = find(part[k][0]), find(part[k][1])
            if ra != rb:
                root[ra] = rb
                comps -= 1
    return comps

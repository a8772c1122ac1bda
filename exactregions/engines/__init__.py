"""Counting engines: the LP breadth-first traversal, and exact 1-D / 2-D slices."""

from __future__ import annotations

from ..domains import Plane, Segment
from .bfs import count_regions as count_regions_bfs
from .region import Tolerances
from .segment import count_segment

__all__ = ["count_regions", "count_regions_bfs", "count_segment", "Tolerances"]


def count_regions(net, domain, **kwargs):
    """Count the full-dimensional activation regions of ``net`` meeting the open ``domain``.

    A :class:`~exactregions.domains.Segment` is counted by 1-D interval splitting; a
    :class:`~exactregions.domains.Plane` by the traversal on the network composed with the
    plane's map (the result's network, domain and points are in plane coordinates; its
    ``slice`` attribute holds the plane); every other domain by the traversal
    (:func:`exactregions.engines.bfs.count_regions`, whose parameters apply).
    """
    if isinstance(domain, Segment):
        return count_segment(net, domain, tol=kwargs.get("tol"), keep_regions=kwargs.get("keep_regions", True))
    if isinstance(domain, Plane):
        if domain.dim != net.input_dim:
            raise ValueError(f"plane points have dimension {domain.dim} but the network takes {net.input_dim} inputs")
        res = count_regions_bfs(net.compose_affine(domain.basis, domain.p0), domain.domain_2d(), **kwargs)
        res.slice = domain
        return res
    return count_regions_bfs(net, domain, **kwargs)

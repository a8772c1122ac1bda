"""Counting engines: the LP breadth-first traversal (general), the vectorised subdivision
(polytope domains in low dimension, parallel), the planar walk (2-D inputs and plane slices:
wide, degenerate, with the decision boundary) and exact 1-D slices."""

from __future__ import annotations

import time

import numpy as np

from ..deadline import Deadline, TimeLimitReached
from ..domains import Plane, Segment, check_dimension
from ..network import as_network
from ..reduction import reduce_dimension
from ..result import Region, RegionCount
from .bfs import count_regions as count_regions_bfs
from .region import SEED_NOTE, Tolerances, first_region
from .segment import count_segment
from .verify import verify_count
from .subdivision import Degenerate, numpy_kernel_pays, plan, resolve_kernel, supports
from . import planar
from .planar import count_regions_planar

__all__ = ["count_regions", "count_regions_bfs", "count_regions_subdivision", "count_segment", "auto_engine",
           "count_regions_planar",
           "Tolerances", "ENGINES"]

#: ``engine="auto"``: the subdivision up to these input dimensions (after the reduction), the
#: BFS above them. Measured on seeded [12,12] nets, a few thousand regions each, one thread
#: (README, "Choosing the engine"): boxes in 10-D, subdivision 3.8 s against BFS 10.3 s; L2 balls
#: in 8-D, 36 s against more than 40 s, in 9-D 37.7 s against 12.1 s.
AUTO_SUBDIVISION_MAX_DIM = {"polytope": 10, "l2 ball": 8}


def auto_engine(domain, net=None) -> str:
    """The engine ``engine="auto"`` runs on ``domain``: in 2-D the planar walk (exact on
    degenerate arrangements, the fastest measured: README, "Three engines"), except a small count
    in a process that has not loaded a compiled kernel, which the subdivision's numpy kernel
    finishes before numba would load (:func:`~exactregions.engines.subdivision.numpy_kernel_pays`);
    above 2-D the subdivision up to :data:`AUTO_SUBDIVISION_MAX_DIM`, the BFS beyond."""
    if planar.supports(domain):
        small = net is not None and supports(domain) and numpy_kernel_pays(net, domain)
        return "subdivision" if small else "planar"
    if not supports(domain):
        return "bfs"
    kind = "l2 ball" if domain.l2_ball is not None else "polytope"
    return "subdivision" if domain.dim <= AUTO_SUBDIVISION_MAX_DIM[kind] else "bfs"


def count_regions(net, domain, *, engine: str = "auto", reduce: bool = True, workers: int = 1,
                  scheduler: str | None = None, checkpoint=None, input_shape=None, **kwargs) -> RegionCount:
    """Count the full-dimensional activation regions of ``net`` meeting the open ``domain``.

    net: a :class:`~exactregions.network.Network`, a torch ``nn.Module`` (``input_shape``
        without the batch axis where one is needed) or a model file path.
    engine: ``"auto"`` (the default: :func:`auto_engine`, the one measured faster for the
        domain's kind and dimension; the BFS when the subdivision meets a degenerate
        configuration, noted in ``numerics["engine_note"]``), ``"bfs"`` (the general LP
        traversal, the one engine that gives the adjacency graph, linear regions and affine
        maps), ``"planar"`` (2-D domains and plane slices: wide and degenerate nets,
        ``decision=True`` for the decision boundary, ``polygons=True`` for each region's
        polygon) or ``"subdivision"`` (vectorised, no LP, polytope domains and L2 balls in low
        dimension; patterns and points only).
    reduce: count an L2 ball or the whole space in the row space of the first layer
        (:mod:`exactregions.reduction`: exact; the result is in the original space and
        ``stats["reduction"]`` says ``reduced_dim``); False counts in the original dimension.
    workers, scheduler: parallel runs of the subdivision
        (:func:`exactregions.engines.parallel.run_plan`); threads of the planar walk.
    checkpoint: a folder that makes the run resumable: the subdivision keeps finished batches
        there, the BFS its state (``bfs_state.npz``: visited set, frontier, regions, edges).

    Other keyword arguments (``max_regions``, ``time_limit``, ``tol``, ``progress``,
    ``keep_regions``, ``kernel``) are those of :func:`exactregions.engines.bfs.count_regions`;
    ``pieces``, ``batch_cells`` and ``kernel`` those of :func:`count_regions_subdivision`;
    ``pieces``, ``decision`` and ``polygons`` those of
    :func:`~exactregions.engines.planar.count_regions_planar`.

    A :class:`~exactregions.domains.Segment` is counted by 1-D interval splitting; a
    :class:`~exactregions.domains.Plane` on the network composed with the plane's map (the
    result's network, domain and points are in plane coordinates; ``result.slice`` is the plane).
    """
    net = as_network(net, input_shape)
    kwargs["time_limit"] = Deadline.of(kwargs.get("time_limit"))  # one deadline for set-up and engine
    if net.pool_tree.size:  # regions are merged by pattern below: keep the patterns
        kwargs["keep_regions"] = True
    return merge_pool_regions(_dispatch(net, domain, engine=engine, reduce=reduce, workers=workers,
                                        scheduler=scheduler, checkpoint=checkpoint, **kwargs), net)


def _dispatch(net, domain, *, engine, reduce, workers, scheduler, checkpoint, **kwargs) -> RegionCount:
    """:func:`count_regions` on a Network, before max-pool regions are merged."""
    if engine not in ENGINES and engine != "auto":
        raise ValueError(f"unknown engine '{engine}': choose from {', '.join(ENGINES)}, auto")
    if isinstance(domain, Segment):
        return count_segment(net, domain, tol=kwargs.get("tol"), keep_regions=kwargs.get("keep_regions", True),
                             time_limit=kwargs.get("time_limit"))
    if isinstance(domain, Plane):
        check_dimension(domain, net.input_dim, "the plane's points")
        res = _dispatch(net.compose_affine(domain.basis, domain.p0), domain.domain_2d(), engine=engine, reduce=reduce,
                        workers=workers, scheduler=scheduler, checkpoint=checkpoint, **kwargs)
        res.slice = domain
        return res
    check_dimension(domain, net.input_dim)
    if kwargs.get("decision") or kwargs.get("polygons"):  # only the planar walk draws in the plane
        if engine not in ("auto", "planar") or not planar.supports(domain):
            raise ValueError("the decision boundary's segments and region polygons come from the planar engine: a "
                             "bounded 2-D domain or a plane slice, engine='auto' or 'planar' (in any dimension, "
                             "exactregions.analysis.decision_regions says which regions it crosses)")
        engine, reduce = "planar", False  # the picture stays in the domain's own plane
    opts = dict(workers=workers, scheduler=scheduler, checkpoint=checkpoint, **kwargs)
    red = reduce_dimension(net, domain) if reduce else None
    if red is not None:
        return red.lift(_dispatch(red.net, red.domain, engine=engine, reduce=False, **opts), net, domain)
    name = auto_engine(domain, net) if engine == "auto" else engine
    for engine_name, fits in (("subdivision", supports), ("planar", planar.supports)):
        if name == engine_name and not fits(domain):
            raise ValueError(f"the {name} engine does not handle {domain!r}: use engine='bfs'")
    try:
        return ENGINES[name](net, domain, **opts)
    except Degenerate as e:
        if engine != "auto":
            raise
        # the last resort: the planar walk in 2-D, the BFS above
        fallback = "planar" if planar.supports(domain) else "bfs"
        res = ENGINES[fallback](net, domain, **opts)
        res.numerics["engine_note"] = f"subdivision not usable ({e}): counted by the {fallback} engine"
        return res


def merge_pool_regions(res: RegionCount, net) -> RegionCount:
    """Merge the regions of a max-pool network that share a region key
    (:meth:`~exactregions.network.Network.region_keys`: the ReLU signs and each window's argmax):
    the engines count the rewritten network's cells, several of which can make one region of
    the max. Each region is convex (fixed signs and argmax: linear inequalities), so cells with
    one key are one region; the count of keys is exact (a lower bound if the cells were)."""
    if not net.pool_tree.size or not res.regions:
        return res
    keys = net.region_keys(np.array([r.pattern for r in res.regions]), copy=False)
    # groups numbered in the order their first cell was found (a dict of the packed keys: a
    # sort of 77,000 keys of 1,768 bytes by np.unique took 12 s)
    index, first, group = {}, [], np.empty(len(keys), np.int64)
    for i, k in enumerate(np.packbits(keys, axis=1)):
        g = index.setdefault(k.tobytes(), len(first))
        if g == len(first):
            first.append(i)
        group[i] = g
    regions = [res.regions[i] for i in first]
    for r, k in zip(regions, keys[first]):
        r.pattern = k
    pairs = sorted({(min(group[a], group[b]), max(group[a], group[b])) for a, b in res.edges if group[a] != group[b]})
    linear = None
    if res.linear_regions is not None:
        from ..result import _linear_regions
        linear = _linear_regions(len(regions), pairs, regions)
    polygons = None
    if res.polygons is not None:  # a region's polygon is the hull of its cells' (it is convex: see convex_hull)
        from ..polygons import clip_disc, convex_hull

        disc = res.domain.l2_ball  # a disc's cells are exact inside the disc only: clip them first
        cells = [[] for _ in regions]
        for i, poly in enumerate(res.polygons):
            cells[group[i]].append(clip_disc(poly, *disc) if disc is not None else poly)
        polygons = [convex_hull(np.vstack(c)) for c in cells]
    merged = RegionCount(len(regions), linear, res.complete, regions, pairs, {**res.stats, "cells": len(res.regions)},
                         res.numerics, res.stop_reason, res.network, res.domain, res.tol, res.slice, res.verifier,
                         res.decision, polygons)
    if res.decision is not None:
        merged.decision.regions_crossed = int(np.unique(group[res.decision.crossed]).size)
    return merged


def _count_bfs(net, domain, *, workers=1, scheduler=None, checkpoint=None, pieces=None, batch_cells=None,
               decision=False, polygons=False, **kwargs) -> RegionCount:
    """The BFS with the engines' common signature (it runs in this process; a checkpoint folder
    holds its state file)."""
    if checkpoint is not None:
        import os
        os.makedirs(checkpoint, exist_ok=True)
        kwargs["checkpoint"] = os.path.join(checkpoint, "bfs_state.npz")
    return count_regions_bfs(net, domain, **kwargs)


def count_regions_subdivision(net, domain, *, workers=1, scheduler=None, checkpoint=None, max_regions=None,
                              time_limit=None, tol=None, progress=None, keep_regions=True,
                              batch_cells: int | None = None, pieces: int = 1,
                              kernel: str = "auto", decision=False, polygons=False) -> RegionCount:
    """The subdivision engine as a :class:`RegionCount` (no graph, no linear regions, no
    affine maps; ``inradius`` is not computed and reads NaN).

    pieces: cut a box-shaped domain into this many boxes, each counted from its own first
        layer, then merge by pattern (exact domain decomposition; default 1: the plan's batches
        already make the first layer parallel and bounded in memory, see
        :func:`exactregions.engines.subdivision.plan`). Regions crossing a cut are counted in
        each piece before the merge, so pieces cost extra work.
    kernel: the split step, ``"numba"`` (compiled), ``"numpy"`` (the vectorised reference) or
        ``"auto"`` (numba when it imports and pays for its load:
        :func:`~exactregions.engines.subdivision.resolve_kernel`); both give the same cells.
    """
    from .parallel import run_pieces, run_plan, split_domain

    t0 = time.perf_counter()
    tol = tol or Tolerances()
    kernel = resolve_kernel(kernel, net, domain)
    if pieces > 1 and max_regions is not None:
        raise ValueError("max_regions stops a run between batches; it cannot stop pieces: use pieces=1")
    parts = split_domain(domain, pieces) if pieces > 1 and net.n_hidden else None
    if parts is not None:
        patterns, points, count, stop, st = run_pieces(net, parts, workers=workers, scheduler=scheduler,
                                                       checkpoint=checkpoint, keep=keep_regions,
                                                       time_limit=time_limit, batch_cells=batch_cells,
                                                       kernel=kernel, progress=progress)
    else:
        deadline = Deadline.of(time_limit)
        try:
            p = plan(net, domain, batch_cells=batch_cells, kernel=kernel, progress=progress, min_inradius=tol.inradius,
                     deadline=deadline)
        except TimeLimitReached:  # in the first layer: no batch yet
            p = None
            patterns, points, count, stop, st = np.zeros((0, net.n_hidden), bool), np.zeros((0, net.input_dim)), 0, \
                "time_limit", {}
        if p is not None and not p.batches:  # no hidden neuron: the domain is one region
            patterns, points, count, stop, st = np.zeros((1, 0), bool), domain.seed_point()[None], 1, None, {}
        elif p is not None:
            patterns, points, count, stop, st = run_plan(p, workers=workers, scheduler=scheduler,
                                                         checkpoint=checkpoint, keep=keep_regions,
                                                         time_limit=deadline, max_regions=max_regions,
                                                         progress=progress)
    seed = first_region(net, domain, tol) if count == 0 and stop in ("time_limit", "interrupted") else None
    if seed is not None:  # stopped before a region: the seed point's, which the point proves
        patterns, points, count = seed.pattern[None], seed.point[None], 1
    regions = [Region(pattern=q, point=x, inradius=float("nan"), affine=None) for q, x in zip(patterns, points)] \
        if keep_regions else []
    stats = {"seconds": time.perf_counter() - t0, "lp_solves": 0, "qp_solves": st.get("qp_solves", 0),
             "engine": "subdivision", "kernel": kernel, "workers": workers, "scheduler": scheduler, **st}
    numerics = {"tolerances": tol.to_dict(), "thin_regions_skipped": st.get("thin_cells", 0), "near_degenerate": [],
                "seed_perturbed": None, **({"seed_region": SEED_NOTE} if seed is not None else {}),
                "linear_regions": "not computed by the subdivision engine (use engine='bfs')"}
    return RegionCount(count, None, stop is None, regions, [], stats, numerics, stop, net, domain, tol,
                       verifier=verify_count)


#: The engines by name, each called as ``engine(net, domain, *, workers, scheduler, checkpoint,
#: **options)`` and returning a :class:`RegionCount` of the same regions.
ENGINES = {"bfs": _count_bfs, "subdivision": count_regions_subdivision,
           "planar": planar.count_regions_planar}

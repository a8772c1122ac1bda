"""Exact region counting by breadth-first search over the region adjacency graph.

The full-dimensional activation regions meeting an open convex domain form a connected
graph (two regions are adjacent when they share a facet that meets the domain), so a
traversal from the region of one seed point visits them all. Each region costs one
Chebyshev LP plus LPs only for the rows that ray shooting, known neighbours and a bounding
box leave undecided (:mod:`exactregions.engines.region`).

References: the traversal is the classical adjacency-graph enumeration of hyperplane
arrangements (Avis & Fukuda, reverse search, 1996; Sleumer, 1998) applied to the polyhedral
complex of a ReLU network (Serra, Tjandraatmadja & Ramalingam, ICML 2018, Sec. 6).
"""

from __future__ import annotations

import sys
import time
from collections import deque

import numpy as np
from threadpoolctl import threadpool_limits

from ..deadline import Deadline, TimeLimitReached, reporter
from ..domains import Domain, check_dimension
from ..network import Network
from ..oracle import Oracle
from ..result import Region, RegionCount
from .kernels import choose_kernel
from .region import SEED_NOTE, Tolerances, analyse_region, generic_seed, numba_problem, seed_region, traversal_setup
from .verify import verify_count

__all__ = ["count_regions"]

#: ``kernel="auto"`` runs the compiled ray shooting and certificate checks from this many input
#: dimensions on, or in a process that has loaded numba already; below it a traversal is
#: usually over before numba would have loaded (about 0.7 s).
NUMBA_MIN_DIM = 6


def count_regions(net: Network, domain: Domain, *, max_regions: int | None = None,
                  time_limit: float | None = None, tol: Tolerances = Tolerances(),
                  progress=None, keep_regions: bool = True, checkpoint=None,
                  checkpoint_every: float = 30.0, on_region=None, kernel: str = "auto") -> RegionCount:
    """Count the full-dimensional activation regions of ``net`` meeting the open ``domain``.

    Parameters
    ----------
    max_regions, time_limit : stop early; the result then has ``complete=False`` and its
        count is a lower bound. ``time_limit``: seconds, or a
        :class:`~exactregions.deadline.Deadline` handed down by the caller; it is kept inside a
        region's LPs too (a region whose facets are not all decided in time is not counted and
        stays in the frontier). A traversal stopped before its first region is analysed counts
        the seed's region: the seed is a point of the open domain at least ``1e3 *
        tol.inradius`` from every neuron's hyperplane and more than ``tol.inradius`` inside the
        domain's rows, so its region is full-dimensional, meets the domain and would count.
    tol : decision tolerances (:class:`Tolerances`), reported in the result.
    progress : optional callable ``progress(found, frontier, seconds)``, called about
        twice a second; one that also takes ``stage`` and ``detail`` keywords hears, while a
        region is analysed, which region and how many of its rows are decided and left (in
        high dimension one region takes many seconds).
    keep_regions : store each region's pattern, point, inradius and affine map.
    checkpoint : a file; the traversal's state (visited set, frontier, regions, edges) is saved
        there every ``checkpoint_every`` seconds and when it stops, and a run with the same
        network, domain and tolerances resumes from it (arrays and JSON, which run no code when
        read; one of another network, domain or tolerances is refused).
    on_region : optional callable ``on_region(region) -> bool`` called with every region (a
        :class:`~exactregions.result.Region` with its affine map) as it is found; a true answer
        stops the traversal (``stop_reason`` "stopped by the caller"), so a question asked of the
        regions (a robustness verdict) can stop at its first answer.
    kernel : ``"numba"`` (the ray shooting and the solver certificates compiled:
        :mod:`exactregions.engines._region_numba`, :mod:`exactregions._oracle_numba`),
        ``"numpy"`` (the reference), or ``"auto"`` (numba from :data:`NUMBA_MIN_DIM` dimensions
        on or once numba is loaded, when it is usable); the same decisions either way.

    Examples
    --------
    >>> from exactregions import Network, Whole, count_regions
    >>> net = Network([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [[1.0, 1.0, 1.0]]], [[0, 0, -1], [0]])
    >>> count_regions(net, Whole(2)).activation_regions   # 3 lines in general position
    7
    """
    check_dimension(domain, net.input_dim)
    deadline = Deadline.of(time_limit)
    kernel = choose_kernel(kernel, numba_problem, lambda: net.input_dim < NUMBA_MIN_DIM and "numba" not in sys.modules)
    # one BLAS thread: the traversal's matrices are small (tens to hundreds of rows), and a
    # second BLAS thread only fights for the cores (784-D digits ball, 46-D after the reduction,
    # with another process busy: 8.3 s with two BLAS threads, 3.4 s with one)
    with threadpool_limits(limits=1, user_api="blas"):
        return _traverse(net, domain, max_regions, deadline, tol, progress, keep_regions, checkpoint,
                         checkpoint_every, on_region, kernel)


def _traverse(net, domain, max_regions, deadline, tol, progress, keep_regions, checkpoint, checkpoint_every,
              on_region, kernel):
    t_start = time.perf_counter()
    oracle = Oracle(compiled=kernel == "numba", deadline=deadline)
    unstable, fixed, (DA, Db), cap = traversal_setup(net, domain)
    box = domain.bounding_box() if domain.bounded else None
    directions = _directions(net.input_dim)

    seed, seed_note = generic_seed(net, domain, unstable, tol)
    seed_pattern = net.pattern(seed)
    state = {"discovered": {seed_pattern.tobytes(): 0}, "queue": deque([seed_pattern]), "known": {},
             "processed": set(), "regions": [], "keys": [], "edges": [],
             "numerics": {"tolerances": tol.to_dict(), "thin_regions_skipped": 0, "near_degenerate": [],
                          "seed_perturbed": seed_note, "stable_neurons": int((~unstable).sum()),
                          "unstable_neurons": int(unstable.sum())},
             "facet_how": {"ray": 0, "known": 0, "lp": 0}, "solves": (0, 0, 0), "seconds": 0.0}
    fp = None
    if checkpoint is not None:
        from .parallel import fingerprint_of
        fp = fingerprint_of(net, domain, tol.to_dict(), keep_regions)
        state = _load_state(checkpoint, fp) or state
        oracle.lp_solves, oracle.qp_solves, oracle.retries = state["solves"]
        t_start -= state["seconds"]
    discovered, queue, known, processed = state["discovered"], state["queue"], state["known"], state["processed"]
    regions, keys, edges = state["regions"], state["keys"], state["edges"]
    numerics, facet_how = state["numerics"], state["facet_how"]
    warm = {}  # discovered, unprocessed pattern -> the discoverer's Chebyshev multipliers
    stable = np.flatnonzero(~unstable)  # their bits are fixed in every neighbour
    fixed_bits = fixed[stable]
    stop_reason, last_save = None, time.perf_counter()
    pending = None  # (key, region) of a region established when the deadline stopped its facets
    report = reporter(progress)

    def tick(detail):  # inside a region's analysis: which region, what is decided
        report(len(regions), len(queue), time.perf_counter() - t_start, stage=f"region {len(regions) + 1}",
               detail=detail)

    try:  # Ctrl-C ends the traversal with a partial count, labelled as such
        while queue:
            if max_regions is not None and len(regions) >= max_regions:
                stop_reason = "max_regions"
                break
            if deadline.expired():
                stop_reason = "time_limit"
                break
            if checkpoint is not None and time.perf_counter() - last_save > checkpoint_every:
                _save_state(checkpoint, fp, state, oracle, time.perf_counter() - t_start)
                last_save = time.perf_counter()
            pattern = queue[0]
            key = pattern.tobytes()
            A, c, M, m = net.region_maps(pattern)
            geo = None
            try:
                geo = analyse_region(net, pattern, unstable, (DA, Db), domain.l2_ball, oracle, tol, cap,
                                     known=known.get(key, ()), directions=directions, constraints=(A, c), box=box,
                                     warm=warm.get(key), tick=tick if report is not None else None)
                nbs = _patterns_across(net, pattern, geo, tol, deadline) if geo is not None and geo.facets else []
            except TimeLimitReached as stopped:  # the region stays in the frontier
                stop_reason = "time_limit"
                geo = getattr(stopped, "region", geo)  # (set when its interior point was decided)
                if geo is not None and geo.point is not None and geo.inradius > tol.inradius:
                    # established, so counted in the result (not in the traversal's state)
                    pending = (key, Region(pattern=pattern, point=geo.point, inradius=geo.inradius, affine=(M, m)))
                    numerics = {**numerics, "region_in_progress": "counted (its interior point and inradius were "
                                                                  "decided), its facets not all decided"}
                break
            # the state changes only from here on, so an interruption above loses nothing
            warm.pop(key, None)
            queue.popleft()
            processed.add(key)
            known.pop(key, None)
            if geo is None or not geo.inradius > tol.inradius:
                numerics["thin_regions_skipped"] += 1
                continue
            numerics["near_degenerate"].extend(geo.near)
            keys.append(key)
            region = Region(pattern=pattern, point=geo.point, inradius=geo.inradius, affine=(M, m))
            regions.append(region if keep_regions else None)
            for f, nb in zip(geo.facets, nbs):
                facet_how[f.how] += 1
                nb[stable] = fixed_bits
                nkey = nb.tobytes()
                if nkey == key:
                    numerics["near_degenerate"].append("crossing a facet did not change the pattern")
                    continue
                edges.append((key, nkey))
                if nkey not in processed:
                    known.setdefault(nkey, []).append((-geo.G[f.row], -geo.h[f.row], f.point))
                if nkey not in discovered:
                    warm[nkey] = (geo.row_keys, geo.multipliers)
                    discovered[nkey] = len(discovered)
                    queue.append(nb)
            if on_region is not None and on_region(region):
                stop_reason = "stopped by the caller"
                break
            if report is not None:
                report(len(regions), len(queue), time.perf_counter() - t_start)
    except KeyboardInterrupt:
        stop_reason = "interrupted"

    seconds = time.perf_counter() - t_start
    if checkpoint is not None:
        _save_state(checkpoint, fp, state, oracle, seconds)
    if report is not None:
        report(len(regions), len(queue), seconds, force=True)
    seed_key = seed_pattern.tobytes()
    if stop_reason in ("time_limit", "interrupted") and seed_key not in processed and pending is None:
        first = seed_region(net, seed, seed_pattern, unstable, (DA, Db), tol)  # (stopped before the first region)
        if first is not None:
            pending = (seed_key, first)
            numerics = {**numerics, "seed_region": SEED_NOTE}
    if pending is not None and pending[0] not in processed:  # counted, not in the traversal's state
        keys, regions = keys + [pending[0]], regions + [pending[1] if keep_regions else None]
    stats = {"seconds": seconds, "lp_solves": oracle.lp_solves, "qp_solves": oracle.qp_solves,
             "certified_fast_lp": oracle.fast_lp, "certified_fast_qp": oracle.fast_qp,
             "solver_retries": oracle.retries, "facets_by_ray": facet_how["ray"],
             "facets_by_lp": facet_how["lp"], "frontier_left": len(queue), "kernel": kernel}
    return RegionCount.build(net, domain, keys, regions, edges, complete=stop_reason is None,
                             stop_reason=stop_reason, stats=stats, numerics=numerics, tol=tol,
                             verifier=verify_count)


def _save_state(path, fp, state, oracle, seconds):
    """Write the traversal state atomically as arrays and JSON (:mod:`exactregions.io.checkpoint`:
    nothing in the file runs code when it is read). Every pattern is stored once, packed, in
    the order it was discovered; the queue, the processed set, the regions' keys and the edges
    are indices into that list."""
    from ..io.checkpoint import write_checkpoint

    state["solves"] = (oracle.lp_solves, oracle.qp_solves, oracle.retries)
    state["seconds"] = seconds
    order = list(state["discovered"])  # the patterns' bytes, by index (values 0, 1, 2, ...)
    index = state["discovered"]
    raw = np.frombuffer(b"".join(order), dtype=np.uint8).reshape(len(order), -1)
    if raw.size and raw.max() > 1:
        raise ValueError("the traversal's patterns are not boolean: cannot checkpoint them")
    regions = state["regions"]
    kept = [r for r in regions if r is not None]
    known = [(index[k], row, off, pt) for k, facets in state["known"].items() for row, off, pt in facets]
    d = len(kept[0].point) if kept else (len(known[0][1]) if known else 0)
    arrays = {
        "patterns": np.packbits(raw.astype(bool), axis=1),
        "queue": np.array([index[p.tobytes()] for p in state["queue"]], dtype=np.int64),
        "processed": np.array(sorted(index[k] for k in state["processed"]), dtype=np.int64),
        "keys": np.array([index[k] for k in state["keys"]], dtype=np.int64),
        "edges": np.array([(index[a], index[b]) for a, b in state["edges"]], dtype=np.int64).reshape(-1, 2),
        "known_of": np.array([k[0] for k in known], dtype=np.int64),
        "known_rows": np.array([k[1] for k in known], dtype=np.float64).reshape(len(known), d),
        "known_offsets": np.array([k[2] for k in known], dtype=np.float64),
        "known_points": np.array([k[3] for k in known], dtype=np.float64).reshape(len(known), d),
        "region_kept": np.array([r is not None for r in regions], dtype=bool),
        "region_points": np.array([r.point for r in kept], dtype=np.float64).reshape(len(kept), d),
        "region_inradius": np.array([r.inradius for r in kept], dtype=np.float64),
    }
    if kept:
        arrays["region_M"] = np.array([np.asarray(r.affine[0]) for r in kept], dtype=np.float64)
        arrays["region_m"] = np.array([np.asarray(r.affine[1]) for r in kept], dtype=np.float64)
    rest = {k: v for k, v in state.items()
            if k not in ("discovered", "queue", "known", "processed", "regions", "keys", "edges")}
    write_checkpoint(path, "bfs", fp, arrays, {"n_bits": int(raw.shape[1]), **rest})


def _load_state(path, fp):
    """The state :func:`_save_state` wrote, or None when ``path`` does not exist; a checkpoint
    of another network, domain or tolerances, or a changed or damaged one, is refused
    (:class:`~exactregions.io.checkpoint.CheckpointError`, a ValueError)."""
    from ..io.checkpoint import CheckpointError, read_checkpoint
    from ..result import Region

    got = read_checkpoint(path, "bfs", fp)
    if got is None:
        return None
    a, meta = got
    try:
        n = len(a["patterns"])
        P = np.unpackbits(a["patterns"], axis=1, count=int(meta["n_bits"])).astype(bool)
        for name in ("queue", "processed", "keys", "edges", "known_of"):
            if a[name].size and not (0 <= a[name].min() and a[name].max() < n):
                raise ValueError(f"{name} indexes patterns outside the {n} stored")
        keys = [P[i].tobytes() for i in range(n)]
        known = {}
        for i, row, off, pt in zip(a["known_of"], a["known_rows"], a["known_offsets"], a["known_points"]):
            known.setdefault(keys[i], []).append((row, off, pt))
        regions, j = [], 0
        for i, kept in zip(a["keys"], a["region_kept"]):
            if kept:
                regions.append(Region(pattern=P[i], point=a["region_points"][j], inradius=float(a["region_inradius"][j]),
                                      affine=(a["region_M"][j], a["region_m"][j])))
                j += 1
            else:
                regions.append(None)
        state = {k: v for k, v in meta.items() if k != "n_bits"}
        state.update(discovered={k: i for i, k in enumerate(keys)}, queue=deque(P[i] for i in a["queue"]),
                     known=known, processed={keys[i] for i in a["processed"]}, regions=regions,
                     keys=[keys[i] for i in a["keys"]], edges=[(keys[s], keys[t]) for s, t in a["edges"]],
                     solves=tuple(meta["solves"]), seconds=float(meta["seconds"]))
    except (KeyError, ValueError, IndexError, TypeError) as e:
        raise CheckpointError(f"checkpoint {path} is not a readable BFS state ({e.__class__.__name__}: {e}): "
                              "use another file or delete it") from None
    return state


def _patterns_across(net, pattern, geo, tol, deadline, floats: int = 1 << 24):
    """The neighbours' patterns across the region's facets
    (:meth:`~exactregions.network.Network.pattern_across`), in chunks of facets whose per-point
    Jacobians hold at most ``floats`` numbers (128 MB; the first region of a 729-D CNN ball has
    hundreds of facets, each a 576 x 729 Jacobian), the deadline checked between chunks."""
    rows = [f.row for f in geo.facets]
    points = [f.point for f in geo.facets]
    size = max(1, floats // max(1, max(net.hidden_widths, default=1) * net.input_dim))
    out = []
    for s in range(0, len(rows), size):
        deadline.check()
        out.append(net.pattern_across(pattern, points[s:s + size], geo.G[rows[s:s + size]], tol=tol.coincide))
    return np.concatenate(out)


def _directions(d: int) -> np.ndarray:
    """Fixed ray directions besides the rows' own normals: eight seeded random unit vectors.
    The coordinate axes and 4d + 8 random directions (the earlier set) found almost no facet
    the normals missed and took half the time of a 46-D traversal (784-D [64,64] digits ball
    r=0.3: 3.08 s -> 1.93 s; 2-D to 8-D unchanged)."""
    rng = np.random.default_rng(20240607)
    R = rng.normal(size=(8, d))
    return R / np.linalg.norm(R, axis=1, keepdims=True)

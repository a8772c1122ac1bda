"""Running the subdivision: in this process, in local processes, or on a Dask cluster; with
checkpoints that make a long run resumable and region records streamed to npz shards.

Two exact decompositions. (1) A plan's batches are disjoint sets of cells (each cell is one
region of the first layer, or of its first neurons, ∩ the domain), so the regions of different
batches are different: the total is a sum. The same batches come out of the same input, which is what lets a
checkpoint say which batches are done. (2) Pieces of the domain (:func:`run_pieces`) are counted
from their own first layers; a region met by several pieces is found in each, and the merge by
activation pattern keeps it once.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

from ..deadline import Deadline, TimeLimitReached
from ..network import is_sparse

__all__ = ["run_plan", "run_pieces", "split_domain", "fingerprint", "fingerprint_of"]

_WORKER = None  # (plan, regions wanted) of a worker process (inherited by fork, or set by _init_worker)


def _init_worker(plan, regions=True):
    global _WORKER
    _WORKER = (plan, regions)


def _unpack(packed, n_hidden):
    """Patterns from their packed rows (``np.packbits(patterns, axis=1)``)."""
    return np.unpackbits(packed, axis=1, count=n_hidden).astype(bool)


def _ship(result, regions):
    """A batch's result as sent back by a worker: packed patterns (8x smaller) and points
    only when the caller keeps or checkpoints regions, else just the count."""
    p, q, nqp = result
    return (np.packbits(p, axis=1), q, nqp, len(p)) if regions else (None, None, nqp, len(p))


def _run_shipped(plan, i, regions):
    """Batch ``i`` as a worker sends it back; None when the plan's deadline stopped it (a batch
    counts whole or not at all)."""
    try:
        return i, _ship(plan.run(i), regions)
    except TimeLimitReached:
        return i, None


def _run_in_worker(i):
    plan, regions = _WORKER
    return _run_shipped(plan, i, regions)


def _run_on_dask(i, plan, regions):
    return _run_shipped(plan, i, regions)


def _run_here(plan, todo):
    """The batches in this process, as :func:`_run_shipped` gives them (unpacked)."""
    for i in todo:
        try:
            yield i, (*plan.run(i), None)
        except TimeLimitReached:
            yield i, None


def fingerprint_of(net, domain, *extra) -> str:
    """Identifies a network, a domain and whatever else a resumable run depends on."""
    h = hashlib.sha256()
    for w, b in zip(net.weights, net.biases):
        for part in (w.data, w.indices, w.indptr) if is_sparse(w) else (w,):
            h.update(np.ascontiguousarray(part).tobytes())
        h.update(np.ascontiguousarray(b).tobytes())
    h.update(json.dumps([domain.to_dict(), list(net.slopes), [m.tolist() for m in net.linear], list(extra)],
                        sort_keys=True).encode())
    return h.hexdigest()[:20]


def fingerprint(plan) -> str:
    """Identifies the network, the domain and the batching of a plan."""
    return fingerprint_of(plan.net, plan.domain, [(cells.n, layer, first) for cells, _, layer, first in plan.batches])


class _Checkpoint:
    """A folder with ``manifest.json`` (done batches and their counts) and one npz shard per
    batch (packed patterns and points): written atomically, read on resume."""

    def __init__(self, folder, plan):
        self.dir = Path(folder)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.fp = fingerprint(plan)
        self.n_hidden = plan.net.n_hidden
        m = self.dir / "manifest.json"
        self.done = {}
        if m.exists():
            data = json.loads(m.read_text())
            if data.get("fingerprint") != self.fp:
                raise ValueError(f"checkpoint {self.dir} belongs to another network, domain or batching: "
                                 "use another folder or delete it")
            self.done = {int(k): v for k, v in data["done"].items()}

    def load(self, i):
        with np.load(self.dir / f"batch_{i:06d}.npz", allow_pickle=False) as z:  # (arrays only: no code runs)
            return _unpack(z["patterns"], self.n_hidden), z["points"]

    def save(self, i, patterns, points):
        tmp = self.dir / f"batch_{i:06d}.tmp.npz"
        np.savez(tmp, patterns=np.packbits(patterns, axis=1), points=points)
        os.replace(tmp, self.dir / f"batch_{i:06d}.npz")
        self.done[i] = int(len(patterns))
        tmp = self.dir / "manifest.json.tmp"
        tmp.write_text(json.dumps({"fingerprint": self.fp, "done": self.done}))
        os.replace(tmp, self.dir / "manifest.json")


def run_plan(plan, *, workers: int = 1, scheduler: str | None = None, checkpoint=None, keep: bool = True,
             time_limit: float | None = None, max_regions: int | None = None, progress=None):
    """Run every batch of ``plan``; returns ``(patterns, points, count, stop_reason, stats)``.

    ``workers`` > 1 uses local processes; ``scheduler`` ("tcp://host:port") a Dask cluster.
    ``checkpoint`` (a folder) records finished batches: rerunning with the same folder resumes.
    ``keep=False`` keeps no region in memory (count only; the checkpoint shards hold them).
    ``time_limit``/``max_regions`` and Ctrl-C stop early: ``stop_reason`` says why, and the
    count is a lower bound. ``time_limit`` (seconds, or the count's
    :class:`~exactregions.deadline.Deadline`; default: the plan's own) is kept inside the
    batches as well, in this process and in every worker process or Dask worker (the deadline
    travels with the plan): a batch stopped by it is not counted.
    """
    t0 = time.perf_counter()
    if time_limit is not None or plan.deadline is None:
        plan.deadline = Deadline.of(time_limit)
    deadline = plan.deadline
    n = len(plan.batches)
    ck = _Checkpoint(checkpoint, plan) if checkpoint is not None else None
    pats, pts, count, resumed, qps = [], [], 0, 0, np.zeros(2, np.int64)  # (QPs, thin cells)
    if ck is not None:
        for i, c in sorted(ck.done.items()):
            count += c
            resumed += 1
            if keep:
                p, q = ck.load(i)
                pats.append(p), pts.append(q)
    todo = [i for i in range(n) if ck is None or i not in ck.done]
    regions = keep or ck is not None
    stop = None
    executor = client = None
    try:
        if scheduler is not None:
            from dask.distributed import Client, as_completed
            client = Client(scheduler)
            plan_f = client.scatter(plan, broadcast=True)
            results = (f.result() for f in as_completed(client.map(_run_on_dask, todo, plan=plan_f, regions=regions,
                                                                     pure=False)))
        elif workers > 1 and len(todo) > 1:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor, as_completed as done_first
            if "fork" in mp.get_all_start_methods():  # the workers inherit the plan: nothing to pickle
                _init_worker(plan, regions)
                executor = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork"))
            else:
                executor = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                               initializer=_init_worker, initargs=(plan, regions))
            results = (f.result() for f in done_first([executor.submit(_run_in_worker, i) for i in todo]))
        else:
            results = _run_here(plan, todo)
        for finished, (i, out) in enumerate(results, start=1):
            if out is None:  # the deadline stopped this batch: the others stop as soon
                stop = "time_limit"
                break
            p, q, nqp, size = out
            if size is not None and p is not None:  # packed by a worker
                p = _unpack(p, plan.net.n_hidden)
            count += len(p) if size is None else size
            qps += np.asarray(nqp, np.int64)
            if ck is not None:
                ck.save(i, p, q)
            if keep:
                pats.append(p), pts.append(q)
            if progress is not None:
                progress(count, len(todo) - finished, time.perf_counter() - t0)
            if finished < len(todo):
                if deadline.expired():
                    stop = "time_limit"
                    break
                if max_regions is not None and count >= max_regions:
                    stop = "max_regions"
                    break
    except KeyboardInterrupt:
        stop = "interrupted"
    finally:
        if executor is not None:
            executor.shutdown(wait=stop is None, cancel_futures=True)
            _init_worker(None, True)
        if client is not None:
            client.close()
    d = plan.net.input_dim
    patterns = np.concatenate(pats) if pats else np.zeros((0, plan.net.n_hidden), bool)
    points = np.concatenate(pts) if pts else np.zeros((0, d))
    stats = {"batches": n, "batches_resumed": resumed, "qp_solves": int(qps[0]), "thin_cells": int(qps[1]),
             "seconds_batches": time.perf_counter() - t0,
             "checkpoint": str(ck.dir) if ck is not None else None}
    return patterns, points, count, stop, stats


def split_domain(domain, pieces: int):
    """Cut a box-shaped domain (a Box, or an L2 / L-inf ball through its bounding box) into at
    least ``pieces`` boxes by bisecting the longest side; None for other domains. Pieces that
    miss a ball are dropped."""
    from ..domains import Ball, Box, DomainError

    if isinstance(domain, Box):
        make = Box
    elif isinstance(domain, Ball) and domain.norm in (2, np.inf):
        def make(lo, hi):
            clip = Box(lo, hi) if domain.clip is None else Box(np.maximum(lo, domain.clip.lo),
                                                               np.minimum(hi, domain.clip.hi))
            return Ball(domain.center, domain.radius, norm=domain.norm, clip=clip)
    else:
        return None
    boxes = [domain.bounding_box()]
    while len(boxes) < pieces:
        lo, hi = boxes.pop(0)
        k = int(np.argmax(hi - lo))
        mid = (lo[k] + hi[k]) / 2
        hi1, lo2 = hi.copy(), lo.copy()
        hi1[k], lo2[k] = mid, mid
        boxes += [(lo, hi1), (lo2, hi)]
    out = []
    for lo, hi in boxes:
        try:
            out.append(make(lo, hi))
        except DomainError:  # a piece of the ball's box that misses the ball
            continue
    return out


def _count_piece(task):
    """One piece, start to finish, in one process: packed patterns (for the merge), points.
    ``deadline``: the count's (past it a piece stops, with the batches it finished)."""
    from .subdivision import plan as make_plan

    net, piece, batch_cells, kernel, checkpoint, keep, deadline = task
    try:
        p = make_plan(net, piece, batch_cells=batch_cells, kernel=kernel, deadline=deadline)
    except TimeLimitReached:  # stopped in the piece's first layer: nothing of it counted
        return np.zeros((0, (net.n_hidden + 7) // 8), np.uint8), (np.zeros((0, net.input_dim)) if keep else None), \
            "time_limit", 0, 0
    pats, pts, count, stop, st = run_plan(p, checkpoint=checkpoint, keep=True, time_limit=deadline)
    return np.packbits(pats, axis=1), (pts if keep else None), stop, st["qp_solves"], st["batches"]


def run_pieces(net, pieces, *, workers=1, scheduler=None, checkpoint=None, keep=True, time_limit=None,
               batch_cells=None, kernel="auto", progress=None):
    """Count every piece (each with its own first layer: parallel, and memory bounded by the
    piece), then merge by activation pattern: a convex region is identified by its pattern, so
    the union of the pieces' patterns is the domain's set of regions.

    Returns ``(patterns, points, count, stop_reason, stats)`` like :func:`run_plan`.
    ``time_limit`` (seconds or a :class:`~exactregions.deadline.Deadline`) is one deadline for
    all the pieces, kept inside each (also in worker processes).
    """
    t0 = time.perf_counter()
    deadline = Deadline.of(time_limit)
    tasks = [(net, piece, batch_cells, kernel, None if checkpoint is None else os.path.join(checkpoint, f"piece_{k:03d}"),
              keep, deadline) for k, piece in enumerate(pieces)]
    executor = client = None
    try:
        if scheduler is not None:
            from dask.distributed import Client
            client = Client(scheduler)
            results = client.gather(client.map(_count_piece, tasks, pure=False))
        elif workers > 1:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor
            method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
            executor = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context(method))
            results = []
            for r in executor.map(_count_piece, tasks):
                results.append(r)
                if progress is not None:
                    progress(sum(len(x[0]) for x in results), len(tasks) - len(results), time.perf_counter() - t0)
        else:
            results = [_count_piece(t) for t in tasks]
    finally:
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        if client is not None:
            client.close()
    packed = np.concatenate([r[0] for r in results])
    rows = np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first = np.unique(rows, return_index=True)
    first.sort()
    patterns = _unpack(packed[first], net.n_hidden)
    points = np.concatenate([r[1] for r in results])[first] if keep else np.zeros((0, net.input_dim))
    stops = [r[2] for r in results if r[2] is not None]
    stats = {"pieces": len(pieces), "batches": sum(r[4] for r in results), "qp_solves": sum(r[3] for r in results),
             "regions_before_merge": int(len(packed)), "seconds_batches": time.perf_counter() - t0,
             "checkpoint": checkpoint}
    return (patterns if keep else np.zeros((0, net.n_hidden), bool)), points, int(len(first)), \
        (stops[0] if stops else None), stats

"""Many exact counts, one tidy table: every (model, centre, radius) of a study, counted in
parallel, on a Dask cluster or during training, into a table that survives a killed run.

The questions asked of linear regions are about populations: do balls around training points
hold more regions than balls around random points (Zhu, Lin & Tang, arXiv:2007.06803), how does
the local complexity around data move through training (Humayun, Balestriero & Baraniuk,
"Training dynamics of deep network linear regions", 2023; "Deep networks always grok", 2024).
:func:`sweep` counts the cross product of models (checkpoints), centres and radii and returns
one row per count (long form, one column per quantity: the layout pandas and seaborn group
and plot directly); :class:`RegionTracker` appends the same rows from inside a training loop.

Every row is one :func:`~exactregions.engines.count_regions` call on a
:class:`~exactregions.domains.Ball`: the counts are the library's exact counts, a count stopped
by its time limit is a row marked ``lower_bound``, and an error (a centre of the wrong
dimension, a model file that does not load) is a row with the error's message while the sweep
goes on.

The columns (:func:`columns`): ``model`` (name: file stem or given name), ``step`` (from the
checkpoint name or given; NaN when unknown), ``point`` (row of ``centres``), ``group``
(label; "" when none), ``radius``, ``norm`` ("2", "1", "inf"), ``domain`` ("ball"),
``activation_regions``, ``complete``, ``lower_bound``, ``stop_reason``, ``seconds`` (in the
count), ``engine``, ``reduced_dim`` (the dimension counted in after the exact reduction),
``boundary_distance`` (from the centre to its region's boundary:
:meth:`~exactregions.network.Network.boundary_distance`), ``linear_regions`` (with
``linear=True``), ``bound_<method>`` (each of ``bounds=``), ``error`` (one line, or None) and
``fingerprint`` (the model's and centre's contents and the settings, hashed: what makes a
stored row the same row).

The table file (``out=``, ``.parquet`` or ``.csv``) is rewritten atomically (a temporary file
renamed over it) as rows finish, at most every ``save_every`` seconds and never more than 5% of
the time, so at any moment, a killed process included, it is a readable table holding every
row it has been given exactly once; running the same sweep again counts only the rows it
lacks.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import re
import sys
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from .domains import Ball
from .engines import count_regions
from .network import Network, as_array, as_network

__all__ = ["sweep", "read_table", "columns", "RegionTracker", "MODEL_SUFFIXES"]

#: files a folder of checkpoints is read for
MODEL_SUFFIXES = (".npz", ".onnx", ".pt", ".pth")

_KEY = ("model", "step", "point", "radius", "norm")
_BASE = [("model", "string"), ("step", "int64"), ("point", "int64"), ("group", "string"), ("radius", "float64"),
         ("norm", "string"), ("domain", "string"), ("activation_regions", "int64"), ("complete", "bool_"),
         ("lower_bound", "bool_"), ("stop_reason", "string"), ("seconds", "float64"), ("engine", "string"),
         ("reduced_dim", "int64"), ("boundary_distance", "float64")]
_NORMS = {"2": "2", "1": "1", "inf": "inf", "linf": "inf", "2.0": "2", "1.0": "1"}
_STEP = re.compile(r"(?<![a-z])(?:epoch|step|iteration|iter|it|ckpt|checkpoint)[-_=]?(\d+)", re.IGNORECASE)
#: models loaded from files kept in a process at once (the sweep goes model by model)
KEEP_LOADED = 4
_LOADED: list = []

#: counts done in this process (read on Dask workers by the tests: the counting is done there)
STATS = {"counts": 0}


def columns(bounds=(), linear: bool = False) -> list[str]:
    """The columns of a sweep table, in order.

    Parameters
    ----------
    bounds : sequence of str
        The bound methods of the sweep (a column ``bound_<method>`` each).
    linear : bool
        Whether the sweep counts linear regions (a column ``linear_regions``).

    Returns
    -------
    list of str
        The column names, the key and the counts first, ``error`` and ``fingerprint`` last.

    Examples
    --------
    >>> columns(["local"])[-4:]
    ['boundary_distance', 'bound_local', 'error', 'fingerprint']
    """
    return [n for n, _ in _schema_items(tuple(bounds), linear)]


def _schema_items(bounds, linear):
    items = list(_BASE)
    if linear:
        items.append(("linear_regions", "int64"))
    items += [(f"bound_{m}", "float64") for m in bounds]
    return items + [("error", "string"), ("fingerprint", "string")]


# --------------------------------------------------------------------------- inputs


def _norm_label(norm) -> str:
    """``"2"``, ``"1"`` or ``"inf"`` for a ball norm given as a number or a string."""
    if isinstance(norm, (int, float, np.integer, np.floating)) and not isinstance(norm, bool):
        if math.isinf(norm):
            return "inf"
        norm = f"{float(norm):g}"
    label = _NORMS.get(str(norm).strip().lower())
    if label is None:
        raise ValueError(f"ball norm must be 2, 1 or inf, got {norm!r}")
    return label


def step_of(name: str) -> int | None:
    """The training step in a checkpoint's name.

    Parameters
    ----------
    name : str
        A file stem or model name.

    Returns
    -------
    int or None
        The number after ``epoch``, ``step``, ``iter``, ``it`` or ``ckpt`` (``model_epoch12``,
        ``step_500``, ``ckpt-3``), else the name's trailing digits, else None.

    Examples
    --------
    >>> [step_of(n) for n in ("run_epoch12", "step_500", "model7", "final")]
    [12, 500, 7, None]
    """
    m = _STEP.search(name)
    if m is None:
        m = re.search(r"(\d+)$", name)
    return int(m.group(1)) if m else None


@dataclass
class _Model:
    """One model of a sweep: where it comes from (a file path, loaded in the worker, or a
    :class:`Network`), its name, step and content fingerprint. The loaded network (or the
    loading error) is cached in the process that uses it and never pickled."""

    name: str
    step: int | None
    source: object
    fp: str
    _net: object = field(default=None, repr=False, compare=False)

    def __getstate__(self):  # (what this process loaded and computed stays here)
        state = {k: v for k, v in self.__dict__.items() if k != "_distances"}
        return {**state, "_net": self.source if isinstance(self.source, Network) else None}

    def network(self, opts):
        if self._net is None:
            if not isinstance(self.source, Network):
                _LOADED.append(self)
                while len(_LOADED) > KEEP_LOADED:  # the least recently loaded file goes
                    old = _LOADED.pop(0)
                    old._net = None
                    old.__dict__.pop("_distances", None)
            try:
                if isinstance(self.source, Network):
                    self._net = self.source
                else:
                    from .io import load_model

                    kw = {"input_shape": opts.get("input_shape")}
                    if opts.get("factory") is not None:
                        kw["factory"] = opts["factory"]
                    if opts.get("trust"):
                        kw["trust"] = True
                    self._net = load_model(self.source, **kw)
            except Exception as e:  # a model that does not load: every row of it says why
                self._net = e
        if isinstance(self._net, Exception):
            raise self._net
        return self._net


def _file_hash(path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]


def _network_fingerprint(net: Network) -> str:
    """A short hash of a network's parameters (weights, biases, slopes, pass-through units,
    max-pool tree): equal for equal networks, different when any parameter differs."""
    h = hashlib.sha1()
    for w in list(net.weights) + list(net.biases):
        if hasattr(w, "tocsr"):
            w = w.tocsr()
            for a in (w.data, w.indices, w.indptr, np.array(w.shape)):
                h.update(np.ascontiguousarray(a).tobytes())
        else:
            h.update(np.ascontiguousarray(w, dtype=np.float64).tobytes())
        h.update(b"|")
    h.update(repr([float(s) for s in net.slopes]).encode())
    for lin in net.linear:
        h.update(np.packbits(lin).tobytes())
    h.update(np.ascontiguousarray(net.pool_tree).tobytes())
    return h.hexdigest()[:12]


def _is_torch(obj, names) -> bool:
    return any(k.__module__.startswith("torch.") and k.__name__ in names for k in type(obj).__mro__)


def _models(models, *, input_shape=None, names=None, steps=None) -> list[_Model]:
    """The sweep's models, checked (paths exist, names unique) and fingerprinted; a folder is
    its checkpoint files ordered by step (then name)."""
    if isinstance(models, (str, os.PathLike)) and os.path.isdir(models):
        folder = os.fspath(models)
        files = [f for f in os.listdir(folder) if f.lower().endswith(MODEL_SUFFIXES) and not f.startswith(".")]
        if not files:
            raise ValueError(f"no model files ({', '.join(MODEL_SUFFIXES)}) in the folder {folder}")
        files.sort(key=lambda f: (step_of(os.path.splitext(f)[0]) is None, step_of(os.path.splitext(f)[0]) or 0, f))
        items = [(os.path.splitext(f)[0], os.path.join(folder, f)) for f in files]
    elif isinstance(models, dict):
        items = [(str(k), v) for k, v in models.items()]
    elif isinstance(models, (list, tuple)):
        items = [(None, m) for m in models]
    else:
        items = [(None, models)]
    if names is not None:
        names = list(names)
        if len(names) != len(items):
            raise ValueError(f"names= has {len(names)} entries for {len(items)} models")
        items = [(str(n), m) for n, (_, m) in zip(names, items)]
    if steps is not None:
        steps = list(steps)
        if len(steps) != len(items):
            raise ValueError(f"steps= has {len(steps)} entries for {len(items)} models")
    out = []
    for i, (name, m) in enumerate(items):
        named = name is not None or isinstance(m, (str, os.PathLike))
        if isinstance(m, (str, os.PathLike)):
            path = os.fspath(m)
            if os.path.isdir(path):
                raise ValueError(f"a folder of checkpoints is given alone, not in a list: {path}")
            if not os.path.exists(path):
                raise ValueError(f"model file not found: {path}")
            name = name or os.path.splitext(os.path.basename(path))[0]
            source, fp = path, _file_hash(path)
        else:
            try:
                net = as_network(m, input_shape)
            except TypeError as e:
                raise ValueError(str(e)) from None
            name = name or ("model" if len(items) == 1 else f"model{i}")
            source, fp = net, _network_fingerprint(net)
        step = steps[i] if steps is not None else step_of(name) if named else None
        out.append(_Model(name, None if step is None else int(step), source, fp))
    seen = set()
    for m in out:
        if (m.name, m.step) in seen:
            raise ValueError(f"two models are named '{m.name}'" + ("" if m.step is None else f" at step {m.step}")
                             + ": give names= or a dict of name: model")
        seen.add((m.name, m.step))
    return out


def _label(v) -> str:
    if hasattr(v, "item") and getattr(v, "ndim", 0) == 0:
        v = v.item()
    return str(v)


def _labels(y) -> np.ndarray:
    """Labels as a flat numpy array of their own dtype (a tensor's integers stay integers)."""
    if hasattr(y, "detach") and hasattr(y, "cpu"):
        y = y.detach().cpu().numpy()
    y = np.asarray(y, dtype=None if isinstance(y, np.ndarray) else object)
    return y.reshape(-1)


def _centres(centres, groups=None) -> tuple[np.ndarray, list[str]]:
    """Centres as an (n, d) float64 array and one group label per centre: from an array, a
    torch tensor, or a torch ``Dataset``/``DataLoader`` whose items are ``(x, label)`` (the
    labels become the groups unless ``groups`` is given); images are flattened."""
    labels = None
    if _is_torch(centres, ("DataLoader",)):
        xs, labels = [], []
        for batch in centres:
            x, y = (batch[0], batch[1]) if isinstance(batch, (tuple, list)) and len(batch) > 1 else (batch, None)
            x = as_array(x)
            xs.append(x.reshape(len(x), -1))
            labels += [_label(v) for v in _labels(y)] if y is not None else [""] * len(x)
        X = np.vstack(xs) if xs else np.zeros((0, 0))
    elif _is_torch(centres, ("Dataset",)):
        xs, labels = [], []
        for i in range(len(centres)):
            item = centres[i]
            x, y = (item[0], item[1]) if isinstance(item, (tuple, list)) and len(item) > 1 else (item, None)
            xs.append(as_array(x).reshape(-1))
            labels.append("" if y is None else _label(y))
        X = np.vstack(xs) if xs else np.zeros((0, 0))
    else:
        try:
            X = as_array(centres)
        except (TypeError, ValueError) as e:
            raise ValueError(f"centres must be an (n, d) array, a tensor or a torch Dataset/DataLoader ({e})") from None
        if X.ndim == 1:
            X = X[None, :]
        elif X.ndim > 2:
            X = X.reshape(len(X), -1)
    if X.size == 0:
        raise ValueError("centres is empty: give at least one centre")
    if not np.all(np.isfinite(X)):
        raise ValueError("centres contain NaN or infinite values")
    if groups is not None:
        g = _labels(groups)
        if len(g) != len(X):
            raise ValueError(f"groups has {len(g)} labels for {len(X)} centres")
        labels = [_label(v) for v in g]
    return np.ascontiguousarray(X, dtype=np.float64), labels or [""] * len(X)


def _radii(radii) -> list[float]:
    r = np.atleast_1d(np.asarray(radii, dtype=np.float64)).reshape(-1)
    if r.size == 0:
        raise ValueError("radii is empty: give at least one radius")
    if not np.all(np.isfinite(r)) or np.any(r <= 0):
        raise ValueError(f"radii must be positive finite numbers, got {r.tolist()}")
    return [float(v) for v in r]


def _bound_kind(method: str) -> str:
    from .bounds.global_bounds import GLOBAL_METHODS
    from .bounds.local import LOCAL_METHODS

    if method in LOCAL_METHODS or method == "hybrid":
        return "local"
    if method in GLOBAL_METHODS:
        return "global"
    raise ValueError(f"unknown bound '{method}': choose from {', '.join([*LOCAL_METHODS, 'hybrid', *GLOBAL_METHODS])}")


def _up(value) -> float:
    """An upper bound as float64, rounded up (never below the bound: a huge integer bound does
    not fit in a float exactly)."""
    f = float(value)
    if math.isfinite(f) and isinstance(value, int) and int(f) < value:
        f = math.nextafter(f, math.inf)
    return f


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}".rstrip(": ")


# --------------------------------------------------------------------------- counting (in the workers)


@dataclass
class _Study:
    """What every worker needs once: the centres, their groups and the count's settings."""

    X: np.ndarray
    groups: list
    norm: str
    opts: dict
    settings_fp: str
    centre_fps: list


def _make_study(X, groups, norm, opts) -> _Study:
    keys = ("engine", "time_limit", "max_regions", "linear", "bounds", "boundary_distance", "input_shape", "count")
    settings = repr({k: opts.get(k) for k in keys}).encode()
    # a centre's fingerprint holds its group: the same points labelled otherwise are another sweep
    cfps = [hashlib.sha1(np.ascontiguousarray(x).tobytes() + g.encode()).hexdigest()[:12] for x, g in zip(X, groups)]
    return _Study(X, groups, norm, opts, hashlib.sha1(settings).hexdigest()[:8], cfps)


def _fingerprint(study, model, p) -> str:
    return f"{model.fp}:{study.centre_fps[p]}:{study.settings_fp}"


def _empty_row(study, model, p, r) -> dict:
    row = {"model": model.name, "step": model.step, "point": p, "group": study.groups[p], "radius": r,
           "norm": study.norm, "domain": "ball", "activation_regions": None, "complete": False, "lower_bound": False,
           "stop_reason": None, "seconds": None, "engine": None, "reduced_dim": None, "boundary_distance": None}
    if study.opts["linear"]:
        row["linear_regions"] = None
    for m in study.opts["bounds"]:
        row[f"bound_{m}"] = None
    row["error"] = None
    row["fingerprint"] = _fingerprint(study, model, p)
    return row


def _count_row(study, model, p, r, distance=None) -> dict:
    """One row: the count of ``model`` in the ball of radius ``r`` around centre ``p``, its
    boundary distance and bounds; an exception becomes the row's ``error``."""
    opts = study.opts
    row = _empty_row(study, model, p, r)
    t = time.perf_counter()
    try:
        net = model.network(opts)
        ball = Ball(study.X[p], r, norm=study.norm)
        STATS["counts"] += 1
        res = count_regions(net, ball, engine=opts["engine"], time_limit=opts["time_limit"],
                            max_regions=opts["max_regions"], keep_regions=opts["linear"], **opts["count"])
    except Exception as e:
        row.update(error=_one_line(e), stop_reason="error", seconds=time.perf_counter() - t)
        return row
    if res.stop_reason == "interrupted":  # not a row: the next run counts it again
        raise KeyboardInterrupt
    red = res.stats.get("reduction")
    row.update(activation_regions=int(res.activation_regions), complete=bool(res.complete),
               lower_bound=not res.complete, stop_reason=res.stop_reason, seconds=float(res.stats["seconds"]),
               engine=res.stats.get("engine", "bfs"), reduced_dim=int(red["reduced_dim"]) if red else net.input_dim)
    if opts["linear"]:
        row["linear_regions"] = None if res.linear_regions is None else int(res.linear_regions)
    try:
        if opts["boundary_distance"]:
            row["boundary_distance"] = distance
        for m in opts["bounds"]:
            if _bound_kind(m) == "local":
                from .bounds import local_bound

                row[f"bound_{m}"] = _up(local_bound(net, ball, m).value)
            else:
                from .bounds import global_bound

                row[f"bound_{m}"] = _up(global_bound(net, m).value)
    except Exception as e:  # the count stands; the error says which extra failed
        row["error"] = _one_line(e)
    return row


#: boundary distances are computed for this many consecutive centres at once, the same blocks in
#: every process (a vectorised pass rounds with the block's shape: fixed blocks give the same
#: digits however the rows are batched)
DISTANCE_BLOCK = 64


def _distances(study, models, tasks) -> dict:
    """Boundary distances of a batch's (model, point) pairs, computed by fixed blocks of
    :data:`DISTANCE_BLOCK` centres (kept per model in this process)."""
    if not study.opts["boundary_distance"]:
        return {}
    out = {}
    for _, m, p, _ in tasks:
        model, block = models[m], p // DISTANCE_BLOCK
        cache = model.__dict__.setdefault("_distances", {})
        if block not in cache:
            while len(cache) >= 8:  # (batches go point by point: the last blocks are the ones read)
                cache.pop(next(iter(cache)))
            try:
                net = model.network(study.opts)
                X = study.X[block * DISTANCE_BLOCK:(block + 1) * DISTANCE_BLOCK]
                cache[block] = net.boundary_distance(X) if X.shape[1] == net.input_dim else None
            except Exception:  # (the row's own count reports the error)
                cache[block] = None
        if cache[block] is not None:
            out[m, p] = float(cache[block][p - block * DISTANCE_BLOCK])
    return out


def _run_batch(study, models, tasks, budget=None):
    """Count a batch of tasks ``(id, model, point, radius)``; with a ``budget`` (seconds) stop
    after the first count that passes it and hand the rest back, so one slow count does not hold
    the counts queued behind it. Returns ``[(id, row, wall seconds)]`` and the tasks left."""
    t0 = time.perf_counter()
    dist = _distances(study, models, tasks)
    done = []
    for i, (tid, m, p, r) in enumerate(tasks):
        t = time.perf_counter()
        done.append((tid, _count_row(study, models[m], p, r, dist.get((m, p))), time.perf_counter() - t))
        if budget is not None and time.perf_counter() - t0 > budget:
            return done, tasks[i + 1:]
    return done, []


_WORKER = {}  # the study and models of this worker process (set once by _init_worker)


def _init_worker(study, models, quiet_interrupt=True):
    import signal

    if quiet_interrupt:  # the parent handles Ctrl-C, keeps the finished rows and stops the workers
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER["study"], _WORKER["models"] = study, models


def _pool_batch(tasks, budget):
    return _run_batch(_WORKER["study"], _WORKER["models"], tasks, budget)


def _dask_batch(job, tasks, budget):
    study, models = job
    return _run_batch(study, models, tasks, budget)


# --------------------------------------------------------------------------- scheduling


class _Batcher:
    """Batches of tasks of bounded estimated cost: each (model, radius) keeps the mean wall time
    of its finished counts; a batch takes tasks until its estimate reaches ``target`` seconds
    (less near the end, so the last batches spread over the workers). Tasks with no estimate
    yet go out in probes of 1, 2, 4, ... tasks."""

    def __init__(self, tasks, target, slots, max_batch=512):
        self.pending = deque(tasks)
        self.target, self.slots, self.max_batch = target, slots, max_batch
        self.sums = {}
        self.probe = 1

    def observe(self, task, wall):
        s = self.sums.setdefault((task[1], task[3]), [0.0, 0])
        s[0] += wall
        s[1] += 1

    def estimate(self, task):
        s = self.sums.get((task[1], task[3]))
        if s:
            return s[0] / s[1]
        model = [v for (m, _), v in self.sums.items() if m == task[1]] or list(self.sums.values())
        return sum(v[0] for v in model) / sum(v[1] for v in model) if model else None

    def give_back(self, tasks):
        self.pending.extendleft(reversed(tasks))

    def take(self):
        first = self.pending.popleft()
        batch, cost = [first], self.estimate(first)
        if cost is None:
            while self.pending and len(batch) < self.probe:
                batch.append(self.pending.popleft())
            self.probe *= 2
            return batch
        ahead = itertools.islice(self.pending, self.max_batch * self.slots)
        left = cost + sum(self.estimate(t) or cost for t in ahead)
        target = max(min(self.target, left / (2 * self.slots)), 1e-3)
        while self.pending and len(batch) < self.max_batch:
            e = self.estimate(self.pending[0])
            if e is None or cost + e > target:
                break
            cost += e
            batch.append(self.pending.popleft())
        return batch


def _mp_context(name):
    import multiprocessing as mp

    if name is None:
        name = "fork" if "fork" in mp.get_all_start_methods() and sys.platform != "darwin" else "spawn"
    return mp.get_context(name)


def _run_pool(study, models, tasks, workers, on_rows, mp_context=None, target=0.2):
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    batcher, index = _Batcher(tasks, target, workers), {t[0]: t for t in tasks}
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_mp_context(mp_context), initializer=_init_worker,
                               initargs=(study, models))
    inflight = {}
    try:
        while batcher.pending or inflight:
            while batcher.pending and len(inflight) < 2 * workers:
                batch = batcher.take()
                inflight[pool.submit(_pool_batch, batch, max(5 * target, 1.0))] = batch
            finished, _ = wait(inflight, return_when=FIRST_COMPLETED)
            for fut in finished:
                inflight.pop(fut)
                try:
                    done, left = fut.result()
                except BrokenProcessPool:
                    raise RuntimeError("a worker process died (killed for memory, or a crash in compiled code): "
                                       "the rows finished so far are kept; run the sweep again to count the rest") \
                        from None
                for tid, _, wall in done:
                    batcher.observe(index[tid], wall)
                batcher.give_back(left)
                on_rows(done)
    except BaseException:
        for p in list(getattr(pool, "_processes", {}).values()):  # a count may run for hours: stop it
            p.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _run_dask(study, models, tasks, scheduler, on_rows, target=1.0):
    try:
        from dask.distributed import Client, wait
    except ImportError:
        raise ValueError("scheduler= needs dask.distributed: pip install 'exactregions[dask]'") from None
    try:
        client = Client(scheduler, timeout="20s") if isinstance(scheduler, str) else scheduler
    except (OSError, TimeoutError) as e:
        raise ValueError(f"cannot reach the Dask scheduler at {scheduler} ({_one_line(e)})") from None
    inflight = {}
    try:
        slots = max(1, sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values()))
        # the study and models travel once to every worker; the tasks carry indices only
        job = client.scatter((study, models), broadcast=True, hash=False)
        batcher, index = _Batcher(tasks, target, slots), {t[0]: t for t in tasks}
        while batcher.pending or inflight:
            while batcher.pending and len(inflight) < 2 * slots:
                batch = batcher.take()
                inflight[client.submit(_dask_batch, job, batch, max(5 * target, 2.0), pure=False)] = batch
            for fut in wait(list(inflight), return_when="FIRST_COMPLETED").done:
                inflight.pop(fut)
                done, left = fut.result()
                for tid, _, wall in done:
                    batcher.observe(index[tid], wall)
                batcher.give_back(left)
                on_rows(done)
    finally:
        for fut in inflight:
            fut.cancel()
        if isinstance(scheduler, str):
            client.close()


# --------------------------------------------------------------------------- the table file


def _arrow_schema(items):
    import pyarrow as pa

    return pa.schema([(n, getattr(pa, t)()) for n, t in items])


def _format(path) -> str:
    low = os.fspath(path).lower()
    if low.endswith(".parquet"):
        return "parquet"
    if low.endswith(".csv"):
        return "csv"
    raise ValueError(f"the table file must end in .parquet or .csv, got '{os.fspath(path)}'")


def _read_arrow(path, schema=None):
    fmt = _format(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path)
    import pyarrow.csv as pc

    opts = pc.ConvertOptions(column_types=schema, strings_can_be_null=True, quoted_strings_can_be_null=False) \
        if schema is not None else pc.ConvertOptions(strings_can_be_null=True, quoted_strings_can_be_null=False)
    return pc.read_csv(path, convert_options=opts)


def read_table(path):
    """Read a sweep table file.

    Parameters
    ----------
    path : str or path-like
        A ``.parquet`` or ``.csv`` file written by :func:`sweep` or :class:`RegionTracker` (at
        any moment: the file is always a whole table).

    Returns
    -------
    pandas.DataFrame
        The rows with the dtypes :func:`sweep` returns (a CSV's strings stay strings: a group
        "0" is not read as a number).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from exactregions import random_network
    >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> df = sweep(random_network(2, [4], 0), np.zeros((1, 2)), [0.5], out=path, progress=False)
    >>> cols = ["model", "radius", "activation_regions"]
    >>> read_table(path)[cols].equals(df[cols])
    True
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"table file not found: {path}")
    head = _read_arrow(path) if _format(path) == "parquet" else None
    if head is None:  # a CSV: read its header, then the columns with their types
        with open(path, newline="") as f:
            names = [n.strip('"') for n in f.readline().strip().split(",")]
        known = dict(_schema_items((), True))
        items = [(n, known.get(n, "float64" if n.startswith("bound_") else "string")) for n in names]
        head = _read_arrow(path, _arrow_schema(items))
    return _to_frame(head)


def _to_frame(table):
    return table.to_pandas()


class _Table:
    """The rows of a sweep: those of the table file and those added since, written back
    atomically (a temporary file, fsynced, renamed over the file) at most every ``save_every``
    seconds and never for more than 5% of the time (a rewrite costs the whole table). Rows are
    held as arrow record batches, a few hundred bytes each (a Python dict per row took 3 KB)."""

    #: rows gathered before they become one arrow record batch
    BATCH = 1024

    def __init__(self, path, items, save_every=1.0):
        self.path = None if path is None else os.fspath(path)
        self.items = items
        self.names = [n for n, _ in items]
        self.save_every = save_every
        self.old = None  # the file's rows as an arrow table
        self.batches, self.positions = [], []  # the rows added, and the caller's position of each
        self.new, self.new_pos = [], []
        self.unsaved = 0
        self.last, self.write_s = time.monotonic(), 0.0
        if self.path is not None:
            _format(self.path)
            folder = os.path.dirname(os.path.abspath(self.path))
            if not os.path.isdir(folder):
                raise ValueError(f"the folder of the table file does not exist: {folder}")
            if os.path.exists(self.path):
                self._read()

    def schema(self):
        return _arrow_schema(self.items)

    def _read(self):
        try:
            t = _read_arrow(self.path, self.schema() if _format(self.path) == "csv" else None)
        except Exception as e:
            raise ValueError(f"{self.path} exists but is not a readable table ({_one_line(e)}): "
                             "remove it or write to another file") from None
        if t.column_names != self.names:
            extra = sorted(set(t.column_names) - set(self.names))
            missing = sorted(set(self.names) - set(t.column_names))
            raise ValueError(f"{self.path} holds a table with other columns (" + "; ".join(
                s for s in (f"not asked now: {', '.join(extra)}" if extra else "",
                            f"missing: {', '.join(missing)}" if missing else "") if s)
                + "): it was written by a sweep with other settings; write to another file or remove it")
        self.old = t.cast(self.schema())

    def index(self) -> dict:
        """``{key: (fingerprint, row of the file)}`` of the file's rows (made when asked: a sweep
        needs it while it plans, not while it counts)."""
        if self.old is None:
            return {}
        cols = self.old.select([*_KEY, "fingerprint"]).to_pydict()
        return {(m, s, p, r, n): (fp, i) for i, (m, s, p, r, n, fp)
                in enumerate(zip(*(cols[c] for c in (*_KEY, "fingerprint"))))}

    def add(self, row, position=-1):
        self.new.append(row)
        self.new_pos.append(position)
        self.unsaved += 1
        if len(self.new) >= self.BATCH:
            self._convert()

    def _convert(self):
        if self.new:
            import pyarrow as pa

            self.batches.append(pa.RecordBatch.from_pylist(self.new, schema=self.schema()))
            self.positions.append(np.array(self.new_pos, dtype=np.int64))
            self.new, self.new_pos = [], []

    def added(self):
        """The rows added, as an arrow table, and their positions."""
        import pyarrow as pa

        self._convert()
        pos = np.concatenate(self.positions) if self.positions else np.zeros(0, np.int64)
        return pa.Table.from_batches(self.batches, schema=self.schema()), pos

    def whole(self):
        """The file's rows and the rows added, as one arrow table."""
        import pyarrow as pa

        new, _ = self.added()
        return pa.concat_tables([self.old, new]) if self.old is not None else new

    def maybe_flush(self):
        now = time.monotonic()
        if self.unsaved and now - self.last >= max(self.save_every, 20 * self.write_s):
            self.flush()

    def flush(self):
        if self.path is None or not self.unsaved:
            return
        t = time.monotonic()
        self._convert()
        folder, name = os.path.split(os.path.abspath(self.path))
        tmp = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as f:
                # batch by batch (a row group each): the memory a rewrite takes stays that of one
                # batch, not of the table (a whole-table write grew the process by 1.5 kB a row)
                if _format(self.path) == "parquet":
                    import pyarrow.parquet as pq

                    writer = pq.ParquetWriter(f, self.schema())
                else:
                    import pyarrow.csv as pc

                    writer = pc.CSVWriter(f, self.schema())
                with writer:
                    for batch in (self.old.to_batches(max_chunksize=self.BATCH) if self.old is not None else []):
                        writer.write_batch(batch)
                    for batch in self.batches:
                        writer.write_batch(batch)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        self.unsaved = 0
        self.last = time.monotonic()
        self.write_s = self.last - t


def _key(row):
    step = row["step"]
    step = None if step is None or (isinstance(step, float) and math.isnan(step)) else int(step)
    return (row["model"], step, int(row["point"]), float(row["radius"]), row["norm"])


# --------------------------------------------------------------------------- the sweep


def _options(norm, bounds, linear, time_limit, engine, max_regions, input_shape, factory, trust, boundary_distance,
             count_kwargs):
    norm = _norm_label(norm)
    bounds = tuple(bounds or ())
    for m in bounds:
        _bound_kind(m)
    if len(set(bounds)) != len(bounds):
        raise ValueError(f"bounds= names a method twice: {list(bounds)}")
    from .engines import ENGINES

    if engine != "auto" and engine not in ENGINES:
        raise ValueError(f"unknown engine '{engine}': choose from {', '.join(ENGINES)}, auto")
    if linear:
        if engine not in ("auto", "bfs"):
            raise ValueError(f"linear regions come from the BFS engine: engine='{engine}' gives none; "
                             "use 'auto' or 'bfs'")
        engine = "bfs"
    if time_limit is not None and not time_limit > 0:
        raise ValueError(f"time_limit must be positive, got {time_limit}")
    if max_regions is not None and not max_regions > 0:
        raise ValueError(f"max_regions must be positive, got {max_regions}")
    reserved = {"keep_regions", "progress", "checkpoint", "workers", "scheduler", "decision", "polygons"}
    if reserved & set(count_kwargs):
        raise ValueError(f"a sweep sets {', '.join(sorted(reserved & set(count_kwargs)))} itself")
    shape = None if input_shape is None else tuple(int(v) for v in input_shape)
    return norm, {"engine": engine, "time_limit": time_limit, "max_regions": max_regions, "linear": bool(linear),
                  "bounds": bounds, "boundary_distance": bool(boundary_distance), "input_shape": shape,
                  "factory": factory, "trust": bool(trust), "count": dict(count_kwargs)}


class _Progress:
    """One tqdm bar on stderr: counts done, rate, time left (tqdm imported only when shown)."""

    def __init__(self, enabled, total, initial, desc="sweep"):
        self.bar = None
        if enabled and total > initial:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=desc, unit="count", file=sys.stderr,
                            mininterval=0.5, smoothing=0.1, dynamic_ncols=True)

    def update(self, n):
        if self.bar is not None:
            self.bar.update(n)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _plan(models, centres, radii, *, norm=2, groups=None, bounds=None, linear=False, time_limit=None, out=None,
          engine="auto", input_shape=None, factory=None, trust=False, boundary_distance=True, max_regions=None,
          names=None, steps=None, save_every=1.0, **count_kwargs):
    """Everything checked before a count runs: (study, models, tasks, table)."""
    norm, opts = _options(norm, bounds, linear, time_limit, engine, max_regions, input_shape, factory, trust,
                          boundary_distance, count_kwargs)
    X, labels = _centres(centres, groups)
    radii = _radii(radii)
    ms = _models(models, input_shape=opts["input_shape"], names=names, steps=steps)
    study = _make_study(X, labels, norm, opts)
    table = _Table(out, _schema_items(opts["bounds"], opts["linear"]), save_every)
    index = table.index()
    tasks, kept, position = [], ([], []), 0
    for mi, m in enumerate(ms):
        for p in range(len(X)):
            fp = _fingerprint(study, m, p)
            for r in radii:
                key = (m.name, m.step, p, r, norm)
                old = index.get(key)
                if old is not None and old[0] != fp:
                    raise ValueError(_refusal(table.path, key, old[0], fp))
                if old is None:
                    tasks.append((position, mi, p, r))
                else:
                    kept[0].append(old[1])
                    kept[1].append(position)
                position += 1
    return study, ms, tasks, table, kept, position


def _refusal(path, key, old, new) -> str:
    what = [w for w, a, b in zip(("the model", "the centre or its group", "the settings"), old.split(":"),
                                 new.split(":")) if a != b]
    step = "" if key[1] is None else f" step {key[1]}"
    return (f"{path} holds a different sweep: its row for model '{key[0]}'{step}, point {key[2]}, radius {key[3]:g} "
            f"was made with other {' and '.join(w.split(' ', 1)[1] for w in what) or 'inputs'}; "
            "write to another file or remove it")


def _execute(study, ms, tasks, table, *, workers=1, scheduler=None, progress=True, mp_context=None, total=None):
    """Run the tasks; rows go into ``table`` as they finish. Returns True if interrupted."""
    bar = _Progress(progress, total if total is not None else len(tasks), (total or len(tasks)) - len(tasks))

    def on_rows(done):
        for position, row, _ in done:
            table.add(row, position)
        bar.update(len(done))
        table.maybe_flush()

    interrupted = False
    try:
        if not tasks:
            pass
        elif scheduler is not None:
            _run_dask(study, ms, tasks, scheduler, on_rows)
        elif workers > 1 and len(tasks) > 1:
            left = tasks
            if _mp_context(mp_context).get_start_method() == "fork":
                # the first count in this process: it loads the model and the compiled kernels,
                # which the forked workers then share instead of loading each
                done, _ = _run_batch(study, ms, tasks[:1])
                on_rows(done)
                left = tasks[1:]
            _run_pool(study, ms, left, workers, on_rows, mp_context)
        else:
            for t in tasks:
                on_rows(_run_batch(study, ms, [t])[0])
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
        table.flush()
    return interrupted


def sweep(models, centres, radii, *, norm=2, groups=None, bounds=None, linear=False, time_limit=None, workers=1,
          scheduler=None, out=None, progress=True, engine="auto", input_shape=None, factory=None,
          boundary_distance=True, max_regions=None, names=None, steps=None, trust=False, save_every=1.0,
          mp_context=None, **count_kwargs):
    """Count the activation regions of every model in a ball around every centre for every
    radius: one row per count, in one table.

    Parameters
    ----------
    models : a model (a :class:`~exactregions.network.Network`, a torch ``nn.Module``, a file
        path), a list of them, a dict ``{name: model}``, or a folder of checkpoint files
        (``.npz``, ``.onnx``, ``.pt``; ordered by the step in their names, see :func:`step_of`).
        Files are loaded once in each worker; modules are converted here.
    centres : (n, d) array or torch tensor (images are flattened), or a torch ``Dataset`` /
        ``DataLoader`` of ``(x, label)`` items (the labels become the groups).
    radii : a radius or a sequence of them.
    norm : the ball's norm, 2 (exact L2 ball), 1 or ``"inf"``.
    groups : one label per centre (``"train"``, ``"random"``, a class, ...).
    bounds : upper-bound methods for the columns ``bound_<method>``: local ones
        (:func:`~exactregions.bounds.local_bound`: ``"local"``, ``"local_lp"``, ...) on the ball,
        global ones (:func:`~exactregions.bounds.global_bound`: ``"serra2018"``, ...).
    linear : also count linear regions (``linear_regions``; the BFS engine counts).
    time_limit : seconds per count; a count stopped by it is a row with ``lower_bound`` True.
    max_regions : stop each count after this many regions (a lower bound too).
    workers : local processes counting in parallel (``mp_context``: ``"fork"`` where it exists,
        else ``"spawn"``).
    scheduler : a Dask scheduler address (``"tcp://host:port"``) or a ``distributed.Client``:
        the counts run on its workers, in batches of bounded estimated cost.
    out : a ``.parquet`` or ``.csv`` file: rows are written to it as they finish (atomically,
        at most every ``save_every`` seconds) and rows already in it are not counted again
        (a killed sweep resumes); a file holding a different sweep is refused.
    progress : one progress bar on stderr (counts done, rate, time left).
    engine : the counting engine (:func:`~exactregions.engines.count_regions`; ``"auto"``).
    input_shape, factory, trust : passed to the model loader (convolutional torch models, state
        dicts with a model factory).
    boundary_distance : compute ``boundary_distance`` (one vectorised pass per batch).
    names, steps : names and steps of the models, in their order (default: from the file names
        and dict keys).
    count_kwargs : further options of :func:`~exactregions.engines.count_regions` (``tol``,
        ``kernel``, ``reduce``, ...).

    Returns
    -------
    pandas.DataFrame
        One row per (model, centre, radius) in that order, with the columns of
        :func:`columns` (module docstring). ``df.attrs["interrupted"]`` is True when Ctrl-C
        stopped the sweep (the rows finished so far are returned and written).

    Examples
    --------
    >>> import numpy as np
    >>> from exactregions import random_network, sweep
    >>> net = random_network(2, [8, 8], seed=0)
    >>> df = sweep(net, np.array([[0.0, 0.0], [1.0, 1.0]]), [0.1, 0.5], groups=["a", "b"], progress=False)
    >>> df[["point", "group", "radius"]].values.tolist()
    [[0, 'a', 0.1], [0, 'a', 0.5], [1, 'b', 0.1], [1, 'b', 0.5]]
    >>> bool(df.complete.all())
    True
    """
    frame, summary = _sweep_rows(models, centres, radii, norm=norm, groups=groups, bounds=bounds, linear=linear,
                           time_limit=time_limit, workers=workers, scheduler=scheduler, out=out, progress=progress,
                           engine=engine, input_shape=input_shape, factory=factory,
                           boundary_distance=boundary_distance, max_regions=max_regions, names=names, steps=steps,
                           trust=trust, save_every=save_every, mp_context=mp_context, **count_kwargs)
    df = _to_frame(frame)
    df.attrs["interrupted"] = summary["interrupted"]
    return df


def _sweep_rows(models, centres, radii, *, workers=1, scheduler=None, progress=True, mp_context=None, **kw):
    """:func:`sweep` up to the arrow table (no DataFrame: the command line writes the file only).
    Returns the table and a summary dict."""
    if workers is None or int(workers) < 1:
        raise ValueError(f"workers must be a positive integer, got {workers}")
    study, ms, tasks, table, (kept, kept_pos), asked = _plan(models, centres, radii, **kw)
    interrupted = _execute(study, ms, tasks, table, workers=int(workers), scheduler=scheduler, progress=progress,
                           mp_context=mp_context, total=asked)
    import pyarrow as pa  # (here: while the workers count, the first save has imported it)

    new, new_pos = table.added()
    parts = [table.old.take(pa.array(kept, pa.int64()))] if kept else []
    result = pa.concat_tables(parts + [new]) if parts else new
    result = result.take(pa.array(np.argsort(np.concatenate([np.array(kept_pos, np.int64), new_pos]), kind="stable")))
    errors = [e for e in result.column("error").to_pylist() if e is not None]
    summary = {"rows": result.num_rows, "asked": asked, "counted": new.num_rows, "skipped": len(kept),
               "interrupted": interrupted, "errors": errors,
               "lower_bounds": sum(1 for v in result.column("lower_bound").to_pylist() if v)}
    return result, summary


# --------------------------------------------------------------------------- tracking during training


class RegionTracker:
    """Count regions around fixed points while a model trains: ``tracker(model, step)`` in any
    training loop appends the rows of :func:`sweep` for that step (every ``every`` steps), the
    counting done in background processes.

    The model is converted to a :class:`~exactregions.network.Network` in the calling process
    (that copy of the weights is all the training waits for; a torch module's train/eval mode is
    kept) and its counts go to a pool of ``workers`` processes (0: counted in the call).

    Parameters
    ----------
    points : the centres, as for :func:`sweep` (an array, a tensor, a Dataset or DataLoader).
    radii : the radii.
    every : count when ``step % every == 0``.
    out : a ``.parquet`` or ``.csv`` table file the rows are appended to (rows of a step already
        there are not counted again, so a resumed training run resumes its table too).
    groups, norm, bounds, linear, time_limit, engine, boundary_distance, count_kwargs : as for
        :func:`sweep`.
    name : the ``model`` column.
    input_shape : the input shape of a convolutional torch model.
    workers : background processes (``mp_context``: ``"fork"`` where it exists, as torch's
        ``DataLoader`` workers; with ``"spawn"`` the training script needs its
        ``if __name__ == "__main__":`` guard).

    Examples
    --------
    >>> import numpy as np
    >>> from exactregions import RegionTracker, random_network
    >>> tracker = RegionTracker(np.zeros((2, 2)), [0.5], every=2, workers=0)
    >>> for step in range(5):
    ...     _ = tracker(random_network(2, [4], seed=step), step)
    >>> tracker.table().step.tolist()
    [0, 0, 2, 2, 4, 4]
    """

    def __init__(self, points, radii, *, every=1, out=None, groups=None, workers=1, norm=2, name="model",
                 bounds=None, linear=False, time_limit=None, engine="auto", input_shape=None,
                 boundary_distance=True, max_regions=None, save_every=1.0, mp_context=None, **count_kwargs):
        if not int(every) >= 1:
            raise ValueError(f"every must be a positive integer, got {every}")
        if workers is None or int(workers) < 0:
            raise ValueError(f"workers must be 0 (count in the call) or more, got {workers}")
        norm, opts = _options(norm, bounds, linear, time_limit, engine, max_regions, input_shape, None, False,
                              boundary_distance, count_kwargs)
        X, labels = _centres(points, groups)
        self.every, self.workers, self.name = int(every), int(workers), str(name)
        self.radii = _radii(radii)
        self.study = _make_study(X, labels, norm, opts)
        self.table_ = _Table(out, _schema_items(opts["bounds"], opts["linear"]), save_every)
        self._index = self.table_.index()  # the file's rows: a resumed run's steps are not counted again
        self._mp_context = mp_context
        self._pool, self._futures, self._counted = None, [], {}  # steps counted here: the model's fingerprint

    def __call__(self, model, step) -> bool:
        """Count around the points for this ``step`` when ``step % every == 0``.

        Parameters
        ----------
        model : Network or torch.nn.Module
            The model now (copied here: training may go on at once).
        step : int
            The training step (or epoch) of the rows.

        Returns
        -------
        bool
            Whether counts were started for this step (they run in the background;
            :meth:`table` waits for them). A step the table file holds already is not counted
            again; a step given twice with other weights is refused.
        """
        step = int(step)
        if step % self.every:
            self._harvest()
            return False
        was_training = getattr(model, "training", None)
        try:
            net = as_network(model, self.study.opts["input_shape"])
        finally:
            if was_training:  # (the conversion puts a torch module in eval mode)
                model.train()
        m = _Model(self.name, step, net, _network_fingerprint(net))
        if step in self._counted:
            if self._counted[step] != m.fp:
                raise ValueError(f"step {step} was counted already with other weights: give each step once")
            return False
        tasks = []
        for p in range(len(self.study.X)):
            fp = _fingerprint(self.study, m, p)
            for r in self.radii:
                old = self._index.get((m.name, step, p, r, self.study.norm))
                if old is not None and old[0] != fp:
                    raise ValueError(_refusal(self.table_.path, (m.name, step, p, r), old[0], fp))
                if old is None:
                    tasks.append((len(tasks), 0, p, r))
        self._counted[step] = m.fp
        if not tasks:
            return True
        if self.workers == 0:
            for row in _run_batch(self.study, [m], tasks)[0]:
                self.table_.add(row[1])
            self.table_.maybe_flush()
            return True
        if self._pool is None:
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=_mp_context(self._mp_context),
                                             initializer=_init_worker, initargs=(self.study, None))
        size = -(-len(tasks) // self.workers)
        for i in range(0, len(tasks), size):
            self._futures.append(self._pool.submit(_tracker_batch, m, tasks[i:i + size]))
        self._harvest()
        return True

    def _harvest(self, wait=False):
        keep = []
        for fut in self._futures:
            if wait or fut.done():
                for _, row, _ in fut.result()[0]:
                    self.table_.add(row)
            else:
                keep.append(fut)
        self._futures = keep
        self.table_.maybe_flush()

    def lightning_callback(self):
        """A PyTorch Lightning callback that drives this tracker.

        Returns
        -------
        lightning.pytorch.Callback
            Calls the tracker after every training batch with ``trainer.global_step`` and waits
            for its counts when fitting ends. Needs ``lightning`` (or ``pytorch_lightning``)
            installed; the class is made when asked, so neither is a dependency.
        """
        try:
            from lightning.pytorch import Callback
        except ImportError:
            try:
                from pytorch_lightning import Callback
            except ImportError:
                raise ImportError("lightning_callback needs PyTorch Lightning: pip install lightning") from None
        tracker = self

        class RegionTrackerCallback(Callback):
            def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
                tracker(pl_module, trainer.global_step)

            def on_fit_end(self, trainer, pl_module):
                tracker._harvest(wait=True)
                tracker.table_.flush()

        return RegionTrackerCallback()

    def table(self):
        """Wait for the counts started so far and return the table.

        Returns
        -------
        pandas.DataFrame
            Every row (the file's earlier rows included), ordered by model, step, point and
            radius, with the columns of :func:`sweep`.
        """
        self._harvest(wait=True)
        self.table_.flush()
        table = self.table_.whole().sort_by([("model", "ascending"), ("step", "ascending"), ("point", "ascending"),
                                             ("radius", "ascending")])
        return _to_frame(table)

    def close(self):
        """Wait for the counts, stop the worker processes and return the table.

        Returns
        -------
        pandas.DataFrame
            As :meth:`table`.
        """
        try:
            return self.table()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _tracker_batch(model, tasks):
    return _run_batch(_WORKER["study"], [model], tasks)

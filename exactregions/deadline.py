"""One time limit for a whole computation: a :class:`Deadline` made once at the entry point
(``count_regions``, ``output_range``, ...) from ``time_limit`` and handed down to every engine,
set-up step, solver call, worker process and thread, each of which checks it in its long loops.

Below every other module of the package (it imports none of them), so the oracle, the engines
and the answers can all share it. The progress callbacks' adapter (:func:`reporter`) lives here
for the same reason: every engine reports through it.
"""

from __future__ import annotations

import inspect
import math
import time

__all__ = ["Deadline", "TimeLimitReached", "reporter"]


class TimeLimitReached(Exception):
    """Raised inside a computation when its :class:`Deadline` has passed; the engine that
    catches it keeps what is established and labels its result a lower bound
    (``stop_reason="time_limit"``)."""


class Deadline:
    """An absolute time by which a computation stops (``time.perf_counter`` in this process).

    Parameters
    ----------
    seconds : float or None
        The time limit from now; None never expires.

    Notes
    -----
    A deadline sent to another process (pickled: a worker of a process pool, a Dask task) travels
    as wall-clock time (``time.time()``) and becomes that process's own ``perf_counter`` time
    again, so a worker stops at the same moment as its caller (on another machine, as far as the
    two clocks agree).

    Examples
    --------
    >>> d = Deadline(60.0)
    >>> d.expired(), 59.0 < d.remaining() <= 60.0
    (False, True)
    >>> Deadline.of(d) is d, Deadline(None).remaining()
    (True, inf)
    """

    __slots__ = ("at", "seconds")

    def __init__(self, seconds: float | None = None):
        if seconds is not None:
            seconds = float(seconds)
            if math.isnan(seconds):
                raise ValueError("time_limit is NaN: give a number of seconds or None")
        self.seconds = seconds
        self.at = None if seconds is None else time.perf_counter() + seconds

    @classmethod
    def of(cls, limit) -> "Deadline":
        """``limit`` as a deadline: the same object when it is one already (a deadline handed
        down keeps its absolute time), else a new one of ``limit`` seconds (None: no limit)."""
        return limit if isinstance(limit, Deadline) else cls(limit)

    def expired(self) -> bool:
        """Whether the time is up."""
        return self.at is not None and time.perf_counter() >= self.at

    def remaining(self) -> float:
        """Seconds left (``inf`` without a limit, 0 once expired)."""
        return math.inf if self.at is None else max(0.0, self.at - time.perf_counter())

    def check(self) -> None:
        """Raise :class:`TimeLimitReached` when the time is up."""
        if self.at is not None and time.perf_counter() >= self.at:
            raise TimeLimitReached(f"time limit of {self.seconds:g} s reached")

    def __bool__(self) -> bool:  # a deadline is "set" when it has a limit
        return self.at is not None

    def __getstate__(self):
        wall = None if self.at is None else time.time() + (self.at - time.perf_counter())
        return {"seconds": self.seconds, "wall": wall}

    def __setstate__(self, state):
        self.seconds = state["seconds"]
        wall = state["wall"]
        self.at = None if wall is None else time.perf_counter() + (wall - time.time())

    def __repr__(self):
        return "Deadline(None)" if self.at is None else f"Deadline({self.seconds:g} s, {self.remaining():.3g} s left)"


def reporter(progress, every: float = 0.5):
    """``progress`` (an engine's progress callback, or None) as a function
    ``report(found, frontier, seconds, stage=None, detail=None, force=False)`` that calls it at
    most every ``every`` seconds (``force``: now) and passes ``stage`` / ``detail`` only to a
    callback that takes them (a callback of three arguments keeps working). None for None.

    Examples
    --------
    >>> seen = []
    >>> report = reporter(lambda found, frontier, seconds: seen.append(found), every=0.0)
    >>> report(3, 1, 0.2, stage="region 1", detail="10 LPs decided")
    >>> seen
    [3]
    """
    if progress is None:
        return None
    try:
        params = inspect.signature(progress).parameters
        var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        takes = {name for name in ("stage", "detail") if var_kw or name in params}
    except (TypeError, ValueError):  # a builtin or C callable: the three positional arguments
        takes = set()
    last = [-math.inf]

    def report(found, frontier, seconds, stage=None, detail=None, force=False):
        now = time.perf_counter()
        if not force and now - last[0] < every:
            return
        last[0] = now
        extra = {k: v for k, v in (("stage", stage), ("detail", detail)) if k in takes and v is not None}
        progress(found, frontier, seconds, **extra)

    return report

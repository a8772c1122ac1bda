"""Exact count next to every bound: ``compare(net, domain)``."""

from __future__ import annotations

from dataclasses import dataclass

from ..engines import count_regions
from ..network import as_network
from ..result import RegionCount
from .global_bounds import GLOBAL_METHODS, Bound, global_bound, network_or_architecture
from .local import LOCAL_METHODS, critical_radius, local_bound

__all__ = ["ALL_METHODS", "all_bounds", "compare", "Comparison"]

ALL_METHODS = list(GLOBAL_METHODS) + list(LOCAL_METHODS) + ["hybrid"]


def all_bounds(net, domain=None, methods=None, time_limit: float | None = None) -> dict[str, Bound]:
    """Every bound method on ``net`` (and ``domain`` for the local ones); a method that does
    not apply (a local bound without a domain) has value None. ``time_limit`` bounds the
    hybrid bound's exact count of the first layers (its default otherwise)."""
    out = {}
    net = network_or_architecture(net)
    for m in methods or ALL_METHODS:
        if m in GLOBAL_METHODS:
            out[m] = global_bound(net, m)
        elif domain is None:
            out[m] = Bound(m, None, [], "needs a domain")
        else:
            extra = {"time_limit": time_limit} if m == "hybrid" and time_limit is not None else {}
            out[m] = local_bound(net, domain, m, **extra)
    return out


@dataclass
class Comparison:
    count: RegionCount
    bounds: dict
    critical_radius: float | None = None

    def ratios(self) -> dict:
        """bound / exact count (None where a bound is missing)."""
        n = self.count.activation_regions
        return {m: (b.value / n if b.value is not None and n else None) for m, b in self.bounds.items()}

    def to_dict(self) -> dict:
        return {"activation_regions": self.count.activation_regions,
                "linear_regions": self.count.linear_regions, "complete": self.count.complete,
                "lower_bound": not self.count.complete,
                "bounds": {m: b.value for m, b in self.bounds.items()},
                "ratios": self.ratios(), "critical_radius": self.critical_radius,
                "seconds": self.count.stats["seconds"], "lp_solves": self.count.stats["lp_solves"]}

    def table(self) -> str:
        c = self.count
        lines = [f"exact activation regions  {c.label()}",
                 f"linear regions            {c.linear_regions if c.linear_regions is not None else 'n/a (incomplete)'}"]
        if self.critical_radius is not None:
            lines.append(f"r* (one region below)    {self.critical_radius:.6g}")
        lines.append("")
        lines.append(f"{'method':<16}{'upper bound':>24}{'bound / exact':>16}")
        ratios = self.ratios()
        for m, b in self.bounds.items():
            v = "n/a" if b.value is None else (f"{b.value:,}" if b.value < 10**21 else f"{float(b.value):.4e}")
            r = "" if ratios[m] is None else f"{ratios[m]:.4g}"
            lines.append(f"{m:<16}{v:>24}{r:>16}")
        if not c.complete:
            lines.append("(the exact count is incomplete: ratios are against a lower bound)")
        return "\n".join(lines)


def compare(net, domain, methods=None, **count_kwargs) -> Comparison:
    """The exact count and every upper bound; asserts nothing, reports all."""
    net = as_network(net, count_kwargs.pop("input_shape", None))
    res = count_regions(net, domain, **count_kwargs)
    rstar = None
    if getattr(domain, "norm", None) == 2 and getattr(domain, "clip", None) is None:
        rstar = critical_radius(net, domain.center)
    return Comparison(res, all_bounds(net, domain, methods), rstar)

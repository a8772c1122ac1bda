"""Independent completeness check of a :class:`~exactregions.result.RegionCount`."""

from __future__ import annotations

import numpy as np

from ..domains import Segment
from ..oracle import Oracle
from ..result import VerifyReport
from .region import analyse_region, traversal_setup


def verify_count(result) -> VerifyReport:
    """Re-derive every region's facets with one LP per row and check closure of the set.

    Checks: (1) each region's point is in the open domain and has the claimed pattern;
    (2) each region's Chebyshev radius exceeds the tolerance; (3) the region across every
    facet that meets the domain is in the result. Requires ``keep_regions=True``.
    """
    net, domain, tol = result.network, result.domain, result.tol
    if any(r is None for r in result.regions):
        return VerifyReport(False, 0, 0, ["regions were not kept (keep_regions=False): nothing to verify"])
    if isinstance(domain, Segment):
        return _verify_segment(result)
    unstable, fixed, (DA, Db), cap = traversal_setup(net, domain)
    oracle = Oracle()
    present = {r.pattern.tobytes() for r in result.regions}
    problems, n_facets = [], 0
    for idx, reg in enumerate(result.regions):
        if not np.array_equal(net.pattern(reg.point), reg.pattern):
            problems.append(f"region {idx}: its point does not have the claimed pattern")
        if not domain.contains(reg.point)[0]:
            problems.append(f"region {idx}: its point is outside the open domain")
        geo = analyse_region(net, reg.pattern, unstable, (DA, Db), domain.l2_ball, oracle, tol, cap,
                             shortcuts=False)
        if geo is None or not geo.inradius > tol.inradius:
            problems.append(f"region {idx}: empty or thinner than the tolerance")
            continue
        for f in geo.facets:
            n_facets += 1
            nb = net.pattern_across(reg.pattern, f.point, geo.G[f.row], tol=tol.coincide)
            nb[~unstable] = fixed[~unstable]
            if nb.tobytes() not in present:
                problems.append(f"region {idx}: the region across facet row {f.row} is missing")
    if not result.complete:
        problems.append(f"the count is incomplete (stopped at {result.stop_reason}): a lower bound")
    return VerifyReport(not problems, len(result.regions), n_facets, problems)


def _verify_segment(result) -> VerifyReport:
    """Each interval's midpoint has its pattern; just before and after every breakpoint the
    pattern is that of the two intervals it separates."""
    net, seg = result.network, result.domain
    problems = []
    length = float(np.linalg.norm(seg.q - seg.p))
    for i, reg in enumerate(result.regions):
        if not np.array_equal(net.pattern(reg.point), reg.pattern):
            problems.append(f"interval {i}: its midpoint does not have the claimed pattern")
    ts = [float(np.dot(r.point - seg.p, seg.q - seg.p)) / length ** 2 for r in result.regions]
    for i in range(len(ts) - 1):
        left, right = result.regions[i], result.regions[i + 1]
        t = (ts[i] + left.inradius / length + ts[i + 1] - right.inradius / length) / 2
        eps = 0.25 * min(left.inradius, right.inradius) / length
        if not np.array_equal(net.pattern(seg.point(t - eps)), left.pattern) or \
                not np.array_equal(net.pattern(seg.point(t + eps)), right.pattern):
            problems.append(f"breakpoint {i}: the patterns beside it are not those of its intervals")
    return VerifyReport(not problems, len(result.regions), max(0, len(ts) - 1), problems)

"""Command line: ``exactregions count | bound | compare``.

Results go to stdout (text, or one JSON object with ``--json``); progress goes to stderr.
Bad input gives one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time

import numpy as np

from .domains import Ball, Box, DomainError, Plane, Segment, Whole
from .engines import Tolerances, count_regions
from .io import ModelError, load_model
from .network import NetworkError
from .oracle import SolverError

EXIT_USAGE = 2


class UsageError(ValueError):
    """Bad command-line input."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        raise UsageError(f"{message} (see '{self.prog} --help')")


_NEGATIVE = re.compile(r"^-(\d|\.\d)")


def _protect_negatives(argv):
    """Let users type ``--box -1 1`` and ``--ball -0.5,0.2 0.3``: argparse would read them as options."""
    return [" " + a if _NEGATIVE.match(a) else a for a in argv]


def parse_vector(text: str, name: str, dim: int | None = None) -> np.ndarray:
    """Comma-separated numbers or a ``.npy`` file."""
    text = text.strip()
    if text.endswith(".npy"):
        try:
            v = np.load(text, allow_pickle=False).astype(np.float64).reshape(-1)
        except (OSError, ValueError) as e:
            raise UsageError(f"{name}: cannot read {text} ({e})") from None
    else:
        try:
            v = np.array([float(t) for t in text.split(",") if t.strip() != ""])
        except ValueError:
            raise UsageError(f"{name}: '{text}' is not a comma-separated list of numbers or a .npy file") from None
    if v.size == 0:
        raise UsageError(f"{name} is empty")
    if dim is not None and v.size not in (1, dim):
        raise UsageError(f"{name} has {v.size} coordinates but the model takes {dim} inputs")
    if not np.all(np.isfinite(v)):
        raise UsageError(f"{name} contains NaN or infinite values")
    return v


def _number(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"{name}: '{text.strip()}' is not a number") from None


def add_domain_args(p: argparse.ArgumentParser, whole=True):
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--ball", nargs=2, metavar=("C", "R"), help="ball centre (comma list or .npy) and radius")
    g.add_argument("--box", nargs=2, metavar=("LO", "HI"), help="box corners (one number or a comma list each)")
    if whole:
        g.add_argument("--whole", action="store_true", help="the whole input space")
        g.add_argument("--segment", nargs=2, metavar=("P", "Q"), help="the open segment from P to Q (exact 1-D count)")
    g.add_argument("--plane", nargs=3, metavar=("P0", "P1", "P2"), help="the 2-D slice through three inputs")
    p.add_argument("--radius", type=float, help="with --plane: a disc of this radius around the points' centroid")
    p.add_argument("--parallelogram", action="store_true",
                   help="with --plane: the parallelogram with corners P0, P1, P2 (default: a box around them)")
    p.add_argument("--input-shape", help="input shape without batch (e.g. 1,8,8) for convolutional torch models")
    p.add_argument("--norm", default="2", choices=["2", "1", "inf"], help="ball norm (default 2, exact)")
    p.add_argument("--clip", nargs=2, metavar=("LO", "HI"), help="clip the ball to this box")


def domain_from_args(args, dim: int):
    if args.clip is not None and args.ball is None:
        raise UsageError("--clip applies to --ball only")
    if (getattr(args, "radius", None) is not None or getattr(args, "parallelogram", False)) \
            and getattr(args, "plane", None) is None:
        raise UsageError("--radius and --parallelogram apply to --plane only")
    if getattr(args, "segment", None) is not None:
        p, q = (parse_vector(v, f"segment {n}", dim) for v, n in zip(args.segment, ("P", "Q")))
        return Segment(np.broadcast_to(p, dim), np.broadcast_to(q, dim))
    if getattr(args, "plane", None) is not None:
        pts = [parse_vector(v, f"plane point P{i}", dim) for i, v in enumerate(args.plane)]
        for i, v in enumerate(pts):
            if v.size != dim:
                raise UsageError(f"plane point P{i} has {v.size} coordinates but the model takes {dim} inputs")
        return Plane(*pts, radius=args.radius, parallelogram=args.parallelogram)
    if args.ball is not None:
        center = parse_vector(args.ball[0], "ball centre", dim)
        if center.size != dim:
            raise UsageError(f"ball centre has {center.size} coordinates but the model takes {dim} inputs")
        clip = None
        if args.clip is not None:
            clip = Box(parse_vector(args.clip[0], "clip lo", dim), parse_vector(args.clip[1], "clip hi", dim), dim=dim)
        return Ball(center, _number(args.ball[1], "ball radius"), norm=args.norm, clip=clip)
    if args.box is not None:
        return Box(parse_vector(args.box[0], "box lo", dim), parse_vector(args.box[1], "box hi", dim), dim=dim)
    return Whole(dim)


class Progress:
    """Progress line on stderr: regions found, frontier size, rate."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, found, frontier, seconds, stage=None):
        if not self.enabled:
            return
        now = time.monotonic()
        if not self.tty and now - self.last < 5.0:
            return
        self.last = now
        rate = found / seconds if seconds > 0 else 0.0
        if stage is not None:  # the subdivision's first layer: cells so far, neurons left
            line = f"{stage}: {found} cells, {frontier} neurons left  {seconds:.1f} s"
        else:
            line = f"regions {found}  frontier {frontier}  {rate:,.0f} regions/s  {seconds:.1f} s"
        sys.stderr.write(("\r" + line + "   ") if self.tty else line + "\n")
        sys.stderr.flush()

    def done(self):
        if self.enabled and self.tty:
            sys.stderr.write("\n")


def _load(args):
    shape = getattr(args, "input_shape", None)
    if shape is not None:
        try:
            shape = tuple(int(v) for v in shape.split(","))
        except ValueError:
            raise UsageError(f"--input-shape '{shape}' is not a comma-separated list of integers") from None
    return load_model(args.model, input_shape=shape)


def cmd_count(args):
    net = _load(args)
    domain = domain_from_args(args, net.input_dim)
    if args.ball_method != "exact":
        if not isinstance(domain, Ball) or domain.norm != 2:
            raise UsageError("--ball-method outer|inner applies to an L2 --ball only")
        domain = domain.outer_polytope() if args.ball_method == "outer" else domain.inner_polytope()
    engine = args.engine
    if engine == "auto" and (args.linear or args.ball_method != "exact"):
        engine = "bfs"
    prog = Progress(not args.quiet)
    extra = {"pieces": args.pieces} if args.pieces is not None else {}
    extra["kernel"] = args.kernel
    res = count_regions(net, domain, engine=engine, workers=args.workers, scheduler=args.scheduler,
                        checkpoint=args.checkpoint, max_regions=args.max_regions, time_limit=args.time_limit,
                        tol=Tolerances(inradius=args.tol, facet=args.tol), progress=prog, **extra)
    prog.done()
    if res.stop_reason == "interrupted":
        where = f"; rerun the same command to resume from the checkpoint in {args.checkpoint}" \
            if args.checkpoint else ""
        print(f"exactregions: interrupted: {res.activation_regions} regions so far (a lower bound){where}",
              file=sys.stderr)
        interrupted = True
    else:
        interrupted = False
    report = None
    if args.verify:
        report = res.verify()
    if args.json:
        out = res.to_dict()
        out["ball_method"] = args.ball_method
        out["engine"] = res.stats.get("engine", "bfs")
        if report is not None:
            out["verify"] = {"ok": report.ok, "facets_checked": report.facets_checked, "problems": report.problems}
        print(json.dumps(out))
    else:
        kind = {"exact": "", "outer": " (circumscribed box: an UPPER count for the ball)",
                "inner": " (inscribed cross-polytope: a LOWER count for the ball)"}[args.ball_method]
        print(f"model            {args.model}  {net!r}")
        where = f"{res.slice!r}; in plane coordinates {res.domain!r}" if res.slice is not None else repr(res.domain)
        print(f"domain           {where}{kind}")
        print(f"activation regions {res.label()}")
        lin = res.linear_regions if res.linear_regions is not None else (
            "n/a (incomplete count)" if not res.complete else "n/a (subdivision engine: use --engine bfs)")
        print(f"linear regions   {lin}")
        kernel = f" ({res.stats['kernel']} kernel)" if "kernel" in res.stats else ""
        print(f"engine           {res.stats.get('engine', 'bfs')}{kernel}"
              + (f" ({res.numerics['engine_note']})" if res.numerics.get("engine_note") else ""))
        print(f"seconds          {res.stats['seconds']:.3f}")
        print(f"LP / QP solves   {res.stats['lp_solves']} / {res.stats['qp_solves']}")
        nd = len(res.numerics["near_degenerate"])
        print(f"numerics         {res.numerics['thin_regions_skipped']} thin regions skipped, "
              f"{nd} near-degenerate decisions (tolerance {args.tol:g})")
        if report is not None:
            print(f"verify           {'OK' if report.ok else 'FAILED'} ({report.facets_checked} facets checked)")
            for p in report.problems[:20]:
                print(f"  - {p}")
    if report is not None and not report.ok:
        return 1
    return 130 if interrupted else 0


def cmd_plot(args):
    from .plot import plot_regions

    net = _load(args)
    domain = domain_from_args(args, net.input_dim)
    if net.input_dim != 2 and not isinstance(domain, Plane):
        raise UsageError(f"plot needs a 2-D input or --plane; this model takes {net.input_dim} inputs")
    if not args.output.lower().endswith(".png"):
        raise UsageError(f"-o must name a .png file, got '{args.output}'")
    prog = Progress(not args.quiet)
    res = count_regions(net, domain, max_regions=args.max_regions, time_limit=args.time_limit, progress=prog)
    prog.done()
    if isinstance(domain, Plane):
        plot_regions(res, args.output, function=args.function, points=domain.points_2d(),
                     point_labels=["P0", "P1", "P2"], axes_labels=("plane u1", "plane u2"))
    else:
        plot_regions(res, args.output, function=args.function)
    print(f"wrote {args.output}: {res.label()} activation regions")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="exactregions", description="Exact linear-region counts of ReLU networks.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    c = sub.add_parser("count", help="count the activation regions meeting a domain")
    c.add_argument("model", help="model file: .npz or saved torch module (.pt)")
    add_domain_args(c)
    c.add_argument("--ball-method", default="exact", choices=["exact", "outer", "inner"],
                   help="exact L2 ball (default), or its circumscribed box / inscribed cross-polytope")
    c.add_argument("--json", action="store_true", help="one JSON object on stdout")
    c.add_argument("--max-regions", type=int, default=None, help="stop after N regions (count becomes a lower bound)")
    c.add_argument("--time-limit", type=float, default=None, help="stop after S seconds (lower bound)")
    c.add_argument("--tol", type=float, default=Tolerances().inradius,
                   help="inradius/facet tolerance (default %(default)g)")
    c.add_argument("--verify", action="store_true", help="re-check completeness with one LP per row")
    c.add_argument("--engine", default="auto", choices=["auto", "bfs", "subdivision"],
                   help="auto (default): the vectorised subdivision for polytope domains and L2 balls in "
                        "dimension <= 6, else the LP traversal (bfs, which also gives linear regions)")
    c.add_argument("--kernel", default="auto", choices=["auto", "numba", "numpy"],
                   help="the subdivision's split step: numba (compiled; auto picks it when numba imports and "
                        "passes a one-square self-test) or numpy (the vectorised reference); the same cells "
                        "either way")
    c.add_argument("--linear", action="store_true",
                   help="compute linear regions (forces the bfs engine)")
    c.add_argument("--workers", type=int, default=1, help="local processes for the subdivision engine")
    c.add_argument("--scheduler", help="Dask scheduler address (tcp://HOST:PORT) for the subdivision engine")
    c.add_argument("--pieces", type=int, default=None,
                   help="cut the domain into N boxes counted separately and merged by pattern (subdivision; "
                        "default 1: the batches already parallelise and bound the first layer)")
    c.add_argument("--checkpoint", help="folder that makes the run resumable (subdivision: finished batches and "
                   "region shards; bfs: visited set, frontier, regions); rerun the same command to resume")
    c.add_argument("--quiet", action="store_true", help="no progress on stderr")
    c.set_defaults(func=cmd_count)
    pl = sub.add_parser("plot", help="draw the regions of a 2-D input as exact polygons (PNG)")
    pl.add_argument("model", help="model file: .npz or saved torch module (.pt)")
    add_domain_args(pl, whole=False)
    pl.add_argument("-o", "--output", required=True, help="PNG file to write")
    pl.add_argument("--function", action="store_true", help="shade by the network's output")
    pl.add_argument("--max-regions", type=int, default=None, help="stop after N regions (title says lower bound)")
    pl.add_argument("--time-limit", type=float, default=None, help="stop after S seconds (lower bound)")
    pl.add_argument("--quiet", action="store_true", help="no progress on stderr")
    pl.set_defaults(func=cmd_plot)
    try:
        from .bounds.cli import add_bound_commands
    except ImportError:  # pragma: no cover - bounds module always ships
        return p
    add_bound_commands(sub)
    return p


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser().parse_args(_protect_negatives(argv))
        for name in ("max_regions", "time_limit", "workers", "pieces"):  # every command's counts and limits
            v = getattr(args, name, None)
            if v is not None and not v > 0:
                raise UsageError(f"--{name.replace('_', '-')} must be positive, got {v}")
        return args.func(args)
    except (UsageError, ModelError, NetworkError, DomainError, ValueError) as e:
        # ValueError: the library's own refusals of a combination (engine, domain, limits)
        print(f"exactregions: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except SolverError as e:
        print(f"exactregions: solver error: {e}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("exactregions: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""Command line: ``exactregions count | plot | plot-sweep | bound | compare | range | lipschitz | robust``.

Results go to stdout (text, or one JSON object with ``--json``); progress goes to stderr.
Bad input gives one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys

from .cli_analysis import add_analysis_commands
from .cli_plots import add_plot_commands
from .cli_sweep import add_sweep_command
from .cli_bounds import add_bound_commands
from .cli_common import (Progress, UsageError, Parser, add_common_args, add_domain_args, add_model_arg, domain_from_args,
                         model_from_args, protect_negatives)
from .deadline import Deadline
from .domains import Ball, DomainError, Plane
from .engines import Tolerances, count_regions
from .io import ModelError
from .network import NetworkError
from .oracle import SolverError
from . import __version__

EXIT_USAGE = 2


def cmd_count(args):
    net = model_from_args(args)
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
    planar_decision = args.decision and (net.input_dim == 2 or isinstance(domain, Plane))
    if planar_decision:
        extra["decision"] = True
    elif args.decision:  # above 2-D: the BFS's regions, then one programme per class and region
        engine = "bfs"
    if not args.verify and engine != "bfs" and (net.input_dim == 2 or isinstance(domain, Plane)):
        # nothing printed reads the regions of a 2-D count: holding the 187,400 patterns of a
        # CIFAR-sized slice (26,688 units each) took 5 GB
        extra["keep_regions"] = False
    deadline = Deadline(args.time_limit)  # one limit for the count and the decision programmes after it
    res = count_regions(net, domain, engine=engine, reduce=not args.no_reduce, workers=args.workers,
                        scheduler=args.scheduler,
                        checkpoint=args.checkpoint, max_regions=args.max_regions, time_limit=deadline,
                        tol=Tolerances(inradius=args.tol, facet=args.tol), progress=prog, **extra)
    prog.done()
    if args.decision and not planar_decision:
        from .analysis import decision_regions

        res.decision = decision_regions(net, domain, result=res, time_limit=deadline)
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
            "n/a (incomplete count)" if not res.complete else
            f"n/a ({res.stats.get('engine')} engine: use --engine bfs)")
        print(f"linear regions   {lin}")
        if res.decision is not None:
            d = res.decision
            pairs = ", ".join(f"{i}|{j}" for i, j in sorted(d.pairs)) or "none"
            length = "n/a above 2-D" if d.length is None else f"{d.length:.6g}"
            print(f"decision boundary crosses {d.regions_crossed} regions, length {length} "
                  f"(classes meeting: {pairs}){'' if res.complete else ' (LOWER BOUND: incomplete count)'}")
        kernel = f" ({res.stats['kernel']} kernel)" if "kernel" in res.stats else ""
        print(f"engine           {res.stats.get('engine', 'bfs')}{kernel}"
              + (f" ({res.numerics['engine_note']})" if res.numerics.get("engine_note") else ""))
        red = res.stats.get("reduction")
        if red:
            print(f"reduction        counted in {red['reduced_dim']}-D (the row space of the first layer; "
                  f"{red['dead_first_layer_units']} first-layer units dead on the ball), exact")
        print(f"seconds          {res.stats['seconds']:.3f}")
        print(f"LP / QP solves   {res.stats['lp_solves']} / {res.stats['qp_solves']}")
        nd = len(res.numerics["near_degenerate"])
        slivers = res.numerics.get("near_thin_leaves")  # the planar walk's one line for all slivers
        nd = f"{slivers} leaves with inradius at most {res.numerics['tolerances']['near']:g}" \
            if slivers is not None else f"{nd} near-degenerate decisions"
        print(f"numerics         {res.numerics['thin_regions_skipped']} thin regions skipped, "
              f"{nd} (tolerance {args.tol:g})")
        if report is not None:
            print(f"verify           {'OK' if report.ok else 'FAILED'} ({report.facets_checked} facets checked)")
            for p in report.problems[:20]:
                print(f"  - {p}")
    if report is not None and not report.ok:
        return 1
    return 130 if interrupted else 0


def cmd_plot(args):
    from .plot import check_plot_options, plot_regions

    net = model_from_args(args)
    domain = domain_from_args(args, net.input_dim)
    if net.input_dim != 2 and not isinstance(domain, Plane):
        raise UsageError(f"plot needs a 2-D input or --plane; this model takes {net.input_dim} inputs")
    shade = args.shade
    if args.function:
        if shade not in (None, "output"):
            raise UsageError(f"--function shades by the output: it cannot be combined with --shade {shade}")
        shade = "output"
    if args.output_index is not None:
        if shade not in (None, "output"):
            raise UsageError(f"--output chooses the output that --shade output shades, not --shade {shade}")
        shade = "output"
        if not 0 <= args.output_index < net.output_dim:
            raise UsageError(f"--output {args.output_index} is out of range: the model has {net.output_dim} output"
                             f"{'s' if net.output_dim != 1 else ''} (0..{net.output_dim - 1})")
    if args.style == "regions" and shade is not None:
        raise UsageError(f"--style regions draws palette fills: a shading (--shade {shade}) needs --style shaded or auto")
    options = dict(cmap=args.cmap, dpi=args.dpi, style=args.style, shade=shade, palette=args.palette,
                   output=args.output_index or 0)
    check_plot_options(args.out, n_outputs=net.output_dim, **options)  # before counting: one line, nothing written
    prog = Progress(not args.quiet)
    res = count_regions(net, domain, engine="auto", max_regions=args.max_regions, time_limit=args.time_limit,
                        progress=prog, polygons=True, decision=args.decision or shade == "distance")
    prog.done()
    where = dict(points=domain.points_2d(), point_labels=["P0", "P1", "P2"], axes_labels=("plane u1", "plane u2")) \
        if isinstance(domain, Plane) else {}
    pic = plot_regions(res, args.out, title=args.title, **where, **options)
    if args.json:
        print(json.dumps({"file": args.out, "style": pic.style, "shade": pic.shade, **res.to_dict()}))
        return 0
    shading = f", shaded by {pic.shade}" if pic.shade else ""
    print(f"wrote {args.out}: {res.label()} activation regions ({pic.style} style{shading})")
    return 0


def _output_index(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an output index (an integer); the picture's file is "
                                         "given with -o/--out") from None


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="exactregions", description="Exact linear-region counts of ReLU networks.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    c = sub.add_parser("count", help="count the activation regions meeting a domain")
    add_model_arg(c)
    add_domain_args(c)
    add_common_args(c, time_help="stop after S seconds (the count is then a labelled lower bound)")
    c.add_argument("--ball-method", default="exact", choices=["exact", "outer", "inner"],
                   help="exact L2 ball (default), or its circumscribed box / inscribed cross-polytope")
    c.add_argument("--max-regions", type=int, default=None, help="stop after N regions (count becomes a lower bound)")
    c.add_argument("--tol", type=float, default=Tolerances().inradius,
                   help="inradius/facet tolerance (default %(default)g)")
    c.add_argument("--verify", action="store_true", help="re-check completeness with one LP per row")
    c.add_argument("--engine", default="auto", choices=["auto", "bfs", "subdivision", "planar"],
                   help="auto (default): the planar walk in 2-D (inputs and --plane slices), the vectorised "
                        "subdivision for polytope domains up to 10-D and L2 balls up to 8-D (after the "
                        "reduction), else the LP traversal (bfs, which also gives linear regions)")
    c.add_argument("--decision", action="store_true",
                   help="the exact decision boundary (argmax of the outputs, or the sign of a single output): "
                        "JSON 'decision_boundary' with regions_crossed, length (2-D domains and --plane; null "
                        "above 2-D, where the BFS's regions are tested by one programme per class) and classes")
    c.add_argument("--kernel", default="auto", choices=["auto", "numba", "numpy"],
                   help="the subdivision's split step and the BFS's ray shooting and solver certificates: numba "
                        "(compiled; auto picks it when numba imports and passes a one-square self-test, for "
                        "the BFS from 6-D on) or numpy (the vectorised reference); the same regions either way")
    c.add_argument("--linear", action="store_true",
                   help="compute linear regions (forces the bfs engine)")
    c.add_argument("--workers", type=int, default=1,
                   help="local processes for the subdivision engine, threads for the planar walk (2-D and --plane: "
                        "the domain cut along first-layer lines, the same regions)")
    c.add_argument("--no-reduce", action="store_true",
                   help="count an L2 ball or the whole space in the input's own dimension (default: in the row "
                        "space of the first layer, which is exact and faster)")
    c.add_argument("--scheduler", help="Dask scheduler address (tcp://HOST:PORT) for the subdivision engine")
    c.add_argument("--pieces", type=int, default=None,
                   help="cut the domain into N boxes counted separately and merged by pattern (subdivision; "
                        "default 1: the batches already parallelise and bound the first layer); the planar walk: "
                        "N pieces cut along first-layer lines (default: until no piece is crossed by more than "
                        "400 of them; 1: one walk)")
    c.add_argument("--checkpoint", help="folder that makes the run resumable (subdivision: finished batches and "
                   "region shards; bfs: visited set, frontier, regions); rerun the same command to resume")
    c.set_defaults(func=cmd_count)
    pl = sub.add_parser("plot", help="draw the regions of a 2-D input or a plane slice as exact polygons "
                                     "(PNG, PDF or SVG)")
    add_model_arg(pl)
    add_domain_args(pl, whole=False)
    pl.add_argument("-o", "--out", required=True, help="file to write: .png, .pdf or .svg (the suffix chooses)")
    pl.add_argument("--function", action="store_true", help="shade by the network's output (the same as --shade output)")
    pl.add_argument("--output", dest="output_index", type=_output_index, metavar="I",
                    help="the output that --function / --shade output shades (default 0)")
    pl.add_argument("--shade", choices=["output", "area", "distance"],
                    help="thin edges over a shading: the network's output (exact), log10 of each region's area, or "
                         "the distance to the decision boundary (counts it)")
    pl.add_argument("--style", default="auto", choices=["auto", "regions", "shaded"],
                    help="regions: colour-blind-safe fills, neighbours differ; shaded: thin edges over --shade "
                         "(default area); auto (default): shaded with --shade or from 100,000 regions on")
    pl.add_argument("--cmap", default="viridis", help="matplotlib colour map of the shading (default %(default)s)")
    pl.add_argument("--palette", default="tol-light", choices=["tol-light", "okabe-ito"],
                    help="region fills of the regions style (default %(default)s)")
    pl.add_argument("--dpi", type=float, default=150, help="resolution of a PNG (default %(default)g)")
    pl.add_argument("--title", help="title; the count stays in the subtitle")
    pl.add_argument("--decision", action="store_true", help="draw the exact decision boundary as a thick line")
    pl.add_argument("--max-regions", type=int, default=None, help="stop after N regions (title says lower bound)")
    add_common_args(pl, time_help="stop the count after S seconds (the picture says LOWER BOUND)")
    pl.set_defaults(func=cmd_plot)
    add_bound_commands(sub)
    add_analysis_commands(sub)
    add_plot_commands(sub)
    add_sweep_command(sub)
    return p


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser().parse_args(protect_negatives(argv))
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
    except BrokenPipeError:  # the reader went away (`exactregions ... | head`): no traceback
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

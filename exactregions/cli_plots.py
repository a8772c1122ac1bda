"""Command line: ``exactregions plot-sweep TABLE -o FIG``, the pictures of a sweep table
(:func:`exactregions.plot.plot_sweep`)."""

from __future__ import annotations

from .cli_common import UsageError


def cmd_plot_sweep(args):
    from .plot import plot_sweep

    radius = None
    if args.radius is not None:
        try:
            radius = float(args.radius)
        except ValueError:
            raise UsageError(f"--radius: '{args.radius}' is not a number") from None
    step = args.step
    if step is not None:
        try:
            step = float(step)
        except ValueError:  # a model name (a table without steps)
            pass
    pic = plot_sweep(args.table, args.out, kind=args.kind, y=args.y, step=step, radius=radius, dpi=args.dpi,
                     title=args.title, logy={"log": True, "linear": False, "auto": None}[args.scale])
    s = pic.summary
    where = f" at {pic.step if isinstance(pic.step, str) else format(pic.step, 'g')}" if pic.kind == "groups" else ""
    left = f"; {pic.excluded} row{'s' * (pic.excluded != 1)} left out (errors)" if pic.excluded else ""
    ng, nr = s["group"].nunique(), s["radius"].nunique()
    print(f"wrote {args.out}: {pic.kind} figure{where} of {int(s['n'].sum())} counts, {ng} group{'s' * (ng != 1)}, "
          f"{nr} {'radii' if nr != 1 else 'radius'}{left}")
    return 0


def add_plot_commands(sub):
    """Register ``plot-sweep`` on the subcommand parsers ``sub`` of :func:`exactregions.cli.build_parser`."""
    p = sub.add_parser("plot-sweep", help="draw a sweep table (.parquet or .csv): counts over training or by group")
    p.add_argument("table", help="the sweep table: .parquet or .csv (one row per count)")
    p.add_argument("-o", "--out", required=True, help="file to write: .png, .pdf or .svg (the suffix chooses)")
    p.add_argument("--kind", default="training", choices=["training", "groups"],
                   help="training (default): median and interquartile band per group against the step, one panel "
                        "per radius; groups: box plots per group and radius at one step")
    p.add_argument("--step", help="the step (or model name) of --kind groups (default: the last)")
    p.add_argument("--radius", help="draw this radius only")
    p.add_argument("--y", default="activation_regions", help="the column drawn (default %(default)s)")
    p.add_argument("--scale", default="auto", choices=["auto", "log", "linear"],
                   help="the counts' axis (auto: log when they span more than two decades)")
    p.add_argument("--dpi", type=float, default=150, help="resolution of a PNG (default %(default)g)")
    p.add_argument("--title", help="the figure's title")
    p.set_defaults(func=cmd_plot_sweep)

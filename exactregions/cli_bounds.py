"""``exactregions bound`` and ``exactregions compare`` (wired into :mod:`exactregions.cli`)."""

from __future__ import annotations

import json

from .bounds.compare import ALL_METHODS, all_bounds, compare
from .bounds.global_bounds import GLOBAL_METHODS
from .cli_common import (Progress, UsageError, add_common_args, add_domain_args, add_model_arg, domain_from_args,
                         model_from_args)


def add_bound_commands(sub):

    b = sub.add_parser("bound", help="analytical upper bounds (global, or local to a domain)")
    add_model_arg(b, optional=True, extra="; omit it with --arch")
    b.add_argument("--arch", help="architecture only: input width, then hidden widths (e.g. 784,11,11)")
    g = b.add_mutually_exclusive_group()
    g.add_argument("--ball", nargs=2, metavar=("C", "R"), help="ball centre and radius")
    g.add_argument("--box", nargs=2, metavar=("LO", "HI"), help="box corners")
    g.add_argument("--whole", action="store_true", help="the whole input space")
    b.add_argument("--norm", default="2", choices=["2", "1", "inf"], help="ball norm (default 2)")
    b.add_argument("--clip", nargs=2, metavar=("LO", "HI"), help="clip the ball to this box")
    m = b.add_mutually_exclusive_group()
    m.add_argument("--method", choices=ALL_METHODS, help="one method")
    m.add_argument("--all", action="store_true", help="every method (the default)")
    b.add_argument("--derivation", action="store_true", help="print each bound's per-layer derivation")
    add_common_args(b, time_help="stop the hybrid bound's exact count of the first layers after S seconds (it "
                                 "then gives no bound)")
    b.set_defaults(func=cmd_bound)

    c = sub.add_parser("compare", help="exact count next to every bound, with ratios")
    add_model_arg(c)
    add_domain_args(c)
    add_common_args(c, time_help="stop the exact count after S seconds (a labelled lower bound)")
    c.add_argument("--max-regions", type=int, default=None, help="stop the exact count after N regions")
    c.set_defaults(func=cmd_compare)


def cmd_bound(args):

    if args.arch is not None:
        if args.model is not None or args.ball or args.box or args.whole:
            raise UsageError("--arch takes no model and no domain: it gives architecture-only bounds")
        try:
            arch = [int(a) for a in args.arch.split(",")]
        except ValueError:
            raise UsageError(f"--arch '{args.arch}' is not a comma-separated list of integers") from None
        if len(arch) < 2 or any(a < 1 for a in arch):
            raise UsageError("--arch needs positive widths: input width first, then hidden widths")
        target, domain = arch, None
        methods = [args.method] if args.method else list(GLOBAL_METHODS)
    else:
        if args.model is None:
            raise UsageError("give a MODEL, or --arch for architecture-only bounds")
        target = model_from_args(args)
        domain = None
        if args.ball or args.box or args.whole:
            domain = domain_from_args(args, target.input_dim)
        methods = [args.method] if args.method else ALL_METHODS
    bounds = all_bounds(target, domain, methods, time_limit=args.time_limit)
    if args.json:
        out = {"bounds": {m: b.value for m, b in bounds.items()},
               "domain": domain.to_dict() if domain is not None else None}
        if args.derivation:
            out["derivation"] = {m: b.derivation for m, b in bounds.items()}
        print(json.dumps(out))
        return 0
    for m, b in bounds.items():
        v = "n/a" if b.value is None else f"{b.value:,}"
        print(f"{m:<16}{v:>28}  {b.note}".rstrip())
        if args.derivation:
            for line in b.derivation:
                print(f"    {line}")
    return 0


def cmd_compare(args):

    net = model_from_args(args)
    domain = domain_from_args(args, net.input_dim)
    prog = Progress(not args.quiet)
    cmp_ = compare(net, domain, max_regions=args.max_regions, time_limit=args.time_limit, progress=prog)
    prog.done()
    if args.json:
        print(json.dumps(cmp_.to_dict()))
    else:
        print(f"model   {args.model}  {net!r}\ndomain  {domain!r}\n")
        print(cmp_.table())
    return 0

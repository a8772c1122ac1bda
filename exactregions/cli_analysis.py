"""``exactregions range``, ``lipschitz`` and ``robust`` (wired into :mod:`exactregions.cli`).

``robust`` exits with 0 (robust), 10 (not robust) or 3 (unknown: the count did not finish);
bad input is 2, as everywhere."""

from __future__ import annotations

import json

from .analysis import lipschitz, output_range, robust
from .cli_common import (Progress, UsageError, add_common_args, add_domain_args, add_model_arg, domain_from_args,
                         model_from_args)

EXIT_ROBUST, EXIT_NOT_ROBUST, EXIT_UNKNOWN = 0, 10, 3


def add_analysis_commands(sub):
    def extra_lipschitz(p):
        pick = p.add_mutually_exclusive_group()
        pick.add_argument("--output", type=int, help="the output (default 0)")
        pick.add_argument("--classes", nargs=2, type=int, metavar=("I", "J"), help="the logit difference F_I - F_J")

    def extra_robust(p):
        p.add_argument("--label", type=int, help="the class (default: the one predicted at the centre)")
        p.add_argument("--radius-search", action="store_true",
                       help="also the exact minimal adversarial radius in the ball's norm (counts every region "
                            "of the ball)")
        p.add_argument("--exact-margin", action="store_true",
                       help="a robust verdict also reports the exact smallest margin (default: a proven lower bound "
                            "on it, which is all the verdict needs and much faster)")

    for name, help_, extra, func in (
            ("range", "exact minimum and maximum of every output over a domain", None, cmd_range),
            ("lipschitz", "exact local Lipschitz constant of an output over a domain (--norm is the input "
                          "norm, also the ball's)", extra_lipschitz, cmd_lipschitz),
            ("robust", "exact robustness verdict: is the class the top output everywhere in the domain? "
                       "(exit 0 robust, 10 not robust, 3 unknown)", extra_robust, cmd_robust)):
        p = sub.add_parser(name, help=help_)
        add_model_arg(p)
        add_domain_args(p)
        if extra is not None:
            extra(p)
        add_common_args(p, time_help="stop after S seconds (the answer is then a bound, labelled; robust: unknown)")
        p.set_defaults(func=func)


def _setup(args):
    net = model_from_args(args)
    domain = domain_from_args(args, net.input_dim)
    if getattr(args, "segment", None) or getattr(args, "plane", None):
        raise UsageError("range, lipschitz and robust take --ball, --box or --whole")
    return net, domain, Progress(not args.quiet)


def cmd_range(args):
    net, domain, prog = _setup(args)
    res = output_range(net, domain, time_limit=args.time_limit, progress=prog)
    prog.done()
    if args.json:
        print(json.dumps(res.to_dict()))
        return 0
    note = "" if res.complete else "  (INCOMPLETE count: max values are lower bounds, min values upper bounds)"
    if res.stats.get("decided_by") == "bounds":
        print(f"regions solved   {res.regions} (the others decided by bounds, {res.stats['nodes']} pieces bounded)")
    else:
        print(f"regions          {res.regions}{note}")
    for k, o in enumerate(res.outputs):
        print(f"output {k:<9d} min {o['min']:.12g}   max {o['max']:.12g}")
    print(f"programmes       {res.programmes_solved} solved (the others pruned by their bound)")
    return 0


def cmd_lipschitz(args):
    net, domain, prog = _setup(args)
    classes = tuple(args.classes) if args.classes else None
    res = lipschitz(net, domain, norm=args.norm, output=args.output, classes=classes, time_limit=args.time_limit,
                    progress=prog)
    prog.done()
    if args.json:
        print(json.dumps(res.to_dict()))
        return 0
    note = "" if res.complete else "  (INCOMPLETE count: a LOWER bound)"
    print(f"lipschitz        {res.lipschitz:.12g} (input norm {res.norm}){note}")
    print(f"global bound     {res.global_upper_bound:.6g} (product of the layers' operator norms)")
    print(f"regions          {res.regions}")
    return 0


def cmd_robust(args):
    net, domain, prog = _setup(args)
    res = robust(net, domain, label=args.label, radius_search=args.radius_search, time_limit=args.time_limit,
                 exact_margin=args.exact_margin, progress=prog)
    prog.done()
    if args.json:
        out = res.to_dict()
        if not args.radius_search:
            out.pop("radius")
        print(json.dumps(out))
    else:
        print(f"verdict          {res.verdict} (label {res.label})")
        if res.min_margin is not None:
            print(f"smallest margin  {res.min_margin:.12g} (exact)")
        elif res.margin_lower_bound is not None:
            print(f"margin lower bound  {res.margin_lower_bound:.12g} (proven; --exact-margin gives the exact "
                  f"minimum)")
        if res.counterexample is not None:
            print(f"counterexample   class {res.counterexample_class} at a point of the domain "
                  f"(checked by a forward pass; --json gives its coordinates)")
        if args.radius_search:
            print(f"adversarial radius  {res.radius if res.radius is not None else '>= the ball radius'}")
        if res.note:
            print(f"note             {res.note}")
        print(f"decided by       {res.decided_by}")
        print(f"regions          {res.regions}, {res.programmes_solved} programmes solved"
              + (f", {res.nodes} pieces bounded" if res.decided_by == "bounds" else ""))
    return {"robust": EXIT_ROBUST, "not robust": EXIT_NOT_ROBUST}.get(res.verdict, EXIT_UNKNOWN)

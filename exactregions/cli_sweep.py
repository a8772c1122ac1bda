"""``exactregions sweep``: the counts of :func:`exactregions.sweep` from the command line,
one process for the whole table (models, centres and radii checked before anything is counted
or written)."""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

from .cli_common import MODEL_HELP, UsageError, add_common_args


def add_sweep_command(sub):
    """Register the ``sweep`` command.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The subcommands of the ``exactregions`` parser.

    Returns
    -------
    argparse.ArgumentParser
        The ``sweep`` parser.
    """
    s = sub.add_parser("sweep", help="count every (model, centre, radius) into one table (.parquet or .csv)",
                       description="Count the activation regions of every model in a ball around every centre for "
                                   "every radius: one row per count, written to --out as rows finish; running the "
                                   "same command again counts only the rows the table lacks.")
    s.add_argument("model", nargs="+", help=MODEL_HELP + "; several, or one folder of checkpoints (ordered by the "
                                            "step in their names: model_epoch3.npz, step_500.onnx, ...)")
    s.add_argument("--centres", "--centers", required=True, dest="centres",
                   help=".npy file of an (n, d) array of ball centres, one row per centre (an (n, c, h, w) array "
                        "of images is flattened)")
    s.add_argument("--groups", help=".npy file of n labels, one per centre (train/test/random, classes, ...)")
    s.add_argument("--radii", required=True, help="comma-separated radii, e.g. 0.1,0.3")
    s.add_argument("--norm", default="2", choices=["2", "1", "inf"], help="ball norm (default 2, exact)")
    s.add_argument("--max-regions", type=int, default=None, help="stop each count after N regions (lower bound)")
    s.add_argument("--workers", type=int, default=1, help="local processes counting in parallel")
    s.add_argument("--scheduler", help="Dask scheduler address (tcp://HOST:PORT): the counts run on its workers")
    s.add_argument("--bounds", help="comma-separated upper bounds as columns bound_<method>: local methods "
                                    "(local, local_lp, ...) on each ball, global ones (serra2018, ...)")
    s.add_argument("--linear", action="store_true", help="also count linear regions (the BFS engine counts)")
    s.add_argument("--engine", default="auto", choices=["auto", "bfs", "subdivision", "planar"],
                   help="counting engine (default auto)")
    s.add_argument("--no-boundary-distance", action="store_true",
                   help="leave the boundary_distance column empty (NaN)")
    s.add_argument("--out", required=True, help="table file to write: .parquet or .csv")
    s.add_argument("--input-shape", help="input shape without the batch axis (e.g. 1,8,8), for convolutional "
                                         "torch models")
    add_common_args(s, time_help="seconds per count; a count stopped by it is a row marked lower_bound")
    s.set_defaults(func=cmd_sweep)
    return s


def _load_array(path, what):
    if not path.lower().endswith(".npy"):
        raise UsageError(f"--{what} must name a .npy file, got '{path}'")
    if not os.path.exists(path):
        raise UsageError(f"--{what}: file not found: {path}")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise UsageError(f"--{what}: cannot read {path} ({e})") from None


def _radii(text):
    try:
        r = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise UsageError(f"--radii: '{text}' is not a comma-separated list of numbers") from None
    if not r:
        raise UsageError("--radii is empty")
    if not all(np.isfinite(v) and v > 0 for v in r):
        raise UsageError(f"--radii must be positive numbers, got {text}")
    return r


def _models(paths):
    for p in paths:
        if not os.path.exists(p):
            raise UsageError(f"model file not found: {p}")
    if len(paths) > 1 and any(os.path.isdir(p) for p in paths):
        raise UsageError("give either model files or one folder of checkpoints, not both")
    return paths[0] if len(paths) == 1 else list(paths)


def cmd_sweep(args):
    """Run ``exactregions sweep``: check the inputs (one line and exit 2 on a bad one, nothing
    written), sweep, print one summary line.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments.

    Returns
    -------
    int
        0, 1 when some rows hold errors, 130 when interrupted (the rows finished are written).
    """
    from .sweeps import _format, _sweep_rows

    t0 = time.perf_counter()
    centres = _load_array(args.centres, "centres")
    if centres.ndim < 2 or not np.issubdtype(centres.dtype, np.number):
        raise UsageError(f"--centres must hold an (n, d) array of numbers, one centre per row (images are "
                         f"flattened); {args.centres} holds {centres.dtype} of shape {centres.shape}")
    groups = None
    if args.groups:
        groups = _load_array(args.groups, "groups").reshape(-1)
        if len(groups) != len(centres):
            raise UsageError(f"--groups has {len(groups)} labels for {len(centres)} centres")
    try:
        _format(args.out)
    except ValueError as e:
        raise UsageError(f"--out: {e}") from None
    shape = None
    if args.input_shape:
        try:
            shape = tuple(int(v) for v in args.input_shape.split(","))
        except ValueError:
            raise UsageError(f"--input-shape '{args.input_shape}' is not a comma-separated list of integers") from None
    bounds = [b.strip() for b in args.bounds.split(",") if b.strip()] if args.bounds else None
    table, s = _sweep_rows(_models(args.model), centres, _radii(args.radii), norm=args.norm, groups=groups,
                           bounds=bounds, linear=args.linear, time_limit=args.time_limit,
                           max_regions=args.max_regions, workers=args.workers, scheduler=args.scheduler,
                           out=args.out, progress=not args.quiet, engine=args.engine, input_shape=shape,
                           boundary_distance=not args.no_boundary_distance)
    seconds = time.perf_counter() - t0
    if args.json:
        print(json.dumps({"out": args.out, "rows": s["rows"], "asked": s["asked"], "counted": s["counted"],
                          "already_there": s["skipped"], "lower_bounds": s["lower_bounds"], "errors": len(s["errors"]),
                          "first_error": s["errors"][0] if s["errors"] else None, "interrupted": s["interrupted"],
                          "seconds": seconds}))
    else:
        parts = [f"{s['counted']} counted", f"{s['skipped']} already there"]
        if s["lower_bounds"]:
            parts.append(f"{s['lower_bounds']} LOWER BOUNDS (stopped by a limit)")
        if s["errors"]:
            parts.append(f"{len(s['errors'])} errors (first: {s['errors'][0]})")
        print(f"wrote {args.out}: {s['rows']} of {s['asked']} rows ({', '.join(parts)}) in {seconds:.1f} s")
    if s["interrupted"]:
        print(f"exactregions: interrupted: {s['rows']} of {s['asked']} rows are in {args.out}; rerun the same command "
              "to count the rest", file=sys.stderr)
        return 130
    return 1 if s["errors"] else 0

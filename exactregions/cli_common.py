"""What the command-line modules share: argument parsing of vectors and domains, the one-line
usage error, progress on stderr, model loading from the arguments. Below both
:mod:`exactregions.cli` and :mod:`exactregions.cli_bounds`, so neither imports the other's
helpers."""

from __future__ import annotations

import argparse
import re
import sys
import time

import numpy as np

from .domains import Ball, Box, Plane, Segment, Whole
from .io import ModelError, load_model


class UsageError(ValueError):
    """Bad command-line input."""


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        raise UsageError(f"{message} (see '{self.prog} --help')")


#: the help text of every MODEL argument: each format the loaders read
MODEL_HELP = ("model file: .npz, .onnx, or a torch file (.pt, .pth): a state dict with --factory, or a pickled "
              "module or TorchScript archive with --trust-pickle")


def add_model_arg(p: argparse.ArgumentParser, optional: bool = False, extra: str = ""):
    """The MODEL positional argument, ``--input-shape``, and how a torch file is read:
    ``--factory`` (what builds the module a state dict belongs to) and ``--trust-pickle`` (also
    read files that run code when loaded); the same on every subcommand."""
    p.add_argument("model", nargs="?" if optional else None, help=MODEL_HELP + extra)
    p.add_argument("--input-shape", help="input shape without the batch axis (e.g. 1,8,8), for convolutional "
                                         "torch models")
    p.add_argument("--factory", metavar="MODULE:CALLABLE",
                   help="for a torch state dict: the callable that builds its nn.Module, as MODULE:CALLABLE or "
                        "path/to/file.py:CALLABLE (importing it runs that module's code)")
    p.add_argument("--trust-pickle", action="store_true",
                   help="also read torch files that run code when loaded (a pickled module, a TorchScript archive): "
                        "only for files from a source you trust")


def add_common_args(p: argparse.ArgumentParser, *, time_help: str = "stop after S seconds (the result is then a "
                                                                     "labelled bound)"):
    """``--json``, ``--time-limit`` and ``--quiet``: the options every subcommand takes alike."""
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument("--time-limit", type=float, default=None, metavar="S", help=time_help)
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


_NEGATIVE = re.compile(r"^-(\d|\.\d)")


def protect_negatives(argv):
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
    """Progress line on stderr: regions found, frontier size, rate; with ``stage`` and ``detail``
    (the engines' optional keywords) what the current step is doing: the planar walk's leaves,
    the subdivision's first layer, the BFS's current region (rows decided and left, which in high
    dimension take many seconds per region). At most every 5 s when stderr is not a terminal; on
    a terminal the line is rewritten at most 10 times a second."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.last = 0.0
        self.width = 0

    def __call__(self, found, frontier, seconds, stage=None, detail=None):
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < (0.1 if self.tty else 5.0):
            return
        self.last = now
        rate = found / seconds if seconds > 0 else 0.0
        if detail is not None:  # the BFS inside one region
            line = f"regions {found}  frontier {frontier}  {seconds:.1f} s  {stage}: {detail}"
        elif stage is not None and frontier is None:  # the planar walk: regions so far
            line = f"{stage}: {found} regions  {rate:,.0f} regions/s  {seconds:.1f} s"
        elif stage is not None:  # the subdivision's first layer: cells so far, neurons left
            line = f"{stage}: {found} cells, {frontier} neurons left  {seconds:.1f} s"
        else:
            line = f"regions {found}  frontier {frontier}  {rate:,.0f} regions/s  {seconds:.1f} s"
        if self.tty:  # (pad over the end of a longer previous line)
            sys.stderr.write("\r" + line.ljust(self.width))
            self.width = len(line)
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def done(self):
        if self.enabled and self.tty:
            sys.stderr.write("\n")


def model_from_args(args):
    """The network of ``args.model`` (with ``--input-shape``, ``--factory``,
    ``--trust-pickle``); a model error is reported in the command line's own spelling."""
    shape = getattr(args, "input_shape", None)
    if shape is not None:
        try:
            shape = tuple(int(v) for v in shape.split(","))
        except ValueError:
            raise UsageError(f"--input-shape '{shape}' is not a comma-separated list of integers") from None
    try:
        return load_model(args.model, input_shape=shape, factory=getattr(args, "factory", None),
                          trust=getattr(args, "trust_pickle", False))
    except ModelError as e:
        raise ModelError(e.cli) from None

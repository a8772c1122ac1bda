"""A picture (not a test): the exact regions of a LeNet-sized convolutional net on the plane
through three digits images, with its exact decision boundary.

Net and images: ``data/speed/lenet_digits.onnx`` and ``lenet_plane.npy`` (``scripts/train_lenet.py``:
Conv2d(1,8,5) - ReLU - AvgPool2d(2) - Conv2d(8,16,5) - ReLU - AvgPool2d(2) - Linear(256,64) -
ReLU - Linear(64,10), trained on scikit-learn's digits upsampled to 28x28). The whole default
slice (the box around the three images) has 738,842 regions; the picture is a disc of radius
``--radius`` around the images' centroid (in the plane's Euclidean units), or with
``--parallelogram`` the parallelogram with the three images at its corners (223,124 regions,
drawn in the shaded style: thin edges over ``--shade``); the counts of the full slice are in the
README's bench table.

Writes ``--out`` (default ``data/lenet_slice.png``; .pdf and .svg too) and a .json beside it
(count, seconds, decision boundary). Usage:
python scripts/lenet_slice.py [--radius 1.5 | --parallelogram] [--shade area|distance|output] [--out F] [--dpi N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from exactregions import Plane, count_regions, load_model  # noqa: E402
from exactregions.plot import plot_regions  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--radius", type=float, default=1.5)
    ap.add_argument("--parallelogram", action="store_true", help="the parallelogram of the three images")
    ap.add_argument("--shade", choices=["output", "area", "distance"], help="the shaded style's quantity")
    ap.add_argument("--out", default=str(ROOT / "data" / "lenet_slice.png"), help=".png, .pdf or .svg")
    ap.add_argument("--dpi", type=float, default=150)
    args = ap.parse_args()
    net = load_model(ROOT / "data" / "speed" / "lenet_digits.onnx")
    plane = Plane(*np.load(ROOT / "data" / "speed" / "lenet_plane.npy"),
                  **({"parallelogram": True} if args.parallelogram else {"radius": args.radius}))
    t = time.perf_counter()
    res = count_regions(net, plane, engine="planar", decision=True, polygons=True)
    sec = time.perf_counter() - t
    d = res.decision
    where = "parallelogram" if args.parallelogram else f"disc r={args.radius:g}"
    t = time.perf_counter()
    pic = plot_regions(res, args.out, points=plane.points_2d(), point_labels=["P0 (a 0)", "P1 (a 1)", "P2 (a 2)"],
                       axes_labels=("plane u1", "plane u2"), shade=args.shade, dpi=args.dpi,
                       title=f"LeNet-sized net, plane through three digits, {where}; "
                             f"the decision boundary crosses {d.regions_crossed} regions")  # (the count: subtitle)
    print(f"drew {args.out} ({pic.style} style{', ' + pic.shade if pic.shade else ''}) in "
          f"{time.perf_counter() - t:.1f} s", file=sys.stderr)
    summary = {"network": repr(net), "domain": plane.to_dict() | {"p0": "digits image 0", "p1": "digits image 1",
                                                                  "p2": "digits image 2"},
               "activation_regions": res.activation_regions, "complete": res.complete, "seconds": round(sec, 3),
               "decision_boundary": d.to_dict(res.complete)}
    Path(args.out).with_suffix(".json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()

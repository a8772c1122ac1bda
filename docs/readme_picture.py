"""Draw ``docs/_static/cnn_slice.png``, the picture of the README and of the documentation's
front page: the gallery example of a CNN plane slice, drawn at full size.

Usage: ``python docs/readme_picture.py`` (from the repository root).
"""

import os
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")

from exactregions import plot_regions  # noqa: E402

example = runpy.run_path(str(ROOT / "examples" / "plot_cnn_plane_slice.py"))
out = ROOT / "docs" / "_static" / "cnn_slice.png"
plot_regions(example["result"], out, points=example["plane"].points_2d(), point_labels=["a 0", "a 1", "a 2"],
             axes_labels=("plane u1", "plane u2"), title="A small CNN on the plane through three digits images")
from PIL import Image  # noqa: E402  (matplotlib's own dependency)

Image.open(out).convert("RGB").quantize(64).save(out, optimize=True)  # a palette PNG: a third of the size
out.chmod(0o644)
print(f"wrote {out.relative_to(ROOT)}")

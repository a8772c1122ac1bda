"""Train the 784-D digits MLPs of the speed benchmark (not a test).

scikit-learn's 8x8 digits, upsampled to 28x28 (bilinear) and divided by 16, the stand-in for
784-D images; Adam (lr 1e-3), batches of 128, 30 epochs, torch seed 0: the recipe of
``data/speed/d784_32x32_digits.npz`` (from the reference material of issue 10), here for other
hidden widths. Writes ``data/speed/d784_<widths>_digits.npz``.

Usage: python scripts/train_digits784.py 64,64
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from sklearn import datasets  # noqa: E402

from exactregions.io import save_npz  # noqa: E402
from exactregions.io.torch import from_torch  # noqa: E402
from training import fit  # noqa: E402  (scripts/training.py)


def digits784():
    X, y = datasets.load_digits(return_X_y=True)
    img = torch.as_tensor(X / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    X = nn.functional.interpolate(img, size=(28, 28), mode="bilinear", align_corners=False).reshape(-1, 784)
    return X, torch.as_tensor(y)


def main():
    widths = [int(w) for w in (sys.argv[1] if len(sys.argv) > 1 else "64,64").split(",")]
    torch.manual_seed(0)
    torch.set_num_threads(1)
    X, y = digits784()
    dims = [784] + widths
    layers = []
    for a, b in zip(dims[:-1], dims[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(dims[-1], 10))
    fit(model, X, y, epochs=30, lr=1e-3, batch=128)
    acc = float((model(X).argmax(1) == y).float().mean())
    out = ROOT / "data" / "speed" / f"d784_{'x'.join(map(str, widths))}_digits.npz"
    save_npz(from_torch(model.double()), out)
    print(f"wrote {out} (training accuracy {acc:.3f})")
    assert np.allclose(np.load(ROOT / "data" / "speed" / "d784_center.npy").ravel(), X[7].numpy(), atol=1e-6)


if __name__ == "__main__":
    main()

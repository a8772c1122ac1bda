"""Train the convolutional nets of the slice benchmark (issue 11; not a test).

scikit-learn's 8x8 digits, upsampled (bilinear) to 28x28 and divided by 16, stand in for
MNIST; Adam (lr 1e-3), batches of 128, torch seed 0, one thread.

* ``lenet``: Conv2d(1,8,5) - ReLU - AvgPool2d(2) - Conv2d(8,16,5) - ReLU - AvgPool2d(2) -
  Flatten - Linear(256,64) - ReLU - Linear(64,10): the issue's LeNet-sized net, 5,696 ReLUs.
* ``lenet-max``: the same with MaxPool2d(2) (the classic LeNet's pooling).
* ``cifar``: a CIFAR-sized net on 3x32x32 inputs (the digits at 32x32, one tint per
  channel): Conv2d(3,16,3,pad 1) - ReLU - Conv2d(16,32,3,stride 2,pad 1) - ReLU -
  Conv2d(32,32,3,stride 2,pad 1) - ReLU - Flatten - Linear(2048,64) - ReLU - Linear(64,10):
  16,384 + 8,192 + 2,048 + 64 = 26,688 ReLUs.

Writes ``data/speed/<name>_digits.onnx`` and three training images per net
(``<name>_plane.npy``: the rows P0, P1, P2 of the slice). Usage:
``python scripts/train_lenet.py lenet lenet-max cifar``
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from sklearn import datasets  # noqa: E402

from training import fit  # noqa: E402  (scripts/training.py)

EPOCHS = 8


def images(size: int, channels: int):
    X, y = datasets.load_digits(return_X_y=True)
    img = torch.as_tensor(X / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    img = nn.functional.interpolate(img, size=(size, size), mode="bilinear", align_corners=False)
    if channels == 3:  # one tint per channel, so the channels differ
        img = torch.cat([img, 0.7 * img, img.flip(-1) * 0.5], dim=1)
    return img, torch.as_tensor(y)


def model(name: str) -> nn.Module:
    if name in ("lenet", "lenet-max"):
        pool = nn.AvgPool2d(2) if name == "lenet" else nn.MaxPool2d(2)
        pool2 = nn.AvgPool2d(2) if name == "lenet" else nn.MaxPool2d(2)
        return nn.Sequential(nn.Conv2d(1, 8, 5), nn.ReLU(), pool, nn.Conv2d(8, 16, 5), nn.ReLU(), pool2,
                             nn.Flatten(), nn.Linear(256, 64), nn.ReLU(), nn.Linear(64, 10))
    if name == "cifar":
        return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(),
                             nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
                             nn.Conv2d(32, 32, 3, stride=2, padding=1), nn.ReLU(),
                             nn.Flatten(), nn.Linear(2048, 64), nn.ReLU(), nn.Linear(64, 10))
    raise SystemExit(f"unknown net '{name}': choose lenet, lenet-max or cifar")


def main():
    for name in sys.argv[1:] or ["lenet"]:
        torch.manual_seed(0)
        torch.set_num_threads(1)
        size, channels = (32, 3) if name == "cifar" else (28, 1)
        X, y = images(size, channels)
        m = model(name)
        fit(m, X, y, epochs=EPOCHS, lr=1e-3, batch=128)
        m.eval()
        acc = float((m(X).argmax(1) == y).float().mean())
        out = ROOT / "data" / "speed" / f"{name}_digits.onnx"
        torch.onnx.export(m.double(), torch.zeros((1, channels, size, size), dtype=torch.float64), str(out),
                          dynamo=False, input_names=["x"], output_names=["y"])
        pts = X[[0, 1, 2]].double().reshape(3, -1).numpy()  # three training images: a 0, a 1 and a 2
        np.save(ROOT / "data" / "speed" / f"{name}_plane.npy", pts)
        print(f"wrote {out} (training accuracy {acc:.3f}, {sum(p.numel() for p in m.parameters())} parameters)")


if __name__ == "__main__":
    main()

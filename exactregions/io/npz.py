"""The ``.npz`` interchange format.

Arrays ``W0, b0, W1, b1, ..., WL, bL`` with ``W_i`` of shape (out, in); ReLU after every
layer but the last; an optional scalar ``leaky_slope`` makes every hidden activation
LeakyReLU(leaky_slope); optional boolean arrays ``linear{i}`` mark pass-through units of hidden
layer i (identity activation: a skip connection carried through the layer); an optional
integer array ``pool_tree`` (rows: unit, parent row, side) marks max-pool comparison units
(:meth:`~exactregions.network.Network.region_keys`).
"""

from __future__ import annotations

import os
import tempfile
import zipfile

import numpy as np

from ..network import Network, NetworkError, dense
from .errors import ModelError


def load_npz(path) -> Network:
    try:
        with np.load(path, allow_pickle=False) as z:
            files = set(z.files)
            n = 0
            while f"W{n}" in files:
                n += 1
            if n == 0:
                raise ModelError(f"{path}: no array W0: an .npz model needs W0, b0, W1, b1, ...")
            missing = [f"b{i}" for i in range(n) if f"b{i}" not in files]
            if missing:
                raise ModelError(f"{path}: missing bias arrays {', '.join(missing)}")
            Ws = [z[f"W{i}"] for i in range(n)]
            bs = [z[f"b{i}"] for i in range(n)]
            slope = float(z["leaky_slope"]) if "leaky_slope" in files else None
            linear = [z[f"linear{i}"] if f"linear{i}" in files else np.zeros(len(bs[i]), bool)
                      for i in range(n - 1)]
            tree = z["pool_tree"] if "pool_tree" in files else None
    except ModelError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise ModelError(f"{path}: not a readable .npz file ({e.__class__.__name__}: {e})") from None
    try:
        return Network(Ws, bs, slopes=slope, linear=linear, pool_tree=tree)
    except NetworkError as e:
        raise ModelError(f"{path}: {e}") from None


def save_npz(net: Network, path) -> None:
    """Write ``net`` atomically (a temporary file renamed into place)."""
    arrays = {}
    for i, (w, b) in enumerate(zip(net.weights, net.biases)):
        arrays[f"W{i}"], arrays[f"b{i}"] = dense(w), b  # (the format holds dense layers)
    if net.slopes and any(s != 0 for s in net.slopes):
        if len(set(net.slopes)) != 1:
            raise ModelError("the .npz format holds one leaky slope for all layers")
        arrays["leaky_slope"] = np.array(net.slopes[0])
    for i, lin in enumerate(net.linear):
        if lin.any():
            arrays[f"linear{i}"] = lin
    if net.pool_tree.size:
        arrays["pool_tree"] = net.pool_tree
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise

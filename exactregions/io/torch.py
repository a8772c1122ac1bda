"""Torch import: ``nn.Sequential`` (nested allowed) of the piecewise-linear subset.

Linear and BatchNorm1d (eval mode) are composed into one pending affine map; ReLU and
LeakyReLU close a hidden layer; Flatten, Identity and Dropout (identity in eval) are
skipped. Anything else is refused with the module's name. The canonical network is checked
against the torch model on random inputs.
"""

from __future__ import annotations

import numpy as np

from ..network import Network, NetworkError
from .errors import ModelError

#: largest output difference accepted between the torch module and its canonical form
CHECK_TOL = 1e-5


def _leaves(module, prefix=""):
    import torch.nn as nn

    if isinstance(module, nn.Sequential):
        for name, child in module.named_children():
            yield from _leaves(child, f"{prefix}.{name}" if prefix else name)
    else:
        yield prefix or module.__class__.__name__, module


def from_torch(module, check: bool = True) -> Network:
    """Convert a torch ``nn.Sequential`` (or a single Linear) to a :class:`Network`."""
    import torch
    import torch.nn as nn

    module = module.eval()
    Ws, bs, slopes = [], [], []
    M, v = None, None  # pending affine map since the last activation
    in_dim = None
    for name, m in _leaves(module):
        if isinstance(m, nn.Linear):
            W = m.weight.detach().double().numpy()
            b = m.bias.detach().double().numpy() if m.bias is not None else np.zeros(W.shape[0])
            if in_dim is None:
                in_dim = W.shape[1]
            M, v = (W, b) if M is None else (W @ M, W @ v + b)
        elif isinstance(m, nn.BatchNorm1d):
            if m.running_mean is None:
                raise ModelError(f"layer '{name}': BatchNorm1d without running statistics cannot be folded")
            scale = (m.weight.detach().double().numpy() if m.affine else 1.0) / np.sqrt(
                m.running_var.detach().double().numpy() + m.eps)
            shift = (m.bias.detach().double().numpy() if m.affine else 0.0) - scale * m.running_mean.detach().double().numpy()
            if M is None:
                if in_dim is None:
                    in_dim = scale.shape[0]
                M, v = np.diag(scale), shift
            else:
                M, v = scale[:, None] * M, scale * v + shift
        elif isinstance(m, (nn.ReLU, nn.LeakyReLU)):
            slope = 0.0 if isinstance(m, nn.ReLU) else float(m.negative_slope)
            if M is None:
                if not slopes:
                    raise ModelError(f"layer '{name}': an activation before any Linear layer is not supported")
                slopes[-1] *= slope  # act(act(z)) with no affine map between
                continue
            Ws.append(M), bs.append(v), slopes.append(slope)
            M, v = None, None
        elif isinstance(m, (nn.Flatten, nn.Identity, nn.Dropout)):
            continue
        else:
            raise ModelError(f"unsupported layer '{name}' ({m.__class__.__name__}): only Linear, ReLU, "
                             "LeakyReLU, BatchNorm1d, Flatten, Identity and Dropout are supported")
    if M is None:
        if not Ws:
            raise ModelError("the module holds no Linear layer")
        d = Ws[-1].shape[0]
        M, v = np.eye(d), np.zeros(d)  # ends with an activation: identity output layer
    try:
        net = Network(Ws + [M], bs + [v], slopes=slopes)
    except NetworkError as e:
        raise ModelError(str(e)) from None
    if check:
        x = np.random.default_rng(0).normal(size=(64, net.input_dim))
        with torch.no_grad():
            ref = module(torch.as_tensor(x, dtype=next(module.parameters()).dtype)).double().numpy()
        diff = float(np.max(np.abs(ref.reshape(64, -1) - net.forward(x))))
        scale = max(1.0, float(np.max(np.abs(ref))))
        if not diff <= CHECK_TOL * scale:
            raise ModelError(f"converted network differs from the torch module (largest difference {diff:.3g})")
    return net


def load_torch(path) -> Network:
    """Load a module saved with ``torch.save(module, path)``."""
    import torch
    import torch.nn as nn

    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # torch raises many kinds on corrupt files
        raise ModelError(f"{path}: not a readable torch file ({e.__class__.__name__})") from None
    if isinstance(obj, dict):
        raise ModelError(f"{path}: holds a state_dict, which has no architecture: save the module itself "
                         "(torch.save(model, path)) or export to .npz")
    if not isinstance(obj, nn.Module):
        raise ModelError(f"{path}: holds a {type(obj).__name__}, not a torch module")
    return from_torch(obj)

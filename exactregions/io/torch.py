"""Torch import of the piecewise-linear subset.

A plain ``nn.Sequential`` (nested allowed) of Linear, BatchNorm1d (eval), ReLU, LeakyReLU,
Flatten, Identity and Dropout is read directly: affine layers compose into one pending map,
each activation closes a hidden layer. Convolutional models (Conv2d, BatchNorm2d, AvgPool2d,
MaxPool2d)
and modules with their own ``forward`` (e.g. a residual block) are exported to ONNX in memory
(torch's TorchScript exporter) and read by :mod:`exactregions.io.onnx`; they need the input
shape. Other layers are refused with their name. The
canonical network is checked against the torch model on random inputs.
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


class _NeedsGraph(Exception):
    """The module is not a plain Sequential of dense layers: go through ONNX."""


#: layers on images: a module with one of them is traced through ONNX (:func:`_via_onnx`)
_IMAGE_LAYERS = ("Conv2d", "BatchNorm2d", "AvgPool2d", "MaxPool2d", "ZeroPad2d", "ConstantPad2d", "AdaptiveAvgPool2d")
_REFUSED = {"MaxPool1d": "1-D max pooling is not supported: use MaxPool2d, AvgPool or a strided Conv"}


def from_torch(module, check: bool = True, input_shape=None) -> Network:
    """Convert a torch module to a :class:`Network`.

    ``input_shape`` (without the batch dimension, e.g. ``(1, 8, 8)``) is needed for
    convolutional models and modules with their own ``forward``.
    """
    import torch.nn as nn

    module = module.eval()
    for name, m in module.named_modules():
        if type(m).__name__ in _REFUSED:
            raise ModelError(f"unsupported layer '{name}' ({type(m).__name__}): {_REFUSED[type(m).__name__]}")
    try:
        return _from_sequential(module, check)
    except _NeedsGraph:
        if input_shape is None:
            first = next((m for m in module.modules() if isinstance(m, (nn.Linear, nn.Conv2d))), None)
            if isinstance(first, nn.Linear):
                input_shape = (first.in_features,)
            else:
                raise ModelError("this torch model needs its input shape (e.g. --input-shape 1,8,8 "
                                 "for 8x8 grey images) to be converted") from None
        return _via_onnx(module, tuple(int(v) for v in input_shape), check)


def _via_onnx(module, input_shape, check):
    import io
    import warnings

    import torch

    from .onnx import load_onnx

    buf = io.BytesIO()
    dtype = next(module.parameters()).dtype
    try:
        with warnings.catch_warnings():  # the TorchScript exporter is deprecated but needs no extra package
            warnings.simplefilter("ignore")
            torch.onnx.export(module, torch.zeros((1,) + input_shape, dtype=dtype), buf, dynamo=False,
                              input_names=["x"], output_names=["y"])
    except ModelError:
        raise
    except Exception as e:
        raise ModelError(f"could not trace the torch module through ONNX ({e.__class__.__name__}: {e})") from None
    net = load_onnx(buf.getvalue(), check=False)
    if check:
        x = np.random.default_rng(0).normal(size=(16,) + input_shape)
        with torch.no_grad():
            ref = module(torch.as_tensor(x, dtype=dtype)).double().numpy().reshape(16, -1)
        diff = float(np.max(np.abs(ref - net.forward(x.reshape(16, -1)))))
        if not diff <= CHECK_TOL * max(1.0, float(np.max(np.abs(ref)))):
            raise ModelError(f"converted network differs from the torch module (largest difference {diff:.3g})")
    return net


def _from_sequential(module, check):
    import torch
    import torch.nn as nn

    if not isinstance(module, (nn.Sequential, nn.Linear)):
        raise _NeedsGraph
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
        elif isinstance(m, tuple(getattr(nn, n) for n in _IMAGE_LAYERS)) or type(m).forward is not nn.Module.forward \
                and not isinstance(m, (nn.Tanh, nn.Sigmoid, nn.GELU, nn.Softmax, nn.ELU, nn.SiLU)) \
                and type(m).__module__.split(".")[0] != "torch":
            raise _NeedsGraph
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


def load_torch(path, input_shape=None) -> Network:
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
    return from_torch(obj, input_shape=input_shape)

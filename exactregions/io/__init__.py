"""Model import and export: everything that knows a file format or a framework."""

from .npz import load_npz, save_npz
from .errors import ModelError


def load_model(path, input_shape=None):
    """Load a :class:`~exactregions.network.Network` from ``.npz``, ``.onnx`` or a saved torch
    module (``.pt``; ``input_shape`` without the batch axis is needed for convolutional ones)."""
    import os

    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelError(f"model file not found: {path}")
    low = path.lower()
    if low.endswith(".npz"):
        return load_npz(path)
    if low.endswith((".pt", ".pth")):
        from .torch import load_torch
        return load_torch(path, input_shape=input_shape)
    if low.endswith(".onnx"):
        from .onnx import load_onnx
        return load_onnx(path)
    raise ModelError(f"unknown model format '{os.path.splitext(path)[1]}': use .npz, .onnx or a saved torch module (.pt)")


def _is_path(model) -> bool:
    import os

    return isinstance(model, (str, os.PathLike))


def _is_torch_module(model) -> bool:
    return any(k.__module__.startswith("torch.nn") and k.__name__ == "Module" for k in type(model).__mro__)


def _from_torch_module(model, input_shape):
    from .torch import from_torch
    return from_torch(model, input_shape=input_shape)


def _register():
    """Let :func:`exactregions.network.as_network` take model paths and torch modules."""
    from ..network import CONVERTERS

    for pair in ((_is_path, load_model), (_is_torch_module, _from_torch_module)):
        if pair not in CONVERTERS:
            CONVERTERS.append(pair)


_register()

__all__ = ["load_model", "load_npz", "save_npz", "ModelError"]

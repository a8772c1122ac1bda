"""Model import and export: everything that knows a file format or a framework."""

from .npz import load_npz, save_npz
from .errors import ModelError


def load_model(path, input_shape=None, *, factory=None, trust: bool = False):
    """Load a :class:`~exactregions.network.Network` from a model file.

    Nothing stored in a file runs unless ``trust`` says so: ``.npz`` files are read with
    ``allow_pickle=False``, ``.onnx`` files are parsed as protobuf, and torch files
    (``.pt``/``.pth``) are read weights-only, as ``torch.load`` does by default
    (:func:`exactregions.io.torch.load_torch`).

    Parameters
    ----------
    path : str or path
        ``.npz`` (:mod:`exactregions.io.npz`), ``.onnx`` (:mod:`exactregions.io.onnx`), or a
        torch file: a state dict (with ``factory``), a pickled module or a TorchScript archive
        (both with ``trust=True``).
    input_shape : tuple of int, optional
        The input shape without the batch axis (``(1, 28, 28)``), for convolutional torch models.
    factory : callable, nn.Module or str, optional
        For a torch state dict: what builds the module the weights belong to (a callable that
        returns an ``nn.Module``, the module itself, or ``"MODULE:CALLABLE"`` /
        ``"FILE.py:CALLABLE"``); not used for other files.
    trust : bool
        Also read torch files that run code when loaded (a pickled module, a TorchScript
        archive): only for files from a source you trust.

    Returns
    -------
    Network

    Raises
    ------
    ModelError
        One line naming the file: not found, unreadable, untrusted, a state dict without a
        factory, or an unsupported layer or operator.

    Examples
    --------
    >>> import tempfile
    >>> from exactregions import Network, load_model, save_npz
    >>> path = tempfile.mkdtemp() + "/net.npz"
    >>> save_npz(Network([[[1.0, -1.0]], [[2.0]]], [[0.0], [0.0]]), path)
    >>> load_model(path).hidden_widths
    [1]
    """
    import os

    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelError(f"model file not found: {path}")
    low = path.lower()
    if low.endswith(".npz"):
        return load_npz(path)
    if low.endswith((".pt", ".pth")):
        from .torch import load_torch
        return load_torch(path, input_shape=input_shape, factory=factory, trust=trust)
    if low.endswith(".onnx"):
        from .onnx import load_onnx
        return load_onnx(path)
    raise ModelError(f"{path}: unknown model format '{os.path.splitext(path)[1]}': use .npz, .onnx or a torch "
                     "file (.pt, .pth)")


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

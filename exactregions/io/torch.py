"""Torch import of the piecewise-linear subset.

Files (:func:`load_torch`) are read as torch's own default reads them: weights only
(``torch.load(..., weights_only=True)``, which rebuilds tensors and plain containers and
refuses every other object). A state dict, bare or inside a training checkpoint, is loaded into
the module a ``factory`` builds. Two kinds of file run code stored in them when they are read,
and are read only with ``trust=True``: a fully pickled module (``torch.save(model, path)``:
unpickling calls whatever the pickle names) and a TorchScript archive (``torch.jit.save``: its
code is compiled and run; torch itself refuses TorchScript under ``weights_only=True``).

Modules (:func:`from_torch`): a plain ``nn.Sequential`` (nested allowed) of the layers of
:data:`LAYERS` is read directly: affine layers compose into one pending map, each activation
closes a hidden layer. Models with the layers of :data:`IMAGE_LAYERS` and modules with their own
``forward`` (a residual block, say) are exported to ONNX in memory (torch's TorchScript
exporter) and read by :mod:`exactregions.io.onnx`; they need the input shape. Scripted modules
(``torch.jit.script``) are read the same way. Other layers are refused with their name and the
list of supported ones (made from those two tables). The canonical network is checked against
the torch module on random inputs.
"""

from __future__ import annotations

import os

import numpy as np

from ..network import Network, NetworkError
from .errors import ModelError

#: largest output difference accepted between the torch module and its canonical form
CHECK_TOL = 1e-5
#: keys under which a training checkpoint keeps the model's state dict (Lightning: "state_dict")
STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model")


# ------------------------------------------------------------------------------- layers
class _NeedsGraph(Exception):
    """The module is not a plain Sequential of dense layers: go through ONNX."""


def _linear(m, name, acc):
    W = m.weight.detach().double().numpy()
    b = m.bias.detach().double().numpy() if m.bias is not None else np.zeros(W.shape[0])
    acc.affine(W, b)


def _batchnorm1d(m, name, acc):
    if m.running_mean is None:
        raise ModelError(f"layer '{name}': BatchNorm1d without running statistics cannot be folded")
    scale = (m.weight.detach().double().numpy() if m.affine else 1.0) / np.sqrt(
        m.running_var.detach().double().numpy() + m.eps)
    shift = (m.bias.detach().double().numpy() if m.affine else 0.0) - scale * m.running_mean.detach().double().numpy()
    scale = np.broadcast_to(scale, shift.shape)
    acc.affine(np.diag(scale), shift)


def _relu(m, name, acc):
    acc.activation(0.0, name)


def _leaky_relu(m, name, acc):
    acc.activation(float(m.negative_slope), name)


def _nothing(m, name, acc):
    pass


#: the layers read directly from a Sequential: class name in torch.nn -> handler
LAYERS = {"Linear": _linear, "BatchNorm1d": _batchnorm1d, "ReLU": _relu, "LeakyReLU": _leaky_relu,
          "Flatten": _nothing, "Identity": _nothing, "Dropout": _nothing}
#: layers on images: a module with one of them is traced through ONNX (:func:`_via_onnx`)
IMAGE_LAYERS = ("Conv2d", "BatchNorm2d", "AvgPool2d", "MaxPool2d", "ZeroPad2d", "ConstantPad2d", "AdaptiveAvgPool2d")
_REFUSED = {"MaxPool1d": "1-D max pooling is not supported: use MaxPool2d, AvgPool or a strided Conv"}


def supported_layers() -> str:
    """The supported torch layers, as an unsupported layer's message lists them (made from
    :data:`LAYERS` and :data:`IMAGE_LAYERS`, so the list and the dispatch agree)."""
    return (", ".join(LAYERS) + "; traced through ONNX (with the input shape): " + ", ".join(IMAGE_LAYERS)
            + ", and modules with their own forward made of these")


def _scripted(m) -> bool:
    """Whether ``m`` is a scripted module (``torch.jit.script`` or ``torch.jit.load``)."""
    return hasattr(m, "_c") and hasattr(m, "original_name")


def _kind(m):
    """The torch.nn class name that says how ``m`` is read: for a Python module, its nearest
    torch.nn base class that this module knows (else its nearest torch.nn class; None if it
    has a forward of its own or is no torch.nn class); for a scripted module, the class it was
    scripted from (None for a user's class)."""
    import torch.nn as nn

    if _scripted(m):
        q = m._c._type().qualified_name()
        return q.rsplit(".", 1)[1] if q.startswith("__torch__.torch.nn.modules.") else None
    known = set(LAYERS) | set(IMAGE_LAYERS) | set(_REFUSED) | {"Sequential"}
    nearest = None
    for cls in type(m).__mro__:
        if cls is nn.Module:
            break
        if cls.__module__.startswith("torch.nn.modules."):
            if type(m).forward is not cls.forward:
                return None  # (a forward of its own below this class)
            if cls.__name__ in known:
                return cls.__name__
            nearest = nearest or cls.__name__
    return nearest


def _is_a(m, name) -> bool:
    """Whether ``m`` is (or was scripted from) the torch.nn class ``name`` or a subclass of it."""
    if _scripted(m):
        return _kind(m) == name
    return any(c.__name__ == name and c.__module__.startswith("torch.nn.modules.") for c in type(m).__mro__)


def _leaves(module, prefix=""):
    if _kind(module) == "Sequential":
        for name, child in module.named_children():
            yield from _leaves(child, f"{prefix}.{name}" if prefix else name)
    else:
        yield prefix or _kind(module) or type(module).__name__, module


class _Affine:
    """The layers read so far: closed hidden layers and the affine map pending since the last
    activation."""

    def __init__(self):
        self.Ws, self.bs, self.slopes = [], [], []
        self.M = self.v = None

    def affine(self, W, b):
        self.M, self.v = (W, b) if self.M is None else (W @ self.M, W @ self.v + b)

    def activation(self, slope, name):
        if self.M is None:
            if not self.slopes:
                raise ModelError(f"layer '{name}': an activation before any Linear layer is not supported")
            self.slopes[-1] *= slope  # act(act(z)) with no affine map between
            return
        self.Ws.append(self.M), self.bs.append(self.v), self.slopes.append(slope)
        self.M = self.v = None


def _input_shape_needed(module):
    """The error for a model that needs its input shape, spelt for Python and the CLI, with
    the channels of its first convolution where it has one."""
    first = next((m for m in module.modules() if _is_a(m, "Conv2d")), None)
    c = int(first.weight.shape[1]) * int(getattr(first, "groups", 1)) if first is not None else 1
    what = "this torch model needs its input shape, without the batch axis, to be converted"
    return ModelError(f"{what}: pass input_shape=({c}, H, W), e.g. input_shape=({c}, 28, 28) for 28x28 images",
                      cli=f"{what}: pass --input-shape {c},H,W, e.g. --input-shape {c},28,28 for 28x28 images")


def from_torch(module, check: bool = True, input_shape=None) -> Network:
    """Convert a torch module (or a scripted one) to a :class:`Network`.

    Parameters
    ----------
    module : torch.nn.Module or torch.jit.ScriptModule
        The model; it is put in eval mode.
    check : bool
        Compare the network with the module on random inputs (to :data:`CHECK_TOL`).
    input_shape : tuple of int, optional
        The input shape without the batch axis, e.g. ``(1, 28, 28)``: needed for convolutional
        models and modules with their own ``forward`` (not for those that start with a Linear).

    Returns
    -------
    Network

    Examples
    --------
    >>> import torch.nn as nn
    >>> from_torch(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))).hidden_widths
    [3]
    """
    module = module.eval()
    for name, m in module.named_modules():
        kind = _kind(m) or type(m).__name__
        if kind in _REFUSED:
            raise ModelError(f"unsupported layer '{name}' ({kind}): {_REFUSED[kind]}")
    try:
        return _from_sequential(module, check)
    except _NeedsGraph:
        if input_shape is None:
            first = next((m for m in module.modules() if _is_a(m, "Linear") or _is_a(m, "Conv2d")), None)
            if first is None or not _is_a(first, "Linear"):
                raise _input_shape_needed(module) from None
            input_shape = (int(first.weight.shape[1]),)
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
        _check(module, net, np.random.default_rng(0).normal(size=(16,) + input_shape), dtype)
    return net


def _check(module, net, x, dtype):
    import torch

    with torch.no_grad():
        ref = module(torch.as_tensor(x, dtype=dtype)).double().numpy().reshape(len(x), -1)
    diff = float(np.max(np.abs(ref - net.forward(x.reshape(len(x), -1)))))
    if not diff <= CHECK_TOL * max(1.0, float(np.max(np.abs(ref)))):
        raise ModelError(f"converted network differs from the torch module (largest difference {diff:.3g})")


def _from_sequential(module, check):
    if _kind(module) not in ("Sequential", "Linear"):
        raise _NeedsGraph
    acc = _Affine()
    for name, m in _leaves(module):
        kind = _kind(m)
        if kind in LAYERS:
            LAYERS[kind](m, name, acc)
        elif kind in IMAGE_LAYERS or kind is None and (_scripted(m) or not type(m).__module__.startswith("torch.")):
            raise _NeedsGraph  # a convolutional model, or a module with its own forward
        else:
            raise ModelError(f"unsupported layer '{name}' ({kind or type(m).__name__}): supported are "
                             f"{supported_layers()}")
    Ws, bs, slopes, M, v = acc.Ws, acc.bs, acc.slopes, acc.M, acc.v
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
        _check(module, net, np.random.default_rng(0).normal(size=(64, net.input_dim)), next(module.parameters()).dtype)
    return net


# ------------------------------------------------------------------------------- files
def _archive(path):
    """The entry names of a torch zip archive (without its top folder), or None for another file."""
    import zipfile

    if not zipfile.is_zipfile(path):
        return None
    try:
        with zipfile.ZipFile(path) as z:
            return [n.split("/", 1)[-1] for n in z.namelist()]
    except (zipfile.BadZipFile, OSError):
        return None


def _pickled_globals(path):
    """The ``module.name`` of every global a torch file's pickle refers to, read from its
    opcodes without running them (pickletools); None when the file is no pickle."""
    import io
    import pickletools
    import zipfile

    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                entry = next(n for n in z.namelist() if n.split("/", 1)[-1] == "data.pkl")
                streams, count = io.BytesIO(z.read(entry)), 1
        else:  # the legacy format: magic number, protocol, system info, then the object
            with open(path, "rb") as f:
                streams, count = io.BytesIO(f.read()), 4
        found, strings, memo = [], [], {}
        for _ in range(count):
            for op, arg, _pos in pickletools.genops(streams):
                if op.name == "GLOBAL":
                    found.append(arg.replace(" ", "."))
                elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                    found.append(f"{strings[-2]}.{strings[-1]}")
                elif op.name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"):
                    strings.append(arg)
                elif op.name in ("BINPUT", "LONG_BINPUT", "PUT", "MEMOIZE") and strings:
                    memo[arg if op.name != "MEMOIZE" else len(memo)] = strings[-1]
                elif op.name in ("BINGET", "LONG_BINGET", "GET") and arg in memo:
                    strings.append(memo[arg])
        return found
    except Exception:
        return None


def _shown_globals(names):
    """The globals worth naming in a refusal: classes and functions, not the tensor rebuilding,
    storages and containers that every torch file names."""
    names = [n.replace("__builtin__.", "builtins.") for n in names]
    plain = ("builtins.set", "builtins.frozenset", "builtins.dict", "builtins.list", "builtins.tuple",
             "torch.Size", "torch.device", "torch.dtype")
    return list(dict.fromkeys(n for n in names if not n.startswith(("torch._utils.", "collections."))
                              and not n.endswith("Storage") and n not in plain))


def _untrusted(path, what, reason):
    other = "save a state_dict (loaded with {}) or an ONNX export"
    return ModelError(f"{path}: {what}; {reason}: pass trust=True if you trust its source, or "
                      + other.format("factory=..."),
                      cli=f"{path}: {what}; {reason}: pass --trust-pickle if you trust its source, or "
                          + other.format("--factory MODULE:CALLABLE"))


def _state_dict_in(obj):
    """The state dict a weights-only file holds: the object itself, or the entry of
    :data:`STATE_DICT_KEYS` of a training checkpoint; None if neither."""
    import torch

    def is_state_dict(o):
        return isinstance(o, dict) and len(o) > 0 and all(isinstance(k, str) for k in o) \
            and all(isinstance(v, torch.Tensor) for v in o.values())

    if is_state_dict(obj):
        return obj
    if isinstance(obj, dict):
        for key in STATE_DICT_KEYS:
            if is_state_dict(obj.get(key)):
                return obj[key]
    return None


def resolve_factory(spec: str):
    """The callable named by ``"MODULE:CALLABLE"`` or ``"path/to/file.py:CALLABLE"``
    (``CALLABLE`` may be dotted: ``Class.build``). Importing the module runs its code: it is
    the user's own.

    Examples
    --------
    >>> resolve_factory("collections:OrderedDict").__name__
    'OrderedDict'
    """
    import importlib
    import importlib.util
    import sys

    def bad(what):
        return ModelError(f"factory '{spec}': {what}", cli=f"--factory '{spec}': {what}")

    where, sep, attr = str(spec).rpartition(":")
    if not sep or not where or not attr:
        raise bad("not MODULE:CALLABLE or FILE.py:CALLABLE")
    try:
        if where.endswith(".py") or os.sep in where or "/" in where:
            if not os.path.exists(where):
                raise bad(f"file {where} not found")
            name = "_exactregions_factory_" + os.path.splitext(os.path.basename(where))[0]
            loader = importlib.util.spec_from_file_location(name, where)
            module = importlib.util.module_from_spec(loader)
            sys.modules[name] = module  # (dataclasses and pickling look their module up)
            loader.loader.exec_module(module)
        else:
            if os.getcwd() not in sys.path and "" not in sys.path:
                sys.path.insert(0, os.getcwd())  # as `python -m` would: a module beside the user
            module = importlib.import_module(where)
    except ModelError:
        raise
    except Exception as e:
        raise bad(f"importing {where} failed ({e.__class__.__name__}: {e})") from None
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise bad(f"{where} has no attribute '{attr}'")
        obj = getattr(obj, part)
    if not callable(obj):
        raise bad(f"{attr} is not callable")
    return obj


def _build(factory, path):
    import torch.nn as nn

    if isinstance(factory, str):
        try:
            factory = resolve_factory(factory)
        except ModelError as e:
            raise e.within(path) from None
    if isinstance(factory, nn.Module):
        return factory
    if not callable(factory):
        raise ModelError(f"factory must be an nn.Module or a callable that returns one, got {type(factory).__name__}")
    name = getattr(factory, "__qualname__", repr(factory))
    try:
        module = factory()
    except Exception as e:
        raise ModelError(f"{path}: the factory {name}() raised {e.__class__.__name__}: {e}") from None
    if not isinstance(module, nn.Module):
        raise ModelError(f"{path}: the factory {name}() returned a {type(module).__name__}, not an nn.Module")
    return module


def _few(keys, n=3):
    keys = sorted(keys)
    return ", ".join(keys[:n]) + (f" and {len(keys) - n} more" if len(keys) > n else "") if keys else "none"


def _load_into(module, sd, path):
    """``module.load_state_dict(sd, strict=True)``, after dropping a prefix that every key of
    ``sd`` shares and the module's keys lack (a wrapper's attribute: Lightning's ``model.``,
    DataParallel's ``module.``)."""
    target = module.state_dict()
    keys = dict(sd)
    while set(keys) != set(target) and keys and all("." in k for k in keys) \
            and len({k.split(".", 1)[0] for k in keys}) == 1:
        keys = {k.split(".", 1)[1]: v for k, v in keys.items()}
    if set(keys) != set(target):
        keys = dict(sd)
        raise ModelError(f"{path}: the state dict does not fit the factory's module (missing: "
                         f"{_few(set(target) - set(keys))}; unexpected: {_few(set(keys) - set(target))})")
    wrong = [k for k in keys if tuple(keys[k].shape) != tuple(target[k].shape)]
    if wrong:
        k = sorted(wrong)[0]
        raise ModelError(f"{path}: the state dict does not fit the factory's module ({k}: {tuple(keys[k].shape)} in "
                         f"the file, {tuple(target[k].shape)} in the module; {len(wrong)} such)")
    try:
        module.load_state_dict(keys, strict=True)
    except RuntimeError as e:
        raise ModelError(f"{path}: the state dict does not fit the factory's module ({str(e).splitlines()[0]})") from None


def load_torch(path, input_shape=None, *, factory=None, trust: bool = False) -> Network:
    """Load a torch file as a :class:`Network`.

    Parameters
    ----------
    path : str or path
        A ``.pt``/``.pth`` file: a state dict (``torch.save(model.state_dict(), path)``, or a
        training checkpoint that holds one under a key of :data:`STATE_DICT_KEYS`, Lightning's
        included), a pickled module (``torch.save(model, path)``) or a TorchScript archive
        (``torch.jit.save``).
    input_shape : tuple of int, optional
        The input shape without the batch axis, for convolutional models (:func:`from_torch`).
    factory : callable, nn.Module or str, optional
        For a state dict: a callable that returns the ``nn.Module`` the weights belong to (a
        class, say), a module to load them into, or ``"MODULE:CALLABLE"`` /
        ``"FILE.py:CALLABLE"``. Loading is strict: every key must fit.
    trust : bool
        Read files that run code when they are loaded: a pickled module (unpickling calls what
        the pickle names) or a TorchScript archive. Only for files from a source you trust.

    Returns
    -------
    Network

    Raises
    ------
    ModelError
        Naming the file: it runs code and ``trust`` is False, it is a state dict and no
        ``factory`` is given, the weights do not fit the factory's module, or the model holds an
        unsupported layer.

    Examples
    --------
    >>> import tempfile, torch, torch.nn as nn
    >>> def build():
    ...     return nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
    >>> path = tempfile.mkdtemp() + "/mlp.pt"
    >>> torch.save(build().state_dict(), path)
    >>> load_torch(path, factory=build).hidden_widths
    [4]
    """
    import pickle
    import warnings

    import torch
    import torch.nn as nn

    path = os.fspath(path)
    entries = _archive(path)
    if entries is not None and "constants.pkl" in entries:  # torch's own test for TorchScript
        if not trust:
            raise _untrusted(path, "is a TorchScript archive", "loading one compiles and runs code stored in the "
                                                               "file (torch refuses it under weights_only=True)")
        try:
            with warnings.catch_warnings():  # (torch deprecates TorchScript; the archives are still read)
                warnings.simplefilter("ignore", DeprecationWarning)
                obj = torch.jit.load(path, map_location="cpu")
        except Exception as e:
            raise ModelError(f"{path}: not a readable TorchScript archive ({e.__class__.__name__}: "
                             f"{str(e).splitlines()[0] if str(e) else ''})") from None
    else:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as e:
            names = _pickled_globals(path)
            if names is None:
                raise ModelError(f"{path}: not a readable torch file (neither a torch zip archive nor a pickle)") \
                    from None
            if not trust:
                shown = _shown_globals(names)
                what = "a pickled torch module" if any(n.startswith("torch.nn.modules.") for n in shown) \
                    else "pickled Python objects"
                if shown:
                    what += f" ({', '.join(shown[:3])}{', ...' if len(shown) > 3 else ''})"
                raise _untrusted(path, f"holds {what}", "unpickling runs code stored in the file") from None
            try:
                obj = torch.load(path, map_location="cpu", weights_only=False)
            except Exception as e:
                raise ModelError(f"{path}: not a readable torch file ({e.__class__.__name__}: {e})") from None
        except Exception as e:  # torch raises many kinds on corrupt files
            raise ModelError(f"{path}: not a readable torch file ({e.__class__.__name__})") from None
    if not isinstance(obj, nn.Module):
        sd = _state_dict_in(obj)
        if sd is None:
            raise ModelError(f"{path}: holds a {type(obj).__name__}, neither a module nor a state dict")
        if factory is None:
            what = f"{path}: holds a state dict (weights without the architecture)"
            raise ModelError(f"{what}: pass factory=..., a callable that builds the nn.Module they belong to "
                             "(load_model(path, factory=Net), say)",
                             cli=f"{what}: pass --factory MODULE:CALLABLE (or FILE.py:CALLABLE), a callable that "
                                 "builds the nn.Module they belong to")
        obj = _build(factory, path)
        _load_into(obj, sd, path)
    try:
        return from_torch(obj, input_shape=input_shape)
    except ModelError as e:
        raise e.within(path) from None

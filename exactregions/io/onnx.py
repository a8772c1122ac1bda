"""ONNX import of the piecewise-linear subset.

The operators read on the data path are the keys of :data:`TRACE` (its handlers turn each into
an exact affine update of the traced tensor, or a hidden layer for Relu, LeakyRelu and
MaxPool); nodes whose inputs are all constants (the shape arithmetic of torch's exporter) are
folded by the numpy evaluator of :mod:`exactregions.io.onnx_ops`, whose table
:data:`~exactregions.io.onnx_ops.EVALUATE` says which operators it computes. :data:`SUPPORTED`,
the list an unsupported operator's message shows, is made from these two tables. Any other
operator is refused with its name and node.

Convolutions, average pools and pads become sparse matrices while tracing (a large, mostly
zero layer stays sparse in the final network); BatchNorm is folded. MaxPool becomes a
tournament of ReLU comparisons whose regions are merged by argmax
(:meth:`exactregions.io.trace.Tracer.maxpool`).

The file is parsed with onnx's own generated protobuf module, loaded without the rest of the
onnx package when onnx is not imported yet (importing onnx also imports ml_dtypes: 1.3-1.5 s of
CPU time measured, against 0.02 s for the protobuf module alone). The traced network is checked
against a direct evaluation of the graph (:func:`exactregions.io.onnx_ops.evaluate`: windows
slid over padded arrays, not the tracing's sparse matrices) on 8 seeded normal inputs, to a
relative :data:`CHECK_TOL`.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from .errors import ModelError
from .onnx_ops import DTYPES, EVALUATE, FLOAT_TYPES, Unsupported, evaluate, pad_widths
from .trace import Tracer, conv_matrix, pad_matrix, pool_matrix

#: largest output difference, relative to max(1, largest output), between the traced network and
#: the graph evaluated directly
CHECK_TOL = 1e-5
#: inputs the check evaluates
CHECK_POINTS = 8

_ATTRIBUTE_FIELDS = {1: "f", 2: "i", 3: "s", 4: "t", 5: "g", 6: "floats", 7: "ints", 8: "strings", 9: "tensors",
                     10: "graphs", 11: "sparse_tensor", 12: "sparse_tensors", 13: "tp", 14: "type_protos"}
_PROTO = []  # the ModelProto class, once found (_model_class)


# ---------------------------------------------------------------------------------------- reading
def _model_class():
    """onnx's ``ModelProto``: from onnx when it is imported, else from its generated protobuf
    module alone (module docstring); onnx itself when that module is not where it should be."""
    if _PROTO:
        return _PROTO[0]
    if "onnx" in sys.modules:
        cls = sys.modules["onnx"].ModelProto
    else:
        import importlib.util

        spec = importlib.util.find_spec("onnx")
        if spec is None:
            raise ModelError("reading .onnx files needs the 'onnx' package: pip install onnx")
        cls = None
        for folder in spec.submodule_search_locations or ():
            path = os.path.join(folder, "onnx_ml_pb2.py")
            if os.path.exists(path):
                try:
                    pb = importlib.util.spec_from_file_location("exactregions.io._onnx_ml_pb2", path)
                    module = importlib.util.module_from_spec(pb)
                    pb.loader.exec_module(module)
                    cls = module.ModelProto
                except Exception:  # another layout of the package: let onnx load it
                    cls = None
                break
        if cls is None:
            import onnx

            cls = onnx.ModelProto
    _PROTO.append(cls)
    return cls


def to_array(t) -> np.ndarray:
    """A ``TensorProto`` as a numpy array (the element types of :data:`DTYPES`; others, and
    tensors stored outside the file, through ``onnx.numpy_helper``)."""
    if t.data_type not in DTYPES or t.data_location == 1:
        import onnx.numpy_helper

        return onnx.numpy_helper.to_array(t)
    dtype = np.dtype(DTYPES[t.data_type])
    if t.raw_data:
        a = np.frombuffer(t.raw_data, dtype=dtype.newbyteorder("<")).astype(dtype)
    elif t.data_type == 10:  # float16: the bits, one per int32
        a = np.array(t.int32_data, dtype=np.uint16).view(np.float16)
    else:
        field = {1: t.float_data, 11: t.double_data, 7: t.int64_data, 12: t.uint64_data,
                 13: t.uint64_data}.get(t.data_type, t.int32_data)
        a = np.array(field, dtype=dtype)
    return a.reshape(tuple(t.dims))


def attributes(node) -> dict:
    """A node's attributes as Python values (strings as bytes, repeated fields as lists)."""
    out = {}
    for a in node.attribute:
        field = _ATTRIBUTE_FIELDS.get(a.type)
        if field is None:
            raise ModelError(f"node '{node.name or node.op_type}' ({node.op_type}): attribute '{a.name}' has an "
                             f"unknown type {a.type}")
        v = getattr(a, field)
        out[a.name] = v if field in ("f", "i", "s", "t", "g", "sparse_tensor", "tp") else list(v)
    return out


def read_model(path_or_bytes):
    """Parse an ONNX file (path or serialized bytes) into its ``ModelProto``."""
    cls = _model_class()
    try:
        if isinstance(path_or_bytes, (bytes, bytearray)):
            data = bytes(path_or_bytes)
        else:
            with open(path_or_bytes, "rb") as f:
                data = f.read()
        model = cls()
        model.ParseFromString(data)
    except OSError as e:
        raise ModelError(f"cannot read the file ({e.strerror or e})") from None
    except Exception as e:
        raise ModelError(f"not a readable ONNX model ({e.__class__.__name__}: {e})") from None
    if not data:
        raise ModelError("not a readable ONNX model (the file is empty)")
    g = model.graph
    if not model.ir_version or not (len(g.node) or len(g.input)) or not len(g.output):
        raise ModelError(f"not a readable ONNX model (it parses as protobuf but holds no graph: "
                         f"{len(g.node)} nodes, {len(g.input)} inputs, {len(g.output)} outputs)")
    if any(t.data_location == 1 for t in g.initializer):  # weights in files beside the model
        if isinstance(path_or_bytes, (bytes, bytearray)):
            raise ModelError("the model keeps its weights in external files: load it by its path")
        import onnx

        model = onnx.load(path_or_bytes)
    return model


# ---------------------------------------------------------------------------------------- tracing
class _Node:
    """One node as the handlers see it: ``x`` its first traced input, ``live()`` the traced
    tensors still needed after it."""

    __slots__ = ("op", "ins", "out", "at", "where", "x", "traced", "live")

    def __init__(self, op, ins, out, at, where, x, traced, live):
        self.op, self.ins, self.out, self.at, self.where = op, ins, out, at, where
        self.x, self.traced, self.live = x, traced, live

    def fail(self, what):
        return ModelError(f"{self.where}: {what}")


#: the operators read on the data path: op -> handler(node, tracer, constants)
TRACE: dict = {}


def _traces(*ops):
    def register(fn):
        for op in ops:
            TRACE[op] = fn
        return fn
    return register


def _const(consts, name, n: _Node):
    if name not in consts:
        raise n.fail(f"input '{name}' must be a constant")
    return consts[name]


def _squeeze_batch(c, rank, n: _Node):
    """A constant broadcast against a batched tensor: drop its leading batch axis if present."""
    c = np.asarray(c, dtype=np.float64)
    while c.ndim > rank:
        if c.shape[0] != 1:
            raise n.fail(f"a constant of shape {c.shape} does not broadcast against a single example")
        c = c[0]
    return c


@_traces("Identity", "Dropout")
def _t_identity(n, tr, consts):
    tr.alias(n.out, n.x)


@_traces("Relu", "LeakyRelu")
def _t_relu(n, tr, consts):
    tr.relu(n.out, n.x, 0.0 if n.op == "Relu" else float(n.at.get("alpha", 0.01)), n.live())


@_traces("Flatten")
def _t_flatten(n, tr, consts):
    if n.at.get("axis", 1) != 1:
        raise n.fail("only axis=1 is supported")
    tr.reshape(n.out, n.x, (int(np.prod(tr.shape(n.x))),))


@_traces("Reshape")
def _t_reshape(n, tr, consts):
    shape = tr.shape(n.x)
    target = [int(v) for v in _const(consts, n.ins[1], n)]
    numel = int(np.prod(shape))
    rest = [shape[i] if v == 0 and i < len(shape) and not n.at.get("allowzero", 0) else v
            for i, v in enumerate(target[1:])]
    if -1 in rest:
        known = int(np.prod([v for v in rest if v != -1]))
        rest[rest.index(-1)] = numel // known if known else -1
    if int(np.prod(rest)) != numel or -1 in rest:
        raise n.fail(f"cannot reshape {shape} to {target}")
    tr.reshape(n.out, n.x, rest)


@_traces("Add", "Sub", "Mul", "Div")
def _t_arithmetic(n, tr, consts):
    shape = tr.shape(n.x)
    if len(n.traced) == 2:
        if n.op not in ("Add", "Sub"):
            raise n.fail("the product or quotient of two traced tensors is not piecewise linear")
        tr.combine(n.out, n.ins[0], n.ins[1], 1.0 if n.op == "Add" else -1.0)
        return
    first = n.ins[0] == n.x
    if n.op == "Div" and not first:
        raise n.fail("a constant divided by a traced tensor is not piecewise linear")
    c = _squeeze_batch(_const(consts, n.ins[1] if first else n.ins[0], n), len(shape), n)
    try:
        widens = np.broadcast_shapes(c.shape, tuple(shape)) != tuple(shape)
    except ValueError:
        raise n.fail(f"a constant of shape {c.shape} does not broadcast against {tuple(shape)}") from None
    # scale * x + shift (exact for each: x + c, x * c, x - c, c - x; x / c to rounding)
    scale, shift = {"Add": (1.0, c), "Mul": (c, 0.0), "Div": (1.0 / c, 0.0)}.get(n.op) or \
        ((1.0, -c) if first else (-1.0, c))
    if widens:  # the constant widens the tensor: run the operation on it
        tr.affine(n.out, n.x, lambda X: X * scale + shift)
    else:
        tr.elementwise(n.out, n.x, scale, shift)


@_traces("MatMul")
def _t_matmul(n, tr, consts):
    if n.ins[0] == n.x:
        B = _const(consts, n.ins[1], n)
        tr.affine(n.out, n.x, lambda X: X @ B)
    else:
        A = _squeeze_batch(_const(consts, n.ins[0], n), len(tr.shape(n.x)), n)
        tr.affine(n.out, n.x, lambda X: np.einsum("ij,kj...->ki...", A, X))


@_traces("Gemm")
def _t_gemm(n, tr, consts):
    if n.ins[0] != n.x or n.at.get("transA", 0):
        raise n.fail("only Gemm(X, constant B) with transA=0 is supported")
    B = _const(consts, n.ins[1], n)
    B = B.T if n.at.get("transB", 0) else B
    alpha, beta = float(n.at.get("alpha", 1.0)), float(n.at.get("beta", 1.0))
    C = _squeeze_batch(_const(consts, n.ins[2], n), 1, n) if len(n.ins) > 2 and n.ins[2] else 0.0
    tr.affine(n.out, n.x, lambda X: alpha * X.reshape(X.shape[0], -1) @ B + beta * C)


@_traces("Conv")
def _t_conv(n, tr, consts):
    shape = tr.shape(n.x)
    W = _const(consts, n.ins[1], n)
    b = _const(consts, n.ins[2], n) if len(n.ins) > 2 and n.ins[2] else None
    if W.ndim != 4 or len(shape) != 3:
        raise n.fail("only 2-D convolutions on (C, H, W) inputs are supported")
    if n.at.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise n.fail("auto_pad is not supported: export with explicit pads")
    K, out_shape = conv_matrix(tuple(shape), W, tuple(n.at.get("strides", [1, 1])), list(n.at.get("pads", [0, 0, 0, 0])),
                               tuple(n.at.get("dilations", [1, 1])), int(n.at.get("group", 1)))
    bias = np.repeat(b if b is not None else np.zeros(W.shape[0]), out_shape[1] * out_shape[2])
    tr.linear_map(n.out, n.x, K, bias, out_shape)


@_traces("BatchNormalization")
def _t_batchnorm(n, tr, consts):
    shape = tr.shape(n.x)
    scale, bias, mean, var = (_const(consts, name, n) for name in n.ins[1:5])
    a = scale / np.sqrt(var + float(n.at.get("epsilon", 1e-5)))
    c = bias - a * mean
    extra = (1,) * (len(shape) - 1)
    tr.elementwise(n.out, n.x, a.reshape((-1,) + extra), c.reshape((-1,) + extra))


@_traces("AveragePool")
def _t_average_pool(n, tr, consts):
    shape = tr.shape(n.x)
    if n.at.get("ceil_mode", 0) or n.at.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise n.fail("ceil_mode=1 and auto_pad are not supported")
    ks = tuple(n.at["kernel_shape"])
    pads = list(n.at.get("pads", [0, 0, 0, 0]))
    if pads[:2] != pads[2:]:
        raise n.fail("asymmetric pads are not supported")
    if len(shape) != 3:
        raise n.fail("only 2-D average pools on (C, H, W) inputs are supported")
    K, out_shape = pool_matrix(tuple(shape), ks, tuple(n.at.get("strides", ks)), tuple(pads[:2]),
                               bool(n.at.get("count_include_pad", 0)))
    tr.linear_map(n.out, n.x, K, 0.0, out_shape)


@_traces("GlobalAveragePool")
def _t_global_average_pool(n, tr, consts):
    shape = tr.shape(n.x)
    if len(shape) != 3:
        raise n.fail("only 2-D global average pools on (C, H, W) inputs are supported")
    K, out_shape = pool_matrix(tuple(shape), tuple(shape[1:]), (1, 1))
    tr.linear_map(n.out, n.x, K, 0.0, out_shape)


@_traces("Pad")
def _t_pad(n, tr, consts):
    shape = tr.shape(n.x)
    if n.at.get("mode", b"constant") not in (b"constant", "constant"):
        raise n.fail("only constant padding is supported")
    vals = [None] + [_const(consts, name, n) if name else None for name in n.ins[1:]]
    value = vals[2] if len(vals) > 2 and vals[2] is not None and np.size(vals[2]) else n.at.get("value", 0.0)
    value = float(np.asarray(value).reshape(-1)[0])
    try:
        before, after = pad_widths(vals, n.at, len(shape) + 1)
    except Unsupported as e:
        raise n.fail(str(e)) from None
    if before[0] or after[0]:
        raise n.fail("padding the batch dimension is not supported")
    K, out_shape, padded = pad_matrix(tuple(shape), before[1:], after[1:])
    tr.linear_map(n.out, n.x, K, value * padded, out_shape)


@_traces("MaxPool")
def _t_max_pool(n, tr, consts):
    shape = tr.shape(n.x)
    if n.at.get("ceil_mode", 0) or any(v != 1 for v in n.at.get("dilations", [1, 1])) or len(shape) != 3 \
            or n.at.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise n.fail("only 2-D MaxPool on (C, H, W) inputs without ceil_mode, auto_pad or dilation is supported")
    ks = tuple(n.at["kernel_shape"])
    st = tuple(n.at.get("strides", ks))
    pads = list(n.at.get("pads", [0, 0, 0, 0]))
    C, H, W = shape
    idx = np.arange(C * H * W).reshape(C, H, W)
    # padded positions take no part in the max (ONNX pads MaxPool with -inf)
    full = np.full((C, H + pads[0] + pads[2], W + pads[1] + pads[3]), -1)
    full[:, pads[0]:pads[0] + H, pads[1]:pads[1] + W] = idx
    Ho = (full.shape[1] - ks[0]) // st[0] + 1
    Wo = (full.shape[2] - ks[1]) // st[1] + 1
    windows = [[v for v in full[c, i * st[0]:i * st[0] + ks[0], j * st[1]:j * st[1] + ks[1]].ravel() if v >= 0]
               for c in range(C) for i in range(Ho) for j in range(Wo)]
    tr.maxpool(n.out, n.x, windows, (C, Ho, Wo), n.live())


@_traces("Shape")
def _t_shape(n, tr, consts):
    shape = np.array((1,) + tuple(tr.shape(n.x)), dtype=np.int64)  # (the batch of one example)
    consts[n.out] = shape[int(n.at.get("start", 0)):n.at.get("end", None)]


#: what an unsupported operator's message lists: the operators on the data path, then those read
#: on constants only (both made from the tables, so the list and the dispatch agree)
SUPPORTED = (", ".join(sorted(TRACE)) + "; on constants also " + ", ".join(sorted(set(EVALUATE) - set(TRACE))))


def _trace_node(k, node, at, tr, consts, last_use):
    op, ins, out = node.op_type, list(node.input), node.output[0]
    where = f"node '{node.name or out}' ({op})"
    traced = [i for i in ins if i and tr.has(i)]
    if not traced:  # constant folding of shape helpers
        if op not in EVALUATE:
            raise ModelError(f"unsupported ONNX operator '{op}' at {where} (on constants): supported are {SUPPORTED}")
        try:
            value = EVALUATE[op]([consts[i] if i else None for i in ins], at)
        except KeyError as e:
            raise ModelError(f"{where}: input {e} is neither a constant nor computed from the input") from None
        except (Unsupported, ValueError, IndexError, TypeError) as e:
            raise ModelError(f"{where}: {e}") from None
        consts[out] = value
        return
    if op not in TRACE:
        raise ModelError(f"unsupported ONNX operator '{op}' at {where}: supported are {SUPPORTED}")

    def live():
        return {name for name, last in last_use.items() if last > k and tr.has(name)}

    try:
        TRACE[op](_Node(op, ins, out, at, where, traced[0], traced, live), tr, consts)
    except ModelError:
        raise
    except (KeyError, IndexError, ValueError, TypeError) as e:  # attributes or inputs of an unexpected form
        raise ModelError(f"{where}: cannot be read ({e.__class__.__name__}: {e})") from None


def load_onnx(path_or_bytes, check: bool = True):
    """Load an ONNX model as a :class:`~exactregions.network.Network`.

    Parameters
    ----------
    path_or_bytes : str, path or bytes
        The ``.onnx`` file, or its serialized bytes.
    check : bool
        Compare the network with a direct evaluation of the graph on :data:`CHECK_POINTS`
        seeded normal inputs (module docstring); a difference above :data:`CHECK_TOL` is a
        :class:`ModelError`.

    Returns
    -------
    Network

    Examples
    --------
    >>> import exactregions.io.onnx as ox
    >>> "Conv" in ox.TRACE and "Conv" in ox.SUPPORTED
    True
    """
    try:
        return _load(path_or_bytes, check)
    except ModelError as e:
        raise (e if isinstance(path_or_bytes, (bytes, bytearray)) else e.within(os.fspath(path_or_bytes))) from None


def _load(path_or_bytes, check):
    model = read_model(path_or_bytes)
    g = model.graph
    init = {}
    for t in g.initializer:
        a = to_array(t)
        init[t.name] = a.astype(np.float64) if t.data_type in FLOAT_TYPES else a
    inputs = [i for i in g.input if i.name not in init]
    if len(inputs) != 1 or len(g.output) != 1:
        raise ModelError(f"need exactly one data input and one output, got {len(inputs)} and {len(g.output)}")
    inp = inputs[0]
    dims = inp.type.tensor_type.shape.dim
    if not dims:
        raise ModelError(f"input '{inp.name}' has no shape: export with a fixed shape")
    shape = []
    for k, dim in enumerate(dims):
        if k == 0:
            continue  # batch dimension: may be symbolic
        if not dim.HasField("dim_value") or dim.dim_value <= 0:
            raise ModelError(f"input '{inp.name}' has a dynamic dimension {k} with no static size: export with a fixed shape")
        shape.append(int(dim.dim_value))
    batch = int(dims[0].dim_value) if dims[0].HasField("dim_value") and dims[0].dim_value > 0 else 1
    nodes = [(node, attributes(node)) for node in g.node]
    tr = Tracer(inp.name, tuple(shape))
    last_use = {}
    for k, node in enumerate(g.node):
        for name in node.input:
            last_use[name] = k
    out_name = g.output[0].name
    last_use[out_name] = len(g.node)
    consts = dict(init)
    for k, (node, at) in enumerate(nodes):
        _trace_node(k, node, at, tr, consts, last_use)
    if not tr.has(out_name):
        raise ModelError(f"the output '{out_name}' does not depend on the input")
    net = tr.network(out_name)
    if check:
        _check([(node.op_type, list(node.input), list(node.output), at) for node, at in nodes], init, inp.name,
               (batch,) + tuple(shape), out_name, net)
    return net


def _check(nodes, init, input_name, shape, output_name, net):
    """The traced network against :func:`~exactregions.io.onnx_ops.evaluate` of the graph on
    :data:`CHECK_POINTS` seeded normal inputs (in batches of the graph's own batch size)."""
    rng = np.random.default_rng(0)
    xs, ys = [], []
    for _ in range(-(-CHECK_POINTS // shape[0])):
        x = rng.normal(size=shape)
        try:
            y = np.asarray(evaluate(nodes, init, input_name, x, output_name), dtype=np.float64)
        except (Unsupported, ValueError, IndexError) as e:
            raise ModelError(f"the graph cannot be evaluated to check the conversion ({e})") from None
        xs.append(x.reshape(shape[0], -1))
        ys.append(y.reshape(shape[0], -1))
    y = np.concatenate(ys)
    mine = net.forward(np.concatenate(xs))  # (one pass: a layer's weights are read once)
    worst = float(np.abs(y - mine).max()) / max(1.0, float(np.abs(y).max()))
    if not worst <= CHECK_TOL:
        raise ModelError(f"the converted network differs from the ONNX model (largest relative difference {worst:.3g})")

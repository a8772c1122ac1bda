"""ONNX import of the piecewise-linear subset.

Supported operators: Gemm, MatMul, Add, Sub, Mul (by a constant), Relu, LeakyRelu, Flatten,
Reshape, Conv (2-D), BatchNormalization (inference), AveragePool, MaxPool, GlobalAveragePool, Pad,
Identity, Dropout, the residual Add/Sub of two branches, and the constant-only helpers torch's
exporter emits for shapes (Constant, Shape, Gather, Unsqueeze, Squeeze, Concat, Cast).
Convolutions, average pools and pads become sparse matrices while tracing (a large, mostly zero
layer stays sparse in the final network); BatchNorm is folded. MaxPool
becomes a tournament of ReLU comparisons whose regions are merged by argmax
(:meth:`exactregions.io.trace.Tracer.maxpool`). Any other operator is refused with its name and node. The canonical network is
checked against ONNX's reference evaluator on random inputs (to 1e-5).
"""

from __future__ import annotations

import numpy as np

from .errors import ModelError
from .trace import Tracer, conv_matrix, pad_matrix, pool_matrix

CHECK_TOL = 1e-5

_SUPPORTED = ("Gemm, MatMul, Add, Sub, Mul by a constant, Relu, LeakyRelu, Flatten, Reshape, Conv, "
              "BatchNormalization, AveragePool, MaxPool, GlobalAveragePool, Pad, Identity, Dropout")


def _attrs(node):
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _torch_fn(fn):
    """Wrap a torch functional op as a numpy (k, *shape) -> (k, *shape') function."""
    import torch

    def run(X):
        with torch.no_grad():
            return fn(torch.as_tensor(np.ascontiguousarray(X), dtype=torch.float64)).numpy()
    return run


def load_onnx(path_or_bytes, check: bool = True):
    """Load an ONNX model (path or serialized bytes) as a :class:`~exactregions.network.Network`."""
    try:
        import onnx
    except ImportError:  # pragma: no cover
        raise ModelError("reading .onnx files needs the 'onnx' package: pip install onnx") from None
    try:
        model = onnx.load_from_string(path_or_bytes) if isinstance(path_or_bytes, bytes) else onnx.load(path_or_bytes)
    except Exception as e:
        raise ModelError(f"not a readable ONNX model ({e.__class__.__name__})") from None
    g = model.graph
    consts = {t.name: onnx.numpy_helper.to_array(t).astype(np.float64) if t.data_type in (1, 10, 11) else
              onnx.numpy_helper.to_array(t) for t in g.initializer}
    inputs = [i for i in g.input if i.name not in consts]
    if len(inputs) != 1 or len(g.output) != 1:
        raise ModelError(f"need exactly one data input and one output, got {len(inputs)} and {len(g.output)}")
    inp = inputs[0]
    dims = inp.type.tensor_type.shape.dim
    shape = []
    for k, dim in enumerate(dims):
        if k == 0:
            continue  # batch dimension: may be symbolic
        if not dim.HasField("dim_value") or dim.dim_value <= 0:
            raise ModelError(f"input '{inp.name}' has a dynamic dimension {k} with no static size: export with a fixed shape")
        shape.append(int(dim.dim_value))
    if not dims:
        raise ModelError(f"input '{inp.name}' has no shape: export with a fixed shape")
    tr = Tracer(inp.name, tuple(shape))
    last_use = {}
    for k, node in enumerate(g.node):
        for name in node.input:
            last_use[name] = k
    out_name = g.output[0].name
    last_use[out_name] = len(g.node)
    for k, node in enumerate(g.node):
        _convert(node, k, tr, consts, last_use)
    if not tr.has(out_name):
        raise ModelError(f"the output '{out_name}' does not depend on the input")
    net = tr.network(out_name)
    if check:
        _check(model, inp.name, shape, net)
    return net


def _const(consts, name, node):
    if name not in consts:
        raise ModelError(f"node '{node.name or node.op_type}' ({node.op_type}): input '{name}' must be a constant")
    return consts[name]


def _squeeze_batch(c, rank):
    """A constant broadcast against a batched tensor: drop its leading batch axis if present."""
    c = np.asarray(c, dtype=np.float64)
    while c.ndim > rank:
        if c.shape[0] != 1:
            raise ModelError(f"constant of shape {c.shape} does not broadcast against a single example")
        c = c[0]
    return c


def _convert(node, k, tr: Tracer, consts, last_use):
    op, ins, out = node.op_type, list(node.input), node.output[0]
    where = f"node '{node.name or out}' ({op})"
    at = _attrs(node)
    traced = [i for i in ins if i and tr.has(i)]
    if not traced:  # constant folding of shape helpers
        consts[out] = _fold(op, ins, at, consts, tr, where)
        return
    x = traced[0]
    shape = tr.shape(x)
    if op in ("Identity", "Dropout"):
        tr.alias(out, x)
    elif op in ("Relu", "LeakyRelu"):
        live = {name for name, last in last_use.items() if last > k and tr.has(name)}
        tr.relu(out, x, 0.0 if op == "Relu" else float(at.get("alpha", 0.01)), live)
    elif op == "Flatten":
        if at.get("axis", 1) != 1:
            raise ModelError(f"{where}: only axis=1 is supported")
        tr.reshape(out, x, (int(np.prod(shape)),))
    elif op == "Reshape":
        target = [int(v) for v in _const(consts, ins[1], node)]
        numel = int(np.prod(shape))
        rest = target[1:]
        rest = [shape[i] if v == 0 and i < len(shape) else v for i, v in enumerate(rest)]
        if -1 in rest:
            known = int(np.prod([v for v in rest if v != -1]))
            rest[rest.index(-1)] = numel // known
        if int(np.prod(rest)) != numel:
            raise ModelError(f"{where}: cannot reshape {shape} to {target}")
        tr.reshape(out, x, rest)
    elif op in ("Add", "Sub") and len(traced) == 2:
        tr.combine(out, ins[0], ins[1], 1.0 if op == "Add" else -1.0)
    elif op in ("Add", "Sub", "Mul"):
        other = ins[1] if ins[0] == x else ins[0]
        c = _squeeze_batch(_const(consts, other, node), len(shape))
        try:
            widens = np.broadcast_shapes(c.shape, tuple(shape)) != tuple(shape)
        except ValueError:
            raise ModelError(f"{where}: a constant of shape {c.shape} does not broadcast against {tuple(shape)}") from None
        # scale * x + shift (exact for each: x + c, x * c, x - c, c - x)
        scale, shift = {"Add": (1.0, c), "Mul": (c, 0.0)}.get(op) or ((1.0, -c) if ins[0] == x else (-1.0, c))
        if widens:  # the constant widens the tensor: run the operation on it
            tr.affine(out, x, lambda X: X * scale + shift)
        else:
            tr.elementwise(out, x, scale, shift)
    elif op == "MatMul":
        if ins[0] == x:
            B = _const(consts, ins[1], node)
            tr.affine(out, x, lambda X: X @ B)
        else:
            Aconst = _squeeze_batch(_const(consts, ins[0], node), len(shape))
            tr.affine(out, x, lambda X: np.einsum("ij,kj...->ki...", Aconst, X))
    elif op == "Gemm":
        if ins[0] != x or at.get("transA", 0):
            raise ModelError(f"{where}: only Gemm(X, constant B) with transA=0 is supported")
        B = _const(consts, ins[1], node)
        B = B.T if at.get("transB", 0) else B
        alpha, beta = float(at.get("alpha", 1.0)), float(at.get("beta", 1.0))
        C = _squeeze_batch(consts[ins[2]], 1) if len(ins) > 2 and ins[2] else 0.0
        tr.affine(out, x, lambda X: alpha * X.reshape(X.shape[0], -1) @ B + beta * C)
    elif op == "Conv":
        W = _const(consts, ins[1], node)
        b = consts[ins[2]] if len(ins) > 2 and ins[2] else None
        if W.ndim != 4 or len(shape) != 3:
            raise ModelError(f"{where}: only 2-D convolutions on (C, H, W) inputs are supported")
        if at.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise ModelError(f"{where}: auto_pad is not supported: export with explicit pads")
        K, out_shape = conv_matrix(tuple(shape), W, tuple(at.get("strides", [1, 1])), list(at.get("pads", [0, 0, 0, 0])),
                                   tuple(at.get("dilations", [1, 1])), int(at.get("group", 1)))
        bias = np.repeat(b if b is not None else np.zeros(W.shape[0]), out_shape[1] * out_shape[2])
        tr.linear_map(out, x, K, bias, out_shape)
    elif op == "BatchNormalization":
        scale, bias, mean, var = (_const(consts, n, node) for n in ins[1:5])
        a = scale / np.sqrt(var + float(at.get("epsilon", 1e-5)))
        c = bias - a * mean
        extra = (1,) * (len(shape) - 1)
        tr.elementwise(out, x, a.reshape((-1,) + extra), c.reshape((-1,) + extra))
    elif op == "AveragePool":
        if at.get("ceil_mode", 0):
            raise ModelError(f"{where}: ceil_mode=1 is not supported")
        ks = tuple(at["kernel_shape"])
        pads = list(at.get("pads", [0, 0, 0, 0]))
        if pads[:2] != pads[2:]:
            raise ModelError(f"{where}: asymmetric pads are not supported")
        if len(shape) != 3:
            raise ModelError(f"{where}: only 2-D average pools on (C, H, W) inputs are supported")
        K, out_shape = pool_matrix(tuple(shape), ks, tuple(at.get("strides", ks)), tuple(pads[:2]),
                                   bool(at.get("count_include_pad", 0)))
        tr.linear_map(out, x, K, 0.0, out_shape)
    elif op == "GlobalAveragePool":
        K, out_shape = pool_matrix(tuple(shape), tuple(shape[1:]), (1, 1))
        tr.linear_map(out, x, K, 0.0, out_shape)
    elif op == "Pad":
        pads = [int(v) for v in (consts[ins[1]] if len(ins) > 1 and ins[1] else at.get("pads"))]
        value = float(consts[ins[2]]) if len(ins) > 2 and ins[2] else float(at.get("value", 0.0))
        mode = at.get("mode", b"constant")
        if mode not in (b"constant", "constant"):
            raise ModelError(f"{where}: only constant padding is supported")
        r = len(pads) // 2
        if any(pads[0:1] + pads[r:r + 1]):
            raise ModelError(f"{where}: padding the batch dimension is not supported")
        if min(pads) < 0:  # negative pads crop
            import torch.nn.functional as F

            torch_pad = []
            for axis in reversed(range(1, r)):
                torch_pad += [pads[axis], pads[r + axis]]
            tr.affine(out, x, _torch_fn(lambda X: F.pad(X, tuple(torch_pad), value=value)))
        else:
            K, out_shape, padded = pad_matrix(tuple(shape), pads[1:r], pads[r + 1:])
            tr.linear_map(out, x, K, value * padded, out_shape)
    elif op == "MaxPool":
        if at.get("ceil_mode", 0) or any(v != 1 for v in at.get("dilations", [1, 1])) or len(shape) != 3:
            raise ModelError(f"{where}: only 2-D MaxPool on (C, H, W) inputs without ceil_mode or dilation "
                             "is supported")
        ks = tuple(at["kernel_shape"])
        st = tuple(at.get("strides", ks))
        pads = list(at.get("pads", [0, 0, 0, 0]))
        C, Hh, Ww = shape
        idx = np.arange(C * Hh * Ww).reshape(C, Hh, Ww)
        # padded positions take no part in the max (ONNX pads MaxPool with -inf)
        full = np.full((C, Hh + pads[0] + pads[2], Ww + pads[1] + pads[3]), -1)
        full[:, pads[0]:pads[0] + Hh, pads[1]:pads[1] + Ww] = idx
        Ho = (full.shape[1] - ks[0]) // st[0] + 1
        Wo = (full.shape[2] - ks[1]) // st[1] + 1
        windows = [[v for v in full[c, i * st[0]:i * st[0] + ks[0], j * st[1]:j * st[1] + ks[1]].ravel() if v >= 0]
                   for c in range(C) for i in range(Ho) for j in range(Wo)]
        live = {name for name, last in last_use.items() if last > k and tr.has(name)}
        tr.maxpool(out, x, windows, (C, Ho, Wo), live)
    else:
        raise ModelError(f"unsupported ONNX operator '{op}' at {where}: supported are {_SUPPORTED}")


def _fold(op, ins, at, consts, tr, where):
    """Evaluate a node whose inputs are constants (shape arithmetic)."""
    if op == "Shape":
        return np.array([1] + list(tr.shape(ins[0])), dtype=np.int64)
    vals = [consts[i] for i in ins if i]
    if op == "Constant":
        import onnx
        return onnx.numpy_helper.to_array(at["value"]) if "value" in at else np.array(at.get("value_float", 0.0))
    if op == "Gather":
        return np.take(vals[0], vals[1].astype(np.int64), axis=int(at.get("axis", 0)))
    if op == "Unsqueeze":
        axes = at.get("axes", list(vals[1]) if len(vals) > 1 else [0])
        v = vals[0]
        for a in sorted(int(a) for a in axes):
            v = np.expand_dims(v, a)
        return v
    if op == "Squeeze":
        return np.squeeze(vals[0])
    if op == "Concat":
        return np.concatenate([np.atleast_1d(v) for v in vals], axis=int(at.get("axis", 0)))
    if op in ("Cast", "Identity"):
        return vals[0]
    if op == "ConstantOfShape":  # (torch's exporter spells a pad's widths this way)
        import onnx
        value = onnx.numpy_helper.to_array(at["value"]).reshape(-1)[0] if "value" in at else 0.0
        return np.full(tuple(int(v) for v in vals[0]), value)
    if op == "Reshape":
        target = [int(v) for v in vals[1]]
        if not at.get("allowzero", 0):
            target = [vals[0].shape[i] if v == 0 else v for i, v in enumerate(target)]
        return np.reshape(vals[0], target)
    if op == "Slice":
        data, starts, ends = vals[0], vals[1], vals[2]
        axes = vals[3] if len(vals) > 3 else range(len(starts))
        steps = vals[4] if len(vals) > 4 else [1] * len(starts)
        index = [slice(None)] * data.ndim
        for a, b, e, st in zip(axes, starts, ends, steps):
            index[int(a)] = slice(int(b), int(e), int(st))  # (out-of-range ends clamp, as in ONNX)
        return data[tuple(index)]
    if op == "Transpose":
        return np.transpose(vals[0], at.get("perm"))
    if op in ("Add", "Sub", "Mul", "Div"):
        return {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op](vals[0], vals[1])
    raise ModelError(f"unsupported ONNX operator '{op}' at {where} (on constants)")


def _check(model, input_name, shape, net):
    from onnx.reference import ReferenceEvaluator

    ref = ReferenceEvaluator(model)
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(8):
        x = rng.normal(size=(1,) + tuple(shape)).astype(np.float32)
        y = np.asarray(ref.run(None, {input_name: x})[0], dtype=np.float64).reshape(-1)
        mine = net.forward(x.reshape(-1).astype(np.float64))
        scale = max(1.0, float(np.abs(y).max()))
        worst = max(worst, float(np.abs(y - mine).max()) / scale)
    if not worst <= CHECK_TOL:
        raise ModelError(f"the converted network differs from the ONNX model (largest relative difference {worst:.3g})")

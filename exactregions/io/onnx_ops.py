"""Direct numpy evaluation of the ONNX operators the importer reads.

Each entry of :data:`EVALUATE` computes one operator from its definition in the ONNX operator
specification, on concrete arrays (the batch axis first, as in the graph): convolutions and
pools over sliding windows of the padded input, matrix products, broadcasting arithmetic, and
the shape helpers torch's exporter emits. Two uses:

* constant folding while a graph is traced (:mod:`exactregions.io.onnx`): a node whose inputs
  are all constants is evaluated here;
* the check of an imported network: the graph is evaluated here on random inputs and compared
  with the traced :class:`~exactregions.network.Network`. The tracing builds convolutions,
  pools and pads as sparse matrices from index arithmetic (:mod:`exactregions.io.trace`); this
  module slides windows over padded arrays instead, so a wrong index, stride, pad or group in
  either shows up as a difference. ONNX's own reference evaluator would be an independent third
  implementation, but importing it alone takes longer than tracing a LeNet (the tests hold this
  module against it operator by operator).

Every function takes ``(inputs, attrs)``: the node's inputs as arrays (``None`` for an omitted
optional input) and its attributes as plain Python values (strings as bytes).
"""

from __future__ import annotations

import numpy as np

#: numpy types of the ONNX tensor element types (``TensorProto.DataType``) read without onnx
DTYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32, 7: np.int64, 9: np.bool_,
          10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64}
#: the floating-point element types (constants of these types are held as float64)
FLOAT_TYPES = (1, 10, 11)


class Unsupported(ValueError):
    """An operator attribute or input outside what is evaluated here (the caller names the node)."""


EVALUATE: dict = {}


def _evaluates(*ops):
    def register(fn):
        for op in ops:
            EVALUATE[op] = fn
        return fn
    return register


def _pads2d(at, rank=4):
    pads = list(at.get("pads", [0] * (2 * (rank - 2))))
    if at.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise Unsupported("auto_pad is not supported: export with explicit pads")
    if at.get("ceil_mode", 0):
        raise Unsupported("ceil_mode=1 is not supported")
    return pads


def _windows(x, kernel, strides, dilations):
    """The windows of a (N, C, H, W) array: shape (N, C, Ho, Wo, kh * kw)."""
    (kh, kw), (sy, sx), (dy, dx) = kernel, strides, dilations
    Ho = (x.shape[2] - dy * (kh - 1) - 1) // sy + 1
    Wo = (x.shape[3] - dx * (kw - 1) - 1) // sx + 1
    if Ho <= 0 or Wo <= 0:
        raise Unsupported(f"a window of {kh}x{kw} does not fit an input of {x.shape[2]}x{x.shape[3]}")
    return np.stack([x[:, :, ky * dy:ky * dy + sy * (Ho - 1) + 1:sy, kx * dx:kx * dx + sx * (Wo - 1) + 1:sx]
                     for ky in range(kh) for kx in range(kw)], axis=-1)


def _pad_hw(x, pads, value):
    return np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])), constant_values=value)


@_evaluates("Identity", "Dropout")
def _identity(v, at):
    return v[0]


@_evaluates("Relu")
def _relu(v, at):
    return np.maximum(v[0], 0.0)


@_evaluates("LeakyRelu")
def _leaky_relu(v, at):
    return np.where(v[0] > 0, v[0], float(at.get("alpha", 0.01)) * v[0])


@_evaluates("Flatten")
def _flatten(v, at):
    axis = int(at.get("axis", 1)) % max(v[0].ndim, 1)
    return v[0].reshape(int(np.prod(v[0].shape[:axis])), -1)


@_evaluates("Reshape")
def _reshape(v, at):
    target = [int(t) for t in v[1]]
    if not at.get("allowzero", 0):
        target = [v[0].shape[i] if t == 0 else t for i, t in enumerate(target)]
    return np.reshape(v[0], target)


def _binary(fn):
    return lambda v, at: fn(v[0], v[1])


EVALUATE.update(Add=_binary(np.add), Sub=_binary(np.subtract), Mul=_binary(np.multiply), Div=_binary(np.divide))


@_evaluates("MatMul")
def _matmul(v, at):
    return np.matmul(v[0], v[1])


@_evaluates("Gemm")
def _gemm(v, at):
    A = v[0].T if at.get("transA", 0) else v[0]
    B = v[1].T if at.get("transB", 0) else v[1]
    y = float(at.get("alpha", 1.0)) * (A @ B)
    if len(v) > 2 and v[2] is not None:
        y = y + float(at.get("beta", 1.0)) * v[2]
    return y


@_evaluates("Conv")
def _conv(v, at):
    x, W = v[0], v[1]
    if x.ndim != 4 or W.ndim != 4:
        raise Unsupported("only 2-D convolutions are evaluated")
    pads = _pads2d(at)
    group = int(at.get("group", 1))
    Co, Cg, kh, kw = W.shape
    cols = _windows(_pad_hw(x, pads, 0.0), (kh, kw), tuple(at.get("strides", [1, 1])), tuple(at.get("dilations", [1, 1])))
    N, _, Ho, Wo, _ = cols.shape
    y = np.einsum("ngcyxk,gock->ngoyx", cols.reshape(N, group, Cg, Ho, Wo, kh * kw),
                  W.reshape(group, Co // group, Cg, kh * kw)).reshape(N, Co, Ho, Wo)
    if len(v) > 2 and v[2] is not None:
        y = y + v[2].reshape(1, -1, 1, 1)
    return y


@_evaluates("BatchNormalization")
def _batchnorm(v, at):
    x, scale, bias, mean, var = v[:5]
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + float(at.get("epsilon", 1e-5))) \
        * scale.reshape(shape) + bias.reshape(shape)


@_evaluates("AveragePool")
def _average_pool(v, at):
    x = v[0]
    if x.ndim != 4:
        raise Unsupported("only 2-D average pools are evaluated")
    pads = _pads2d(at)
    ks = tuple(at["kernel_shape"])
    st = tuple(at.get("strides", ks))
    sums = _windows(_pad_hw(x, pads, 0.0), ks, st, (1, 1)).sum(axis=-1)
    if at.get("count_include_pad", 0):
        return sums / (ks[0] * ks[1])
    inside = _windows(_pad_hw(np.ones((1, 1) + x.shape[2:]), pads, 0.0), ks, st, (1, 1)).sum(axis=-1)
    return sums / inside


@_evaluates("MaxPool")
def _max_pool(v, at):
    x = v[0]
    if x.ndim != 4:
        raise Unsupported("only 2-D max pools are evaluated")
    pads = _pads2d(at)
    ks = tuple(at["kernel_shape"])
    return _windows(_pad_hw(x, pads, -np.inf), ks, tuple(at.get("strides", ks)),
                    tuple(at.get("dilations", [1, 1]))).max(axis=-1)


@_evaluates("GlobalAveragePool")
def _global_average_pool(v, at):
    return v[0].mean(axis=tuple(range(2, v[0].ndim)), keepdims=True)


def pad_widths(v, at, rank):
    """The (before, after) widths of every axis of a Pad node (its ``pads`` input or attribute,
    the optional ``axes`` input); negative widths crop."""
    pads = [int(p) for p in (v[1] if len(v) > 1 and v[1] is not None else at.get("pads"))]
    axes = [int(a) % rank for a in v[3]] if len(v) > 3 and v[3] is not None else list(range(rank))
    if len(pads) != 2 * len(axes):
        raise Unsupported(f"{len(pads)} pads for {len(axes)} axes")
    before, after = [0] * rank, [0] * rank
    for k, a in enumerate(axes):
        before[a], after[a] = pads[k], pads[len(axes) + k]
    return before, after


@_evaluates("Pad")
def _pad(v, at):
    x = v[0]
    if at.get("mode", b"constant") not in (b"constant", "constant"):
        raise Unsupported("only constant padding is supported")
    value = float(np.asarray(v[2]).reshape(-1)[0]) if len(v) > 2 and v[2] is not None and np.size(v[2]) \
        else float(at.get("value", 0.0))
    before, after = pad_widths(v, at, x.ndim)
    crop = tuple(slice(max(0, -b), n - max(0, -e)) for n, b, e in zip(x.shape, before, after))
    return np.pad(x[crop], [(max(0, b), max(0, e)) for b, e in zip(before, after)], constant_values=value)


@_evaluates("Shape")
def _shape(v, at):
    shape = np.array(np.shape(v[0]), dtype=np.int64)
    return shape[int(at.get("start", 0)):at.get("end", None)]


@_evaluates("Constant")
def _constant(v, at):
    from .onnx import to_array  # (the tensor attribute's own reader)

    if "value" in at:
        return to_array(at["value"])
    for name, dtype in (("value_float", np.float64), ("value_floats", np.float64), ("value_int", np.int64),
                        ("value_ints", np.int64)):
        if name in at:
            return np.array(at[name], dtype=dtype)
    raise Unsupported(f"a Constant with attributes {sorted(at)} is not supported")


@_evaluates("ConstantOfShape")
def _constant_of_shape(v, at):
    from .onnx import to_array

    value = to_array(at["value"]).reshape(-1)[0] if "value" in at else np.float64(0.0)
    return np.full(tuple(int(n) for n in v[0]), value)


@_evaluates("Gather")
def _gather(v, at):
    return np.take(v[0], np.asarray(v[1]).astype(np.int64), axis=int(at.get("axis", 0)))


@_evaluates("Unsqueeze")
def _unsqueeze(v, at):
    axes = at.get("axes", list(v[1]) if len(v) > 1 and v[1] is not None else [0])
    out = v[0]
    rank = np.ndim(out) + len(axes)
    for a in sorted(int(a) % rank for a in axes):
        out = np.expand_dims(out, a)
    return out


@_evaluates("Squeeze")
def _squeeze(v, at):
    axes = at.get("axes", list(v[1]) if len(v) > 1 and v[1] is not None else None)
    if axes is None:
        return np.squeeze(v[0])
    return np.squeeze(v[0], axis=tuple(int(a) % np.ndim(v[0]) for a in axes))


@_evaluates("Concat")
def _concat(v, at):
    return np.concatenate([np.atleast_1d(x) for x in v if x is not None], axis=int(at.get("axis", 0)))


@_evaluates("Cast")
def _cast(v, at):
    to = int(at.get("to", 1))
    if to in FLOAT_TYPES:
        return np.asarray(v[0], dtype=np.float64)  # (floats are held as float64 throughout)
    if to not in DTYPES:
        raise Unsupported(f"Cast to element type {to} is not supported")
    return np.asarray(v[0]).astype(DTYPES[to])


@_evaluates("Slice")
def _slice(v, at):
    data, starts, ends = v[0], v[1], v[2]
    axes = v[3] if len(v) > 3 and v[3] is not None else range(len(starts))
    steps = v[4] if len(v) > 4 and v[4] is not None else [1] * len(starts)
    index = [slice(None)] * np.ndim(data)
    for a, b, e, s in zip(axes, starts, ends, steps):
        index[int(a)] = slice(int(b), int(e), int(s))  # (out-of-range ends clamp, as in ONNX)
    return np.asarray(data)[tuple(index)]


@_evaluates("Transpose")
def _transpose(v, at):
    return np.transpose(v[0], at.get("perm"))


def evaluate(nodes, constants, input_name, x, output_name):
    """Run a graph: ``nodes`` as ``(op_type, inputs, outputs, attrs)`` in topological order,
    ``constants`` its initializers (name -> array), ``x`` the value of its one data input.
    Returns the value of ``output_name``."""
    env = dict(constants)
    env[input_name] = x
    for op, ins, outs, at in nodes:
        if op not in EVALUATE:
            raise Unsupported(f"operator '{op}' is not evaluated")
        env[outs[0]] = EVALUATE[op]([env[i] if i else None for i in ins], at)
    return env[output_name]

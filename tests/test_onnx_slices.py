"""ONNX and convolutional models; exact counts on segments and plane slices."""

import io
import json

import numpy as np
import pytest
import torch
import torch.nn as nn

onnx = pytest.importorskip("onnx")

from exactregions import Ball, Box, count_regions
from exactregions.cli import main
from exactregions.domains import DomainError, Plane, Segment
from exactregions.io import ModelError, load_model
from exactregions.io.onnx import load_onnx
from exactregions.io.torch import from_torch

from conftest import DATA, random_net


def _export(model, shape, path=None):
    buf = io.BytesIO()
    torch.onnx.export(model, torch.zeros((1,) + shape), buf, dynamo=False, input_names=["x"], output_names=["y"])
    if path is not None:
        path.write_bytes(buf.getvalue())
    return buf.getvalue()


def _relu_inputs(model, x):
    """Pre-activations seen by each ReLU of a torch model (forward hooks)."""
    seen = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append(i[0].detach().reshape(len(x), -1)))
             for m in model.modules() if isinstance(m, nn.ReLU)]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return torch.cat(seen, dim=1).numpy() > 0


def test_torch_mlp_through_onnx_same_patterns_and_counts(tmp_path):
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(2, 10), nn.ReLU(), nn.Linear(10, 8), nn.ReLU(), nn.Linear(8, 1)).eval()
    _export(mlp, (2,), tmp_path / "mlp.onnx")
    a, b = from_torch(mlp), load_model(tmp_path / "mlp.onnx")
    X = np.random.default_rng(0).uniform(-1, 1, size=(500, 2))
    torch_bits = _relu_inputs(mlp, torch.as_tensor(X, dtype=torch.float32))
    assert np.array_equal(a.pattern(X), torch_bits) and np.array_equal(b.pattern(X), torch_bits)
    dom = Ball([0.1, -0.2], 0.8)
    assert count_regions(a, dom).activation_regions == count_regions(b, dom).activation_regions


def _conv_net():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.AvgPool2d(2),
                        nn.Flatten(), nn.Linear(48, 12), nn.ReLU(), nn.Linear(12, 3))
    net.train()
    net(torch.randn(32, 1, 8, 8))
    return net.eval()


def test_conv_net_onnx_and_torch_agree_on_patterns_and_plane_counts(tmp_path):
    conv = _conv_net()
    _export(conv, (1, 8, 8), tmp_path / "conv.onnx")
    a = from_torch(conv, input_shape=(1, 8, 8))
    b = load_model(tmp_path / "conv.onnx")
    assert a.hidden_widths == b.hidden_widths == [192, 12]
    X = np.random.default_rng(2).normal(size=(200, 64))
    torch_bits = _relu_inputs(conv, torch.as_tensor(X.reshape(200, 1, 8, 8), dtype=torch.float32))
    agree = (a.pattern(X) == torch_bits).mean()
    assert agree > 0.9999 and np.array_equal(a.pattern(X), b.pattern(X))
    rng = np.random.default_rng(3)
    plane = Plane(*rng.normal(size=(3, 64)), radius=0.5)
    ra, rb = count_regions(a, plane), count_regions(b, plane)
    assert ra.activation_regions == rb.activation_regions > 1
    assert ra.verify().ok


@pytest.mark.parametrize("layers", [
    lambda: [nn.Conv2d(4, 6, 3, stride=2, padding=(1, 2), dilation=(2, 1), groups=2)],
    lambda: [nn.ZeroPad2d((1, 0, 2, 1)), nn.Conv2d(4, 3, (2, 3), stride=(1, 2))],
    lambda: [nn.ConstantPad2d(1, 0.5), nn.Conv2d(4, 3, 3, bias=False)],
    lambda: [nn.ZeroPad2d((-1, 0, 1, -2)), nn.Conv2d(4, 3, 2)],
    lambda: [nn.Conv2d(4, 5, 3, padding=1), nn.BatchNorm2d(5), nn.AvgPool2d(3, stride=2, padding=1)],
    lambda: [nn.Conv2d(4, 5, 3), nn.AvgPool2d(2, padding=1, count_include_pad=False)],
    lambda: [nn.Conv2d(4, 5, 3), nn.AdaptiveAvgPool2d(1)],
], ids=["stride-dilation-groups", "asymmetric-pad", "constant-pad", "negative-pad-crops", "batchnorm-avgpool-padded",
        "avgpool-exclude-pad", "global-average"])
def test_convolutions_pools_and_pads_become_the_same_maps_as_torch(layers):
    """Convolutions, pools and pads are traced as sparse matrices built from their attributes:
    the network computes what torch computes, to rounding, on every kind of window."""
    torch.manual_seed(4)
    body = nn.Sequential(*layers()).double()
    body.train()
    body(torch.randn(16, 4, 7, 9, dtype=torch.float64))  # batch norm statistics
    body.eval()
    with torch.no_grad():
        width = body(torch.zeros(1, 4, 7, 9, dtype=torch.float64)).numel()
    model = nn.Sequential(*body, nn.ReLU(), nn.Flatten(), nn.Linear(width, 3).double()).eval()
    net = from_torch(model, input_shape=(4, 7, 9))
    assert net.hidden_widths == [width]
    X = np.random.default_rng(5).normal(size=(20, 4, 7, 9))
    with torch.no_grad():
        ref = model(torch.as_tensor(X)).numpy()
        pre = body(torch.as_tensor(X)).reshape(20, -1).numpy()
    np.testing.assert_allclose(net.forward(X.reshape(20, -1)), ref, rtol=0, atol=1e-12)
    assert np.array_equal(net.pattern(X.reshape(20, -1)), pre > 0)


def test_residual_block_is_carried_by_pass_through_units():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.out = nn.Linear(2, 6), nn.Linear(6, 2), nn.Linear(2, 1)

        def forward(self, x):
            return self.out(torch.relu(x + self.b(torch.relu(self.a(x)))))

    torch.manual_seed(2)
    net = from_torch(Block().eval())
    assert net.n_neurons == 8 and net.n_hidden == 10  # 6 + 2 neurons, 2 pass-through units
    dom = Box(-1.5, 1.5, dim=2)
    res = count_regions(net, dom)
    seen = {p.tobytes() for p in net.pattern(dom.sample(60000, np.random.default_rng(0)))}
    assert res.activation_regions >= len(seen) and res.verify().ok


def test_unknown_ops_and_1d_maxpool_are_refused(tmp_path):
    with pytest.raises(ModelError, match="MaxPool1d"):
        from_torch(nn.Sequential(nn.Conv1d(1, 2, 3), nn.MaxPool1d(2), nn.Flatten(), nn.Linear(6, 1)),
                   input_shape=(1, 8))
    data = _export(nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)), (2,))
    with pytest.raises(ModelError, match="unsupported ONNX operator 'Tanh' at node"):
        load_onnx(data)


def test_dynamic_shapes_are_refused(tmp_path):
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "n"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "n"])
    model = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y]))
    with pytest.raises(ModelError, match="dynamic dimension"):
        load_onnx(model.SerializeToString())


@pytest.mark.parametrize("seed", range(6))
def test_segment_counts_equal_brute_force_root_search(seed):
    d = 2 + seed % 4
    net = random_net(d, [8, 8, 6][: 1 + seed % 3], seed=seed)
    rng = np.random.default_rng(seed)
    seg = Segment(rng.normal(size=d), rng.normal(size=d))
    res = count_regions(net, seg)
    t = np.linspace(0, 1, 400001)[1:-1]
    P = net.pattern(seg.point(t))
    assert res.activation_regions == 1 + int(np.any(P[1:] != P[:-1], axis=1).sum())
    assert res.stats["lp_solves"] == 0 and res.verify().ok


def test_segment_through_coincident_neurons():
    from exactregions import Network
    net = Network([[[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]], [[1.0, 1.0, 1.0]]], [[0.0, 0.0, 0.3], [0.0]])
    assert count_regions(net, Segment([-1, -1], [1, 1])).activation_regions == 3  # x = 0 twice, y = -0.3


def test_plane_slice_of_a_2d_net_in_its_own_plane():
    net = random_net(2, [8, 8], seed=9)
    flat = Plane([0.0, 0.0], [1.0, 0.0], [0.0, 1.0])
    assert count_regions(net, flat).activation_regions == count_regions(net, Box(-0.25, 1.25, dim=2)).activation_regions
    pts = np.array([[0.3, -0.2], [-0.4, 0.5], [0.6, 0.7]])
    rotated = Plane(*pts, radius=0.6)
    assert count_regions(net, rotated).activation_regions == count_regions(net, Ball(pts.mean(0), 0.6)).activation_regions


def test_plane_parallelogram_of_a_2d_net_equals_the_polytope_count():
    from exactregions import Polytope
    net = random_net(2, [8, 8], seed=13)
    pts = np.array([[-0.5, -0.4], [0.7, -0.1], [-0.2, 0.8]])
    par = Plane(*pts, parallelogram=True)
    e1, e2 = pts[1] - pts[0], pts[2] - pts[0]
    # the same parallelogram in input space: 0 < s, t < 1 for x = p0 + s e1 + t e2
    Minv = np.linalg.inv(np.stack([e1, e2], axis=1))
    poly = Polytope(np.vstack([Minv, -Minv]), np.concatenate([np.ones(2) + Minv @ pts[0], -Minv @ pts[0]]))
    res = count_regions(net, par)
    assert res.activation_regions == count_regions(net, poly).activation_regions
    assert res.activation_regions == count_regions(net, par, engine="subdivision").activation_regions
    with pytest.raises(DomainError, match="not both"):
        Plane(*pts, radius=1.0, parallelogram=True)


def test_slice_validation():
    with pytest.raises(DomainError, match="collinear"):
        Plane([0, 0, 0], [1, 1, 1], [2, 2, 2])
    with pytest.raises(DomainError, match="coincide"):
        Segment([1, 2], [1, 2])


def test_cli_segment_plane_and_bad_onnx(tmp_path, capsys):
    conv = _conv_net()
    _export(conv, (1, 8, 8), tmp_path / "conv.onnx")
    rng = np.random.default_rng(0)
    for i, v in enumerate(rng.normal(size=(3, 64))):
        np.save(tmp_path / f"p{i}.npy", v)
    p = [str(tmp_path / f"p{i}.npy") for i in range(3)]
    assert main(["count", str(tmp_path / "conv.onnx"), "--segment", p[0], p[1], "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["activation_regions"] >= 1
    assert main(["count", str(tmp_path / "conv.onnx"), "--plane", *p, "--radius", "0.3", "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["complete"] and out["domain"]["kind"] == "plane"
    png = tmp_path / "plane.png"
    assert main(["plot", str(tmp_path / "conv.onnx"), "--plane", *p, "--radius", "0.3", "-o", str(png), "--quiet"]) == 0
    assert png.exists()
    (tmp_path / "bad.onnx").write_bytes(b"not onnx")
    for path, words in ((tmp_path / "bad.onnx", "not a readable ONNX"), (tmp_path / "none.onnx", "not found")):
        assert main(["count", str(path), "--box", "-1", "1"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and words in err


def _sparse_twin():
    """A 3-D net with two thinned hidden layers, dense and with those layers as scipy sparse."""
    import scipy.sparse as sp

    from exactregions import Network

    rng = np.random.default_rng(7)
    base = random_net(3, [12, 10, 8], seed=7, out=3)
    Ws = [w.copy() for w in base.weights]
    for k in (1, 2):
        Ws[k][rng.random(Ws[k].shape) < 0.5] = 0.0
    dense_net = Network(Ws, base.biases)
    sparse_net = Network([Ws[0], sp.csr_array(Ws[1]), sp.coo_matrix(Ws[2]), Ws[3]], base.biases)
    return dense_net, sparse_net


def test_sparse_hidden_layers_evaluate_bound_and_count_like_their_dense_twin(tmp_path):
    """Convolutional layers stay sparse in the network: every engine, the bounds, the analyses
    and the file format give what the same layers give dense."""
    from exactregions.analysis import lipschitz
    from exactregions.bounds.local import local_bound
    from exactregions.io import save_npz
    from exactregions.engines.parallel import fingerprint_of
    from exactregions.intervals import preactivation_bounds

    a, b = _sparse_twin()
    assert [type(w).__name__ for w in b.weights] == ["ndarray", "csr_array", "csr_array", "ndarray"]
    X = np.random.default_rng(8).uniform(-1, 1, size=(300, 3))
    np.testing.assert_allclose(b.forward(X), a.forward(X), rtol=0, atol=1e-12)
    assert np.array_equal(b.pattern(X), a.pattern(X))
    np.testing.assert_allclose(b.boundary_distance(X), a.boundary_distance(X), rtol=0, atol=1e-12)
    for x, y in zip(preactivation_bounds(b, Box(-1, 1, dim=3)), preactivation_bounds(a, Box(-1, 1, dim=3))):
        np.testing.assert_allclose(np.concatenate(x), np.concatenate(y), rtol=1e-12, atol=1e-12)
    ball = Ball([0.1, -0.2, 0.3], 0.8)
    for dom, engine in ((Box(-1, 1, dim=3), "subdivision"), (ball, "bfs"), (ball, "subdivision"),
                        (Plane([0, 0, 0], [1, 0, 0.5], [0, 1, -0.5], radius=1.0), "planar"),
                        (Segment([-1, -1, -1], [1, 1, 1]), "bfs")):
        ra, rb = count_regions(a, dom, engine=engine), count_regions(b, dom, engine=engine)
        assert ra.activation_regions == rb.activation_regions > 3
        assert {r.pattern.tobytes() for r in ra.regions} == {r.pattern.tobytes() for r in rb.regions}
    assert local_bound(b, ball).value == local_bound(a, ball).value
    la, lb = lipschitz(a, ball), lipschitz(b, ball)
    assert lb.lipschitz == pytest.approx(la.lipschitz, rel=1e-12)
    assert lb.global_upper_bound == pytest.approx(la.global_upper_bound, rel=1e-12)
    save_npz(b, tmp_path / "b.npz")
    back = load_model(tmp_path / "b.npz")
    assert all(np.array_equal(u, v) for u, v in zip(back.weights, a.weights))
    assert fingerprint_of(b, ball) == fingerprint_of(b, ball) != fingerprint_of(a, ball)
    # a first layer narrower than the input: the ball is counted in its row space (the reduction
    # keeps the sparse layer sparse)
    import scipy.sparse as sp

    from exactregions import Network

    narrow = random_net(6, [4, 10, 6], seed=9, out=2)
    Ws = [w.copy() for w in narrow.weights]
    Ws[1][np.random.default_rng(10).random(Ws[1].shape) < 0.4] = 0.0
    ball6 = Ball(np.full(6, 0.1), 1.2)
    ra = count_regions(Network(Ws, narrow.biases), ball6)
    rb = count_regions(Network([Ws[0], sp.csr_array(Ws[1]), *Ws[2:]], narrow.biases), ball6)
    assert rb.stats["reduction"]["reduced_dim"] == 4
    assert ra.activation_regions == rb.activation_regions > 3
    assert {r.pattern.tobytes() for r in ra.regions} == {r.pattern.tobytes() for r in rb.regions}


def test_a_conv_nets_large_sparse_layers_stay_sparse(monkeypatch):
    """The importer keeps a large, mostly zero layer sparse (here: every hidden layer after the
    first, by lowering the size threshold): the same network as the dense import."""
    import exactregions.io.trace as trace

    conv = _conv_net()
    dense_net = from_torch(conv, input_shape=(1, 8, 8))
    monkeypatch.setattr(trace, "SPARSE_ENTRIES", 0)
    monkeypatch.setattr(trace, "SPARSE_DENSITY", 1.0)
    sparse_net = from_torch(conv, input_shape=(1, 8, 8))
    assert type(sparse_net.weights[1]).__name__ == "csr_array"
    X = np.random.default_rng(9).normal(size=(100, 64))
    assert np.array_equal(sparse_net.pattern(X), dense_net.pattern(X))
    plane = Plane(*np.random.default_rng(3).normal(size=(3, 64)), radius=0.5)
    assert count_regions(sparse_net, plane).activation_regions == count_regions(dense_net, plane).activation_regions


def test_sparse_and_dense_chains_walk_the_same_regions(monkeypatch):
    """The planar walk keeps a layer's chains sparse when few of their entries are non-zero (a
    convolution's): the same regions, pattern for pattern, as with every chain dense."""
    import exactregions.engines.planar as planar

    net = from_torch(_conv_net(), input_shape=(1, 8, 8))
    plane = Plane(*np.random.default_rng(3).normal(size=(3, 64)), radius=1.5)
    found = {}
    for share in (0.0, 1.0):  # every layer dense, every layer sparse
        monkeypatch.setattr(planar, "SPARSE_CHAINS", share)
        res = count_regions(net, plane, engine="planar")
        found[share] = {r.pattern.tobytes() for r in res.regions}
    assert len(found[1.0]) > 50 and found[0.0] == found[1.0]


def test_sums_and_products_with_constants_are_traced_entry_by_entry():
    """``c - x``, ``x - c``, ``x * c`` and ``x + c`` with constants that broadcast over the
    tensor (per channel, per entry, scalars), and a constant that widens it, as torch computes."""

    class Arith(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 1, 3, padding=1)
            self.scale = nn.Parameter(torch.randn(3, 1, 1))
            self.shift = nn.Parameter(torch.randn(3, 5, 5))
            self.out = nn.Linear(3 * 5 * 5, 2)

        def forward(self, x):
            z = (self.conv(0.5 - x) + self.shift) * self.scale - 0.25  # one channel widened to three
            z = torch.relu(z * 2.0 + 1.0)
            return self.out(z.flatten(1) - torch.ones(1, 75))

    torch.manual_seed(5)
    model = Arith().double().eval()
    net = from_torch(model, input_shape=(2, 5, 5))
    X = np.random.default_rng(6).normal(size=(10, 2, 5, 5))
    with torch.no_grad():
        ref = model(torch.as_tensor(X)).numpy()
    np.testing.assert_allclose(net.forward(X.reshape(10, -1)), ref, rtol=0, atol=1e-12)


def test_corrupt_or_foreign_onnx_files_say_so_with_their_name(tmp_path):
    good = _export(_conv_net(), (1, 8, 8))
    cases = {"text.onnx": b"not onnx", "empty.onnx": b"", "cut.onnx": good[: len(good) // 3],
             "zip.onnx": (DATA / "d2_8.npz").read_bytes()}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ModelError, match="not a readable ONNX model") as e:
            load_model(tmp_path / name)
        assert str(e.value).startswith(f"{tmp_path / name}: ") and "\n" not in str(e.value)
    with pytest.raises(ModelError, match="unsupported ONNX operator 'Tanh'") as e:
        (tmp_path / "tanh.onnx").write_bytes(_export(nn.Sequential(nn.Linear(2, 3), nn.Tanh()), (2,)))
        load_model(tmp_path / "tanh.onnx")
    assert str(e.value).startswith(f"{tmp_path / 'tanh.onnx'}: ")


def _models_for_the_evaluator():
    """Exported graphs (in float64, so that the evaluators agree to rounding) covering every
    window kind of the converter: strides, dilations, groups, pads (also negative: crops),
    pools with and without padding, max pools, batch norm, residual sums."""
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.fc = nn.Conv2d(2, 2, 3, padding=1), nn.Linear(2 * 5 * 5, 3)

        def forward(self, x):
            return self.fc(torch.flatten(torch.relu(x + self.conv(torch.relu(x))), 1))

    torch.manual_seed(5)
    bodies = [[nn.Conv2d(4, 6, 3, stride=2, padding=(1, 2), dilation=(2, 1), groups=2)],
              [nn.ZeroPad2d((1, 0, 2, 1)), nn.Conv2d(4, 3, (2, 3), stride=(1, 2))],
              [nn.ZeroPad2d((-1, 0, 1, -2)), nn.Conv2d(4, 3, 2)],
              [nn.ConstantPad2d(1, 0.5), nn.Conv2d(4, 3, 3, bias=False)],
              [nn.Conv2d(4, 5, 3, padding=1), nn.BatchNorm2d(5), nn.AvgPool2d(3, stride=2, padding=1)],
              [nn.Conv2d(4, 5, 3), nn.AvgPool2d(2, padding=1, count_include_pad=False)],
              [nn.Conv2d(4, 5, 3), nn.MaxPool2d(3, stride=2, padding=1)],
              [nn.Conv2d(4, 5, 3), nn.AdaptiveAvgPool2d(1)]]
    out = []
    for layers in bodies:
        body = nn.Sequential(*layers).double()
        body.train()
        body(torch.randn(16, 4, 7, 9, dtype=torch.float64))
        body.eval()
        with torch.no_grad():
            width = body(torch.zeros(1, 4, 7, 9, dtype=torch.float64)).numel()
        model = nn.Sequential(*body, nn.ReLU(), nn.Flatten(), nn.Linear(width, 3).double()).eval()
        crops = any(isinstance(m, nn.ZeroPad2d) and min(m.padding) < 0 for m in layers)
        out.append((model, (4, 7, 9), not crops))  # (the reference evaluator's Pad cannot crop)
    out.append((Residual().double().eval(), (2, 5, 5), True))
    return out


def test_the_numpy_evaluator_agrees_with_onnx_reference_evaluator():
    """The graph evaluation that checks every import (exactregions.io.onnx_ops) computes what
    torch and ONNX's own reference evaluator compute, on every window kind the converter reads."""
    from onnx.reference import ReferenceEvaluator

    from exactregions.io.onnx import attributes, read_model, to_array
    from exactregions.io.onnx_ops import evaluate

    seen = set()
    for model, shape, with_reference in _models_for_the_evaluator():
        buf = io.BytesIO()
        torch.onnx.export(model, torch.zeros((1,) + shape, dtype=torch.float64), buf, dynamo=False,
                          input_names=["x"], output_names=["y"])
        proto = read_model(buf.getvalue())
        nodes = [(n.op_type, list(n.input), list(n.output), attributes(n)) for n in proto.graph.node]
        seen |= {n[0] for n in nodes}
        init = {t.name: to_array(t) for t in proto.graph.initializer}
        x = np.random.default_rng(6).normal(size=(1,) + shape)
        mine = evaluate(nodes, init, "x", x, "y")
        with torch.no_grad():
            np.testing.assert_allclose(mine, model(torch.as_tensor(x)).numpy(), rtol=1e-12, atol=1e-12)
        if not with_reference:
            continue
        want = ReferenceEvaluator(onnx.load_from_string(buf.getvalue())).run(None, {"x": x})[0]
        np.testing.assert_allclose(mine, want, rtol=1e-12, atol=1e-12)
    assert {"Conv", "Pad", "AveragePool", "MaxPool", "GlobalAveragePool", "Gemm", "Add", "Relu"} <= seen


def test_the_import_check_catches_a_wrong_tracing(monkeypatch):
    """The check has teeth: a convolution traced with a wrong matrix (its kernel flipped) is
    refused, because the direct evaluation slides the unflipped kernel."""
    from exactregions.io import onnx as onnx_io

    data = _export(_conv_net(), (1, 8, 8))
    assert onnx_io.load_onnx(data).hidden_widths == [192, 12]
    right = onnx_io.conv_matrix
    monkeypatch.setattr(onnx_io, "conv_matrix", lambda shape, W, *a: right(shape, W[:, :, ::-1, ::-1].copy(), *a))
    with pytest.raises(ModelError, match="differs from the ONNX model"):
        onnx_io.load_onnx(data)


def test_tensors_are_read_as_onnx_reads_them():
    from onnx import helper, numpy_helper

    from exactregions.io.onnx import to_array

    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64, np.float16, np.int64, np.int32, np.int8, np.uint8, np.bool_):
        a = (rng.normal(size=(2, 3)) * 10).astype(dtype)
        raw = numpy_helper.from_array(a)
        typed = helper.make_tensor("t", helper.np_dtype_to_tensor_dtype(a.dtype), a.shape, a.ravel().tolist())
        for t in (raw, typed):
            got = to_array(t)
            assert got.dtype == a.dtype and np.array_equal(got, numpy_helper.to_array(t))

"""Model loading: npz, torch files (weights only unless trusted) and modules, refusal of
unsupported layers with the file's name, checkpoints that run no code."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn as nn

from exactregions import Ball, Box, count_regions
from exactregions.io import ModelError, load_model, load_npz, save_npz
from exactregions.io.torch import from_torch

from conftest import random_net


def test_npz_round_trip(tmp_path):
    net = random_net(3, [5, 4], seed=1, slope=0.1)
    save_npz(net, tmp_path / "m.npz")
    back = load_npz(tmp_path / "m.npz")
    x = np.random.default_rng(0).normal(size=(20, 3))
    assert np.allclose(back.forward(x), net.forward(x)) and back.slopes == (0.1, 0.1)


def test_torch_sequential_with_batchnorm_dropout_flatten():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(2, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Dropout(0.3),
                          nn.Sequential(nn.Linear(6, 5), nn.LeakyReLU(0.05)), nn.Identity(), nn.Linear(5, 1))
    model.train()
    model(torch.randn(64, 2))  # populate BatchNorm running statistics
    model.eval()
    net = from_torch(model)
    assert net.hidden_widths == [6, 5] and net.slopes == (0.0, 0.05)
    x = np.random.default_rng(1).normal(size=(200, 2))
    with torch.no_grad():
        ref = model(torch.as_tensor(x, dtype=torch.float32)).double().numpy()
    assert np.max(np.abs(ref - net.forward(x))) < 1e-5
    # same activation patterns as the torch model's own pre-activations
    with torch.no_grad():
        z1 = model[2](model[1](torch.as_tensor(x, dtype=torch.float32))).numpy() > 0
    assert np.array_equal(net.pattern(x)[:, :6], z1)


def _mlp():
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 1)).double()


def test_saved_state_dict_counts_like_npz(tmp_path):
    model = _mlp()
    torch.save(model.state_dict(), tmp_path / "m.pt")
    net = load_model(tmp_path / "m.pt", factory=lambda: _mlp())
    save_npz(net, tmp_path / "m.npz")
    dom = Ball([0.0, 0.0], 1.0)
    assert count_regions(net, dom).activation_regions == count_regions(load_model(tmp_path / "m.npz"), dom).activation_regions


def test_unsupported_layer_is_named():
    with pytest.raises(ModelError, match=r"unsupported layer '1' \(Tanh\)"):
        from_torch(nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)))


def test_a_state_dict_without_factory_says_what_to_pass(tmp_path):
    path = tmp_path / "sd.pt"
    torch.save(nn.Linear(2, 2).state_dict(), path)
    with pytest.raises(ModelError, match="state dict") as e:
        load_model(path)
    assert str(path) in str(e.value) and "factory=" in str(e.value) and "--factory" not in str(e.value)
    assert str(path) in e.value.cli and "--factory MODULE:CALLABLE" in e.value.cli


_EVIL = ("[__import__('pathlib').Path({marker!r}).write_text('ran'), "
         "__import__('torch').nn.Sequential(__import__('torch').nn.Linear(2, 3), __import__('torch').nn.ReLU(), "
         "__import__('torch').nn.Linear(3, 1))][1]")


class _RunsCode:
    """Unpickling this object evaluates code: it writes a marker file, then builds a module."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return eval, (_EVIL.format(marker=self.marker),)


def test_a_pickle_that_would_run_code_is_refused_without_trust(tmp_path, capsys):
    from exactregions.cli import main

    marker, path = tmp_path / "marker", tmp_path / "evil.pt"
    torch.save(_RunsCode(marker), path)
    with pytest.raises(ModelError, match="unpickling runs code stored in the file") as e:
        load_model(path)
    assert str(path) in str(e.value) and "builtins.eval" in str(e.value) and "trust=True" in str(e.value)
    with pytest.raises(ModelError):
        count_regions(path, Ball([0.0, 0.0], 1.0))  # (as_network: the same refusal)
    assert main(["count", str(path), "--box", "-1", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--trust-pickle" in err and "trust=True" not in err
    assert not marker.exists()  # nothing ran
    net = load_model(path, trust=True)
    assert marker.read_text() == "ran" and net.hidden_widths == [3]


def test_a_pickled_module_loads_only_when_trusted(tmp_path, capsys):
    from exactregions.cli import main

    model = _mlp()
    torch.save(model, tmp_path / "full.pt")
    with pytest.raises(ModelError, match=r"holds a pickled torch module \(torch.nn.modules.container.Sequential"):
        load_model(tmp_path / "full.pt")
    net = load_model(tmp_path / "full.pt", trust=True)
    x = np.random.default_rng(0).normal(size=(10, 2))
    with torch.no_grad():
        assert np.allclose(net.forward(x), model(torch.as_tensor(x)).numpy())
    assert main(["count", str(tmp_path / "full.pt"), "--box", "-1", "1", "--json", "--quiet", "--trust-pickle"]) == 0
    assert json.loads(capsys.readouterr().out)["activation_regions"] == count_regions(net, Box(-1, 1, dim=2)).activation_regions


def test_state_dict_with_a_factory_in_python_and_on_the_command_line(tmp_path, capsys, monkeypatch):
    """A state dict loads into the module a factory builds: a callable, a module, a
    ``FILE.py:CALLABLE`` or ``MODULE:CALLABLE`` name; a training checkpoint's nested state dict
    (Lightning's "state_dict" with a "model." prefix) too; keys must fit exactly."""
    from exactregions.cli import main

    (tmp_path / "nets.py").write_text("import torch, torch.nn as nn\n"
                                      "def mlp():\n"
                                      "    return nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(),"
                                      " nn.Linear(8, 1)).double()\n")
    model = _mlp()
    torch.save(model.state_dict(), tmp_path / "m.pt")
    torch.save({"epoch": 3, "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()}},
               tmp_path / "lightning.pt")
    want = from_torch(model)
    x = np.random.default_rng(0).normal(size=(50, 2))
    for path, factory in ((tmp_path / "m.pt", _mlp), (tmp_path / "m.pt", _mlp()),
                          (tmp_path / "m.pt", f"{tmp_path / 'nets.py'}:mlp"), (tmp_path / "lightning.pt", _mlp)):
        np.testing.assert_allclose(load_model(path, factory=factory).forward(x), want.forward(x), rtol=0, atol=1e-12)
    box = Box(-1, 1, dim=2)
    expected = count_regions(want, box).activation_regions
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for spec in (f"{tmp_path / 'nets.py'}:mlp", "nets:mlp"):
        assert main(["count", str(tmp_path / "m.pt"), "--box", "-1", "1", "--json", "--quiet", "--factory", spec]) == 0
        assert json.loads(capsys.readouterr().out)["activation_regions"] == expected
    for spec, words in (("nets:nothing", "has no attribute 'nothing'"), ("nets", "not MODULE:CALLABLE"),
                        ("missing.py:f", "not found")):
        assert main(["count", str(tmp_path / "m.pt"), "--box", "-1", "1", "--factory", spec]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and words in err and "m.pt" in err
    with pytest.raises(ModelError, match=r"m.pt: the state dict does not fit the factory's module \(0.bias"):
        load_model(tmp_path / "m.pt", factory=lambda: nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 8), nn.ReLU(),
                                                                   nn.Linear(8, 1)))
    with pytest.raises(ModelError, match=r"m.pt: the state dict does not fit .*unexpected: 4.bias, 4.weight"):
        load_model(tmp_path / "m.pt", factory=lambda: nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 8)))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # (torch.jit.script and torch.jit.save)
def test_torchscript_loads_when_trusted_mlp_and_cnn(tmp_path):
    """TorchScript archives are programs (torch refuses them under weights_only=True): read
    only with trust=True; a scripted MLP is read layer by layer, a scripted CNN through ONNX
    with its input shape."""
    mlp = _mlp().float()
    torch.manual_seed(3)
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(64, 32),
                        nn.ReLU(), nn.Linear(32, 10)).eval()
    torch.jit.save(torch.jit.script(mlp), tmp_path / "mlp.pt")
    torch.jit.save(torch.jit.script(cnn), tmp_path / "cnn.pt")
    with pytest.raises(ModelError, match="mlp.pt: is a TorchScript archive; loading one compiles and runs code"):
        load_model(tmp_path / "mlp.pt")
    x = np.random.default_rng(1).normal(size=(20, 64))
    a = load_model(tmp_path / "mlp.pt", trust=True)
    np.testing.assert_allclose(a.forward(x[:, :2]), from_torch(mlp).forward(x[:, :2]), rtol=0, atol=1e-12)
    with pytest.raises(ModelError, match=r"cnn.pt: .*input_shape=\(1, 28, 28\)"):
        load_model(tmp_path / "cnn.pt", trust=True)
    b = load_model(tmp_path / "cnn.pt", trust=True, input_shape=(1, 8, 8))
    with torch.no_grad():
        ref = cnn(torch.as_tensor(x.reshape(20, 1, 8, 8), dtype=torch.float32)).double().numpy()
    assert b.hidden_widths == [256, 32] and np.max(np.abs(b.forward(x) - ref)) < 1e-5


def test_every_model_error_names_its_file(tmp_path):
    pytest.importorskip("onnx")
    import io

    torch.save(nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)).state_dict(), tmp_path / "tanh.pt")
    buf = io.BytesIO()
    torch.onnx.export(nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)), torch.zeros(1, 2), buf,
                      dynamo=False)
    (tmp_path / "tanh.onnx").write_bytes(buf.getvalue())
    np.savez(tmp_path / "nan.npz", W0=np.array([[np.nan, 1.0]]), b0=np.zeros(1), W1=np.ones((1, 1)), b1=np.zeros(1))
    (tmp_path / "junk.pt").write_bytes(b"junk")
    (tmp_path / "m.txt").write_text("?")
    cases = [("tanh.pt", dict(factory=lambda: nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))),
              r"unsupported layer '1' \(Tanh\)"),
             ("tanh.onnx", {}, "unsupported ONNX operator 'Tanh'"), ("nan.npz", {}, "NaN"),
             ("junk.pt", {}, "not a readable torch file"), ("m.txt", {}, "unknown model format")]
    for name, kw, words in cases:
        with pytest.raises(ModelError, match=words) as e:
            load_model(tmp_path / name, **kw)
        assert str(e.value).startswith(str(tmp_path / name) + ":") and "\n" not in str(e.value)


def test_the_supported_layer_lists_are_made_from_the_dispatch_tables():
    from exactregions.io import onnx as onnx_io
    from exactregions.io import torch as torch_io
    from exactregions.io.onnx_ops import EVALUATE

    with pytest.raises(ModelError) as e:
        from_torch(nn.Sequential(nn.Linear(2, 3), nn.Softplus(), nn.Linear(3, 1)))
    listed = str(e.value).split("supported are ", 1)[1]
    assert listed == torch_io.supported_layers()
    direct, traced = listed.split("; traced through ONNX (with the input shape): ")
    assert direct.split(", ") == list(torch_io.LAYERS)
    assert traced.split(", ")[:len(torch_io.IMAGE_LAYERS)] == list(torch_io.IMAGE_LAYERS) and "Conv2d" in traced
    on_data, on_constants = onnx_io.SUPPORTED.split("; on constants also ")
    assert on_data.split(", ") == sorted(onnx_io.TRACE) and "Conv" in on_data.split(", ")
    assert set(on_constants.split(", ")) == set(EVALUATE) - set(onnx_io.TRACE)
    assert set(onnx_io.TRACE) <= set(EVALUATE)  # every traced operator can be checked


def test_a_missing_input_shape_is_spelt_for_python_and_for_the_cli(tmp_path, capsys):
    from exactregions.cli import main

    def cnn():
        return nn.Sequential(nn.Conv2d(3, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 2))

    with pytest.raises(ModelError) as e:
        from_torch(cnn())
    assert "input_shape=(3, 28, 28)" in str(e.value) and "--input-shape" not in str(e.value)
    torch.save(cnn().state_dict(), tmp_path / "cnn.pt")
    (tmp_path / "nets.py").write_text("import torch.nn as nn\n"
                                      "def cnn():\n"
                                      "    return nn.Sequential(nn.Conv2d(3, 2, 3), nn.ReLU(), nn.Flatten(),"
                                      " nn.Linear(2 * 4 * 4, 2))\n")
    factory = f"{tmp_path / 'nets.py'}:cnn"
    assert main(["count", str(tmp_path / "cnn.pt"), "--box", "-1", "1", "--factory", factory]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--input-shape 3,28,28" in err and "input_shape=" not in err
    assert main(["count", str(tmp_path / "cnn.pt"), "--box", "0", "0.001", "--factory", factory, "--input-shape",
                 "3,6,6", "--json", "--quiet", "--max-regions", "50"]) == 0
    assert json.loads(capsys.readouterr().out)["activation_regions"] >= 1


@pytest.mark.parametrize("suffix", ["npz", "onnx"])
def test_loading_npz_or_onnx_imports_neither_torch_nor_onnx(tmp_path, suffix):
    """An .npz, and an .onnx (its protobuf schema is read without the rest of the onnx package,
    whose import alone costs more than tracing a LeNet), load in a process that imports
    neither torch nor onnx."""
    if suffix == "onnx":
        pytest.importorskip("onnx")
        import io

        buf = io.BytesIO()
        torch.manual_seed(0)
        torch.onnx.export(nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                        nn.Linear(8, 1)), torch.zeros(1, 1, 4, 4), buf, dynamo=False)
        (tmp_path / "m.onnx").write_bytes(buf.getvalue())
    else:
        save_npz(random_net(3, [5, 4], seed=1), tmp_path / "m.npz")
    code = ("import sys; from exactregions import load_model; net = load_model(sys.argv[1]); "
            "print(net.input_dim, 'torch' in sys.modules, 'onnx' in sys.modules)\n"
            "if sys.argv[1].endswith('.onnx'):  # onnx imported afterwards still reads the file, and so do we\n"
            "    import onnx; onnx.load(sys.argv[1]); print(load_model(sys.argv[1]).input_dim)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / f"m.{suffix}")], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == (["16", "False", "False", "16"] if suffix == "onnx" else ["3", "False", "False"])


@pytest.mark.parametrize("content,match", [(b"not a zip", "not a readable .npz"), (None, "not found")])
def test_bad_npz_files(tmp_path, content, match):
    p = tmp_path / "bad.npz"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(ModelError, match=match):
        load_model(p)


def test_nan_weights_and_shape_mismatch(tmp_path):
    np.savez(tmp_path / "nan.npz", W0=np.array([[np.nan, 1.0]]), b0=np.zeros(1), W1=np.ones((1, 1)), b1=np.zeros(1))
    with pytest.raises(ModelError, match="NaN"):
        load_npz(tmp_path / "nan.npz")
    np.savez(tmp_path / "shape.npz", W0=np.ones((3, 2)), b0=np.zeros(3), W1=np.ones((1, 4)), b1=np.zeros(1))
    with pytest.raises(ModelError, match="takes 4 inputs"):
        load_npz(tmp_path / "shape.npz")


def test_every_entry_point_takes_a_torch_module_a_path_and_tensors(tmp_path):
    """count_regions, the bounds and compare accept a Network, an nn.Module or a model path, and
    centres as torch tensors (even ones that require grad); all give the same numbers."""
    from exactregions import Plane
    from exactregions.bounds import compare, critical_radius, global_bound, local_bound

    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(6, 10), nn.ReLU(), nn.Linear(10, 8), nn.ReLU(), nn.Linear(8, 3))
    net = from_torch(model)
    save_npz(net, tmp_path / "m.npz")
    x = torch.randn(6, requires_grad=True)
    ball = Ball(x, 0.8)
    assert np.allclose(ball.center, x.detach().numpy())
    counts = {count_regions(m, ball).activation_regions for m in (net, model, tmp_path / "m.npz", str(tmp_path / "m.npz"))}
    assert len(counts) == 1 and counts.pop() > 1
    assert global_bound(model).value == global_bound(net).value
    assert local_bound(model, ball).value == local_bound(net, ball).value
    assert critical_radius(model, x) == critical_radius(net, x.detach().numpy())
    assert compare(model, ball).count.activation_regions == count_regions(net, ball).activation_regions
    pts = torch.randn(3, 6)
    assert count_regions(model, Plane(*pts)).activation_regions == count_regions(net, Plane(*pts.numpy())).activation_regions
    assert np.array_equal(net.pattern(pts), net.pattern(pts.numpy()))


@pytest.mark.parametrize("bad", [42, None, {"W0": 1}])
def test_anything_else_is_a_type_error_that_says_what_is_accepted(bad):
    from exactregions.bounds import local_bound

    for call in (lambda: count_regions(bad, Ball([0.0, 0.0], 1.0)), lambda: local_bound(bad, Ball([0.0], 1.0))):
        with pytest.raises(TypeError, match="Network, a torch nn.Module or a model file path"):
            call()


def test_a_convolutional_module_needs_its_input_shape():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 2))
    with pytest.raises(ModelError, match="input shape"):
        count_regions(model, Ball(np.zeros(36), 0.5))
    res = count_regions(model, Ball(np.zeros(36), 0.5), input_shape=(1, 6, 6))
    assert res.complete and res.activation_regions >= 1


def test_a_network_copies_what_can_change_and_shares_what_cannot():
    """A network owns its layers: a caller's writable array is copied (changing it later leaves
    the network as it was), while another network's read-only layers are shared (a plane slice
    of a conv net keeps the original's later layers instead of copying gigabytes)."""
    from exactregions import Network

    w0, w1 = np.array([[1.0, 2.0], [3.0, -1.0]]), np.array([[1.0, 1.0]])
    net = Network([w0, w1], [np.zeros(2), np.zeros(1)])
    w0[0, 0] = 99.0
    assert net.weights[0][0, 0] == 1.0 and not net.weights[0].flags.writeable
    sliced = net.compose_affine(np.array([[1.0], [0.5]]), np.zeros(2))
    assert sliced.weights[1] is net.weights[1]
    view = np.ones((1, 2))
    frozen = view[:]  # read-only view of a writable array: still copied
    frozen.setflags(write=False)
    other = Network([w0, frozen], [np.zeros(2), np.zeros(1)])
    view[0, 0] = 7.0
    assert other.weights[1][0, 0] == 1.0


def _bfs_partial(tmp_path, seed=8, max_regions=7):
    from exactregions.engines import count_regions_bfs

    net = random_net(2, [10, 10], seed=seed)
    dom = Ball([0.0, 0.1], 0.8)
    ck = tmp_path / "state.npz"
    part = count_regions_bfs(net, dom, max_regions=max_regions, checkpoint=ck)
    assert not part.complete and ck.exists()
    return net, dom, ck


def test_bfs_checkpoints_resume_without_unpickling_anything(tmp_path, monkeypatch):
    """The BFS state is arrays and JSON: resuming reads it with pickle switched off and gives
    the uninterrupted traversal's regions, edges, linear regions and affine maps."""
    import pickle

    from exactregions.engines import count_regions_bfs

    def refuse(*a, **k):
        raise AssertionError("a checkpoint was unpickled")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    net, dom, ck = _bfs_partial(tmp_path)
    with np.load(ck, allow_pickle=False) as z:  # (every entry an array of numbers: no object to unpickle)
        assert "__header__" in z.files and all(not z[k].dtype.hasobject for k in z.files)
    full = count_regions_bfs(net, dom)
    resumed = count_regions_bfs(net, dom, checkpoint=ck)
    assert resumed.complete and resumed.activation_regions == full.activation_regions
    assert [r.pattern.tobytes() for r in resumed.regions] == [r.pattern.tobytes() for r in full.regions]
    assert sorted(resumed.graph.edges) == sorted(full.graph.edges) and resumed.linear_regions == full.linear_regions
    assert all(np.array_equal(a.affine[0], b.affine[0]) and np.array_equal(a.affine[1], b.affine[1])
               for a, b in zip(resumed.regions, full.regions))
    # the regions read back from the file are the ones written, to the bit (the later ones'
    # interior points may differ in the last digits: the LP warm starts are not kept)
    assert all(np.array_equal(a.point, b.point) and a.inradius == b.inradius
               for a, b in zip(resumed.regions[:7], full.regions[:7]))


def test_bfs_checkpoints_of_another_run_or_changed_are_refused(tmp_path):
    from exactregions.engines import count_regions_bfs
    from exactregions.io.checkpoint import CheckpointError

    net, dom, ck = _bfs_partial(tmp_path)
    with pytest.raises(CheckpointError, match="belongs to another network, domain or tolerances"):
        count_regions_bfs(random_net(2, [10, 10], seed=9), dom, checkpoint=ck)
    with pytest.raises(CheckpointError, match="another network"):
        count_regions_bfs(net, Ball([0.0, 0.1], 0.7), checkpoint=ck)
    with np.load(ck, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(bytes(arrays["__header__"]).decode())
    changed = dict(arrays, queue=arrays["queue"][::-1].copy())  # another order of the frontier, same header
    np.savez(tmp_path / "changed.npz", **changed)
    with pytest.raises(CheckpointError, match="does not match its checksum"):
        count_regions_bfs(net, dom, checkpoint=tmp_path / "changed.npz")
    header["fingerprint"] = "0" * 20
    np.savez(tmp_path / "other.npz", **dict(arrays, __header__=np.frombuffer(json.dumps(header).encode(), np.uint8)))
    with pytest.raises(CheckpointError, match="another network"):
        count_regions_bfs(net, dom, checkpoint=tmp_path / "other.npz")
    save_npz(net, tmp_path / "model.npz")  # an npz of another kind
    (tmp_path / "junk.npz").write_bytes(b"junk")
    for path, words in (("model.npz", "not a readable checkpoint"), ("junk.npz", "not a readable checkpoint")):
        with pytest.raises(CheckpointError, match=words) as e:
            count_regions_bfs(net, dom, checkpoint=tmp_path / path)
        assert "\n" not in str(e.value)


def test_the_cli_bfs_checkpoint_is_an_npz_and_resumes(tmp_path, capsys):
    from exactregions.cli import main

    save_npz(random_net(2, [8, 8], seed=3), tmp_path / "m.npz")
    argv = ["count", str(tmp_path / "m.npz"), "--box", "-1", "1", "--engine", "bfs", "--json", "--quiet",
            "--checkpoint", str(tmp_path / "ck")]
    assert main(argv + ["--max-regions", "4"]) == 0
    assert json.loads(capsys.readouterr().out)["complete"] is False
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["bfs_state.npz"]  # (no temporary file left)
    assert main(argv) == 0
    resumed = json.loads(capsys.readouterr().out)
    assert resumed["complete"] and resumed["activation_regions"] == count_regions(
        load_npz(tmp_path / "m.npz"), Box(-1, 1, dim=2), engine="bfs").activation_regions


def test_a_subclass_with_its_own_forward_is_traced_not_read_as_its_base():
    class Doubled(nn.Linear):
        def forward(self, x):
            return 2 * super().forward(x)

    torch.manual_seed(4)
    model = nn.Sequential(Doubled(2, 3), nn.ReLU(), nn.Linear(3, 1)).eval()
    net = from_torch(model)
    x = np.random.default_rng(2).normal(size=(30, 2))
    with torch.no_grad():
        ref = model(torch.as_tensor(x, dtype=torch.float32)).double().numpy()
    assert np.max(np.abs(net.forward(x) - ref)) < 1e-5

"""Model loading: npz, torch modules (saved or in memory), refusal of unsupported layers."""

import numpy as np
import pytest
import torch
import torch.nn as nn

from exactregions import Ball, count_regions
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


def test_saved_torch_module_counts_like_npz(tmp_path):
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 1)).double()
    torch.save(model, tmp_path / "m.pt")
    net = load_model(tmp_path / "m.pt")
    save_npz(net, tmp_path / "m.npz")
    dom = Ball([0.0, 0.0], 1.0)
    assert count_regions(net, dom).activation_regions == count_regions(load_model(tmp_path / "m.npz"), dom).activation_regions


def test_unsupported_layer_is_named():
    with pytest.raises(ModelError, match=r"unsupported layer '1' \(Tanh\)"):
        from_torch(nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)))


def test_state_dict_is_refused(tmp_path):
    torch.save(nn.Linear(2, 2).state_dict(), tmp_path / "sd.pt")
    with pytest.raises(ModelError, match="state_dict"):
        load_model(tmp_path / "sd.pt")


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

"""Shared helpers. Reference nets in tests/data/ are copied from ../shared/reference/ (seeded
He-normal MLPs; counts from three independent public exact counters, see reference_counts.json)."""

import json
from pathlib import Path

import numpy as np
import pytest

from exactregions import Network
from exactregions.io import load_npz

DATA = Path(__file__).parent / "data"


def random_net(d, widths, seed, out=1, bias_scale=0.5, slope=0.0):
    """He-normal weights, biases N(0, bias_scale^2): general position with probability 1."""
    rng = np.random.default_rng(seed)
    dims = [d] + list(widths) + [out]
    Ws = [rng.normal(size=(dims[i + 1], dims[i])) * np.sqrt(2.0 / dims[i]) for i in range(len(dims) - 1)]
    bs = [rng.normal(size=dims[i + 1]) * bias_scale for i in range(len(dims) - 1)]
    return Network(Ws, bs, slopes=slope)


def reference_cases():
    ref = json.loads((DATA / "reference_counts.json").read_text())
    return ref["cases"]


def reference_net(case):
    return load_npz(DATA / Path(case["file"]).name)


@pytest.fixture
def tmp_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path

"""Shared helpers. Reference nets in tests/data/ are copied from ../shared/reference/ (seeded
He-normal MLPs; counts from three independent public exact counters, see reference_counts.json)."""

import json
from pathlib import Path

import pytest

from exactregions.network import random_network
from exactregions.io import load_npz

DATA = Path(__file__).parent / "data"


def random_net(d, widths, seed, out=1, bias_scale=0.5, slope=0.0):
    """He-normal weights, biases N(0, bias_scale^2): general position with probability 1."""
    return random_network(d, widths, seed, bias_scale=bias_scale, slope=slope, outputs=out)


def reference_cases():
    ref = json.loads((DATA / "reference_counts.json").read_text())
    return ref["cases"]


def reference_net(case):
    return load_npz(DATA / Path(case["file"]).name)


@pytest.fixture
def tmp_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path

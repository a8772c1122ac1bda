"""Command line: results on stdout, one-line errors with exit code 2, negative numbers."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch.nn as nn
import torch

from exactregions.cli import main
from exactregions.io import save_npz

from conftest import DATA, random_net

NET = str(DATA / "d2_8.npz")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_count_ball_json_matches_reference(capsys):
    code, out, err = run(capsys, "count", NET, "--ball", "0.1,-0.2", "0.7", "--json", "--quiet")
    assert code == 0
    res = json.loads(out)
    assert res["activation_regions"] == 24 and res["complete"] is True
    assert {"linear_regions", "seconds", "lp_solves"} <= set(res)


def test_negative_numbers_as_typed(capsys):
    code, out, _ = run(capsys, "count", NET, "--box", "-1", "1", "--json", "--quiet")
    assert code == 0 and json.loads(out)["activation_regions"] == 28
    code, out, _ = run(capsys, "count", NET, "--ball", "-0.5,0.2", "0.3", "--json", "--quiet")
    assert code == 0 and json.loads(out)["activation_regions"] >= 1


def test_npy_centre_and_verify(capsys, tmp_path):
    np.save(tmp_path / "c.npy", np.array([0.1, -0.2]))
    code, out, _ = run(capsys, "count", NET, "--ball", str(tmp_path / "c.npy"), "0.7", "--verify", "--json", "--quiet")
    res = json.loads(out)
    assert code == 0 and res["activation_regions"] == 24 and res["verify"]["ok"] is True


def test_max_regions_is_shown_as_lower_bound(capsys):
    code, out, _ = run(capsys, "count", NET, "--box", "-1", "1", "--max-regions", "5", "--engine", "bfs", "--quiet")
    assert code == 0 and ">= 5 (lower bound" in out
    code, out, _ = run(capsys, "count", NET, "--box", "-1", "1", "--max-regions", "5", "--json", "--quiet",
                       "--engine", "bfs")
    res = json.loads(out)
    assert res["complete"] is False and res["lower_bound"] is True and res["activation_regions"] == 5


def test_ball_methods_bracket_the_exact_count(capsys):
    counts = {}
    for m in ("inner", "exact", "outer"):
        _, out, _ = run(capsys, "count", NET, "--ball", "0.1,-0.2", "0.7", "--ball-method", m, "--json", "--quiet")
        counts[m] = json.loads(out)["activation_regions"]
    assert counts["inner"] <= counts["exact"] == 24 <= counts["outer"]


def test_progress_goes_to_stderr(capsys):
    code, out, err = run(capsys, "count", NET, "--whole", "--json")
    assert code == 0 and "regions" in err and json.loads(out)["activation_regions"] >= 28


@pytest.fixture
def tanh_model(tmp_path):
    p = tmp_path / "tanh.pt"
    torch.save(nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)), p)
    return str(p)


@pytest.fixture
def nan_model(tmp_path):
    p = tmp_path / "nan.npz"
    np.savez(p, W0=np.array([[np.inf, 1.0]]), b0=np.zeros(1), W1=np.ones((1, 1)), b1=np.zeros(1))
    return str(p)


@pytest.mark.parametrize("argv,words", [
    (["count", "missing.npz", "--box", "-1", "1"], "not found"),
    (["count", NET, "--ball", "0,0,0", "0.5"], "3 coordinates"),
    (["count", NET, "--ball", "0,0", "0"], "positive"),
    (["count", NET, "--ball", "0,0", "-1"], "positive"),
    (["count", NET, "--box", "1", "-1"], "lo must be below hi"),
    (["count", NET, "--box", "a", "1"], "not a comma-separated list"),
    (["count", NET], "one of the arguments"),
    (["count", NET, "--box", "-1", "1", "--max-regions", "0"], "must be positive"),
    (["count", NET, "--box", "-1", "1", "--workers", "0"], "--workers must be positive"),
    (["count", NET, "--box", "-1", "1", "--pieces", "0"], "--pieces must be positive"),
    (["count", NET, "--whole", "--engine", "subdivision"], "does not handle Whole"),
    (["count", NET, "--box", "-1", "1", "--pieces", "4", "--max-regions", "9", "--engine", "subdivision"],
     "cannot stop pieces"),
])
def test_bad_input_one_line_exit_2(capsys, argv, words):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and words in err and "Traceback" not in err


def test_bad_model_files_one_line(capsys, tanh_model, nan_model, tmp_path):
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"garbage")
    for path, words in ((tanh_model, "unsupported layer '1' (Tanh)"), (nan_model, "NaN or infinite"),
                        (str(corrupt), "not a readable")):
        code, out, err = run(capsys, "count", path, "--box", "-1", "1", "--trust-pickle")  # (a pickled module)
        assert code == 2 and err.count("\n") == 1 and words in err


def test_console_script_runs_as_a_process(tmp_path):
    save_npz(random_net(2, [4], seed=0), tmp_path / "m.npz")
    p = subprocess.run([sys.executable, "-m", "exactregions.cli", "count", str(tmp_path / "m.npz"),
                        "--whole", "--json", "--quiet"], capture_output=True, text=True)
    assert p.returncode == 0 and json.loads(p.stdout)["activation_regions"] == 11  # Phi(4, 2)
    p = subprocess.run([sys.executable, "-m", "exactregions.cli", "count", "nope.npz", "--whole"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "Traceback" not in p.stderr


def test_version_flag(capsys):
    import exactregions

    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"exactregions {exactregions.__version__}"


@pytest.mark.parametrize("command", ["count", "plot", "bound", "compare", "range", "lipschitz", "robust"])
def test_every_subcommand_names_every_model_format_and_takes_the_common_options(command, capsys):
    from exactregions.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices[command]
    text = sub.format_help()
    for fmt in (".npz", ".onnx", ".pt"):
        assert fmt in text
    for option in ("--input-shape", "--quiet", "--time-limit"):
        assert option in text
    assert "--json" in text


def test_bound_takes_quiet_and_a_time_limit(capsys):
    code, out, err = run(capsys, "bound", NET, "--ball", "0.1,-0.2", "0.7", "--method", "hybrid", "--quiet",
                         "--time-limit", "30", "--json")
    assert code == 0 and err == ""
    assert json.loads(out)["bounds"]["hybrid"] >= 24  # the exact count in that ball is 24


def test_derivation_numbers_each_layer_once(capsys):
    code, out, _ = run(capsys, "bound", str(DATA / "d2_16x16.npz"), "--ball", "0,0", "0.5", "--method", "local_t1",
                       "--derivation")
    assert code == 0
    dp_lines = [ln.strip() for ln in out.splitlines() if ln.strip().startswith("layer ") and "n=" in ln]
    assert [ln.split(":")[0] for ln in dp_lines] == ["layer 2"]  # layer 1 is counted exactly by T1


def test_a_wrong_dimension_is_a_domain_error_in_python():
    from exactregions import Ball, DomainError, Plane, Segment, count_regions
    from exactregions.io import load_npz

    net = load_npz(NET)
    for domain in (Ball([0.0, 0.0, 0.0], 1.0), Segment([0.0, 0.0, 0.0], [1.0, 0.0, 0.0]),
                   Plane([0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])):
        for engine in ("auto", "bfs"):
            with pytest.raises(DomainError, match="has dimension 3 but the network takes 2 inputs"):
                count_regions(net, domain, engine=engine)


def test_a_closed_pipe_gives_no_traceback():
    import os

    r, w = os.pipe()
    os.close(r)  # the reader is gone before the first line is written (`... | head` after it exits)
    try:
        proc = subprocess.run([sys.executable, "-m", "exactregions.cli", "bound", NET, "--ball", "0,0", "0.5"],
                              stdout=w, stderr=subprocess.PIPE, text=True)
    finally:
        os.close(w)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr

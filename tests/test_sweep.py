"""Sweeps: every row is a single count_regions call; tables survive a SIGKILL and resume without
recounting; errors and time limits are rows; Dask, worker processes and the training tracker
give the same rows; the command line writes the table in one process."""

import importlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from exactregions import Ball, RegionTracker, count_regions, save_npz, sweep
from exactregions.bounds import global_bound, local_bound
from exactregions.cli import main
from exactregions.sweeps import columns, read_table, step_of

from conftest import random_net

ROOT = Path(__file__).resolve().parent.parent
sweep_module = importlib.import_module("exactregions.sweeps")
#: columns that are measurements of time, not of the regions
TIMING = ["seconds"]


def _same_rows(a, b):
    """Two sweep tables hold the same rows (timings aside)."""
    cols = [c for c in a.columns if c not in TIMING]
    assert list(a.columns) == list(b.columns)
    assert a[cols].reset_index(drop=True).equals(b[cols].reset_index(drop=True))


def test_rows_equal_single_counts():
    nets = {"flat": random_net(2, [8, 8], seed=1), "deep": random_net(3, [6, 6], seed=2)}
    rng = np.random.default_rng(0)
    X2, X3 = rng.uniform(-1, 1, (3, 2)), rng.uniform(-1, 1, (3, 3))
    for name, X in (("flat", X2), ("deep", X3)):
        net = nets[name]
        df = sweep({name: net}, X, [0.3, 0.9], bounds=["local", "serra2018"], progress=False)
        assert len(df) == 6 and df.columns.tolist() == columns(["local", "serra2018"])
        for row in df.itertuples():
            ball = Ball(X[row.point], row.radius)
            res = count_regions(net, ball, keep_regions=False)
            assert (row.activation_regions, row.complete, row.lower_bound) == (res.activation_regions, True, False)
            assert row.engine == res.stats.get("engine", "bfs") and row.error is None or np.isnan(row.error)
            assert row.reduced_dim == res.stats.get("reduction", {"reduced_dim": net.input_dim})["reduced_dim"]
            assert row.boundary_distance == pytest.approx(net.boundary_distance(X[row.point])[0], rel=1e-12)
            assert row.bound_local == local_bound(net, ball, "local").value
            assert row.bound_serra2018 == global_bound(net, "serra2018").value
            assert row.model == name and np.isnan(row.step) and row.norm == "2" and row.domain == "ball"


def test_linear_regions_and_other_norms():
    net = random_net(2, [6, 6], seed=3)
    X = np.array([[0.1, -0.2], [0.5, 0.5]])
    df = sweep(net, X, [0.6], linear=True, norm="inf", progress=False)
    for row in df.itertuples():
        res = count_regions(net, Ball(X[row.point], 0.6, norm=np.inf), engine="bfs")
        assert (row.activation_regions, row.linear_regions, row.engine) == (res.activation_regions,
                                                                           res.linear_regions, "bfs")
    assert set(df.norm) == {"inf"}
    with pytest.raises(ValueError, match="BFS"):
        sweep(net, X, [0.6], linear=True, engine="planar", progress=False)


def test_checkpoint_folder_order_and_groups(tmp_path):
    folder = tmp_path / "ckpts"
    folder.mkdir()
    nets = {e: random_net(2, [6], seed=e) for e in (1, 2, 10)}
    for e, net in nets.items():
        save_npz(net, folder / f"run_epoch{e}.npz")
    (folder / "notes.txt").write_text("not a model")
    X = np.array([[0.0, 0.0], [0.3, 0.1], [-0.2, 0.4]])
    df = sweep(folder, X, [0.5], groups=["train", "test", "train"], progress=False)
    assert df.model.tolist() == [f"run_epoch{e}" for e in (1, 2, 10) for _ in range(3)]
    assert df.step.tolist() == [e for e in (1, 2, 10) for _ in range(3)]  # by step, not by name
    assert df.group.tolist() == ["train", "test", "train"] * 3
    for row in df.itertuples():
        assert row.activation_regions == count_regions(nets[row.step], Ball(X[row.point], 0.5)).activation_regions
    assert [step_of(n) for n in ("a_epoch12", "step_500", "ckpt-3", "model7", "final")] == [12, 500, 3, 7, None]


def test_torch_dataset_labels_become_groups():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader, TensorDataset

    X = torch.tensor([[0.0, 0.0], [0.4, 0.1], [0.2, -0.3]], dtype=torch.float64)
    y = torch.tensor([1, 0, 1])
    ds = TensorDataset(X, y)
    model = torch.nn.Sequential(torch.nn.Linear(2, 5), torch.nn.ReLU(), torch.nn.Linear(5, 1)).double()
    a = sweep(model, ds, 0.4, progress=False)
    b = sweep(model, DataLoader(ds, batch_size=2), 0.4, progress=False)
    assert a.group.tolist() == b.group.tolist() == ["1", "0", "1"]
    _same_rows(a, b)


def test_error_rows_and_limit_rows(tmp_path):
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"not a zip file")
    good = tmp_path / "good.npz"
    save_npz(random_net(2, [6], seed=0), good)
    three = tmp_path / "three.npz"
    save_npz(random_net(3, [6], seed=0), three)
    df = sweep([bad, good, three], np.zeros((2, 2)), [0.5], progress=False)
    assert df.model.tolist() == ["broken"] * 2 + ["good"] * 2 + ["three"] * 2
    assert df.error[:2].str.startswith("ModelError").all() and df.activation_regions[:2].isna().all()
    assert df.error[2:4].isna().all() and (df.activation_regions[2:4] >= 1).all()
    assert df.error[4:].str.contains("dimension 2 but the network takes 3").all()
    assert not df.complete[:2].any() and not df.lower_bound[:2].any()
    # a count stopped by a limit is a row marked lower bound
    net = random_net(2, [16, 16], seed=5)
    full = count_regions(net, Ball([0.0, 0.0], 1.0)).activation_regions
    df = sweep(net, np.zeros((1, 2)), [1.0], max_regions=5, engine="bfs", progress=False)
    row = df.iloc[0]
    assert row.lower_bound and not row.complete and row.activation_regions == 5 < full
    assert row.stop_reason and row.error is None or not isinstance(row.error, str)


def test_time_limit_row():
    net = random_net(6, [24, 24], seed=6)
    df = sweep(net, np.zeros((1, 6)), [2.0], engine="bfs", time_limit=0.2, progress=False)
    row = df.iloc[0]
    assert row.lower_bound and not row.complete and row.activation_regions >= 1 and "time" in row.stop_reason


_KILLED = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    import importlib
    s = importlib.import_module("exactregions.sweeps")
    from conftest import random_net

    real, calls = s.count_regions, [0]
    kill_at, where = int(sys.argv[2]), sys.argv[3]

    def counting(*a, **k):
        calls[0] += 1
        if where == "count" and calls[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*a, **k)

    real_replace = os.replace

    def replacing(a, b):
        if where == "write" and calls[0] >= kill_at:  # the new table is written, not yet renamed
            os.kill(os.getpid(), signal.SIGKILL)
        real_replace(a, b)

    s.count_regions, s.os.replace = counting, replacing
    X = np.random.default_rng(0).uniform(-1, 1, (12, 2))
    s.sweep(random_net(2, [10, 10], seed=7), X, [0.3, 0.6], engine="bfs", out=sys.argv[1], progress=False,
            save_every=0.0)
""")


@pytest.mark.parametrize("where", ["count", "write"])
def test_sigkill_then_resume_recounts_only_missing_rows(tmp_path, monkeypatch, where):
    out = tmp_path / "table.parquet"
    script = tmp_path / "killed.py"
    script.write_text(_KILLED)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    proc = subprocess.run([sys.executable, str(script), str(out), "13", where], env=env, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    before = read_table(out)  # readable, every row once
    assert 0 < len(before) < 24 and not before.duplicated(["model", "point", "radius"]).any()
    assert not any(f.startswith(".table.parquet") for f in os.listdir(tmp_path)) or where == "write"
    calls = [0]
    real = sweep_module.count_regions

    def counting(*a, **k):
        calls[0] += 1
        return real(*a, **k)

    monkeypatch.setattr(sweep_module, "count_regions", counting)
    X = np.random.default_rng(0).uniform(-1, 1, (12, 2))
    net = random_net(2, [10, 10], seed=7)
    after = sweep(net, X, [0.3, 0.6], engine="bfs", out=out, progress=False)
    assert calls[0] == 24 - len(before)  # none of the written rows is counted again
    kept = after.merge(before, on=["model", "point", "radius"], suffixes=("", "_before"))
    assert len(kept) == len(before)
    for c in before.columns:
        if c not in ("model", "point", "radius"):
            assert kept[c].equals(kept[f"{c}_before"]) or (kept[c].isna() & kept[f"{c}_before"].isna()).all(), c
    assert read_table(out).equals(after)
    monkeypatch.setattr(sweep_module, "count_regions", real)
    _same_rows(after, sweep(net, X, [0.3, 0.6], engine="bfs", progress=False))


def test_a_different_sweep_into_the_same_file_is_refused(tmp_path):
    out = tmp_path / "t.csv"
    net = random_net(2, [6], seed=1)
    X = np.array([[0.0, 0.0], [0.5, 0.5]])
    first = sweep(net, X, [0.5], groups=["0", "1"], out=out, progress=False)
    text = out.read_text()
    with pytest.raises(ValueError, match="holds a different sweep.*other centre"):
        sweep(net, X + 0.1, [0.5], groups=["0", "1"], out=out, progress=False)
    with pytest.raises(ValueError, match="holds a different sweep.*other model"):
        sweep(random_net(2, [6], seed=2), X, [0.5], groups=["0", "1"], out=out, progress=False)
    with pytest.raises(ValueError, match="other columns"):
        sweep(net, X, [0.5], groups=["0", "1"], bounds=["local"], out=out, progress=False)
    assert out.read_text() == text
    # more radii into the same file: the old rows are kept, the new ones added
    more = sweep(net, X, [0.5, 0.9], groups=["0", "1"], out=out, progress=False)
    assert len(more) == 4 and read_table(out).group.tolist() == ["0", "1", "0", "1"]  # strings stay strings
    _same_rows(more[more.radius == 0.5], first)


def test_workers_give_the_same_table(tmp_path):
    net = random_net(2, [8, 8], seed=4)
    X = np.random.default_rng(1).uniform(-1, 1, (10, 2))
    serial = sweep([net, random_net(2, [8], seed=5)], X, [0.2, 0.7], progress=False)
    parallel = sweep([net, random_net(2, [8], seed=5)], X, [0.2, 0.7], workers=2, progress=False)
    _same_rows(serial, parallel)


def test_dask_cluster_gives_the_same_table_counted_on_the_workers():
    distributed = pytest.importorskip("dask.distributed")
    net = random_net(3, [6, 6], seed=8)
    X = np.random.default_rng(2).uniform(-1, 1, (6, 3))
    opts = dict(engine="subdivision", kernel="numpy", progress=False)
    serial = sweep(net, X, [0.3, 0.8], **opts)
    before = sweep_module.STATS["counts"]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cl, distributed.Client(cl) as client:
        remote = sweep(net, X, [0.3, 0.8], scheduler=cl.scheduler_address, **opts)
        on_workers = client.run(lambda: importlib.import_module("exactregions.sweeps").STATS["counts"])
    assert sweep_module.STATS["counts"] == before  # nothing was counted here
    assert sum(on_workers.values()) == len(remote) == 12
    _same_rows(serial, remote)


def test_tracker_in_a_torch_training_loop(tmp_path):
    torch = pytest.importorskip("torch")
    from sklearn.datasets import make_moons

    from exactregions.io.torch import from_torch

    Xd, yd = make_moons(120, noise=0.1, random_state=0)
    X, y = torch.as_tensor(Xd), torch.as_tensor(yd)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8), torch.nn.ReLU(),
                                torch.nn.Linear(8, 2)).double()
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    points = Xd[:3]
    tracker = RegionTracker(points, [0.3], every=5, groups=["a", "b", "c"], out=tmp_path / "track.parquet",
                            name="moons")
    snapshots, step = {}, 0
    for _ in range(3):  # epochs of 4 batches of 30
        for i in range(0, 120, 30):
            started = tracker(model, step)
            assert model.training  # the tracker's conversion left the module training
            if started:
                snapshots[step] = from_torch(model)
                model.train()  # (from_torch itself leaves it in eval mode)
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(X[i:i + 30]), y[i:i + 30]).backward()
            opt.step()
            step += 1
    df = tracker.close()
    assert sorted(snapshots) == [0, 5, 10] and df.step.tolist() == [0] * 3 + [5] * 3 + [10] * 3
    assert df.group.tolist() == ["a", "b", "c"] * 3 and set(df.model) == {"moons"}
    for row in df.itertuples():
        res = count_regions(snapshots[row.step], Ball(points[row.point], 0.3))
        assert row.activation_regions == res.activation_regions
    assert read_table(tmp_path / "track.parquet").equals(df)
    assert snapshots[0].weights[0].tolist() != snapshots[10].weights[0].tolist()  # it trained


def test_tracker_lightning_callback():
    pytest.importorskip("lightning")
    tracker = RegionTracker(np.zeros((1, 2)), [0.5], workers=0)
    cb = tracker.lightning_callback()
    assert hasattr(cb, "on_train_batch_end")


def test_cli_sweep_of_twenty_centres(tmp_path, capsys):
    net = tmp_path / "net.npz"
    save_npz(random_net(2, [8, 8], seed=9), net)
    rng = np.random.default_rng(3)
    np.save(tmp_path / "c.npy", rng.uniform(-1, 1, (20, 2)))
    np.save(tmp_path / "g.npy", np.array(["train"] * 10 + ["random"] * 10))
    out = tmp_path / "t.parquet"
    args = [str(net), "--centres", str(tmp_path / "c.npy"), "--groups", str(tmp_path / "g.npy"),
            "--radii", "0.1,0.3", "--out", str(out), "--quiet"]
    assert main(["sweep", *args]) == 0
    assert "40 of 40 rows (40 counted, 0 already there)" in capsys.readouterr().out
    df = read_table(out)
    assert len(df) == 40 and df.group.tolist() == ["train"] * 20 + ["random"] * 20
    lib = sweep(net, np.load(tmp_path / "c.npy"), [0.1, 0.3], groups=np.load(tmp_path / "g.npy"), progress=False)
    _same_rows(df, lib)
    assert main(["sweep", *args]) == 0
    assert "(0 counted, 40 already there)" in capsys.readouterr().out
    # bad input: one line, exit 2, no file
    new = str(tmp_path / "new.parquet")
    base = [str(net), "--centres", str(tmp_path / "c.npy"), "--quiet"]
    for bad, msg in ((["--radii", "0.1,x", "--out", new], "--radii"),
                     (["--radii", "0.1", "--out", str(tmp_path / "t.txt")], ".parquet or .csv"),
                     (["--radii", "0.1", "--bounds", "nope", "--out", new], "unknown bound"),
                     (["--radii", "0.1", "--groups", str(tmp_path / "c.npy"), "--out", new], "40 labels for 20"),
                     (["--radii", "0.1", "--time-limit", "-1", "--out", new], "--time-limit must be positive")):
        assert main(["sweep", *base, *bad]) == 2
        err = capsys.readouterr().err
        assert msg in err and len(err.strip().splitlines()) == 1, err
    assert main(["sweep", str(net), "--centres", str(net), "--radii", "0.1", "--out", new]) == 2
    assert ".npy" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["c.npy", "g.npy", "net.npz", "t.parquet"]
    # a centre file of the wrong dimension: rows that say so, exit 1
    np.save(tmp_path / "c3.npy", rng.uniform(-1, 1, (4, 3)))
    a = list(args[:1]) + ["--centres", str(tmp_path / "c3.npy"), "--radii", "0.2", "--out", str(tmp_path / "e.csv"),
                          "--quiet"]
    assert main(["sweep", *a]) == 1
    assert "4 errors (first: DomainError: domain has dimension 3" in capsys.readouterr().out
    assert main(["sweep", *a, "--json"]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert (summary["rows"], summary["counted"], summary["already_there"], summary["errors"]) == (4, 0, 4, 4)


def test_import_stays_light():
    code = ("import sys, exactregions; from exactregions import sweep, RegionTracker; "
            "print(json.dumps(sorted(m for m in ('pandas', 'pyarrow', 'tqdm', 'torch', 'dask') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    assert json.loads(out.stdout) == []


def test_batches_bounded_by_estimated_cost_and_a_slow_count_hands_its_batch_back():
    tasks = [(i, 0, i, 0.5) for i in range(100)]
    b = sweep_module._Batcher(tasks, target=0.2, slots=2)
    assert [len(b.take()) for _ in range(3)] == [1, 2, 4]  # no estimate yet: probes
    for t in tasks[:7]:
        b.observe(t, 0.001)  # tiny counts: batched up to the target
    n = len(b.take())  # many tiny counts in one batch, but the 93 left spread over both slots
    assert 10 < n <= 93 // 4 + 1
    b = sweep_module._Batcher(tasks, target=0.2, slots=2)
    b.observe(tasks[0], 5.0)  # slow counts: one at a time
    assert [len(b.take()) for _ in range(3)] == [1, 1, 1]
    # a batch stops after the count that passes its budget and hands the rest back
    net = random_net(2, [6], seed=0)
    study, models, work, _, _, _ = sweep_module._plan(net, np.zeros((5, 2)), [0.5])
    done, left = sweep_module._run_batch(study, models, work, budget=0.0)
    assert len(done) == 1 and left == work[1:]


def test_ctrl_c_keeps_the_finished_rows(tmp_path, monkeypatch):
    real, calls = sweep_module.count_regions, [0]

    def interrupted_at_the_fourth(*a, **k):
        calls[0] += 1
        if calls[0] == 4:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(sweep_module, "count_regions", interrupted_at_the_fourth)
    out = tmp_path / "t.parquet"
    df = sweep(random_net(2, [6], seed=0), np.zeros((6, 2)), [0.5], out=out, progress=False)
    assert df.attrs["interrupted"] and len(df) == 3 and read_table(out).equals(df)


def test_scheduler_without_dask_is_one_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # as if dask were not installed
    with pytest.raises(ValueError, match=r"needs dask.distributed: pip install 'exactregions\[dask\]'"):
        sweep(random_net(2, [4], seed=0), np.zeros((1, 2)), [0.5], scheduler="tcp://127.0.0.1:1", progress=False)

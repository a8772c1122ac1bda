"""Benchmark of model loading and start-up (not a test): each figure is the median over fresh
processes, so imports are counted as a user meets them; wall seconds and CPU seconds (user +
system), the latter a steadier guide on a shared machine.

Rows:

* ``onnx-cnn-39kb-load``: ``load_model`` of a small ONNX CNN (Conv2d(1,4,3,pad 1) - ReLU -
  AvgPool2d(2) - Flatten - Linear(784,12) - ReLU - Linear(12,10) on 1x28x28, float32, 39 KB,
  seeded), in a process that has imported exactregions: parsing, tracing, the check;
* ``onnx-lenet-load``: the same for ``data/speed/lenet_digits.onnx`` (165 KB, 5,696 ReLUs);
* ``torch-import``: the whole process ``python -c "import torch"``, the floor of any ``.pt`` run;
* ``cli-pt-count-process``: the whole process ``exactregions count mlp.pt --factory nets.py:mlp
  --box -1 1 --json --quiet`` for a state dict of a 2-[64,64]-1 MLP (seeded);
* ``cli-npz-count-process``: the same network as ``.npz``.

Usage: ``python scripts/bench_loading.py [--repeats 5] [--pythonpath DIR] [--pickled]``.
``--pythonpath`` measures another checkout of the package; ``--pickled`` makes the ``.pt``
row read a pickled module (``torch.save(model, path)``, with ``--trust-pickle`` where the CLI
has that option) instead of a state dict.
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

FACTORY = """import torch.nn as nn


def mlp():
    return nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
"""

LOAD = ("import sys, time; import exactregions; t, c = time.perf_counter(), time.process_time(); "
        "exactregions.load_model(sys.argv[1]); print(time.perf_counter() - t, time.process_time() - c)")


def make_files(folder: Path):
    import io

    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(784, 12),
                        nn.ReLU(), nn.Linear(12, 10)).eval()
    buf = io.BytesIO()
    torch.onnx.export(cnn, torch.zeros(1, 1, 28, 28), buf, dynamo=False, input_names=["x"], output_names=["y"])
    (folder / "cnn.onnx").write_bytes(buf.getvalue())
    (folder / "nets.py").write_text(FACTORY)
    sys.path.insert(0, str(folder))
    from nets import mlp  # noqa: E402  (the factory file just written)

    torch.manual_seed(0)
    model = mlp()
    torch.save(model.state_dict(), folder / "mlp.pt")
    torch.save(model, folder / "mlp_pickled.pt")
    arrays = {}
    for i, layer in enumerate(m for m in model if isinstance(m, nn.Linear)):
        arrays[f"W{i}"], arrays[f"b{i}"] = layer.weight.detach().double().numpy(), layer.bias.detach().double().numpy()
    np.savez(folder / "mlp.npz", **arrays)


def median_run(argv, env, repeats, inner=False, cwd=None):
    """Median wall and CPU seconds (user + system) of ``repeats`` fresh processes: of the whole
    process, or of what it prints (``inner``). On a shared machine the CPU seconds are the
    better guide to a quiet machine's wall time. ``cwd`` is a folder without the package in it
    (``python -c`` puts the working folder ahead of PYTHONPATH)."""
    walls, cpus = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        out = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd)
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if out.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {out.stderr.strip()}")
        if inner:
            wall, cpu = (float(v) for v in out.stdout.strip().splitlines()[-1].split())
        else:
            cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        walls.append(wall)
        cpus.append(cpu)
    return float(np.median(walls)), float(np.median(cpus))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--pythonpath", default=str(ROOT), help="the checkout of exactregions to measure")
    ap.add_argument("--pickled", action="store_true", help="the .pt row reads a pickled module")
    args = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=args.pythonpath, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_files(folder)
        run = functools.partial(median_run, env=env, repeats=args.repeats, cwd=tmp)
        cli = [py, "-m", "exactregions.cli", "count"]
        tail = ["--box", "-1", "1", "--json", "--quiet"]
        if args.pickled:
            helptext = subprocess.run(cli + ["--help"], capture_output=True, text=True, env=env, cwd=tmp).stdout
            pt = [str(folder / "mlp_pickled.pt")] + (["--trust-pickle"] if "--trust-pickle" in helptext else [])
        else:
            pt = [str(folder / "mlp.pt"), "--factory", f"{folder / 'nets.py'}:mlp"]
        rows = [("onnx-cnn-39kb-load", f"{(folder / 'cnn.onnx').stat().st_size / 1000:.0f} KB, in-process",
                 lambda: run([py, "-c", LOAD, str(folder / "cnn.onnx")], inner=True)),
                ("onnx-lenet-load", "data/speed/lenet_digits.onnx, in-process",
                 lambda: run([py, "-c", LOAD, str(ROOT / "data" / "speed" / "lenet_digits.onnx")], inner=True)),
                ("torch-import", "whole process", lambda: run([py, "-c", "import torch"])),
                ("cli-pt-count-process", "whole process", lambda: run(cli + pt + tail)),
                ("cli-npz-count-process", "whole process",
                 lambda: run(cli + [str(folder / "mlp.npz")] + tail))]
        print("| row | what | wall s (median) | CPU s (median) |")
        print("|---|---|---:|---:|")
        for name, what, measure in rows:
            wall, cpu = measure()
            print(f"| {name} | {what} | {wall:.3f} | {cpu:.3f} |", flush=True)


if __name__ == "__main__":
    main()

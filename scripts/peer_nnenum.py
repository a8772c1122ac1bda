"""Run the public star-set verifier nnenum (github.com/stanleybak/nnenum, installed on its own,
outside this repository) on robustness questions, one process, one thread, and print one JSON
row per question: ``python peer_nnenum.py questions.json`` with the Python that has nnenum.

Each question of the file: ``{"name", "onnx", "lo", "hi", "label", "outputs", "timeout"}`` (the
L-infinity ball as its box). The property is unsafe where some rival output reaches the label's
(a disjunction of ``F_label - F_j <= 0``); nnenum's own settings for inputs below 700
dimensions ("control") or above ("image"), as its VNN-LIB front end picks them. The seconds are
those of ``enumerate_network``, in the call (loading the ONNX file apart).
"""

import json
import os
import sys
import time

os.environ["OMP_NUM_THREADS"] = "1"
os.environ["OPENBLAS_NUM_THREADS"] = "1"

import numpy as np  # noqa: E402
from nnenum import nnenum as front  # noqa: E402
from nnenum.enumerate import enumerate_network  # noqa: E402
from nnenum.onnx_network import load_onnx_network, load_onnx_network_optimized  # noqa: E402
from nnenum.settings import Settings  # noqa: E402
from nnenum.specification import DisjunctiveSpec, Specification  # noqa: E402


def main():
    for q in json.loads(open(sys.argv[1]).read()):
        Settings.reset()
        (front.set_control_settings if len(q["lo"]) < 700 else front.set_image_settings)()
        Settings.NUM_PROCESSES = 1
        Settings.PRINT_OUTPUT = False
        Settings.TIMEOUT = q["timeout"]
        try:
            net = load_onnx_network_optimized(q["onnx"])
        except Exception:
            net = load_onnx_network(q["onnx"])
        k, lab = q["outputs"], q["label"]
        specs = []
        for j in range(k):
            if j != lab:
                row = np.zeros((1, k))
                row[0, lab], row[0, j] = 1.0, -1.0
                specs.append(Specification(row, np.array([0.0])))
        spec = specs[0] if len(specs) == 1 else DisjunctiveSpec(specs)
        box = np.array([q["lo"], q["hi"]], dtype=np.float64).T
        t = time.perf_counter()
        res = enumerate_network(box, net, spec)
        sec = time.perf_counter() - t
        print(json.dumps({"name": q["name"], "result": res.result_str, "seconds": sec}), flush=True)


if __name__ == "__main__":
    main()

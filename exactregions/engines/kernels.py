"""Which implementation of an engine's inner loop runs: ``"numba"`` (compiled) or ``"numpy"``
(the vectorised reference the tests hold the compiled one to). Both give the same answers;
the choice is about time only, so it is one rule for every engine that has both."""

from __future__ import annotations

KERNELS = ("auto", "numba", "numpy")


def choose_kernel(kernel: str, problem, numpy_pays=lambda: False) -> str:
    """``kernel`` checked and resolved: ``"auto"`` is numba unless ``numpy_pays()`` (the count
    would finish before numba loads) or numba is not usable here (``problem()``: None when it
    is, else why not); asking for ``"numba"`` where it is not usable is an error that says so."""
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel '{kernel}': choose from {', '.join(KERNELS)}")
    if kernel == "numpy" or (kernel == "auto" and numpy_pays()):
        return "numpy"
    why = problem()
    if why is None:
        return "numba"
    if kernel == "numba":
        raise ValueError(f"kernel 'numba' is not usable here ({why}): use kernel='numpy'")
    return "numpy"

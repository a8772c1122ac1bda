"""exactregions: exact counts of the linear regions of ReLU networks, held against theory.

Everything a user needs is importable from here: the network and its loaders, the domains, the
count and its result, the answers read off the regions (output ranges, Lipschitz constants,
robustness verdicts, the decision boundary), the analytical bounds, the pictures and every
error type.

>>> from exactregions import Network, Whole, count_regions
>>> net = Network([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [[1.0, 1.0, 1.0]]], [[0, 0, -1], [0]])
>>> count_regions(net, Whole(2)).activation_regions   # 3 lines in general position
7
"""

from .analysis import (DecisionRegions, Lipschitz, OutputRange, Robustness, decision_regions, lipschitz,
                       output_range, robust)
from .bounds import (Bound, Comparison, all_bounds, compare, critical_radius, global_bound, hybrid_bound,
                     local_bound, montufar_product, sawtooth, zigzag)
from .domains import Ball, Box, Domain, DomainError, Plane, Polytope, Segment, Whole
from .engines import ENGINES, Tolerances, auto_engine, count_regions
from .engines.subdivision import Degenerate
from .io import ModelError, load_model, load_npz, save_npz  # also lets every entry point take paths and modules
from .network import Network, NetworkError, as_network, random_network
from .oracle import SolverError
from .plot import plot_regions, plot_sweep, read_sweep, region_polygons
from .relax import linear_bounds, output_bounds
from .result import Region, RegionCount, VerifyReport
from .sweeps import RegionTracker, sweep
from ._version import __version__

__all__ = [
    # networks and models
    "Network", "as_network", "random_network", "load_model", "load_npz", "save_npz",
    # domains
    "Domain", "Ball", "Box", "Polytope", "Whole", "Segment", "Plane",
    # counting
    "count_regions", "auto_engine", "ENGINES", "Tolerances", "Region", "RegionCount", "VerifyReport",
    # answers read off the regions
    "output_range", "lipschitz", "robust", "decision_regions", "OutputRange", "Lipschitz", "Robustness",
    "DecisionRegions",
    # sound linear bounds (what decides robust verdicts before any region is enumerated)
    "output_bounds", "linear_bounds",
    # bounds and constructions
    "global_bound", "local_bound", "hybrid_bound", "critical_radius", "all_bounds", "compare", "Bound",
    "Comparison", "sawtooth", "zigzag", "montufar_product",
    # many counts in one table
    "sweep", "RegionTracker",
    # pictures
    "plot_regions", "region_polygons", "plot_sweep", "read_sweep",
    # errors
    "NetworkError", "DomainError", "ModelError", "SolverError", "Degenerate",
    "__version__",
]

"""exactregions: exact counts of the linear regions of ReLU networks, held against theory."""

from .domains import Ball, Box, Domain, DomainError, Plane, Polytope, Segment, Whole
from .engines import Tolerances, count_regions
from .io import load_model  # also lets every entry point take model paths and torch modules
from .network import Network, NetworkError, as_network
from .oracle import SolverError
from .result import Region, RegionCount

__version__ = "0.1.0"

__all__ = ["Network", "NetworkError", "as_network", "load_model", "Ball", "Box", "Polytope", "Whole", "Segment", "Plane", "Domain", "DomainError",
           "count_regions", "Tolerances", "Region", "RegionCount", "SolverError", "__version__"]

"""Analytical upper bounds (global and local), lower-bound constructions, exact integers.

The mathematics, with citations, sits next to each formula: :mod:`.arrangements`
(Zaslavsky, Cover, restricted counts), :mod:`.global_bounds` (Montúfar 2014, Raghu 2017,
Montúfar 2017, Serra 2018 and its rank variant), :mod:`.local` (stable-neuron and ball-local
bounds, hybrid), :mod:`.constructions` (sawtooth, zigzag, Montúfar's product).
"""

from .arrangements import cover, phi, restricted_count_ball
from .compare import ALL_METHODS, Comparison, all_bounds, compare
from .constructions import montufar_product, sawtooth, zigzag
from .global_bounds import GLOBAL_METHODS, Bound, global_bound
from .local import LOCAL_METHODS, critical_radius, hybrid_bound, local_bound

__all__ = ["phi", "cover", "restricted_count_ball", "sawtooth", "zigzag", "montufar_product",
           "Bound", "global_bound", "local_bound", "hybrid_bound", "critical_radius", "compare",
           "Comparison", "all_bounds", "ALL_METHODS", "GLOBAL_METHODS", "LOCAL_METHODS"]

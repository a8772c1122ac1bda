"""Analytical bounds and constructions (exact integers)."""

from .arrangements import cover, phi, restricted_count_ball
from .constructions import montufar_product, sawtooth, zigzag

__all__ = ["phi", "cover", "restricted_count_ball", "sawtooth", "zigzag", "montufar_product"]

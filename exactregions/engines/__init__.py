"""Counting engines: the LP breadth-first traversal (:func:`count_regions`)."""

from .bfs import count_regions
from .region import Tolerances

__all__ = ["count_regions", "Tolerances"]

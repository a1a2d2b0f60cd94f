"""Tuners behind one ask/tell interface; importing this package registers them."""

from harness.tuners import grid_search, random_search, smac  # noqa: F401 (registers tuners)

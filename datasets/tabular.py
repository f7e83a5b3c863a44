"""Shared by the housing loaders: Keras's seeded shuffle and train/test cut of ``(x, y)``."""

from __future__ import annotations

import numpy as np


def check_test_split(loader: str, test_split) -> float:
    if not 0.0 <= float(test_split) < 1.0:
        raise ValueError(f"{loader}: test_split must be in [0, 1), got {test_split}")
    return float(test_split)


def shuffle_and_split(x: np.ndarray, y: np.ndarray, test_split: float, seed: int) -> tuple:
    """Rows shuffled by ``RandomState(seed).shuffle`` then cut at ``int(n * (1 - test_split))`` (as Keras)."""
    order = np.arange(len(x))
    np.random.RandomState(seed).shuffle(order)
    x, y = x[order], y[order]
    cut = int(len(x) * (1 - test_split))
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])

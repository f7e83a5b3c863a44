"""The UCI handwritten digits (1797 images of 8x8 pixels), shipped inside the package.

The data needs no download: it is the file ``data/digits.csv.gz`` beside this module
(licence and attribution in ``data/DIGITS_LICENSE.txt``). It is a small real task —
people's handwriting, not generated glyphs — that a CNN learns to ~98% accuracy in
seconds, so the demo and the tests that need a learnable problem use it.
"""

from __future__ import annotations

import gzip
from importlib import resources

import numpy as np

NUM_SAMPLES = 1797
NUM_CLASSES = 10
MAX_PIXEL = 16   # each pixel counts the inked pixels of a 4x4 block of a 32x32 bitmap


def _read_bundled():
    """``(images (1797, 8, 8) uint8 in 0..16, labels (1797,) uint8)`` in the file's order."""
    raw = resources.files(__package__).joinpath("data", "digits.csv.gz").read_bytes()
    table = np.loadtxt(gzip.decompress(raw).decode("ascii").splitlines(), delimiter=",", dtype=np.uint8)
    if table.shape != (NUM_SAMPLES, 65):
        raise RuntimeError(f"the bundled digits file is damaged: expected a (1797, 65) table, got {table.shape}")
    return table[:, :64].reshape(-1, 8, 8), table[:, 64]


def load_data(test_split: float = 0.2, seed: int = 113):
    """The digits, split into training and test sets.

    Args:
        test_split: fraction of the 1797 samples held out for testing, in [0, 1).
        seed: the shuffle before the split (the same seed gives the same split everywhere).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: images ``(n, 8, 8)`` uint8 with values
        0..16 (divide by 16 for [0, 1]) and labels ``(n,)`` uint8 in 0..9.
    """
    if not 0.0 <= float(test_split) < 1.0:
        raise ValueError(f"digits.load_data: test_split must be in [0, 1), got {test_split}")
    images, labels = _read_bundled()
    order = np.random.RandomState(seed).permutation(NUM_SAMPLES)
    images, labels = images[order], labels[order]
    cut = int(round(NUM_SAMPLES * (1.0 - float(test_split))))
    return (images[:cut], labels[:cut]), (images[cut:], labels[cut:])

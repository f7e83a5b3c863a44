"""Boston housing prices (Harrison & Rubinfeld, 1978): 506 tracts, 13 features, median value.

Read from the original StatLib text file ``http://lib.stat.cmu.edu/datasets/boston``:
22 lines of description, then each record on two lines (11 + 3 numbers): the 13
features CRIM ZN INDUS CHAS NOX RM AGE DIS RAD TAX PTRATIO B LSTAT and MEDV (in
$1000s). No checksum of that file is published, so the first download's SHA-256 is
recorded and checked afterwards (see ``sources``), and the layout is validated.

The dataset has an ethical problem (the ``B`` column encodes race); Keras keeps it
for compatibility and so do we.
"""

from __future__ import annotations

import numpy as np

from highlevel.datasets import download, tabular

DATASET = "boston_housing"
FILENAME = "boston"
NUM_SAMPLES = 506
NUM_FEATURES = 13
_HEADER_LINES = 22


def parse_statlib(text: str) -> tuple:
    """``(x (506, 13) float64, y (506,) float64)`` from the StatLib file's text."""
    lines = text.splitlines()
    values = np.array(" ".join(lines[_HEADER_LINES:]).split(), dtype=np.float64)
    columns = NUM_FEATURES + 1
    if values.size != NUM_SAMPLES * columns:
        raise ValueError(f"the Boston housing file should hold {NUM_SAMPLES} records of {columns} numbers "
                         f"after {_HEADER_LINES} header lines, found {values.size} numbers")
    table = values.reshape(NUM_SAMPLES, columns)
    return table[:, :NUM_FEATURES].copy(), table[:, NUM_FEATURES].copy()


def load_data(path: str = DATASET, test_split: float = 0.2, seed: int = 113):
    """Boston housing, with Keras's ``boston_housing.load_data`` signature and return value.

    Args:
        path: the cache subfolder (under ``$HIGHLEVEL_HOME/datasets``) for the StatLib file.
        test_split: fraction held out for testing, in [0, 1).
        seed: the shuffle before the split.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``x`` ``(n, 13)`` float64, ``y`` ``(n,)``
        float64 (median value in $1000s); 404 / 102 rows with the defaults.
    """
    test_split = tabular.check_test_split("boston_housing.load_data", test_split)
    with open(download.fetch_file(DATASET, FILENAME, path), encoding="latin-1") as f:
        x, y = parse_statlib(f.read())
    return tabular.shuffle_and_split(x, y, test_split, seed)

"""California housing (Pace & Barry, 1997): 20,640 census block groups of the 1990 census.

Read from StatLib's ``cal_housing.tgz`` (scikit-learn's pinned figshare copy):
``CaliforniaHousing/cal_housing.data`` has 9 comma-separated columns per block group,
longitude, latitude, housingMedianAge, totalRooms, totalBedrooms, population,
households, medianIncome, medianHouseValue. As in Keras's ``california_housing.npz``,
``x`` is the first 8 raw columns in that order and ``y`` the median house value in
dollars (not scikit-learn's derived per-household features).
"""

from __future__ import annotations

import io

import numpy as np

from highlevel.datasets import archives, download, tabular

DATASET = "california_housing"
ARCHIVE = "cal_housing.tgz"
_MEMBER = "CaliforniaHousing/cal_housing.data"
_MAX_BYTES = 16 << 20           # the table is about 1.9 MB
NUM_SAMPLES = 20640
SMALL_SAMPLES = 600


def parse_table(raw: bytes) -> tuple:
    """``(x (n, 8) float32, y (n,) float32)`` from ``cal_housing.data``."""
    table = np.loadtxt(io.StringIO(raw.decode("ascii")), delimiter=",", dtype=np.float64, ndmin=2)
    if table.shape[1] != 9:
        raise ValueError(f"{_MEMBER}: expected 9 columns, got {table.shape[1]}")
    return table[:, :8].astype(np.float32), table[:, 8].astype(np.float32)


def load_data(version: str = "large", path: str = DATASET, test_split: float = 0.2, seed: int = 113):
    """California housing, with Keras's ``california_housing.load_data`` signature and return value.

    Args:
        version: ``"large"`` (all 20,640 rows) or ``"small"`` (the first 600, as Keras).
        path: the cache subfolder (under ``$HIGHLEVEL_HOME/datasets``) for the archive.
        test_split: fraction held out for testing, in [0, 1).
        seed: the shuffle before the split.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``x`` ``(n, 8)`` float32, ``y`` ``(n,)`` float32.
    """
    test_split = tabular.check_test_split("california_housing.load_data", test_split)
    if version not in ("large", "small"):
        raise ValueError(f'california_housing.load_data: version must be "large" or "small", got {version!r}')
    archive = download.fetch_file(DATASET, ARCHIVE, path)
    x, y = parse_table(archives.read_tar_members(archive, [_MEMBER], _MAX_BYTES)[_MEMBER])
    if version == "small":
        x, y = x[:SMALL_SAMPLES], y[:SMALL_SAMPLES]
    return tabular.shuffle_and_split(x, y, test_split, seed)

"""The bundled UCI digits: read back against an independent parse of the shipped file."""

import csv
import fnmatch
import gzip
import hashlib
import os
import tomllib
from pathlib import Path

import numpy as np
import pytest

from highlevel.datasets import digits

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "datasets" / "data"
pytestmark = pytest.mark.skipif(os.environ.get("HIGHLEVEL_BACKEND", "numpy") != "numpy",
                                reason="the digits loader is backend-independent NumPy code; tested in the "
                                       "numpy pass")


def independent_table():
    with gzip.open(DATA / "digits.csv.gz", "rt") as handle:
        return np.array([[int(float(v)) for v in row] for row in csv.reader(handle)], dtype=np.int64)


def test_the_shipped_file_is_the_one_attributed():
    digest = hashlib.sha256((DATA / "digits.csv.gz").read_bytes()).hexdigest()
    assert digest in (DATA / "DIGITS_LICENSE.txt").read_text()
    assert "CC BY 4.0" in (DATA / "DIGITS_LICENSE.txt").read_text()


def test_split_is_a_seeded_permutation_of_the_file():
    table = independent_table()
    (x_train, y_train), (x_test, y_test) = digits.load_data(test_split=0.2, seed=113)
    assert x_train.shape == (1438, 8, 8) and x_test.shape == (359, 8, 8)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    order = np.random.RandomState(113).permutation(1797)
    images = np.concatenate([x_train, x_test]).reshape(1797, 64)
    labels = np.concatenate([y_train, y_test])
    np.testing.assert_array_equal(images, table[order, :64])
    np.testing.assert_array_equal(labels, table[order, 64])
    # The real dataset: 10 classes of ~180 images, pixels counting ink in 4x4 blocks (0..16).
    assert np.bincount(labels).tolist() == np.bincount(table[:, 64]).tolist()
    assert np.bincount(labels).min() >= 170 and images.max() == 16 and images.min() == 0


def test_seed_and_fraction():
    (a, _), _ = digits.load_data(seed=1)
    (b, _), _ = digits.load_data(seed=1)
    (c, _), _ = digits.load_data(seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    (x_train, _), (x_test, _) = digits.load_data(test_split=0.0)
    assert len(x_train) == 1797 and len(x_test) == 0
    with pytest.raises(ValueError, match="test_split must be in"):
        digits.load_data(test_split=1.5)


def test_the_data_files_are_package_data():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "highlevel.datasets"]
    for path in DATA.iterdir():
        assert any(fnmatch.fnmatch(f"data/{path.name}", p) for p in patterns), path

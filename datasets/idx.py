"""The IDX format of the MNIST-family files (``*-idx1-ubyte.gz``, ``*-idx3-ubyte.gz``).

Layout (big-endian): two zero bytes, a type code (0x08 = unsigned byte), the number
of dimensions ``d``, ``d`` int32 sizes, then the values in C order.
"""

from __future__ import annotations

import gzip

import numpy as np

_UBYTE = 0x08
_MAX_BYTES = 200 * 1024 * 1024   # the largest MNIST-family file is 47 MB unpacked


def read_idx_gz(path: str, ndim: int) -> np.ndarray:
    """The uint8 array stored in the gzipped IDX file at ``path``; it must have ``ndim`` dimensions."""
    with gzip.open(path, "rb") as f:
        raw = f.read(_MAX_BYTES + 1)
    return parse_idx(raw, ndim, path)


def parse_idx(raw: bytes, ndim: int, name: str = "IDX data") -> np.ndarray:
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{name} is not an IDX file (bad magic number)")
    if raw[2] != _UBYTE or raw[3] != ndim:
        raise ValueError(f"{name}: expected an IDX file of unsigned bytes with {ndim} dimension(s), "
                         f"got type code {raw[2]:#04x} with {raw[3]} dimension(s)")
    header = 4 + 4 * ndim
    shape = tuple(int(v) for v in np.frombuffer(raw, ">i4", count=ndim, offset=4))
    if len(raw) - header != int(np.prod(shape)):
        raise ValueError(f"{name}: the header says shape {shape} ({int(np.prod(shape))} values) but "
                         f"{len(raw) - header} bytes follow it")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape).copy()


def load_image_label_pairs(fetch_key) -> tuple:
    """``(x_train, y_train), (x_test, y_test)`` of an MNIST-layout dataset.

    ``fetch_key(filename)`` returns the local path of one of the four standard files.
    """
    def split(prefix):
        images = read_idx_gz(fetch_key(f"{prefix}-images-idx3-ubyte.gz"), 3)
        labels = read_idx_gz(fetch_key(f"{prefix}-labels-idx1-ubyte.gz"), 1)
        if len(images) != len(labels):
            raise ValueError(f"{prefix}: {len(images)} images but {len(labels)} labels")
        return images, labels

    return split("train"), split("t10k")

"""The binary version of CIFAR-10 and CIFAR-100 (``cifar-*-binary.tar.gz``), read without pickle.

Each record is the label byte(s) followed by 3072 pixel bytes: the 1024 red values
of the 32x32 image in row-major order, then the 1024 green, then the 1024 blue.
CIFAR-10 records have one label byte; CIFAR-100 records have two (coarse, fine).
"""

from __future__ import annotations

import numpy as np

from highlevel.datasets import archives

PIXELS = 3 * 32 * 32


def parse_records(raw: bytes, label_bytes: int, name: str) -> tuple:
    """``(images (n, 32, 32, 3) uint8 channels-last, labels (n, label_bytes) uint8)`` of one batch file."""
    record = label_bytes + PIXELS
    if len(raw) % record:
        raise ValueError(f"{name}: {len(raw)} bytes is not a whole number of {record}-byte CIFAR records")
    table = np.frombuffer(raw, np.uint8).reshape(-1, record)
    images = table[:, label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), table[:, :label_bytes].copy()


def load_splits(archive_path: str, splits, label_bytes: int, max_records_per_member: int) -> list:
    """``[(images, labels), ...]``, one pair per list of member names in ``splits``.

    The archive is read once; each split concatenates its members in the given order.
    """
    wanted = [name for names in splits for name in names]
    contents = archives.read_tar_members(archive_path, wanted, (label_bytes + PIXELS) * max_records_per_member)
    result = []
    for names in splits:
        parts = [parse_records(contents[name], label_bytes, name) for name in names]
        result.append((np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])))
    return result
